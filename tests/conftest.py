"""Shared fixtures: the repository root and a scratch copy of the literate sources."""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of chapters/, vit_lib/ and the twins in book/, for tests that break things."""
    for folder in ("chapters", "vit_lib"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "book").mkdir()
    for twin in (ROOT / "book").glob("*.ipynb"):
        shutil.copy(twin, tmp_path / "book" / twin.name)
    return tmp_path
