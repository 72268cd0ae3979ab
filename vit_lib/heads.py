# Generated from chapters/03_qkv_heads.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/03_qkv_heads.md, cell 12 ---
"""Queries, keys and values, and splitting them into heads.

Shapes: N batch, T tokens, D width, h heads, d_h head width; h*d_h is the attention's inner width.
"""

import torch
from torch import nn

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["split_heads"]


# --- chapters/03_qkv_heads.md, cell 13 ---
def fuse_qkv(q: nn.Linear, k: nn.Linear, v: nn.Linear) -> nn.Linear:
    """One Linear(D -> 3*h*d_h) that computes [q | k | v] exactly like the three separate maps.

    This is timm's `qkv` layout: the output features are all of q, then all of k, then all of v;
    within each, head 0's d_h features come first. Rows of the weight stack the same way.

    Args:
        q, k, v: the three Linear(D -> h*d_h) maps; equal shapes, all with a bias or all without.
    """
    if not (q.weight.shape == k.weight.shape == v.weight.shape):
        raise ValueError(
            f"q, k, v must have equal shapes, got {[tuple(m.weight.shape) for m in (q, k, v)]}"
        )
    biased = [m.bias is not None for m in (q, k, v)]
    if len(set(biased)) != 1:
        raise ValueError(f"q, k and v must all have a bias or all have none, got bias={biased}")
    fused = nn.Linear(
        q.in_features, 3 * q.out_features, bias=biased[0],
        device=q.weight.device, dtype=q.weight.dtype
    )
    with torch.no_grad():
        fused.weight.copy_(torch.cat([q.weight, k.weight, v.weight]))  # (3*h*d_h, D)
        if biased[0]:
            fused.bias.copy_(torch.cat([q.bias, k.bias, v.bias]))      # (3*h*d_h,)
    return fused


# --- chapters/03_qkv_heads.md, cell 30 ---
def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(N, T, h*d_h) -> (N, h, T, d_h): each head gets its own contiguous slice of features.

    Args:
        x: queries, keys or values of shape (N, T, h*d_h).
        num_heads: the number of heads h; must divide the last axis.

    Returns a view of `x` (no copy), which is not contiguous when h > 1 and T > 1.
    """
    if x.ndim != 3:
        raise ValueError(f"expected (N, T, h*d_h), got {x.ndim}-D shape {tuple(x.shape)}")
    batch, tokens, inner = x.shape
    if num_heads < 1 or inner % num_heads:
        raise ValueError(f"inner width {inner} is not divisible by {num_heads} heads")
    x = x.view(batch, tokens, num_heads, inner // num_heads)   # (N, T, h, d_h)
    return x.transpose(1, 2)                                     # (N, h, T, d_h)
