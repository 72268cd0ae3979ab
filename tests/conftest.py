"""Shared fixtures: the repository root, a scratch copy of the literate sources, the Fashion-MNIST "
"skip."""

import shutil
from pathlib import Path

import pytest

from vit_lib.fashion_mnist import FASHION_MNIST_DIR, find_fashion_mnist

ROOT = Path(__file__).resolve().parent.parent


def fashion_mnist_installed() -> bool:
    """Whether the Fashion-MNIST IDX files are where the loader looks by default."""
    try:
        find_fashion_mnist(FASHION_MNIST_DIR)
    except FileNotFoundError:
        return False
    return True


# For tests that need the real Fashion-MNIST files (`make test` installs them where apt is
# available).
requires_fashion_mnist = pytest.mark.skipif(
    not fashion_mnist_installed(),
    reason=f"Fashion-MNIST is not installed in {FASHION_MNIST_DIR}: "
    "run `apt-get install dataset-fashion-mnist` to include this smoke test",
)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of chapters/, vit_lib/ and the twins in book/, for tests that break things."""
    for folder in ("chapters", "vit_lib"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    (tmp_path / "book").mkdir()
    for twin in (ROOT / "book").glob("*.ipynb"):
        shutil.copy(twin, tmp_path / "book" / twin.name)
    return tmp_path
