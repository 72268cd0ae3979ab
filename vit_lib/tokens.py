# Generated from chapters/02_tokens.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/02_tokens.md, cell 8 ---
"""Class token and position embeddings: (N, T-1, D) patch tokens -> (N, T, D) tokens with positions.

Shapes: N batch, T tokens (patches + class token), D width; the patch grid is H/P x W/P.
"""

import torch

from vit_lib.stages import Stage, record

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["prepend_class_token", "add_pos_embed", "sincos_pos_embed"]


# --- chapters/02_tokens.md, cell 10 ---
def prepend_class_token(tokens: torch.Tensor, cls_token: torch.Tensor) -> torch.Tensor:
    """Put the learned class token in front of every sequence: (N, T-1, D) -> (N, T, D).

    Args:
        tokens: patch tokens, shape (N, T-1, D).
        cls_token: the learned class token, shape (1, 1, D), shared by all N sequences.
    """
    if tokens.ndim != 3:
        raise ValueError("expected patch tokens of shape (N, T-1, D), "
                         f"got {tokens.ndim}-D shape {tuple(tokens.shape)}")
    if cls_token.shape != (1, 1, tokens.shape[-1]):
        raise ValueError(f"cls_token must have shape (1, 1, {tokens.shape[-1]}), "
                         f"got {tuple(cls_token.shape)}")
    cls = cls_token.expand(tokens.shape[0], -1, -1)    # (N, 1, D), a view, no copy
    return record(Stage.CLASS_TOKEN, torch.cat([cls, tokens], dim=1))  # (N, T, D)


# --- chapters/02_tokens.md, cell 21 ---
def add_pos_embed(tokens: torch.Tensor, pos_embed: torch.Tensor) -> torch.Tensor:
    """Add one position vector per token; a (1, T, D) table broadcasts over the batch.

    Args:
        tokens: tokens with the class token already in front, shape (N, T, D).
        pos_embed: position table, shape (1, T, D): one row per token, the class token's included.
    """
    if pos_embed.ndim != 3:
        raise ValueError(
            f"pos_embed must have shape (1, T, D), got {pos_embed.ndim}-D shape "
            f"{tuple(pos_embed.shape)}"
        )
    if pos_embed.shape[1:] != tokens.shape[1:]:
        raise ValueError(
            f"pos_embed has {pos_embed.shape[1]} positions of width {pos_embed.shape[2]}, "
            f"but the sequence has {tokens.shape[1]} tokens of width {tokens.shape[2]} "
            "(did the class token get a position?)"
        )
    return record(Stage.POS_EMBED, tokens + pos_embed)  # (N, T, D)


# --- chapters/02_tokens.md, cell 28 ---
def sincos_pos_embed(
    grid_size: tuple[int, int], dim: int, num_prefix_tokens: int = 1, temperature: float = 10000.0
) -> torch.Tensor:
    """Fixed 2-D sin-cos positions, shape (1, prefix + H'*W', D); prefix tokens get zeros.

    A quarter of the D features encodes the row with sines, a quarter with cosines, and the
    other half does the same for the column, at geometrically spaced frequencies.

    Args:
        grid_size: the patch grid (H', W') = (H/P, W/P); patches are numbered row by row.
        dim: token width D; must be divisible by 4.
        num_prefix_tokens: tokens in front of the patches (the class token), given zero rows.
        temperature: the base of the geometric frequency spacing (10000 as in the Transformer).
    """
    if dim % 4:
        raise ValueError(f"2-D sin-cos positions need a width divisible by 4, got {dim}")
    rows, cols = torch.meshgrid(
        torch.arange(grid_size[0], dtype=torch.float64),
        torch.arange(grid_size[1], dtype=torch.float64),
        indexing="ij",
    )
    quarter = dim // 4
    omega = 1.0 / temperature ** (torch.arange(quarter, dtype=torch.float64) / quarter)  # (D/4,)

    def encode(pos: torch.Tensor) -> torch.Tensor:
        angles = pos.flatten()[:, None] * omega[None, :]           # (H'*W', D/4)
        return torch.cat([angles.sin(), angles.cos()], dim=1)      # (H'*W', D/2)

    table = torch.cat([encode(rows), encode(cols)], dim=1)          # (H'*W', D)
    prefix = torch.zeros(num_prefix_tokens, dim, dtype=torch.float64)
    return torch.cat([prefix, table]).float().unsqueeze(0)          # (1, T, D)
