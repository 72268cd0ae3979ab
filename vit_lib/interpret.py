# Generated from chapters/13_inside.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/13_inside.md, cell 6 ---
"""Looking inside a trained ViT.

Class-token attention, attention rollout, position-embedding similarity.

Shapes: N batch, L layers (depth), h heads, T tokens (class token + T-1 patches),
gh x gw the patch grid (T-1 = gh * gw), D width.
"""

import torch
import torch.nn.functional as F

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = [
    "cls_attention", "patch_map_to_pixels", "attention_rollout", "rollout_cls_map",
    "pos_embed_similarity",
]


def stack_maps(maps: list[torch.Tensor] | tuple[torch.Tensor, ...] | torch.Tensor) -> torch.Tensor:
    """L attention maps (N, h, T, T), as `VisionTransformer.attention_maps` returns them
    -> (N, L, h, T, T).
    """
    stacked = (torch.stack(list(maps), dim=1)
               if isinstance(maps, (list, tuple)) else maps)                # (N, L, h, T, T)
    if stacked.ndim != 5 or stacked.shape[-1] != stacked.shape[-2]:
        raise ValueError(
            f"expected attention maps (N, L, h, T, T), got shape {tuple(stacked.shape)}"
        )
    return stacked


def check_grid(tokens: int, grid_size: tuple[int, int], num_prefix_tokens: int = 1) -> None:
    """Raise unless `tokens` = prefix tokens + gh * gw."""
    expected = num_prefix_tokens + grid_size[0] * grid_size[1]
    if tokens != expected:
        raise ValueError(
            f"{tokens} tokens do not fit a {grid_size[0]} x {grid_size[1]} patch grid with "
            f"{num_prefix_tokens} class token(s): expected {expected}"
        )


def cls_attention(
    maps: list[torch.Tensor] | torch.Tensor, grid_size: tuple[int, int], num_prefix_tokens: int = 1,
) -> torch.Tensor:
    """How much the class token attends to each patch, per layer and head, on the patch grid.

    Args:
        maps: `model.attention_maps(x)`: L tensors (N, h, T, T); rows are queries, columns keys.
        grid_size: the patch grid (gh, gw), `model.patch_embed.grid_size`.
        num_prefix_tokens: tokens in front of the patches (1: the class token).

    Returns:
        (N, L, h, gh, gw): row 0 of each map without its prefix columns.
    """
    stacked = stack_maps(maps)                                     # (N, L, h, T, T)
    check_grid(stacked.shape[-1], grid_size, num_prefix_tokens)
    cls_row = stacked[:, :, :, 0, num_prefix_tokens:]               # (N, L, h, T-1)
    return cls_row.reshape(*cls_row.shape[:3], *grid_size)         # (N, L, h, gh, gw)


def patch_map_to_pixels(patch_map: torch.Tensor, patch_size: int | tuple[int, int]) -> torch.Tensor:
    """Blow a (..., gh, gw) map up to (..., gh * P, gw * P) pixels: each patch one flat square."""
    ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
    return patch_map.repeat_interleave(ph, dim=-2).repeat_interleave(pw, dim=-1)   # (..., H, W)


# --- chapters/13_inside.md, cell 19 ---
def attention_rollout(
    maps: list[torch.Tensor] | torch.Tensor, residual: bool = True,
) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020).

    How much each output token draws on each input token.

    Each layer's attention is averaged over heads; with `residual`, the skip connection is
    accounted for as 0.5 * A + 0.5 * I with rows renormalised to sum to 1. The layers are then
    chained, first layer on the right: R = Â_L ... Â_2 Â_1.

    Returns:
        (N, T, T); row i: how token i after the last layer mixes the input tokens. Rows sum to 1.
    """
    attn = stack_maps(maps).mean(dim=2)                            # (N, L, T, T)
    if residual:
        eye = torch.eye(attn.shape[-1], dtype=attn.dtype, device=attn.device)   # (T, T)
        attn = 0.5 * attn + 0.5 * eye                               # (N, L, T, T)
        attn = attn / attn.sum(dim=-1, keepdim=True)
    rollout = attn[:, 0]                                           # (N, T, T)
    for layer in range(1, attn.shape[1]):
        rollout = attn[:, layer] @ rollout                          # (N, T, T)
    return rollout


def rollout_cls_map(
    maps: list[torch.Tensor] | torch.Tensor, grid_size: tuple[int, int], num_prefix_tokens: int = 1,
) -> torch.Tensor:
    """The class token's row of the rollout over the patches, on the patch grid: (N, gh, gw)."""
    rollout = attention_rollout(maps)                              # (N, T, T)
    check_grid(rollout.shape[-1], grid_size, num_prefix_tokens)
    return rollout[:, 0, num_prefix_tokens:].reshape(-1, *grid_size)   # (N, gh, gw)


# --- chapters/13_inside.md, cell 24 ---
def pos_embed_similarity(
    pos_embed: torch.Tensor, grid_size: tuple[int, int], num_prefix_tokens: int = 1,
) -> torch.Tensor:
    """Cosine similarity of every patch position's embedding with every other (ViT paper, Figure 7).

    Args:
        pos_embed: (1, T, D) or (T, D), the model's `pos_embed`; prefix rows are dropped.
        grid_size: the patch grid (gh, gw).
        num_prefix_tokens: rows in front of the patch positions (1: the class token's).

    Returns:
        (gh, gw, gh, gw): entry [i, j] is the (gh, gw) map of similarities to position (i, j).
    """
    table = pos_embed.detach().reshape(-1, pos_embed.shape[-1])   # (T, D)
    check_grid(table.shape[0], grid_size, num_prefix_tokens)
    patches = F.normalize(table[num_prefix_tokens:], dim=-1)       # (T-1, D), unit rows
    similarity = patches @ patches.T                               # (T-1, T-1)
    return similarity.reshape(*grid_size, *grid_size)             # (gh, gw, gh, gw)
