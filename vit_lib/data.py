# Generated from chapters/12_training.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/12_training.md, cell 8 ---
"""Offline datasets for training: scikit-learn's bundled digits, splits and batch transforms.

Images are float32 tensors (N, C, H, W) scaled to [0, 1]; labels are int64 (N,). Transforms work
on whole batches and draw their randomness from an explicit `torch.Generator`, so an augmented
epoch is a function of its seed.

Shapes: N images, C channels (1 here), H x W pixels, K classes. Fashion-MNIST's reader is
vit_lib.fashion_mnist (chapter 14).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = [
    "Split", "DataSplits", "load_digits", "Normalize", "Resize", "shift_images", "RandomShift",
    "RandomHorizontalFlip", "Compose",
]

DIGITS_CLASSES = tuple(str(k) for k in range(10))
DIGITS_MAX_VALUE = 16.0                                        # the 8 x 8 digits count ink in 0..16


@dataclass
class Split:
    """One part of a dataset: images (N, C, H, W) float32 in [0, 1] and labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(self.images.shape)}")
        if self.labels.shape != self.images.shape[:1]:
            raise ValueError(f"{self.images.shape[0]} images but labels of shape "
                             f"{tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return self.labels.shape[0]

    def subset(self, indices: Sequence[int] | torch.Tensor) -> "Split":
        """The images and labels at `indices`, in that order."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return Split(self.images[index], self.labels[index])


@dataclass
class DataSplits:
    """A dataset cut into train, validation and test splits, with its class names."""

    name: str
    train: Split
    val: Split
    test: Split
    classes: tuple[str, ...]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train.images.shape[1:])

    def sizes(self) -> dict[str, int]:
        """The number of images in each split."""
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


# --- chapters/12_training.md, cell 10 ---
def stratified_split(
    labels: np.ndarray | torch.Tensor, fractions: Sequence[float], seed: int = 0,
) -> list[np.ndarray]:
    """Cut indices 0..N-1 into parts with the given fractions, each class in the same proportions.

    Args:
        labels: (N,) integer class labels.
        fractions: fraction of the data in each part after the first, e.g. (0.1, 0.2) for val and
            test; the first part (train) gets the rest.
        seed: seed of the shuffle; the same seed gives the same split.

    Returns:
        one sorted index array per part: first the remainder (train), then one per fraction.
    """
    labels = np.asarray(labels)
    if any(f < 0 for f in fractions) or sum(fractions) >= 1:
        raise ValueError(f"fractions must be >= 0 and sum to less than 1, got {tuple(fractions)}")
    classes, counts = np.unique(labels, return_counts=True)
    rng = np.random.default_rng(seed)
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for c, n_c in zip(classes, counts):
        members = rng.permutation(np.flatnonzero(labels == c))
        sizes = [int(round(f * n_c)) for f in fractions]
        start = n_c - sum(sizes)
        parts[0].append(members[:start])
        for k, size in enumerate(sizes, start=1):
            parts[k].append(members[start:start + size])
            start += size
    return [np.sort(np.concatenate(p)) for p in parts]


# --- chapters/12_training.md, cell 11 ---
def load_digits(
    val_fraction: float = 0.1, test_fraction: float = 0.2, split_seed: int = 0,
) -> DataSplits:
    """scikit-learn's 1,797 bundled 8 x 8 digits, split into train / val / test by class.

    Pixel values 0..16 are scaled to [0, 1]. With the defaults the split is 1,259 / 179 / 359
    images, every class in the same proportions in each part, and it never changes.

    Args:
        val_fraction: fraction of each class in the validation split.
        test_fraction: fraction of each class in the test split.
        split_seed: seed of the split; keep it fixed to compare runs.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as err:   # scikit-learn is a course dependency, not a library one
        raise ImportError("load_digits needs scikit-learn: pip install scikit-learn") from err
    bunch = sklearn_digits()
    images = (torch.from_numpy(bunch.images).float()
              .div(DIGITS_MAX_VALUE).unsqueeze(1))     # (N, 1, 8, 8)
    labels = torch.from_numpy(bunch.target).long()     # (N,)
    train, val, test = stratified_split(labels.numpy(), (val_fraction, test_fraction), split_seed)
    full = Split(images, labels)
    return DataSplits("digits", full.subset(train), full.subset(val), full.subset(test),
                      DIGITS_CLASSES)


# --- chapters/12_training.md, cell 16 ---
class Transform(Protocol):
    """A batch transform: images (N, C, H, W) -> images, with randomness drawn from `generator`."""

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None,
    ) -> torch.Tensor: ...


