"""Tests for vit_lib.interpret (chapter 13): class-token attention, rollout, position similarity."""

import pytest
import torch

from vit_lib.interpret import (
    attention_rollout,
    cls_attention,
    patch_map_to_pixels,
    pos_embed_similarity,
    rollout_cls_map,
    stack_maps,
)
from vit_lib.model import VisionTransformer


def test_cls_attention_skips_the_class_column():
    """Row 0 holds 0 for the class token itself and t for patch t: the grid must read 1..16 in "
    "order."""
    n, layers, heads, grid = 2, 3, 4, (4, 4)
    tokens = 1 + grid[0] * grid[1]
    maps = [torch.zeros(n, heads, tokens, tokens) for _ in range(layers)]
    for m in maps:
        m[:, :, 0] = torch.arange(tokens, dtype=torch.float32)  # row 0: [0, 1, 2, ..., 16]
    out = cls_attention(maps, grid)
    assert out.shape == (n, layers, heads, 4, 4)
    expected = torch.arange(1, 17, dtype=torch.float32).reshape(
        4, 4
    )  # patch 1 top-left, row by row
    assert torch.equal(out[1, 2, 3], expected)
    assert torch.equal(out[0, 0, 0, 1, 0], torch.tensor(5.0))  # row 1, column 0 is patch 5


def test_cls_attention_on_a_model_sums_to_the_patch_share():
    torch.manual_seed(0)
    model = VisionTransformer(
        img_size=16, patch_size=4, in_chans=1, num_classes=10, embed_dim=32, depth=2, num_heads=2
    )
    maps = model.attention_maps(torch.randn(3, 1, 16, 16))
    out = cls_attention(maps, model.patch_embed.grid_size)
    self_share = torch.stack(maps, 1)[:, :, :, 0, 0]  # (N, L, h)
    assert out.shape == (3, 2, 2, 4, 4)
    assert torch.allclose(out.sum((-2, -1)) + self_share, torch.ones(3, 2, 2), atol=1e-6)


def test_rollout_of_identity_attention_is_the_identity():
    eye = torch.eye(5).expand(2, 3, 5, 5)  # (N, h, T, T)
    for residual in (True, False):
        assert torch.allclose(
            attention_rollout([eye, eye, eye], residual=residual), torch.eye(5).expand(2, 5, 5)
        )


def test_rollout_one_layer_by_hand():
    heads = torch.tensor(
        [[[0.5, 0.5], [0.0, 1.0]], [[0.5, 0.5], [1.0, 0.0]]]
    )  # two heads; they are averaged first
    mean = heads.mean(0)  # [[0.5, 0.5], [0.5, 0.5]]
    assert torch.allclose(mean, torch.full((2, 2), 0.5))
    out = attention_rollout([heads[None]])  # (1, 2, 2)
    assert torch.allclose(
        out[0], torch.tensor([[0.75, 0.25], [0.25, 0.75]])
    )  # 0.5 * mean + 0.5 * I
    assert torch.allclose(attention_rollout([heads[None]], residual=False)[0], mean)


def test_rollout_multiplies_later_layers_on_the_left():
    a1 = torch.tensor([[1.0, 0.0], [1.0, 0.0]])  # layer 1: everyone reads token 0
    a2 = torch.tensor([[0.0, 1.0], [0.0, 1.0]])  # layer 2: everyone reads token 1
    out = attention_rollout([a1[None, None], a2[None, None]], residual=False)[0]
    assert torch.allclose(out, a2 @ a1)  # token 1 after layer 1 came from token 0
    assert torch.allclose(out, torch.tensor([[1.0, 0.0], [1.0, 0.0]]))
    assert not torch.allclose(out, a1 @ a2)


def test_rollout_rows_are_distributions():
    torch.manual_seed(0)
    maps = [torch.randn(3, 4, 17, 17).softmax(-1) for _ in range(5)]
    out = attention_rollout(maps)
    assert out.shape == (3, 17, 17)
    assert torch.allclose(out.sum(-1), torch.ones(3, 17), atol=1e-5) and bool((out >= 0).all())
    cls_map = rollout_cls_map(maps, (4, 4))
    assert cls_map.shape == (3, 4, 4)
    assert torch.equal(cls_map[1, 2, 3], out[1, 0, 1 + 2 * 4 + 3])


def test_pos_embed_similarity_by_hand():
    table = torch.zeros(1, 5, 3)  # class row + a 2 x 2 grid, D = 3
    table[0, 1] = torch.tensor([1.0, 0.0, 0.0])
    table[0, 2] = torch.tensor([2.0, 0.0, 0.0])  # same direction as position 0
    table[0, 3] = torch.tensor([0.0, 1.0, 0.0])  # orthogonal
    table[0, 4] = torch.tensor([-1.0, 1.0, 0.0])  # 135 degrees from position 0
    sim = pos_embed_similarity(table, (2, 2))
    assert sim.shape == (2, 2, 2, 2)
    assert torch.allclose(sim[0, 0], torch.tensor([[1.0, 1.0], [0.0, -(0.5**0.5)]]))
    assert torch.allclose(sim, sim.permute(2, 3, 0, 1))  # symmetric
    assert torch.allclose(
        torch.stack([sim[i, j, i, j] for i in range(2) for j in range(2)]), torch.ones(4)
    )


def test_patch_map_to_pixels():
    m = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = patch_map_to_pixels(m, 2)
    assert out.shape == (4, 4)
    assert torch.equal(out[:2, 2:], torch.full((2, 2), 2.0)) and torch.equal(
        out[3, 0], torch.tensor(3.0)
    )


def test_grid_mismatch_is_an_error():
    maps = [torch.rand(1, 2, 17, 17)]
    with pytest.raises(
        ValueError,
        match=r"17 tokens do not fit a 3 x 3 patch grid with 1 class token\(s\): expected 10",
    ):
        cls_attention(maps, (3, 3))
    with pytest.raises(ValueError, match="expected 10"):
        pos_embed_similarity(torch.rand(1, 17, 8), (3, 3))


def test_maps_of_the_wrong_rank_are_an_error():
    with pytest.raises(
        ValueError, match=r"expected attention maps \(N, L, h, T, T\), got shape \(2, 17, 17\)"
    ):
        stack_maps(torch.rand(2, 17, 17))
