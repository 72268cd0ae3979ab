# Generated from chapters/05_merge_heads.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/05_merge_heads.md, cell 10 ---
"""Multi-head self-attention: merge heads back and project to D; one class, explicit or fused.

Shapes: N batch, T tokens, D width, h heads, d_h head width, h*d_h the inner width.
"""

import torch
import torch.nn.functional as F
from torch import nn

from vit_lib.heads import split_heads
from vit_lib.sdpa import explicit_attention
from vit_lib.stages import Stage, record

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["merge_heads", "Attention"]


# --- chapters/05_merge_heads.md, cell 11 ---
def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(N, h, T, d_h) -> (N, T, h*d_h). Transpose first: a bare view would mix tokens across heads.

    Args:
        x: per-head outputs (N, h, T, d_h); may be non-contiguous.
    """
    if x.ndim != 4:
        raise ValueError(f"expected (N, h, T, d_h), got {x.ndim}-D shape {tuple(x.shape)}")
    batch, heads, tokens, head_dim = x.shape
    x = x.transpose(1, 2)                                  # (N, T, h, d_h), not contiguous
    return x.reshape(batch, tokens, heads * head_dim)      # (N, T, h*d_h), copies when it must


# --- chapters/05_merge_heads.md, cell 33 ---
class Attention(nn.Module):
    """Multi-head self-attention over (N, T, D) tokens, with timm's parameter names.

    `qkv` is one Linear(D -> 3*h*d_h): the seed's separate W_q, W_k, W_v are its three row
    blocks (see `fuse_qkv`). `proj` maps the inner width h*d_h back to D.

    Args:
        dim: token width D.
        num_heads: number of heads h.
        head_dim: width of one head d_h (default D // h); h*d_h may differ from D.
        qkv_bias: whether `qkv` has a bias (timm: True).
        attn_drop: dropout on the attention weights.
        proj_drop: dropout after the output projection.
        fused_attn: use `F.scaled_dot_product_attention` (fast) instead of the explicit path.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        *,
        head_dim: int | None = None,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        if num_heads < 1:
            raise ValueError(f"num_heads must be at least 1, got {num_heads}")
        if head_dim is None:
            if dim % num_heads:
                raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}; "
                                 "pass head_dim explicitly")
            head_dim = dim // num_heads
        self.dim, self.num_heads, self.head_dim = dim, num_heads, head_dim
        inner = num_heads * head_dim
        self.fused_attn = fused_attn
        self.qkv = nn.Linear(dim, 3 * inner, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(inner, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """(N, T, D) -> (N, T, D); with `return_attention`, also the (N, h, T, T) weights."""
        if x.ndim != 3:
            raise ValueError(f"Attention expects 3-D tokens (N, T, {self.dim}), "
                             f"got {x.ndim}-D shape {tuple(x.shape)}")
        if x.shape[-1] != self.dim:
            raise ValueError(f"Attention expects token width {self.dim}, "
                             f"got {x.shape[-1]} (input shape {tuple(x.shape)})")
        q, k, v = self.qkv(x).chunk(3, dim=-1)          # each (N, T, h*d_h)
        record(Stage.QKV, q)
        q, k, v = (split_heads(t, self.num_heads) for t in (q, k, v))  # each (N, h, T, d_h)
        record(Stage.SPLIT_HEADS, q)
        if self.fused_attn and not return_attention:
            weights = None
            out = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0
            )                                            # (N, h, T, d_h)
        else:
            out, weights = explicit_attention(q, k, v, self.attn_drop)
        record(Stage.WEIGHTED_VALUES, out)
        out = record(Stage.MERGE_HEADS, merge_heads(out))   # (N, T, h*d_h)
        out = self.proj_drop(self.proj(out))                # (N, T, D)
        return (out, weights) if return_attention else out
