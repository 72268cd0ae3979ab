"""vit_lib.Mlp: fc2(gelu(fc1(x))), timm's names, dropout that does what it was told, parameter "
"count."""

import math

import pytest
import torch

from vit_lib import Mlp


def mlp_by_hand(mlp: Mlp, x: torch.Tensor) -> torch.Tensor:
    """fc2(GELU(fc1(x))) written with the exact erf GELU: z * Phi(z)."""
    z = x @ mlp.fc1.weight.T + mlp.fc1.bias  # (N, T, D_ff)
    hidden = z * 0.5 * (1 + torch.erf(z / math.sqrt(2)))  # (N, T, D_ff)
    return hidden @ mlp.fc2.weight.T + mlp.fc2.bias  # (N, T, D)


@pytest.mark.parametrize("drop", [0.0, 0.3])
def test_matches_hand_composition_in_eval_mode(drop):
    torch.manual_seed(0)
    mlp = Mlp(16, 40, drop=drop).double().eval()
    x = torch.randn(4, 17, 16, dtype=torch.float64)
    torch.testing.assert_close(mlp(x), mlp_by_hand(mlp, x), rtol=0, atol=1e-12)


def test_seed_configuration_shapes():
    mlp = Mlp(1024, 2048)
    hidden = {}
    mlp.act.register_forward_hook(
        lambda module, inputs, output: hidden.update(shape=tuple(output.shape))
    )
    out = mlp(torch.randn(4, 17, 1024))
    assert hidden["shape"] == (4, 17, 2048)
    assert out.shape == (4, 17, 1024)


def test_uses_exact_gelu_like_timm():
    assert isinstance(Mlp(8, 16).act, torch.nn.GELU)
    assert Mlp(8, 16).act.approximate == "none"


def test_is_position_wise():
    """Each token is transformed on its own: changing one token changes only its own output."""
    torch.manual_seed(0)
    mlp = Mlp(16, 32).double().eval()
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    changed = x.clone()
    changed[1, 3] += 1.0
    diff = (mlp(changed) - mlp(x)).abs().amax(dim=-1)  # (N, T)
    assert diff[1, 3] > 0
    diff[1, 3] = 0
    assert torch.equal(diff, torch.zeros_like(diff))


def test_parameter_names_are_timms():
    params = {name: tuple(p.shape) for name, p in Mlp(1024, 2048).named_parameters()}
    assert params == {
        "fc1.weight": (2048, 1024),
        "fc1.bias": (2048,),
        "fc2.weight": (1024, 2048),
        "fc2.bias": (1024,),
    }


def test_loads_timm_mlp_and_matches():
    timm_layers = pytest.importorskip("timm.layers")
    torch.manual_seed(0)
    reference = timm_layers.Mlp(64, 128).eval()
    ours = Mlp(64, 128).eval()
    ours.load_state_dict(reference.state_dict())  # strict: every key must match
    x = torch.randn(4, 17, 64)
    torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("drop", [None, 0.0, 0.1, 0.5])
def test_dropout_p_is_what_was_passed(drop):
    """`nn.Dropout()` with no argument would give p = 0.5; the default must be 0."""
    mlp = Mlp(8, 16) if drop is None else Mlp(8, 16, drop=drop)
    expected = 0.0 if drop is None else drop
    assert mlp.drop1.p == expected
    assert mlp.drop2.p == expected


def test_eval_mode_is_deterministic():
    mlp = Mlp(16, 32, drop=0.5).eval()
    x = torch.randn(4, 17, 16)
    torch.manual_seed(1)
    first = mlp(x)
    torch.manual_seed(2)
    assert torch.equal(first, mlp(x))


def test_train_mode_with_dropout_differs_and_without_does_not():
    x = torch.randn(4, 17, 16)
    dropping = Mlp(16, 32, drop=0.1).train()
    torch.manual_seed(1)
    first = dropping(x)
    torch.manual_seed(2)
    assert not torch.allclose(first, dropping(x))

    plain = Mlp(16, 32).train()  # drop = 0: train equals eval
    torch.manual_seed(1)
    in_train = plain(x)
    assert torch.equal(in_train, plain.eval()(x))


def test_train_mode_drops_the_requested_fraction():
    torch.manual_seed(0)
    mlp = Mlp(64, 256, drop=0.25).train()
    hidden = {}
    mlp.drop1.register_forward_hook(lambda module, inputs, output: hidden.update(out=output))
    mlp(torch.randn(8, 17, 64))
    zeros = (hidden["out"] == 0).float().mean().item()  # 34,816 activations
    assert abs(zeros - 0.25) < 0.01


@pytest.mark.parametrize("dim,hidden", [(1024, 2048), (768, 3072), (5, 7)])
def test_parameter_count_formula(dim, hidden):
    count = sum(p.numel() for p in Mlp(dim, hidden).parameters())
    assert count == dim * hidden + hidden + hidden * dim + dim


def test_seed_configuration_parameter_count():
    assert sum(p.numel() for p in Mlp(1024, 2048).parameters()) == 4_197_376
