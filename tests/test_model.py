"""The assembled model: every shape of SHAPES.md, the shape trace, modes, errors, gradients."""

import pytest
import torch

from vit_lib import Stage, VisionTransformer, ViTConfig, shape_trace
from vit_lib.model import PatchDropout
from vit_lib.stages import recording

SEED = dict(
    img_size=32,
    patch_size=8,
    in_chans=3,
    num_classes=1000,
    embed_dim=1024,
    depth=2,
    num_heads=12,
    head_dim=64,
    mlp_ratio=2.0,
)

# (step, shape) of SHAPES.md for the seed configuration, stages 1..16.
SHAPES_MD = {
    1: (4, 3, 32, 32),
    2: (4, 16, 1024),
    3: (4, 17, 1024),
    4: (4, 17, 1024),
    5: (4, 17, 768),
    6: (4, 12, 17, 64),
    7: (4, 12, 17, 17),
    8: (4, 12, 17, 17),
    9: (4, 12, 17, 64),
    10: (4, 17, 768),
    11: (4, 17, 1024),
    12: (4, 17, 1024),
    13: (4, 17, 1024),
    14: (4, 17, 1024),
    15: (4, 1024),
    16: (4, 1000),
}


@pytest.fixture(scope="module")
def seed_model():
    torch.manual_seed(0)
    return VisionTransformer(ViTConfig(**SEED)).eval()


@pytest.fixture(scope="module")
def batch():
    return torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def small(**overrides) -> VisionTransformer:
    torch.manual_seed(0)
    cfg = dict(
        img_size=16, patch_size=4, num_classes=5, embed_dim=24, depth=2, num_heads=3, mlp_ratio=2.0
    )
    return VisionTransformer(ViTConfig(**{**cfg, **overrides}))


def test_seed_configuration_maps_batch_to_logits(seed_model, batch):
    assert seed_model(batch).shape == (4, 1000)
    assert seed_model.forward_features(batch).shape == (4, 17, 1024)


def test_shape_trace_gives_every_row_of_shapes_md(seed_model, batch):
    rows = shape_trace(seed_model, batch, show=False)
    seen = {}
    for row in rows:
        seen.setdefault(row.step, set()).add(row.shape)
    assert set(seen) == set(SHAPES_MD)
    for step, shape in SHAPES_MD.items():
        assert seen[step] == {shape}, (step, seen[step])


def test_shape_trace_records_every_stage_of_the_table(seed_model, batch):
    rows = shape_trace(seed_model, batch, show=False)
    assert {row.stage for row in rows} == set(Stage)
    assert [stage.number for stage in Stage] == sorted(SHAPES_MD)
    assert {row.label for row in rows if row.stage is Stage.NORM} == {
        "LayerNorm (norm1)",
        "LayerNorm (norm2)",
    }


def test_shape_trace_order_follows_the_computation(seed_model, batch):
    rows = shape_trace(seed_model, batch, show=False)
    block0 = [r.step for r in rows if r.where == "block 0"]
    assert block0 == [12, 5, 6, 7, 8, 9, 10, 11, 12, 13]  # pre-norm: norm1 comes first
    assert [r.step for r in rows if not r.where] == [1, 2, 3, 4, 14, 15, 16]
    assert [r.where for r in rows if r.step == 7] == ["block 0", "block 1"]


def test_shape_trace_reads_live_tensors_and_restores_fused(seed_model):
    assert seed_model.fused_attn
    rows = shape_trace(seed_model, torch.randn(2, 3, 32, 32), show=False)
    assert rows[0].shape == (2, 3, 32, 32) and rows[-1].shape == (2, 1000)
    assert seed_model.fused_attn


def test_shape_trace_prints_a_table(seed_model, batch, capsys):
    shape_trace(seed_model, batch)
    out = capsys.readouterr().out
    assert "(4, 12, 17, 17)" in out and "scores" in out and "classification head" in out


def test_fused_and_explicit_attention_agree():
    model = small(head_dim=5).eval()
    x = torch.randn(3, 3, 16, 16)
    fused = model(x)
    model.fused_attn = False
    assert not model.fused_attn
    torch.testing.assert_close(model(x), fused, rtol=0, atol=1e-6)


