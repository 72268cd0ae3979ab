"""Shared fixtures and helpers: the repository root, a scratch copy of the literate sources, the
Fashion-MNIST skip, and random weights of trained-like size for comparisons with timm."""

import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

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


def like_trained(model: nn.Module, seed: int = 0) -> nn.Module:
    """Overwrite every parameter with random values of trained-like size.

    timm's initialisation hides bugs: zero biases make a dropped bias invisible, unit LayerNorm
    weights make swapped norms invisible. Random values everywhere make every parameter count.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype)
            if p.ndim >= 2 and name not in ("cls_token", "pos_embed"):
                p.copy_(noise / p[0].numel() ** 0.5)  # weights: std 1/sqrt(fan_in)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * noise)  # LayerNorm gains around 1
            else:
                p.copy_(0.2 * noise)  # biases, class token, positions
    return model


def images_for(
    model: nn.Module, batch: int = 2, dtype=torch.float32, seed: int = 1
) -> torch.Tensor:
    h, w = model.patch_embed.img_size
    g = torch.Generator().manual_seed(seed)
    return torch.randn(
        batch, model.patch_embed.proj.in_channels, h, w, generator=g, dtype=torch.float64
    ).to(dtype)
