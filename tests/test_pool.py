"""vit_lib.pool_tokens: class token or patch average (prefix tokens excluded); errors name the "
"problem."""

import pytest
import torch

from vit_lib import VisionTransformer, pool_tokens
from vit_lib.pool import GLOBAL_POOLS


def test_token_pool_returns_class_token():
    torch.manual_seed(0)
    x = torch.randn(4, 17, 8)
    pooled = pool_tokens(x, "token")
    assert pooled.shape == (4, 8)
    assert torch.equal(pooled, x[:, 0])


def test_avg_excludes_prefix_tokens():
    """A huge class token: averaging it in (the mistake) would give about 33, not 2."""
    x = torch.tensor(
        [
            [
                [100.0, -100.0],  # class token
                [1.0, 2.0],  # patch tokens
                [3.0, 4.0],
            ]
        ]
    )  # (N, T, D) = (1, 3, 2)
    assert torch.equal(pool_tokens(x, "avg"), torch.tensor([[2.0, 3.0]]))
    assert not torch.allclose(x.mean(dim=1), pool_tokens(x, "avg"))  # the mistake differs


def test_avg_skips_every_prefix_token():
    x = torch.tensor([[[9.0], [7.0], [1.0], [2.0], [6.0]]])  # two prefix tokens, three patches
    assert torch.equal(pool_tokens(x, "avg", num_prefix_tokens=2), torch.tensor([[3.0]]))
    assert torch.equal(pool_tokens(x, "avg", num_prefix_tokens=0), torch.tensor([[5.0]]))


def test_unknown_pool_name():
    with pytest.raises(
        ValueError, match=r"unknown global_pool 'max'; expected one of \('token', 'avg'\)"
    ):
        pool_tokens(torch.randn(2, 5, 4), "max")


def test_token_pool_without_class_token():
    with pytest.raises(
        ValueError, match=r"global_pool='token' needs a class token, but the sequence has none"
    ):
        pool_tokens(torch.randn(2, 4, 4), "token", num_prefix_tokens=0)


def test_wrong_rank():
    with pytest.raises(ValueError, match=r"expected tokens \(N, T, D\), got 2-D shape \(4, 1024\)"):
        pool_tokens(torch.randn(4, 1024), "avg")


def test_global_pools_are_timms_names():
    assert GLOBAL_POOLS == ("token", "avg")


@pytest.mark.parametrize("mode", ["token", "avg"])
def test_model_pools_and_normalises_like_timm(mode):
    """'token' normalises before pooling (norm), 'avg' after (fc_norm); timm's weights give timm's "
    "logits."""
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    config = dict(
        img_size=32, patch_size=8, embed_dim=48, depth=2, num_heads=4, mlp_ratio=2.0, num_classes=10
    )
    reference = timm.create_model(
        "vit_base_patch16_224", pretrained=False, global_pool=mode, **config
    ).eval()
    ours = VisionTransformer(global_pool=mode, **config).eval()
    ours.load_state_dict(reference.state_dict())
    normed = ours.fc_norm if mode == "avg" else ours.norm
    assert isinstance(normed, torch.nn.LayerNorm)
    x = torch.randn(3, 3, 32, 32)
    torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-5)
    torch.testing.assert_close(
        ours.forward_head(ours.forward_features(x), pre_logits=True),
        reference.forward_head(reference.forward_features(x), pre_logits=True),
        rtol=0,
        atol=1e-5,
    )