class Normalize:
    """(x - mean) / std with one mean and std for all channels (grey images)."""

    def __init__(self, mean: float, std: float) -> None:
        if std <= 0:
            raise ValueError(f"std must be positive, got {std}")
        self.mean, self.std = float(mean), float(std)

    @classmethod
    def fit(cls, images: torch.Tensor) -> "Normalize":
        """The mean and standard deviation of `images` (pass the training split only)."""
        return cls(images.mean().item(), images.std().item())

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        return (images - self.mean) / self.std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean:.4f}, std={self.std:.4f})"


class Resize:
    """Resample images to `size` x `size` pixels (bilinear), e.g. 8 x 8 digits to 16 x 16."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self.size = size

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        if images.shape[-2:] == (self.size, self.size):
            return images
        return F.interpolate(images, size=(self.size, self.size), mode="bilinear",
                             align_corners=False)

    def __repr__(self) -> str:
        return f"Resize({self.size})"


# --- chapters/12_training.md, cell 18 ---
def shift_images(
    images: torch.Tensor, dy: int | torch.Tensor, dx: int | torch.Tensor, fill: float = 0.0,
) -> torch.Tensor:
    """Move images (N, C, H, W) down by `dy` and right by `dx` pixels (negative: up, left).

    `dy`, `dx`: ints, or (N,) integer tensors with one shift per image. Pixels moved in from
    outside are `fill`.
    """
    n, _, height, width = images.shape
    dy = torch.as_tensor(dy).expand(n)                                    # (N,)
    dx = torch.as_tensor(dx).expand(n)                                    # (N,)
    s = int(torch.cat([dy, dx]).abs().max()) if n else 0
    padded = F.pad(images, (s, s, s, s), value=fill)                      # (N, C, H+2s, W+2s)
    rows = (s - dy)[:, None] + torch.arange(height)                       # (N, H) rows to keep
    cols = (s - dx)[:, None] + torch.arange(width)                        # (N, W) columns to keep
    batch = torch.arange(n)[:, None, None]                                # (N, 1, 1)
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()                           # (N, C, H, W)


# --- chapters/12_training.md, cell 20 ---
class RandomShift:
    """Move each image by its own random whole-pixel offset (dy, dx), |dy|, |dx| <= max_shift.

    Pixels moved in from outside are `fill` (0, the background, before normalisation).
    """

    def __init__(self, max_shift: int = 1, fill: float = 0.0) -> None:
        if max_shift < 0:
            raise ValueError(f"max_shift must be >= 0, got {max_shift}")
        self.max_shift, self.fill = max_shift, fill

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        s = self.max_shift
        if s == 0:
            return images
        draw = torch.randint(0, 2 * s + 1, (images.shape[0], 2), generator=generator)  # (N, 2)
        return shift_images(images, s - draw[:, 0], s - draw[:, 1], self.fill)  # shifts in -s..s

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability `p` (for clothes; not for digits)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = p

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        if self.p == 0.0:
            return images
        flip = torch.rand(images.shape[0], generator=generator) < self.p      # (N,)
        return torch.where(flip[:, None, None, None], images.flip(-1), images)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class Compose:
    """Apply transforms in order, passing the same generator to each."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        for transform in self.transforms:
            images = transform(images, generator)
        return images

    def __repr__(self) -> str:
        return f"Compose({self.transforms})"
