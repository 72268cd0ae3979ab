# Generated from chapters/09_pool_head.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/09_pool_head.md, cell 12 ---
"""Pooling the token sequence into one vector per image, the way timm does.

Shapes: N batch, T tokens, D width.
"""

import torch

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["pool_tokens"]

GLOBAL_POOLS = ("token", "avg")


# --- chapters/09_pool_head.md, cell 13 ---
def pool_tokens(x: torch.Tensor, global_pool: str, num_prefix_tokens: int = 1) -> torch.Tensor:
    """(N, T, D) -> (N, D): the class token ('token') or the mean of the patch tokens ('avg').

    'avg' averages only the patch tokens, skipping the `num_prefix_tokens` in front (the class
    token), as timm does.
    """
    if global_pool not in GLOBAL_POOLS:
        raise ValueError(f"unknown global_pool {global_pool!r}; expected one of {GLOBAL_POOLS}")
    if x.ndim != 3:
        raise ValueError(f"expected tokens (N, T, D), got {x.ndim}-D shape {tuple(x.shape)}")
    if global_pool == "token":
        if num_prefix_tokens < 1:
            raise ValueError("global_pool='token' needs a class token, but the sequence has none")
        return x[:, 0]                                # (N, D)
    return x[:, num_prefix_tokens:].mean(dim=1)       # (N, D)
