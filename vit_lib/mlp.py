# Generated from chapters/07_ffn.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/07_ffn.md, cell 12 ---
"""The feed-forward network: D -> D_ff -> GELU -> dropout -> D -> dropout, applied to each token.

Shapes: N batch, T tokens, D width, D_ff hidden width.
"""

from collections.abc import Callable

import torch
from torch import nn

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["Mlp"]


# --- chapters/07_ffn.md, cell 13 ---
class Mlp(nn.Module):
    """Two Linear layers with a GELU between, timm's names (`fc1`, `act`, `drop1`, `fc2`, `drop2`).

    Args:
        in_features: token width D.
        hidden_features: hidden width D_ff (the ViT uses 4*D; the seed configuration 2*D).
        drop: dropout probability after the activation and after `fc2`. Pass it explicitly:
            `nn.Dropout()` with no argument drops half of everything.
        act_layer: what makes the activation (timm's name); chapter 15 passes others.
    """

    def __init__(self, in_features: int, hidden_features: int, *, drop: float = 0.0,
                 act_layer: Callable[[], nn.Module] = nn.GELU) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop1(self.act(self.fc1(x)))   # (N, T, D_ff)
        return self.drop2(self.fc2(x))          # (N, T, D)