def test_dropout_acts_in_train_mode_only():
    model = small(drop_rate=0.3, attn_drop_rate=0.3)
    x = torch.randn(2, 3, 16, 16)
    model.train()
    assert not torch.allclose(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("class_token", [True, False])
def test_patch_dropout_keeps_a_random_share_of_patches_in_training_only(class_token):
    drop = PatchDropout(0.3, num_prefix_tokens=int(class_token))
    x = torch.randn(5, int(class_token) + 16, 8)  # (N, p + L, D), L = 16 patches
    torch.manual_seed(0)
    out = drop.train()(x)
    prefix = int(class_token)
    assert out.shape == (5, prefix + 11, 8)  # int(16 * 0.7) = 11 patches kept
    assert torch.equal(out[:, :prefix], x[:, :prefix])  # the class token stays, first
    for image, kept in zip(x, out):  # every kept row is a distinct patch
        rows = [int((image[prefix:] == row).all(-1).nonzero()) for row in kept[prefix:]]
        assert len(set(rows)) == 11
    assert not torch.equal(out, drop(x))  # a new draw each call
    assert drop.eval()(x) is x


def test_patch_dropout_keeps_at_least_one_patch_and_checks_its_rate():
    assert PatchDropout(0.99, num_prefix_tokens=0).train()(torch.randn(2, 4, 3)).shape == (2, 1, 3)
    with pytest.raises(ValueError, match=r"patch dropout rate must be in \[0, 1\), got 1.0"):
        PatchDropout(1.0)


def test_model_with_patch_dropout_is_cheaper_in_training_and_unchanged_in_eval():
    plain, dropping = small(), small(patch_drop_rate=0.5)  # same seed, same weights
    assert isinstance(plain.patch_drop, torch.nn.Identity)
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(dropping.eval()(x), plain.eval()(x))
    assert dropping.train().forward_features(x).shape == (
        2,
        1 + 8,
        24,
    )  # class token + 8 of 16 patches
    dropping(x).square().sum().backward()
    assert all(p.grad is not None for p in dropping.parameters())


def test_eval_mode_is_deterministic_across_models():
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(small().eval()(x), small().eval()(x))


def test_gradient_reaches_every_parameter():
    for overrides in ({}, {"global_pool": "avg"}, {"class_token": False, "global_pool": "avg"}):
        model = small(**overrides)
        model(torch.randn(2, 3, 16, 16)).square().sum().backward()
        dead = [
            n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0
        ]
        assert not dead, (overrides, dead)


def test_attention_maps_are_row_stochastic(seed_model, batch):
    maps = seed_model.attention_maps(batch)
    assert len(maps) == 2 and all(m.shape == (4, 12, 17, 17) for m in maps)
    for m in maps:
        torch.testing.assert_close(m.sum(-1), torch.ones(4, 12, 17), rtol=0, atol=1e-5)


def test_attention_maps_match_the_forward_pass():
    """The maps come from the same computation: re-weighting values with them reproduces block 0."""
    model = small().eval()
    x = torch.randn(2, 3, 16, 16)
    weights = model.attention_maps(x)[0]
    tokens = model.embed(x)
    block = model.blocks[0]
    _, expected = block.attn(block.norm1(tokens), return_attention=True)
    torch.testing.assert_close(weights, expected)


def test_attention_maps_are_those_of_eval_mode_and_keep_the_mode():
    model = small(drop_rate=0.3, attn_drop_rate=0.3, patch_drop_rate=0.5).train()
    x = torch.randn(2, 3, 16, 16)
    in_training = model.attention_maps(x)
    assert model.training and all(m.training for m in model.modules())
    expected = model.eval().attention_maps(x)
    assert not model.training
    for a, b in zip(in_training, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "explicit"])
def test_compiled_model_has_one_graph_and_equals_eager(fused):
    """torch.compile(fullgraph=True) raises on any graph break: `record` and `scope` must vanish.

    inductor, the default backend, generates and compiles C++ on the CPU (seconds); its
    kernels round differently from eager's, hence the tolerance.
    """
    torch.manual_seed(0)
    model = small(global_pool="avg").eval()
    model.fused_attn = fused
    x = torch.randn(3, 3, 16, 16)
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    with torch.no_grad():
        expected, got = model(x), compiled(x)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    with recording() as rows, torch.no_grad():
        compiled(x)
    assert rows == []  # nothing recorded inside the compiled graph
    assert len(shape_trace(model, x, show=False)) > 0  # and the eager model still records


