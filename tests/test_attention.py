"""vit_lib.merge_heads and vit_lib.Attention: merging inverts splitting, explicit == fused, timm
agrees, attention is permutation-equivariant, and bad input gets a clear error."""

import pytest
import torch

from vit_lib import Attention, merge_heads, split_heads


def concatenate_heads(x: torch.Tensor) -> torch.Tensor:
    """(N, h, T, d_h) -> (N, T, h*d_h) the slow, obvious way: token t's head outputs side by "
    "side."""
    batch, heads, tokens, head_dim = x.shape
    out = torch.empty(batch, tokens, heads * head_dim, dtype=x.dtype)
    for n in range(batch):
        for t in range(tokens):
            out[n, t] = torch.cat([x[n, j, t] for j in range(heads)])
    return out


@pytest.mark.parametrize("shape", [(4, 17, 768), (2, 5, 12), (1, 1, 8), (3, 197, 64)])
@pytest.mark.parametrize("heads", [1, 4])
def test_merge_heads_inverts_split_heads(shape, heads):
    x = torch.randn(shape)
    assert torch.equal(merge_heads(split_heads(x, heads)), x)
    y = torch.randn(shape[0], heads, shape[1], shape[2] // heads)
    assert torch.equal(split_heads(merge_heads(y), heads), y)


def test_merge_heads_is_concatenation_of_heads_per_token():
    x = torch.randn(2, 3, 5, 4)  # (N, h, T, d_h)
    merged = merge_heads(x)
    assert merged.shape == (2, 5, 12)  # (N, T, h*d_h)
    assert torch.equal(merged, concatenate_heads(x))


def test_scrambled_view_fails_the_concatenation_check():
    """The check above bites: a bare view from (N, h, T, d_h) has the right shape and wrong "
    "values."""
    x = torch.randn(2, 3, 5, 4)
    scrambled = x.view(2, 5, 12)  # no transpose back: tokens mixed across heads
    assert scrambled.shape == merge_heads(x).shape
    assert not torch.equal(scrambled, concatenate_heads(x))


def test_merge_heads_accepts_non_contiguous_input():
    per_head = torch.randn(2, 5, 3, 4).transpose(1, 2)  # (N, h, T, d_h), not contiguous
    assert not per_head.is_contiguous()
    assert torch.equal(merge_heads(per_head), concatenate_heads(per_head))


def test_merge_heads_wrong_rank():
    with pytest.raises(
        ValueError, match=r"expected \(N, h, T, d_h\), got 3-D shape \(4, 17, 768\)"
    ):
        merge_heads(torch.randn(4, 17, 768))


# (dim, num_heads, head_dim, tokens): inner width h*d_h equal to D and different from it.
SHAPES = [
    (1024, 12, 64, 17),
    (768, 12, None, 17),
    (48, 4, None, 9),
    (10, 3, 7, 5),
    (16, 2, 8, 1),
    (64, 4, 32, 50),
]


@pytest.mark.parametrize("dim,num_heads,head_dim,tokens", SHAPES)
def test_explicit_equals_fused(dim, num_heads, head_dim, tokens):
    torch.manual_seed(0)
    attn = Attention(dim, num_heads, head_dim=head_dim).eval()
    x = torch.randn(3, tokens, dim)
    attn.fused_attn = False
    explicit = attn(x)
    attn.fused_attn = True
    fused = attn(x)
    assert fused.shape == (3, tokens, dim)
    torch.testing.assert_close(explicit, fused, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dim,num_heads,head_dim,tokens", SHAPES)
def test_return_attention_gives_row_stochastic_weights(dim, num_heads, head_dim, tokens):
    torch.manual_seed(0)
    attn = Attention(dim, num_heads, head_dim=head_dim).eval()
    x = torch.randn(3, tokens, dim)
    out, weights = attn(x, return_attention=True)
    assert weights.shape == (3, num_heads, tokens, tokens)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, num_heads, tokens), rtol=0, atol=1e-6)
    torch.testing.assert_close(out, attn(x), rtol=0, atol=1e-6)  # same output as the fused call


