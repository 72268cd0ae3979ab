"""vit_lib.tokens: the class token goes first, positions broadcast, sin-cos follows its formula, "
"errors name numbers."""

import math

import pytest
import torch

from vit_lib import (
    Attention,
    VisionTransformer,
    add_pos_embed,
    prepend_class_token,
    sincos_pos_embed,
)


def test_prepend_puts_the_class_token_first_and_keeps_the_patches():
    torch.manual_seed(0)
    patches = torch.randn(3, 5, 8)
    cls_token = torch.randn(1, 1, 8)
    out = prepend_class_token(patches, cls_token)
    assert out.shape == (3, 6, 8)
    for n in range(3):
        assert torch.equal(out[n, 0], cls_token[0, 0])
    assert torch.equal(out[:, 1:], patches)


def test_prepend_shares_one_class_token_across_the_batch():
    """The gradient of the single class token is the sum over the batch (expand, not copies)."""
    cls_token = torch.zeros(1, 1, 4, requires_grad=True)
    out = prepend_class_token(torch.zeros(3, 2, 4), cls_token)
    out[:, 0].sum().backward()
    assert torch.equal(cls_token.grad, torch.full((1, 1, 4), 3.0))


def test_add_pos_embed_broadcasts_one_table_over_the_batch():
    tokens = torch.tensor(
        [[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]]]
    )  # (2, 3, 2)
    table = torch.tensor([[[0.5, -1.0], [0.0, 2.0], [-3.0, 0.25]]])  # (1, 3, 2)
    expected = torch.tensor(
        [[[1.5, 1.0], [3.0, 6.0], [2.0, 6.25]], [[10.5, 19.0], [30.0, 42.0], [47.0, 60.25]]]
    )
    assert torch.equal(add_pos_embed(tokens, table), expected)


def test_sincos_shape_and_zero_prefix_rows():
    table = sincos_pos_embed((3, 5), 16, num_prefix_tokens=2)
    assert table.shape == (1, 2 + 15, 16) and table.dtype == torch.float32
    assert torch.equal(table[0, :2], torch.zeros(2, 16))
    assert (table[0, 2:].abs().sum(dim=1) > 0).all()
    assert sincos_pos_embed((4, 4), 1024).shape == (1, 17, 1024)
    assert sincos_pos_embed((4, 4), 1024, num_prefix_tokens=0).shape == (1, 16, 1024)


def test_sincos_values_match_the_formula_by_hand():
    """D = 8: two frequencies, omega = (1, 1/100). Grid 2 x 3, one prefix token."""
    table = sincos_pos_embed((2, 3), 8)
    # token 1 + (1 * 3 + 2) = 6 is the patch at row 1, column 2
    expected = [
        math.sin(1),
        math.sin(0.01),
        math.cos(1),
        math.cos(0.01),
        math.sin(2),
        math.sin(0.02),
        math.cos(2),
        math.cos(0.02),
    ]
    torch.testing.assert_close(table[0, 6], torch.tensor(expected), rtol=0, atol=1e-7)
    # the first patch (row 0, column 0): all sines 0, all cosines 1
    torch.testing.assert_close(
        table[0, 1], torch.tensor([0.0, 0, 1, 1, 0, 0, 1, 1]), rtol=0, atol=0
    )


def test_sincos_similarity_depends_only_on_the_offset():
    table = sincos_pos_embed((4, 4), 64, num_prefix_tokens=0)[0]
    grid = table.reshape(4, 4, 64)
    torch.testing.assert_close(grid[0, 0] @ grid[1, 2], grid[2, 1] @ grid[3, 3], rtol=0, atol=1e-5)


def test_sincos_matches_timm_up_to_feature_order():
    pos_embed_sincos = pytest.importorskip("timm.layers.pos_embed_sincos")
    dim, q = 32, 8
    ours = sincos_pos_embed((3, 5), dim, num_prefix_tokens=0)[0]
    order = torch.cat(
        [
            torch.arange(0, q),
            torch.arange(2 * q, 3 * q),
            torch.arange(q, 2 * q),
            torch.arange(3 * q, 4 * q),
        ]
    )
    reference = pos_embed_sincos.build_sincos2d_pos_embed([3, 5], dim=dim)
    torch.testing.assert_close(ours[:, order], reference, rtol=0, atol=1e-6)


