# Generated from chapters/04_attention_scores.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/04_attention_scores.md, cell 21 ---
"""Scaled dot-product attention, written out: scores, softmax, weighted sum of values.

Shapes: N batch, h heads, T tokens, d_h head width.
"""

import torch
from torch import nn

from vit_lib.stages import Stage, record

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["explicit_attention"]


# --- chapters/04_attention_scores.md, cell 22 ---
def explicit_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_drop: nn.Module | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q kᵀ / sqrt(d_h)) v for (N, h, T, d_h) inputs; returns (output, weights).

    The weights (N, h, T, T) are returned before dropout, so rows sum to 1.

    Args:
        q: queries (N, h, T, d_h).
        k: keys (N, h, T, d_h).
        v: values (N, h, T, d_h).
        attn_drop: optional module (e.g. `nn.Dropout`) applied to the weights before they
            multiply the values.
    """
    head_dim = q.shape[-1]
    scale = head_dim ** -0.5                                          # 1 / sqrt(d_h)
    scores = record(Stage.SCORES, (q * scale) @ k.transpose(-2, -1))   # (N, h, T, T)
    weights = record(Stage.SOFTMAX, scores.softmax(dim=-1))            # (N, h, T, T)
    dropped = attn_drop(weights) if attn_drop is not None else weights
    return dropped @ v, weights                                       # (N, h, T, d_h)
