"""ruff, as `make check` runs it: the tree is clean, and a planted problem in a chapter is found."""

import shutil
import subprocess
import sys

import nbformat

from conftest import ROOT

RUFF = [sys.executable, "-m", "ruff"]


def ruff(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([*RUFF, *args], cwd=cwd, capture_output=True, text=True)


def test_the_tree_is_clean():
    check = ruff("check", "--quiet", ".")
    assert check.returncode == 0, check.stdout + check.stderr
    form = ruff("format", "--check", "--quiet", ".")
    assert form.returncode == 0, form.stdout + form.stderr


def test_a_long_line_in_a_chapter_code_cell_is_found(tmp_path):
    """The chapters are linted through their twins: plant a 120-character line in one."""
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    twin = nbformat.read(ROOT / "book" / "01_patches.ipynb", as_version=4)
    code = next(c for c in twin.cells if c.cell_type == "code")
    code.source += "\nx = " + "1 + " * 29 + "1\n"
    nbformat.write(twin, tmp_path / "book" / "01_patches.ipynb")
    result = ruff("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert result.returncode == 1
    assert "01_patches.ipynb:cell " in result.stdout and "E501" in result.stdout, result.stdout
