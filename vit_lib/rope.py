# Generated from chapters/17_rope.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/17_rope.md, cell 6 ---
"""Positions by rotation: 2-D rotary position embeddings (RoPE) for a ViT, in timm's layouts.

Instead of adding a position table to the tokens, RoPE turns each head's queries and keys, pair
of features by pair of features, by angles that grow with the patch's row and column. A score
then depends on the two patches' offset, not on where they are. `Rope2d` makes the angle table
in timm's three schemes (axial, DINOv3's, RoPE-ViT's mixed); `rotate_pairs` and `apply_rope`
turn queries and keys; `RopeAttention` is chapter 5's attention with that step added.

Shapes: N batch, h heads, T tokens (p prefix tokens, then L = gh * gw patches), d_h head width;
the angle table has d_h / 2 angles per patch, one per pair of features.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from vit_lib.attention import Attention, merge_heads
from vit_lib.heads import split_heads
from vit_lib.sdpa import explicit_attention

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["Rope2d", "patch_coords", "rotate_pairs", "apply_rope", "RopeAttention"]

ROPE_KINDS = ("axial", "dinov3", "mixed")   # timm's rope_type 'cat', 'dinov3' and 'mixed'


# --- chapters/17_rope.md, cell 8 ---
def patch_coords(grid: tuple[int, int], kind: str = "axial", *, offset: float = 0.0,
                 ref_grid: tuple[int, int] | None = None, indexing: str = "ij",
                 normalize: str = "separate") -> torch.Tensor:
    """Each patch's two coordinates, (L, 2), row-major over the (gh, gw) grid, in float32.

    'axial' and 'mixed': the row and column index (+ offset), rescaled onto `ref_grid` if given
    (EVA-02 keeps pre-training's scale so). 'dinov3': patch centres divided by the grid's size
    (normalize='separate'; 'min' or 'max' divide both axes by one size), mapped to [-1, 1].
    indexing='xy' puts the column first, as RoPE-ViT's mixed frequencies expect.
    """
    sizes = list(grid) if indexing == "ij" else [grid[1], grid[0]]
    if kind == "dinov3":
        denominators = {"separate": sizes, "min": [min(sizes)] * 2, "max": [max(sizes)] * 2}
        axes = [(torch.arange(0.5, s, dtype=torch.float32) + offset) / d
                for s, d in zip(sizes, denominators[normalize])]
    else:
        axes = [torch.arange(s).to(torch.float32) + offset for s in sizes]
        if ref_grid is not None:
            ref = list(ref_grid) if indexing == "ij" else [ref_grid[1], ref_grid[0]]
            axes = [a / s * r for a, s, r in zip(axes, sizes, ref)]
    coords = torch.stack(torch.meshgrid(axes, indexing=indexing), dim=-1)     # (gh, gw, 2)
    if kind == "dinov3":
        coords = 2.0 * coords - 1.0                                            # [0, 1] -> [-1, 1]
    return coords.reshape(-1, 2)                                               # (L, 2)


def augment_coords(coords: torch.Tensor, shift: float | None = None,
                   jitter: float | None = None, rescale: float | None = None) -> torch.Tensor:
    """Coordinates (L, 2) moved by one random offset in [-shift, shift] per axis, stretched by
    one factor in [1/jitter, jitter] per axis and one in [1/rescale, rescale] for both (log-
    uniform), drawn in this order, as timm's DINOv3 training does."""
    like = dict(dtype=coords.dtype, device=coords.device)
    if shift is not None:
        coords = coords + torch.empty(2, **like).uniform_(-shift, shift)
    if jitter is not None:
        coords = coords * torch.empty(2, **like).uniform_(-math.log(jitter), math.log(jitter)).exp()
    if rescale is not None:
        coords = coords * torch.empty(1, **like).uniform_(-math.log(rescale),
                                                          math.log(rescale)).exp()
    return coords


class Rope2d(nn.Module):
    """The angle table of 2-D RoPE for a grid of patches, in one of timm's three schemes.

    - 'axial' (timm's 'cat': EVA-02, Perception Encoder, RoPE-ViT axial): the first d_h / 4
      angles turn with the row, the last d_h / 4 with the column, at temperature ** (-4k / d_h).
    - 'dinov3': the same split, on centred coordinates in [-1, 1]: angle 2 pi c / period_k,
      period_k = temperature ** (4k / d_h), or a geometric ramp from min_period to max_period.
    - 'mixed' (RoPE-ViT): every angle turns with row and column at once, at learned frequencies,
      one set per block and head: the parameter `freqs`, (2, depth, h, d_h / 2).
    `angles()` gives (L, d_h / 2), or (depth, h, L, d_h / 2) for 'mixed', always in float32.
    In training, `shift`, `jitter` and `rescale` move and stretch the coordinates at random
    (DINOv3's augmentation, see `augment_coords`).
    """

    def __init__(self, head_dim: int, grid_size: tuple[int, int], kind: str = "axial", *,
                 temperature: float | None = None, rotate_half: bool = False,
                 offset: float = 0.0, ref_grid: tuple[int, int] | None = None,
                 indexing: str | None = None, normalize: str = "separate",
                 min_period: float | None = None, max_period: float | None = None,
                 depth: int = 1, num_heads: int = 1, shift: float | None = None,
                 jitter: float | None = None, rescale: float | None = None) -> None:
        super().__init__()
        if kind not in ROPE_KINDS:
            raise ValueError(f"unknown RoPE kind {kind!r}; expected one of {ROPE_KINDS}")
        if head_dim % 4:
            raise ValueError(f"2-D RoPE gives half of a head's d_h / 2 pairs to each axis: d_h "
                             f"must be divisible by 4, got {head_dim}")
        if kind == "mixed" and rotate_half:
            raise ValueError("mixed RoPE turns neighbouring features: rotate_half must be False")
        self.head_dim, self.grid_size, self.kind = head_dim, tuple(grid_size), kind
        self.temperature = temperature or {"axial": 10000.0, "dinov3": 100.0, "mixed": 10.0}[kind]
        self.rotate_half, self.offset, self.normalize = rotate_half, offset, normalize
        self.ref_grid = None if ref_grid is None else tuple(ref_grid)
        self.indexing = indexing or ("xy" if kind == "mixed" else "ij")
        self.min_period, self.max_period = min_period, max_period
        self.augment = (shift, jitter, rescale)            # training only; None: off
        if kind == "mixed":
            self.freqs = nn.Parameter(self.mixed_frequencies(depth, num_heads))

    def axis_frequencies(self) -> torch.Tensor:
        """One axis's d_h / 4 frequencies (axial) or periods (DINOv3), (d_h / 4,), float32."""
        quarter = self.head_dim // 4
        if self.kind == "dinov3" and self.min_period and self.max_period:
            ramp = torch.linspace(0, 1, quarter, dtype=torch.float32)
            return self.min_period * (self.max_period / self.min_period) ** ramp
        if self.kind == "dinov3":
            return self.temperature ** (2.0 * torch.arange(quarter, dtype=torch.float32)
                                        / (self.head_dim // 2))
        return 1.0 / self.temperature ** (torch.arange(quarter).to(torch.float32) / quarter)

    def mixed_frequencies(self, depth: int, num_heads: int) -> torch.Tensor:
        """RoPE-ViT's start: the axial magnitudes, each head's pairs turned by a random angle."""
        magnitude = 1.0 / self.temperature ** (torch.arange(0, self.head_dim, 4) / self.head_dim)
        turn = torch.rand(depth, num_heads, 1) * 2 * math.pi                    # (depth, h, 1)
        fx = torch.cat([magnitude * torch.cos(turn), magnitude * torch.cos(turn + math.pi / 2)], -1)
        fy = torch.cat([magnitude * torch.sin(turn), magnitude * torch.sin(turn + math.pi / 2)], -1)
        return torch.stack([fx, fy])                                 # (2, depth, h, d_h/2)

    def angles(self, grid_size: tuple[int, int] | None = None,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Every patch's d_h / 2 angles, (L, d_h / 2) ('mixed': (depth, h, L, d_h / 2)), for
        this grid or another: a new resolution needs new angles, nothing resampled. The
        coordinates and frequencies meet in `dtype` (timm: float64 in a float64 model)."""
        coords = patch_coords(grid_size or self.grid_size, self.kind, offset=self.offset,
                              ref_grid=self.ref_grid, indexing=self.indexing,
                              normalize=self.normalize)                           # (L, 2)
        if self.training and any(a is not None for a in self.augment):
            coords = augment_coords(coords, *self.augment)
        coords = coords.to(dtype)
        if self.kind == "mixed":
            freqs = self.freqs.to(dtype)
            return (coords[:, 0, None] * freqs[0, ..., None, :]
                    + coords[:, 1, None] * freqs[1, ..., None, :])       # (depth, h, L, d_h/2)
        per_axis = self.axis_frequencies().to(dtype)                               # (d_h/4,)
        if self.kind == "dinov3":
            turns = 2 * math.pi * coords[:, :, None] / per_axis                    # (L, 2, d_h/4)
        else:
            turns = coords[:, :, None] * per_axis                                  # (L, 2, d_h/4)
        return turns.flatten(1)                                                    # (L, d_h/2)


# --- chapters/17_rope.md, cell 14 ---
def rotate_pairs(x: torch.Tensor, angles: torch.Tensor, half: bool = False) -> torch.Tensor:
    """Turn each pair of features of x (..., L, d_h) by its angle, angles (..., L, d_h / 2).

    Pairs are neighbours, (x0, x1), (x2, x3), ... (half=False), or a feature and the one d_h / 2
    further on, (x0, x_{d_h/2}), ... (half=True). The result has x's dtype.
    """
    cos, sin = angles.cos(), angles.sin()                                 # (..., L, d_h/2)
    if half:
        cos, sin = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)   # (..., L, d_h)
        first, second = x.chunk(2, dim=-1)
        partner = torch.cat([-second, first], dim=-1)             # (-x_{d_h/2}, ..., x0, ...)
    else:
        cos, sin = cos.repeat_interleave(2, -1), sin.repeat_interleave(2, -1)
        partner = torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)  # (-x1, x0, ...)
    return (x * cos + partner * sin).to(x.dtype)                          # (..., L, d_h)


def apply_rope(x: torch.Tensor, angles: torch.Tensor, num_prefix_tokens: int,
               half: bool = False) -> torch.Tensor:
    """Queries or keys (N, h, T, d_h) with their patch tokens turned; the prefix tokens stay."""
    prefix, patches = x[:, :, :num_prefix_tokens], x[:, :, num_prefix_tokens:]
    return torch.cat([prefix, rotate_pairs(patches, angles, half)], dim=2)   # (N, h, T, d_h)


# --- chapters/17_rope.md, cell 26 ---
class RopeAttention(Attention):
    """Chapter 5's attention with 2-D RoPE: queries and keys turned after the heads are split.

    `forward(x, angles)` takes the angle table of `Rope2d.angles()`, (L, d_h / 2), or one
    (h, L, d_h / 2) slice per head; the first `num_prefix_tokens` tokens are not turned.
    """

    def __init__(self, dim: int, num_heads: int = 8, *, num_prefix_tokens: int = 1,
                 rotate_half: bool = False, **kwargs) -> None:
        super().__init__(dim, num_heads, **kwargs)
        self.num_prefix_tokens, self.rotate_half = num_prefix_tokens, rotate_half

    def forward(self, x: torch.Tensor, angles: torch.Tensor,
                return_attention: bool = False):
        """(N, T, D) -> (N, T, D); with `return_attention`, also the (N, h, T, T) weights."""
        q, k, v = self.qkv(x).chunk(3, dim=-1)                             # (N, T, h*d_h) each
        q, k, v = (split_heads(t, self.num_heads) for t in (q, k, v))     # (N, h, T, d_h) each
        p, half = self.num_prefix_tokens, self.rotate_half
        q, k = apply_rope(q, angles, p, half), apply_rope(k, angles, p, half)
        if self.fused_attn and not return_attention:
            weights = None
            out = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)    # (N, h, T, d_h)
        else:
            out, weights = explicit_attention(q, k, v, self.attn_drop)
        out = self.proj_drop(self.proj(merge_heads(out)))                      # (N, T, D)
        return (out, weights) if return_attention else out
