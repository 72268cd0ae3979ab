# Generated from chapters/01_patches.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/01_patches.md, cell 20 ---
"""Patch embedding: cut images into P x P patches and project each patch to a D-wide token.

Shapes: N batch, C channels, H x W image, P patch, T - 1 = (H/P)(W/P) patch tokens, D width.
"""

import torch
from torch import nn

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["PatchEmbed"]


def to_2tuple(size: int | tuple[int, int]) -> tuple[int, int]:
    """`32 -> (32, 32)`; a pair is returned as a tuple."""
    if isinstance(size, int):
        return (size, size)
    height, width = size
    return (int(height), int(width))


# --- chapters/01_patches.md, cell 22 ---
def check_images(
    x: torch.Tensor, in_chans: int, img_size: tuple[int, int], patch_size: tuple[int, int]
) -> None:
    """Raise a clear error unless `x` is a floating (N, in_chans, *img_size) batch."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor of images, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"images must be floating point, got dtype {x.dtype}; "
            "convert first, e.g. x.float() / 255 for uint8 pixels"
        )
    if x.ndim != 4:
        hint = " (a single image? add the batch axis with x.unsqueeze(0))" if x.ndim == 3 else ""
        raise ValueError(
            f"expected a 4-D batch (N, C, H, W), got {x.ndim}-D shape {tuple(x.shape)}{hint}"
        )
    _, chans, height, width = x.shape
    if chans != in_chans:
        raise ValueError(
            f"expected {in_chans} input channels, got {chans} (input shape {tuple(x.shape)})"
        )
    for axis, size, patch in (("height", height, patch_size[0]), ("width", width, patch_size[1])):
        if size % patch:
            raise ValueError(f"input {axis} {size} is not divisible by the patch size {patch} "
                             f"({size} % {patch} = {size % patch})")
    if (height, width) != img_size:
        raise ValueError(
            f"input size ({height}, {width}) doesn't match the model's img_size {img_size}"
        )


# --- chapters/01_patches.md, cell 23 ---
class PatchEmbed(nn.Module):
    """Images (N, C, H, W) -> patch tokens (N, T-1, D) with one stride-P convolution.

    Args:
        img_size: input height and width (an int for square images).
        patch_size: patch height and width; must divide `img_size`.
        in_chans: input channels C.
        embed_dim: token width D.
        bias: whether the projection has a bias (timm: True).
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.img_size = to_2tuple(img_size)
        self.patch_size = to_2tuple(patch_size)
        for axis, size, patch in zip(("height", "width"), self.img_size, self.patch_size):
            if patch <= 0 or size % patch:
                raise ValueError(f"img_size {axis} {size} is not divisible by patch_size {patch}")
        self.in_chans = in_chans
        self.grid_size = (self.img_size[0] // self.patch_size[0],
                          self.img_size[1] // self.patch_size[1])
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=self.patch_size,
                              stride=self.patch_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_chans, self.img_size, self.patch_size)
        x = self.proj(x)                      # (N, D, H/P, W/P)
        return x.flatten(2).transpose(1, 2)   # (N, T-1, D)