def test_head_dim_defaults_to_width_over_heads_and_may_differ():
    assert small().blocks[0].attn.head_dim == 8
    model = small(head_dim=16)
    assert model.blocks[0].attn.qkv.weight.shape == (3 * 3 * 16, 24)
    assert model.blocks[0].attn.proj.weight.shape == (24, 48)


def test_avg_pool_uses_fc_norm_and_token_pool_uses_norm():
    token, avg = small(), small(global_pool="avg")
    assert isinstance(token.fc_norm, torch.nn.Identity) and isinstance(
        token.norm, torch.nn.LayerNorm
    )
    assert isinstance(avg.norm, torch.nn.Identity) and isinstance(avg.fc_norm, torch.nn.LayerNorm)


def test_avg_pool_matches_hand_computation():
    model = small(global_pool="avg").eval()
    x = torch.randn(2, 3, 16, 16)
    feats = model.forward_features(x)
    expected = model.head(model.fc_norm(feats[:, 1:].mean(1)))
    torch.testing.assert_close(model(x), expected)


def test_num_classes_zero_returns_pooled_features():
    model = small(num_classes=0).eval()
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 24)


def test_sincos_positions_are_a_fixed_buffer():
    model = small(pos_embed="sincos")
    assert "pos_embed" not in dict(model.named_parameters())
    assert "pos_embed" not in model.state_dict()
    assert model.pos_embed.shape == (1, 17, 24)


def test_overrides_build_a_config():
    model = VisionTransformer(ViTConfig(**SEED), depth=1)
    assert model.config.depth == 1 and len(model.blocks) == 1 and model.config.embed_dim == 1024


# ------------------------------------------------------------------ input errors, one test each


@pytest.fixture(scope="module")
def tiny():
    return small().eval()


def test_input_wrong_channels(tiny):
    with pytest.raises(ValueError, match=r"expected 3 input channels, got 1"):
        tiny(torch.randn(2, 1, 16, 16))


def test_input_wrong_image_size(tiny):
    with pytest.raises(
        ValueError, match=r"input size \(32, 32\) doesn't match the model's img_size \(16, 16\)"
    ):
        tiny(torch.randn(2, 3, 32, 32))


def test_input_not_divisible_by_patch(tiny):
    with pytest.raises(
        ValueError, match=r"input width 18 is not divisible by the patch size 4 \(18 % 4 = 2\)"
    ):
        tiny(torch.randn(2, 3, 16, 18))


def test_input_wrong_rank(tiny):
    with pytest.raises(
        ValueError, match=r"expected a 4-D batch \(N, C, H, W\), got 3-D shape \(3, 16, 16\)"
    ):
        tiny(torch.randn(3, 16, 16))


def test_input_integer_dtype(tiny):
    with pytest.raises(TypeError, match=r"images must be floating point, got dtype torch.int64"):
        tiny(torch.zeros(2, 3, 16, 16, dtype=torch.long))


# ------------------------------------------------------------------ config errors, one test each


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"img_size": 30, "patch_size": 8}, r"img_size height 30 is not divisible by patch_size 8"),
        (
            {"global_pool": "token", "class_token": False},
            r"global_pool='token' needs class_token=True",
        ),
        ({"global_pool": "max"}, r"unknown global_pool 'max'; expected one of \('token', 'avg'\)"),
        (
            {"pos_embed": "rope"},
            r"unknown pos_embed 'rope'; expected one of \('learned', 'sincos'\)",
        ),
        (
            {"embed_dim": 100, "num_heads": 12},
            r"embed_dim 100 is not divisible by num_heads 12; set head_dim",
        ),
        (
            {"embed_dim": 30, "num_heads": 3, "pos_embed": "sincos"},
            r"pos_embed='sincos' needs embed_dim divisible by 4, got 30",
        ),
        ({"depth": 0}, r"depth must be at least 1, got 0"),
        ({"num_classes": -1}, r"num_classes must be >= 0, got -1"),
        ({"drop_rate": 1.0}, r"drop_rate must be in \[0, 1\), got 1.0"),
        ({"patch_drop_rate": -0.1}, r"patch_drop_rate must be in \[0, 1\), got -0.1"),
        ({"mlp_ratio": 0}, r"mlp_ratio must be positive, got 0"),
        ({"head_dim": 0}, r"head_dim must be at least 1, got 0"),
    ],
)
def test_config_validation(overrides, message):
    with pytest.raises(ValueError, match=message):
        ViTConfig(**overrides)
