"""vit_lib.explicit_attention: a case computed by hand, rows that sum to 1, PyTorch's fused kernel
agrees, dropout acts on the weights but the returned weights are taken before it."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vit_lib import explicit_attention
from vit_lib.stages import format_rows, recording


def test_tiny_case_by_hand():
    """T = 2, d_h = 4 (scale 1/2): scaled scores [[1, 0], [0, 1]], so weights e/(1+e) and "
    "1/(1+e)."""
    q = torch.tensor([[1.0, 1, 0, 0], [0, 0, 2, 0]]).reshape(1, 1, 2, 4)  # (N, h, T, d_h)
    k = torch.tensor([[1.0, 1, 0, 0], [0, 0, 1, 1]]).reshape(1, 1, 2, 4)
    v = torch.tensor([[1.0, 2, 3, 4], [5, 6, 7, 8]]).reshape(1, 1, 2, 4)
    big, small = math.e / (1 + math.e), 1 / (1 + math.e)  # 0.731, 0.269
    expected_weights = torch.tensor([[big, small], [small, big]])
    expected_out = expected_weights @ v[0, 0]  # row 0: 0.731*v0 + 0.269*v1

    out, weights = explicit_attention(q, k, v)

    torch.testing.assert_close(weights[0, 0], expected_weights, rtol=0, atol=1e-6)
    torch.testing.assert_close(out[0, 0], expected_out, rtol=0, atol=1e-5)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), rtol=0, atol=1e-6)


def test_scale_is_one_over_sqrt_head_dim():
    """One query, two keys whose raw dot products differ by d_h: weights are softmax([sqrt(d_h), "
    "0])."""
    for head_dim in (1, 4, 9, 64):
        q = torch.ones(1, 1, 1, head_dim)
        k = torch.stack([torch.ones(head_dim), torch.zeros(head_dim)]).reshape(1, 1, 2, head_dim)
        v = torch.randn(1, 1, 2, head_dim)
        _, weights = explicit_attention(q, k, v)
        gap = math.sqrt(head_dim)  # d_h / sqrt(d_h)
        expected = torch.tensor([1 / (1 + math.exp(-gap)), 1 / (1 + math.exp(gap))])
        torch.testing.assert_close(weights[0, 0, 0], expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("shape", [(4, 12, 17, 64), (2, 3, 5, 7), (1, 1, 1, 4), (3, 2, 50, 16)])
def test_rows_sum_to_one(shape):
    torch.manual_seed(0)
    q, k, v = (3 * torch.randn(shape) for _ in range(3))
    _, weights = explicit_attention(q, k, v)
    n, h, t, _ = shape
    assert weights.shape == (n, h, t, t)
    assert (weights >= 0).all()
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(n, h, t), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "shape", [(4, 12, 17, 64), (2, 3, 5, 7), (1, 1, 1, 4), (3, 2, 50, 16), (2, 4, 197, 32)]
)
def test_matches_torch_scaled_dot_product_attention(shape):
    torch.manual_seed(0)
    q, k, v = (torch.randn(shape) for _ in range(3))
    out, _ = explicit_attention(q, k, v)
    assert out.shape == shape
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), rtol=0, atol=1e-6)


class Spy(nn.Module):
    """Stands in for attention dropout: remembers its input and zeroes the second key of every "
    "row."""

    def forward(self, weights: torch.Tensor) -> torch.Tensor:
        self.seen = weights.clone()
        mask = torch.ones_like(weights)
        mask[..., 1] = 0
        return weights * mask


def test_dropout_acts_on_weights_but_returned_weights_are_pre_dropout():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8) for _ in range(3))
    spy = Spy()
    out, weights = explicit_attention(q, k, v, spy)
    torch.testing.assert_close(spy.seen, weights, rtol=0, atol=0)  # the module saw the weights
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5), rtol=0, atol=1e-6)
    expected = weights.clone()
    expected[..., 1] = 0
    torch.testing.assert_close(
        out, expected @ v, rtol=0, atol=1e-6
    )  # the output used the dropped ones


def test_real_dropout_in_training_mode():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8) for _ in range(3))
    drop = nn.Dropout(p=0.5).train()
    torch.manual_seed(1)
    out, weights = explicit_attention(q, k, v, drop)
    torch.manual_seed(1)
    expected = drop(weights) @ v  # the same mask, drawn again
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5), rtol=0, atol=1e-6)
    assert not torch.allclose(out, weights @ v)


def test_dropout_in_eval_mode_changes_nothing():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 5, 8) for _ in range(3))
    out_eval, _ = explicit_attention(q, k, v, nn.Dropout(p=0.5).eval())
    out_plain, _ = explicit_attention(q, k, v)
    torch.testing.assert_close(out_eval, out_plain, rtol=0, atol=0)


def test_records_stages_7_and_8():
    q = k = v = torch.randn(4, 12, 17, 64)
    with recording() as rows:
        explicit_attention(q, k, v)
    assert [(r.step, r.shape) for r in rows] == [(7, (4, 12, 17, 17)), (8, (4, 12, 17, 17))], (
        format_rows(rows)
    )