def test_seed_configuration_shapes():
    attn = Attention(1024, 12, head_dim=64)
    assert attn.qkv.weight.shape == (3 * 768, 1024) and attn.proj.weight.shape == (1024, 768)
    out, weights = attn(torch.randn(4, 17, 1024), return_attention=True)
    assert out.shape == (4, 17, 1024) and weights.shape == (4, 12, 17, 17)


@pytest.mark.parametrize("dim,num_heads,head_dim", [(768, 12, None), (1024, 12, 64), (64, 4, 8)])
def test_matches_timm_attention(dim, num_heads, head_dim):
    vit = pytest.importorskip("timm.models.vision_transformer")
    torch.manual_seed(0)
    reference = vit.Attention(
        dim, num_heads=num_heads, attn_head_dim=head_dim, qkv_bias=True
    ).eval()
    ours = Attention(dim, num_heads, head_dim=head_dim).eval()
    assert (
        list(ours.state_dict())
        == list(reference.state_dict())
        == ["qkv.weight", "qkv.bias", "proj.weight", "proj.bias"]
    )
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(4, 17, dim)
    torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-6)
    ours.fused_attn = reference.fused_attn = False
    torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("fused", [True, False])
def test_permutation_equivariance(fused):
    torch.manual_seed(0)
    attn = Attention(32, 4, head_dim=6, fused_attn=fused).eval()
    x = torch.randn(2, 11, 32)
    perm = torch.randperm(11)
    torch.testing.assert_close(attn(x[:, perm]), attn(x)[:, perm], rtol=0, atol=1e-6)
    _, weights = attn(x, return_attention=True)
    _, weights_perm = attn(x[:, perm], return_attention=True)
    torch.testing.assert_close(weights_perm, weights[:, :, perm][:, :, :, perm], rtol=0, atol=1e-6)


def test_tokens_interact():
    """Changing one token changes the others' outputs: attention is not a per-token map."""
    torch.manual_seed(0)
    attn = Attention(16, 2).eval()
    x = torch.randn(1, 5, 16)
    y = x.clone()
    y[0, 4] += 1.0
    assert not torch.allclose(attn(x)[0, :4], attn(y)[0, :4])


def test_dropout_only_in_training():
    torch.manual_seed(0)
    attn = Attention(16, 2, attn_drop=0.5, proj_drop=0.5)
    x = torch.randn(2, 5, 16)
    attn.eval()
    assert torch.equal(attn(x), attn(x))
    attn.train()
    assert not torch.allclose(attn(x), attn.eval()(x))


@pytest.fixture
def attn():
    return Attention(1024, 12, head_dim=64)


def test_wrong_token_width(attn):
    with pytest.raises(
        ValueError,
        match=r"Attention expects token width 1024, got 768 \(input shape \(4, 17, 768\)\)",
    ):
        attn(torch.randn(4, 17, 768))


def test_wrong_rank(attn):
    with pytest.raises(
        ValueError, match=r"Attention expects 3-D tokens \(N, T, 1024\), got 2-D shape \(17, 1024\)"
    ):
        attn(torch.randn(17, 1024))


def test_dim_not_divisible_by_heads():
    with pytest.raises(
        ValueError, match=r"dim 1000 is not divisible by num_heads 12; pass head_dim explicitly"
    ):
        Attention(1000, 12)


def test_head_dim_given_allows_any_dim():
    attn = Attention(1000, 12, head_dim=64)
    assert attn.proj.weight.shape == (1000, 768)
    assert attn(torch.randn(2, 3, 1000)).shape == (2, 3, 1000)


def test_zero_heads():
    with pytest.raises(ValueError, match=r"num_heads must be at least 1, got 0"):
        Attention(64, 0)
