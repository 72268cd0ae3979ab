"""The sync gates of the literate pipeline, and proof that nbval bites."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import literate  # noqa: E402


def run_tool(root: Path, command: str, capsys) -> tuple[int, str]:
    code = literate.main([command, "--root", str(root)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_tree_is_in_sync(capsys):
    assert run_tool(ROOT, "check-export", capsys)[0] == 0
    assert run_tool(ROOT, "check-twins", capsys)[0] == 0


def test_hand_edit_of_vit_lib_fails_with_diff_and_fix(repo_copy, capsys):
    module = repo_copy / "vit_lib" / "patch_embed.py"
    module.write_text(module.read_text().replace("x.flatten(2)", "x.flatten(2).clone()"))
    code, out = run_tool(repo_copy, "check-export", capsys)
    assert code == 1
    assert "+        return x.flatten(2).clone().transpose(1, 2)" in out
    assert "make export" in out


def test_stray_module_in_vit_lib_fails(repo_copy, capsys):
    (repo_copy / "vit_lib" / "extra.py").write_text("x = 1\n")
    code, out = run_tool(repo_copy, "check-export", capsys)
    assert code == 1 and "vit_lib/extra.py" in out


def test_export_restores_and_removes(repo_copy, capsys):
    module = repo_copy / "vit_lib" / "patch_embed.py"
    original = module.read_text()
    module.write_text("# hand edit\n" + original)
    (repo_copy / "vit_lib" / "extra.py").write_text("x = 1\n")
    assert run_tool(repo_copy, "export", capsys)[0] == 0
    assert module.read_text() == original
    assert not (repo_copy / "vit_lib" / "extra.py").exists()


def test_chapter_edit_without_execute_fails(repo_copy, capsys):
    chapter = repo_copy / "chapters" / "01_patches.md"
    text = chapter.read_text()
    assert "D = 1024  " in text
    chapter.write_text(text.replace("D = 1024  ", "D = 512   ", 1))
    code, out = run_tool(repo_copy, "check-twins", capsys)
    assert code == 1
    assert "-D = 512" in out and "+D = 1024" in out and "make execute" in out


def test_unexecuted_twin_fails(repo_copy, capsys):
    twin = repo_copy / "book" / "01_patches.ipynb"
    notebook = nbformat.read(twin, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.execution_count = None
            break
    nbformat.write(notebook, twin)
    code, out = run_tool(repo_copy, "check-twins", capsys)
    assert code == 1 and "never executed" in out


def test_unmarked_cells_are_not_exported(repo_copy):
    modules = literate.collect(repo_copy)
    exported = "\n".join(code for m in modules.values() for _, _, code in m.cells)
    assert "bad_inputs" not in exported  # a demo cell of chapter 1
    assert "class PatchEmbed" in exported


def test_generated_module_names_its_chapter_and_cells():
    text = (ROOT / "vit_lib" / "patch_embed.py").read_text()
    assert text.startswith("# Generated from chapters/01_patches.md")
    assert "Edit the chapter, not this file" in text
    assert "# --- chapters/01_patches.md, cell " in text


@pytest.mark.parametrize(
    "line", ["#| export", "#| export: patch_embed", "#| export: vit_lib.Bad-Name"]
)
def test_malformed_marker_is_an_error(line):
    with pytest.raises(literate.LiterateError, match="malformed export marker"):
        literate.export_marker(f"{line}\nx = 1", "chapters/x.md, cell 1")


def test_marker_must_be_first_line():
    with pytest.raises(literate.LiterateError, match="first line"):
        literate.export_marker("x = 1\n#| export: vit_lib.foo", "chapters/x.md, cell 1")


def test_nbval_fails_when_a_printed_shape_changes(tmp_path):
    """Change "(4, 16, 1024)" in a stored output of a twin copy; nbval must report it."""
    notebook = nbformat.read(ROOT / "book" / "01_patches.ipynb", as_version=4)
    changed = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and "(4, 16, 1024)" in output.text:
                output.text = output.text.replace("(4, 16, 1024)", "(4, 16, 1025)")
                changed += 1
    assert changed, "the twin no longer prints (4, 16, 1024)"
    copy = tmp_path / "01_patches.ipynb"
    nbformat.write(notebook, copy)
    # the twin runs beside its matplotlibrc, which sets the dpi its figures' reprs were made at
    shutil.copy(ROOT / "book" / "matplotlibrc", tmp_path / "matplotlibrc")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            str(copy),
            "-p",
            "no:cacheprovider",
            "--nbval-sanitize-with",
            str(ROOT / "tests" / "nbval_sanitize.cfg"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode != 0, result.stdout[-2000:]
    assert f"{changed} failed" in result.stdout
    assert "(4, 16, 1025)" in result.stdout


def test_machine_dependent_cell_without_an_assert_fails(repo_copy, capsys):
    """A cell tagged nbval-ignore-output is compared by nothing but its asserts: it must have "
    "one."""
    chapter = repo_copy / "chapters" / "12_training.md"
    text = chapter.read_text()
    tagged = text.index(":tags: [nbval-ignore-output]")
    cell_end = text.index("```", tagged)
    body = text[tagged:cell_end]
    stripped = "\n".join(
        line for line in body.splitlines() if not line.lstrip().startswith("assert")
    )
    chapter.write_text(text[:tagged] + stripped + "\n" + text[cell_end:])
    code, out = run_tool(repo_copy, "check-twins", capsys)
    assert code == 1
    assert (
        "chapters/12_training.md: cells [" in out
        and "tagged nbval-ignore-output but assert nothing" in out
    )


def test_dotted_marker_names_a_module_in_a_sub_package():
    assert (
        literate.export_marker("#| export: vit_lib.course.exercises\nx = 1", "c")
        == "course.exercises"
    )
    assert literate.module_path("course.exercises") == "vit_lib/course/exercises.py"


@pytest.mark.parametrize(
    "code, message",
    [
        ("x = 1\n", "no `__all__ = [...]` assignments"),
        ('__all__ = ["x"]\n__all__ = ["x"]\nx = 1\n', "2 `__all__ = [...]` assignments"),
        (
            '__all__ = ["x", "missing"]\nx = 1\n',
            "names ['missing'], which the module does not define",
        ),
        ("__all__ = names()\n", "must be a literal list of strings"),
    ],
)
def test_a_module_must_declare_what_it_offers(code, message):
    with pytest.raises(literate.LiterateError, match=re.escape(message)):
        literate.public_names(code, "example")


def test_annotated_and_imported_names_count_as_defined():
    code = (
        '__all__ = ["RECIPES", "Path", "f"]\n'
        "from pathlib import Path\nRECIPES: dict = {}\ndef f(): ...\n"
    )
    assert literate.public_names(code, "example") == ["RECIPES", "Path", "f"]


def test_the_package_init_imports_only_the_declared_names():
    init = (ROOT / "vit_lib" / "__init__.py").read_text()
    assert '"RECIPES": "train"' in init  # a command-line module's names are imported on first use
    assert "check_patchify" not in init and "from .course" not in init
    assert "from .exercises import" in (ROOT / "vit_lib" / "course" / "__init__.py").read_text()
