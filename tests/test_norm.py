"""vit_lib.LayerNorm: the hand formula, mean 0 / variance 1 per token, timm's eps and parameter "
"names."""

import pytest
import torch

from vit_lib import Block, LayerNorm, VisionTransformer, ViTConfig
from vit_lib.norm import NORM_EPS


def layer_norm_by_hand(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> torch.Tensor:
    """Mean and biased variance over the last axis, then scale and shift."""
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)  # (..., 1), divided by D, not D - 1
    return (x - mean) / torch.sqrt(var + eps) * weight + bias  # (..., D)


def uneven_tokens(*shape: int, dtype=torch.float64) -> torch.Tensor:
    """Random tokens whose means and scales differ from token to token."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=generator, dtype=dtype)
    shift = torch.empty(*shape[:-1], 1, dtype=dtype).uniform_(-3, 3, generator=generator)
    scale = torch.empty(*shape[:-1], 1, dtype=dtype).uniform_(-3, 3, generator=generator).exp()
    return x * scale + shift


@pytest.mark.parametrize("shape", [(4, 17, 1024), (2, 5, 7), (3, 16)])
def test_matches_hand_formula(shape):
    norm = LayerNorm(shape[-1]).double()
    with torch.no_grad():  # not the identity affine map, so weight and bias count
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    x = uneven_tokens(*shape)
    expected = layer_norm_by_hand(x, norm.weight, norm.bias, eps=1e-6)
    torch.testing.assert_close(norm(x), expected, rtol=0, atol=1e-10)


def test_each_token_has_mean_zero_and_variance_one():
    x = uneven_tokens(4, 17, 1024, dtype=torch.float32)
    y = LayerNorm(1024)(x)
    assert y.shape == (4, 17, 1024)
    mean = y.mean(dim=-1)  # (N, T)
    var = y.var(dim=-1, unbiased=False)  # (N, T)
    assert mean.abs().max() < 1e-5
    assert (var - 1).abs().max() < 1e-3  # 1 - var = eps / (var_x + eps) <= 1e-6 / 2.5e-3 here


def test_tokens_are_normalised_independently():
    """Unlike BatchNorm, a token's output does not depend on the other tokens or images."""
    x = uneven_tokens(4, 17, 32)
    norm = LayerNorm(32).double()
    together = norm(x)
    alone = norm(x[2:3, 5:6])  # one token, shape (1, 1, D)
    torch.testing.assert_close(together[2:3, 5:6], alone, rtol=0, atol=1e-12)


def test_default_eps_is_timms():
    assert NORM_EPS == 1e-6
    assert LayerNorm(16).eps == 1e-6
    assert torch.nn.LayerNorm(16).eps == 1e-5  # PyTorch's default, which is NOT what the ViT uses
    assert LayerNorm(16, eps=1e-5).eps == 1e-5  # overriding still works


def test_eps_matters_on_low_variance_tokens():
    """On tokens with variance ~1e-6, eps 1e-5 versus 1e-6 changes the output by tens of percent."""
    base = uneven_tokens(4, 17, 64)
    x = base / base.std(dim=-1, keepdim=True) * 1e-3  # (N, T, D), std 1e-3 per token
    norm = LayerNorm(64).double()
    ones, zeros = torch.ones(64, dtype=torch.float64), torch.zeros(64, dtype=torch.float64)
    with_timm_eps = layer_norm_by_hand(x, ones, zeros, eps=1e-6)
    with_torch_eps = layer_norm_by_hand(x, ones, zeros, eps=1e-5)
    torch.testing.assert_close(norm(x), with_timm_eps, rtol=0, atol=1e-10)
    assert (norm(x) - with_torch_eps).abs().max() > 0.1


def test_parameter_names_shapes_and_init():
    norm = LayerNorm(1024)
    params = dict(norm.named_parameters())
    assert list(params) == ["weight", "bias"]
    assert params["weight"].shape == params["bias"].shape == (1024,)
    assert torch.equal(params["weight"], torch.ones(1024))
    assert torch.equal(params["bias"], torch.zeros(1024))


def test_loads_timm_layer_norm():
    timm_layers = pytest.importorskip("timm.layers")
    torch.manual_seed(0)
    reference = timm_layers.LayerNorm(64)
    with torch.no_grad():
        reference.weight.normal_()
        reference.bias.normal_()
    assert reference.eps == LayerNorm(64).eps
    ours = LayerNorm(64)
    ours.load_state_dict(reference.state_dict())  # strict: the names must match
    x = uneven_tokens(4, 17, 64, dtype=torch.float32)
    torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-6)


def test_block_and_model_use_the_vit_eps():
    block = Block(32, 4)
    assert block.norm1.eps == block.norm2.eps == NORM_EPS
    model = VisionTransformer(
        ViTConfig(img_size=16, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=3)
    )
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 2 * 2 + 1  # two per block and the final norm
    assert all(m.eps == NORM_EPS for m in norms)
