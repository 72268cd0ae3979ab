"""vit_lib.heads: split_heads puts each feature slice in its head; the fused qkv Linear is the "
"three maps."""

import pytest
import torch
from torch import nn

from vit_lib import split_heads
from vit_lib.heads import fuse_qkv


def test_split_heads_puts_feature_slice_of_token_into_head():
    x = torch.arange(2 * 3 * 12, dtype=torch.float32).reshape(
        2, 3, 12
    )  # (N, T, h*d_h) = (2, 3, 3*4)
    out = split_heads(x, num_heads=3)  # (N, h, T, d_h)
    assert out.shape == (2, 3, 3, 4)
    for i in range(3):
        for t in range(3):
            assert torch.equal(out[:, i, t, :], x[:, t, i * 4 : (i + 1) * 4])
    # by hand: image 1, head 2, token 0 holds features 8..11 of token 0 of image 1 = 36 + 8 ... 36 +
    # 11
    assert out[1, 2, 0].tolist() == [44.0, 45.0, 46.0, 47.0]


def test_split_heads_is_a_non_contiguous_view():
    x = torch.randn(4, 17, 768)
    out = split_heads(x, 12)
    assert out.data_ptr() == x.data_ptr()
    assert out.stride() == (17 * 768, 64, 768, 1) and not out.is_contiguous()


def test_split_heads_accepts_a_chunk_of_the_fused_output():
    fused = torch.randn(2, 5, 3 * 24)
    q, k, v = fused.chunk(3, dim=-1)  # non-contiguous slices
    assert torch.equal(split_heads(q, 4), split_heads(q.contiguous(), 4))
    assert torch.equal(split_heads(v, 4), fused.reshape(2, 5, 3, 4, 6).permute(2, 0, 3, 1, 4)[2])


def _three_maps(dim: int, inner: int, bias: bool = True, dtype: torch.dtype = torch.float64):
    torch.manual_seed(0)
    return [nn.Linear(dim, inner, bias=bias, dtype=dtype) for _ in range(3)]


@pytest.mark.parametrize("bias", [True, False])
def test_fused_qkv_equals_the_three_separate_maps(bias):
    q, k, v = _three_maps(16, 12, bias)
    fused = fuse_qkv(q, k, v)
    x = torch.randn(3, 7, 16, dtype=torch.float64)
    got = fused(x)
    assert got.shape == (3, 7, 36)
    torch.testing.assert_close(got, torch.cat([q(x), k(x), v(x)], dim=-1), rtol=0, atol=1e-12)


def test_fused_qkv_row_layout_is_timms():
    q, k, v = _three_maps(16, 12)
    fused = fuse_qkv(q, k, v)
    w_q, w_k, w_v = fused.weight.chunk(3, dim=0)
    assert torch.equal(w_q, q.weight) and torch.equal(w_k, k.weight) and torch.equal(w_v, v.weight)
    # inner width 12 = 3 heads of 4: row 12 + 2*4 + 1 = 21 is the key weight of head 2, feature 1
    assert torch.equal(fused.weight[21], k.weight[9])
    assert torch.equal(fused.bias, torch.cat([q.bias, k.bias, v.bias]))


def test_fused_qkv_keeps_dtype():
    fused = fuse_qkv(*_three_maps(8, 4, dtype=torch.float64))
    assert fused.weight.dtype == torch.float64


def test_fused_then_timm_reshape_equals_split_heads():
    q, k, v = _three_maps(16, 12, dtype=torch.float32)
    fused = fuse_qkv(q, k, v)
    x = torch.randn(2, 5, 16)
    timm_q, timm_k, timm_v = fused(x).reshape(2, 5, 3, 3, 4).permute(2, 0, 3, 1, 4).unbind(0)
    torch.testing.assert_close(timm_q, split_heads(q(x), 3), rtol=0, atol=1e-6)
    torch.testing.assert_close(timm_k, split_heads(k(x), 3), rtol=0, atol=1e-6)
    torch.testing.assert_close(timm_v, split_heads(v(x), 3), rtol=0, atol=1e-6)


def test_fuse_qkv_rejects_mismatched_shapes():
    q, k = nn.Linear(16, 12), nn.Linear(16, 12)
    with pytest.raises(
        ValueError, match=r"equal shapes, got \[\(12, 16\), \(12, 16\), \(8, 16\)\]"
    ):
        fuse_qkv(q, k, nn.Linear(16, 8))


def test_fuse_qkv_rejects_mixed_bias():
    with pytest.raises(
        ValueError, match=r"all have a bias or all have none, got bias=\[True, False, True\]"
    ):
        fuse_qkv(nn.Linear(16, 12), nn.Linear(16, 12, bias=False), nn.Linear(16, 12))


def test_split_heads_rejects_wrong_rank():
    with pytest.raises(
        ValueError, match=r"expected \(N, T, h\*d_h\), got 4-D shape \(4, 12, 17, 64\)"
    ):
        split_heads(torch.zeros(4, 12, 17, 64), 12)


def test_split_heads_rejects_width_not_divisible_by_heads():
    with pytest.raises(ValueError, match=r"inner width 768 is not divisible by 10 heads"):
        split_heads(torch.zeros(4, 17, 768), 10)


def test_split_heads_rejects_zero_heads():
    with pytest.raises(ValueError, match=r"inner width 768 is not divisible by 0 heads"):
        split_heads(torch.zeros(4, 17, 768), 0)
