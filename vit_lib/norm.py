# Generated from chapters/06_layernorm.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/06_layernorm.md, cell 8 ---
"""LayerNorm with the ViT's epsilon.

Shapes: N batch, T tokens, D width; each token is normalised over its D features.
"""

from torch import nn

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["LayerNorm"]

NORM_EPS = 1e-6  # timm's and the original ViT's epsilon; PyTorch's own default is 1e-5


# --- chapters/06_layernorm.md, cell 10 ---
class LayerNorm(nn.LayerNorm):
    """`nn.LayerNorm` over the last axis with eps = 1e-6 unless told otherwise."""

    def __init__(self, dim: int, eps: float = NORM_EPS) -> None:
        super().__init__(dim, eps=eps)
