# Generated from chapters/02_tokens.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it and CI rejects hand edits.

# --- chapters/02_tokens.md, cell 2 ---
"""Class token and position embeddings: (N, T-1, D) patch tokens -> (N, T, D) tokens with positions.

Shapes: N batch, T tokens (patches + class token), D width; the patch grid is H/P x W/P.
"""

import torch

from vit_lib.trace import record


# --- chapters/02_tokens.md, cell 3 ---
def prepend_class_token(tokens: torch.Tensor, cls_token: torch.Tensor) -> torch.Tensor:
    """Put the learned (1, 1, D) class token in front of every sequence: (N, T-1, D) -> (N, T, D)."""
    if cls_token.shape != (1, 1, tokens.shape[-1]):
        raise ValueError(f"cls_token must have shape (1, 1, {tokens.shape[-1]}), got {tuple(cls_token.shape)}")
    cls = cls_token.expand(tokens.shape[0], -1, -1)    # (N, 1, D), a view, no copy
    return record(3, "class token", torch.cat([cls, tokens], dim=1))  # (N, T, D)


# --- chapters/02_tokens.md, cell 4 ---
def add_pos_embed(tokens: torch.Tensor, pos_embed: torch.Tensor) -> torch.Tensor:
    """Add one position vector per token; (1, T, D) broadcasts over the batch."""
    if pos_embed.shape[1:] != tokens.shape[1:]:
        raise ValueError(
            f"pos_embed has {pos_embed.shape[1]} positions of width {pos_embed.shape[2]}, but the sequence "
            f"has {tokens.shape[1]} tokens of width {tokens.shape[2]} (did the class token get a position?)"
        )
    return record(4, "positional embedding", tokens + pos_embed)  # (N, T, D)


# --- chapters/02_tokens.md, cell 5 ---
def sincos_pos_embed(
    grid_size: tuple[int, int], dim: int, num_prefix_tokens: int = 1, temperature: float = 10000.0
) -> torch.Tensor:
    """Fixed 2-D sin-cos positions, shape (1, prefix + H'*W', D); prefix tokens get zeros.

    A quarter of the D features encodes the row with sines, a quarter with cosines, and the
    other half does the same for the column, at geometrically spaced frequencies.
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