def test_sincos_rejects_width_not_divisible_by_4():
    with pytest.raises(ValueError, match=r"width divisible by 4, got 1022"):
        sincos_pos_embed((4, 4), 1022)


def test_prepend_rejects_a_class_token_without_its_token_axis():
    with pytest.raises(
        ValueError, match=r"cls_token must have shape \(1, 1, 1024\), got \(1, 1024\)"
    ):
        prepend_class_token(torch.zeros(4, 16, 1024), torch.zeros(1, 1024))


def test_prepend_rejects_a_class_token_of_the_wrong_width():
    with pytest.raises(
        ValueError, match=r"cls_token must have shape \(1, 1, 1024\), got \(1, 1, 768\)"
    ):
        prepend_class_token(torch.zeros(4, 16, 1024), torch.zeros(1, 1, 768))


def test_prepend_rejects_tokens_without_a_batch_axis():
    with pytest.raises(
        ValueError,
        match=r"expected patch tokens of shape \(N, T-1, D\), got 2-D shape \(16, 1024\)",
    ):
        prepend_class_token(torch.zeros(16, 1024), torch.zeros(1, 1, 1024))


def test_add_pos_embed_rejects_a_table_without_class_position():
    with pytest.raises(
        ValueError, match=r"pos_embed has 16 positions .* the sequence has 17 tokens .*class token"
    ):
        add_pos_embed(torch.zeros(4, 17, 1024), torch.zeros(1, 16, 1024))


def test_add_pos_embed_rejects_a_table_of_the_wrong_width():
    with pytest.raises(
        ValueError, match=r"positions of width 768, but the sequence has 17 tokens of width 1024"
    ):
        add_pos_embed(torch.zeros(4, 17, 1024), torch.zeros(1, 17, 768))


def test_add_pos_embed_rejects_a_table_without_its_batch_axis():
    with pytest.raises(
        ValueError, match=r"pos_embed must have shape \(1, T, D\), got 2-D shape \(17, 1024\)"
    ):
        add_pos_embed(torch.zeros(4, 17, 1024), torch.zeros(17, 1024))


def test_model_gives_the_class_token_position_zero():
    """Catches the quiet mistake: positions added to the patches only, the class token prepended "
    "after."""
    torch.manual_seed(0)
    model = VisionTransformer(
        img_size=16, patch_size=8, embed_dim=8, depth=1, num_heads=2, num_classes=0
    )
    x = torch.randn(2, 3, 16, 16)
    tokens = model.embed(x)  # (N, T, D)
    torch.testing.assert_close(
        tokens[:, 0], (model.cls_token + model.pos_embed[:, 0])[:, 0].expand(2, -1)
    )
    torch.testing.assert_close(tokens[:, 1:], model.patch_embed(x) + model.pos_embed[:, 1:])


def _shuffle_patches(num_patches: int) -> torch.Tensor:
    """A permutation of the token axis that keeps the class token (slot 0) first."""
    perm = 1 + torch.randperm(num_patches)
    return torch.cat([torch.tensor([0]), perm])


def test_attention_without_positions_is_permutation_equivariant():
    torch.manual_seed(0)
    attn = Attention(32, 4, head_dim=8).eval()
    tokens = torch.randn(2, 17, 32)
    perm = _shuffle_patches(16)
    torch.testing.assert_close(attn(tokens[:, perm]), attn(tokens)[:, perm], rtol=0, atol=1e-5)


def test_attention_with_positions_sees_the_order():
    torch.manual_seed(0)
    attn = Attention(32, 4, head_dim=8).eval()
    tokens = torch.randn(2, 17, 32)
    table = sincos_pos_embed((4, 4), 32)
    perm = _shuffle_patches(16)
    shuffled = attn(add_pos_embed(tokens[:, perm], table))
    in_order = attn(add_pos_embed(tokens, table))[:, perm]
    assert (shuffled - in_order).abs().max() > 1e-3
