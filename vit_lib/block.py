# Generated from chapters/08_encoder.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/08_encoder.md, cell 6 ---
"""The pre-norm encoder block: x + attn(norm1(x)), then x + mlp(norm2(x)).

Shapes: N batch, T tokens, D width, h heads.
"""

import torch
from torch import nn

from vit_lib.attention import Attention
from vit_lib.mlp import Mlp
from vit_lib.norm import NORM_EPS, LayerNorm
from vit_lib.stages import Stage, record

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["Block"]


# --- chapters/08_encoder.md, cell 8 ---
class Block(nn.Module):
    """One Transformer encoder block, (N, T, D) -> (N, T, D).

    Args:
        dim: token width D.
        num_heads: attention heads h.
        head_dim: width of one head (default D // h).
        mlp_ratio: D_ff / D.
        qkv_bias: bias on the `qkv` projection.
        drop: dropout after the attention projection and inside the MLP.
        attn_drop: dropout on the attention weights.
        norm_eps: LayerNorm epsilon.
        fused_attn: use PyTorch's fused attention kernel.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        head_dim: int | None = None,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        norm_eps: float = NORM_EPS,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        self.norm1 = LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(
            dim, num_heads, head_dim=head_dim, qkv_bias=qkv_bias,
            attn_drop=attn_drop, proj_drop=drop, fused_attn=fused_attn,
        )
        self.norm2 = LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """(N, T, D) -> (N, T, D); with `return_attention`, also the (N, h, T, T) weights."""
        h = record(Stage.NORM, self.norm1(x), "norm1")       # (N, T, D)
        h, weights = (
            self.attn(h, return_attention=True) if return_attention else (self.attn(h), None)
        )
        x = record(Stage.PROJ_RESIDUAL, x + h)               # (N, T, D)
        h = record(Stage.NORM, self.norm2(x), "norm2")       # (N, T, D)
        x = record(Stage.FFN_RESIDUAL, x + self.mlp(h))      # (N, T, D)
        return (x, weights) if return_attention else x
