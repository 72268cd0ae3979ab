"""vit_lib.timm_compat: timm <-> vit_lib conversion is exact, matches stage by stage, refuses
what it cannot express."""

import dataclasses
import functools
import subprocess
import sys

import pytest
import torch
from torch import nn

from conftest import images_for, like_trained
from vit_lib import (
    Finding,
    UnsupportedOptionError,
    VisionTransformer,
    ViTConfig,
    compare_stages,
    config_from_timm,
    from_timm,
    timm_kwargs,
    to_timm,
    unsupported_timm_options,
)
from vit_lib.heads import fuse_qkv
from vit_lib.timm_compat import load_exact

timm_vit = pytest.importorskip("timm.models.vision_transformer")
timm_layers = pytest.importorskip("timm.layers")

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


@pytest.fixture(autouse=True)
def one_thread():
    """The models here are tiny: one thread avoids thread-pool overhead on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def timm_model(dtype=torch.float32, fused_attn=True, **kwargs) -> nn.Module:
    """A small timm VisionTransformer with trained-like weights, in eval mode."""
    kwargs = {
        "img_size": 32,
        "patch_size": 8,
        "embed_dim": 32,
        "depth": 2,
        "num_heads": 4,
        "mlp_ratio": 2.0,
        "num_classes": 10,
        **kwargs,
    }
    model = timm_vit.VisionTransformer(**kwargs)
    for block in model.blocks:
        block.attn.fused_attn = fused_attn
    return like_trained(model).to(dtype).eval()


# The grid: every option both libraries express, each value in at least one case, small widths.
GRID = {
    "d1-square-token": dict(depth=1, img_size=32, patch_size=8, embed_dim=32, num_heads=4),
    "d2-wide-image-avg": dict(
        depth=2, img_size=(16, 32), patch_size=8, embed_dim=24, num_heads=3, global_pool="avg"
    ),
    "d3-tall-rect-patch-avg-nocls": dict(
        depth=3,
        img_size=(24, 16),
        patch_size=(8, 4),
        embed_dim=16,
        num_heads=2,
        global_pool="avg",
        class_token=False,
    ),
    "d4-no-qkv-bias-explicit": dict(
        depth=4,
        img_size=28,
        patch_size=7,
        embed_dim=48,
        num_heads=6,
        qkv_bias=False,
        fused_attn=False,
    ),
    "d2-one-head-no-head": dict(
        depth=2, img_size=32, patch_size=16, embed_dim=64, num_heads=1, num_classes=0, mlp_ratio=1.5
    ),
    "d1-gray-rect-avg-explicit": dict(
        depth=1,
        img_size=(8, 40),
        patch_size=(4, 8),
        in_chans=1,
        embed_dim=40,
        num_heads=5,
        global_pool="avg",
        qkv_bias=False,
        fused_attn=False,
    ),
    "d3-many-tokens-nocls-explicit": dict(
        depth=3,
        img_size=32,
        patch_size=4,
        embed_dim=32,
        num_heads=8,
        global_pool="avg",
        class_token=False,
        fused_attn=False,
        num_classes=7,
    ),
    "d2-no-bias-avg-no-head": dict(
        depth=2,
        img_size=16,
        patch_size=2,
        embed_dim=16,
        num_heads=4,
        qkv_bias=False,
        num_classes=0,
        global_pool="avg",
    ),
    "d4-rect-mlp3-eps1e-5": dict(
        depth=4,
        img_size=(32, 24),
        patch_size=8,
        embed_dim=24,
        num_heads=2,
        mlp_ratio=3.0,
        norm_layer=functools.partial(nn.LayerNorm, eps=1e-5),
    ),
    "d1-cls-avg-mlp4": dict(
        depth=1,
        img_size=24,
        patch_size=6,
        embed_dim=36,
        num_heads=3,
        global_pool="avg",
        mlp_ratio=4.0,
        num_classes=3,
    ),
}
DTYPES = [torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", GRID)
def test_logits_match_timm(case, dtype):
    reference = timm_model(dtype=dtype, **GRID[case])
    ours = from_timm(reference)
    x = images_for(reference, dtype=dtype)
    with torch.no_grad():
        expected, got = reference(x), ours(x)
    assert got.shape == expected.shape
    delta = (got - expected).abs().max().item()
    assert delta <= TOLERANCE[dtype], f"{case}: logits max |Δ| = {delta:.2e}"
    assert expected.abs().max() > 0.1  # the numbers compared are not all tiny


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", GRID)
def test_every_stage_matches_timm(case, dtype):
    """Patch embedding, each block, final norm and pooled features, from timm's own "
    "intermediates."""
    reference = timm_model(dtype=dtype, **GRID[case])
    ours = from_timm(reference)
    x = images_for(reference, dtype=dtype)
    tol = TOLERANCE[dtype]
    with torch.no_grad():
        final, per_block = reference.forward_intermediates(
            x, output_fmt="NLC", return_prefix_tokens=True
        )
        assert (ours.patch_embed(x) - reference.patch_embed(x)).abs().max() <= tol
        tokens = ours.embed(x)
        assert len(per_block) == len(ours.blocks)
        for i, (block, theirs) in enumerate(zip(ours.blocks, per_block)):
            tokens = block(tokens)
            patches, prefix = theirs if isinstance(theirs, tuple) else (theirs, None)
            if prefix is not None:
                patches = torch.cat([prefix, patches], dim=1)
            assert tokens.shape == patches.shape
            assert (tokens - patches).abs().max() <= tol, f"block {i}"
        normed = ours.norm(tokens)
        assert (normed - final).abs().max() <= tol, "final norm"
        pooled = ours.forward_head(normed, pre_logits=True)
        assert pooled.shape == (x.shape[0], ours.config.embed_dim)
        assert (pooled - reference.forward_head(final, pre_logits=True)).abs().max() <= tol, (
            "pooled"
        )


def test_compare_stages_locates_a_difference():
    """A change in block 1 leaves the patch embedding and block 0 equal, and shows from block 1 "
    "on."""
    reference = timm_model(depth=3)
    ours = from_timm(reference)
    x = images_for(reference)
    deltas = compare_stages(ours, reference, x)
    assert list(deltas) == [
        "patch embedding",
        "block 0",
        "block 1",
        "block 2",
        "final norm",
        "pooled",
        "logits",
    ]
    assert max(deltas.values()) <= 1e-5
    with torch.no_grad():
        ours.blocks[1].mlp.fc2.bias[0] += (
            0.1  # one feature: a uniform shift would vanish in a LayerNorm
        )
    deltas = compare_stages(ours, reference, x)
    assert deltas["patch embedding"] == deltas["block 0"] == 0.0
    assert all(
        deltas[name] > 1e-3 for name in ["block 1", "block 2", "final norm", "pooled", "logits"]
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_fused_and_explicit_attention_agree_across_libraries(dtype):
    reference = timm_model(dtype=dtype, fused_attn=False, depth=3)
    ours = from_timm(reference)
    ours.fused_attn = True  # ours fused, timm explicit
    deltas = compare_stages(ours, reference, images_for(reference, dtype=dtype))
    assert max(deltas.values()) <= TOLERANCE[dtype]


def test_norm_eps_comes_from_timm():
    """timm's LayerNorm eps is 1e-6, PyTorch's default 1e-5; the converter must read it, not "
    "assume it."""
    for eps in (1e-6, 1e-5):
        reference = timm_model(norm_layer=functools.partial(nn.LayerNorm, eps=eps))
        ours = from_timm(reference)
        assert ours.config.norm_eps == eps
        assert all(m.eps == eps for m in ours.modules() if isinstance(m, nn.LayerNorm))
    # Loading weights into a model with the other eps runs fine and gives other numbers.
    wrong = VisionTransformer(ours.config, norm_eps=1e-6).eval()
    load_exact(wrong, reference.state_dict(), "timm")
    x = images_for(reference)
    with torch.no_grad():
        assert (wrong(x) - reference(x)).abs().max() > 1e-5


def test_dropped_qkv_bias_is_refused():
    """strict=False would silently drop timm's qkv biases; load_exact names them."""
    reference = timm_model(qkv_bias=True)
    no_bias = VisionTransformer(from_timm(reference).config, qkv_bias=False)
    result = no_bias.load_state_dict(reference.state_dict(), strict=False)  # the silent way
    assert result.unexpected_keys == ["blocks.0.attn.qkv.bias", "blocks.1.attn.qkv.bias"]
    with pytest.raises(
        KeyError, match=r"unused \['blocks.0.attn.qkv.bias', 'blocks.1.attn.qkv.bias'\]"
    ):
        load_exact(no_bias, reference.state_dict(), "timm")


def test_load_exact_names_missing_and_mismatched_keys():
    reference = timm_model()
    ours = from_timm(reference)
    state = dict(reference.state_dict())
    del state["head.bias"]
    state["pos_embed"] = state["pos_embed"][:, 1:]
    with pytest.raises(
        KeyError, match=r"missing \['head.bias'\].*pos_embed \(1, 16, 32\) -> \(1, 17, 32\)"
    ):
        load_exact(ours, state, "timm")


def test_avg_pool_skips_the_class_token_and_normalises_after_pooling():
    """global_pool='avg' with a class token: mean of the patch tokens only, then fc_norm."""
    reference = timm_model(global_pool="avg", class_token=True)
    ours = from_timm(reference)
    assert isinstance(ours.norm, nn.Identity) and isinstance(ours.fc_norm, nn.LayerNorm)
    x = images_for(reference)
    with torch.no_grad():
        tokens = ours.forward_features(x)  # (N, T, D), no norm applied yet
        right = ours.fc_norm(tokens[:, 1:].mean(dim=1))  # pool the patches, then normalise
        with_cls = ours.fc_norm(tokens.mean(dim=1))  # the class token in the mean
        norm_first = ours.fc_norm(tokens)[:, 1:].mean(dim=1)  # normalise, then pool
        pooled = ours.forward_head(tokens, pre_logits=True)
        expected = reference.forward_head(reference.forward_features(x), pre_logits=True)
    torch.testing.assert_close(pooled, right, rtol=0, atol=1e-6)
    torch.testing.assert_close(pooled, expected, rtol=0, atol=1e-5)
    assert (with_cls - right).abs().max() > 1e-3
    assert (norm_first - right).abs().max() > 1e-3


def test_separate_qkv_fuse_in_timm_order():
    """A checkpoint with separate q, k, v maps onto timm's qkv as [q | k | v], rows stacked, not "
    "interleaved."""
    reference = timm_model(embed_dim=32, num_heads=4)
    attn = reference.blocks[0].attn
    inner = attn.num_heads * attn.head_dim
    q, k, v = (nn.Linear(32, inner) for _ in range(3))
    with torch.no_grad():
        for i, m in enumerate((q, k, v)):  # separate maps cut out of timm's fused one
            m.weight.copy_(attn.qkv.weight[i * inner : (i + 1) * inner])
            m.bias.copy_(attn.qkv.bias[i * inner : (i + 1) * inner])
    fused = fuse_qkv(q, k, v)
    assert torch.equal(fused.weight, attn.qkv.weight) and torch.equal(fused.bias, attn.qkv.bias)
    ours = from_timm(reference)
    x = images_for(reference)
    wrong_orders = {
        "k, q, v": fuse_qkv(k, q, v),
        "per-head interleaved": _interleave_heads(q, k, v, attn.num_heads),
    }
    for name, wrong in wrong_orders.items():
        broken = from_timm(reference)
        broken.blocks[0].attn.qkv.load_state_dict(wrong.state_dict())
        with torch.no_grad():
            assert (broken(x) - ours(x)).abs().max() > 1e-3, name


def _interleave_heads(q: nn.Linear, k: nn.Linear, v: nn.Linear, heads: int) -> nn.Linear:
    """[q_0 k_0 v_0 q_1 k_1 v_1 ...]: a per-head layout some other implementations use."""
    d_h = q.out_features // heads
    fused = nn.Linear(q.in_features, 3 * q.out_features)
    with torch.no_grad():
        w = torch.stack([m.weight.view(heads, d_h, -1) for m in (q, k, v)], dim=1)  # (h, 3, d_h, D)
        b = torch.stack([m.bias.view(heads, d_h) for m in (q, k, v)], dim=1)  # (h, 3, d_h)
        fused.weight.copy_(w.reshape(3 * q.out_features, -1))
        fused.bias.copy_(b.reshape(-1))
    return fused


ROUND_TRIP = {
    "seed-like": ViTConfig(
        img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0
    ),
    "avg-nocls-no-bias": ViTConfig(
        img_size=(16, 24),
        patch_size=(4, 8),
        embed_dim=24,
        depth=1,
        num_heads=3,
        global_pool="avg",
        class_token=False,
        qkv_bias=False,
        num_classes=0,
    ),
    "avg-cls-explicit-eps": ViTConfig(
        img_size=24,
        patch_size=6,
        in_chans=2,
        embed_dim=16,
        depth=3,
        num_heads=2,
        global_pool="avg",
        fused_attn=False,
        norm_eps=1e-5,
        num_classes=5,
    ),
    "dropout": ViTConfig(
        img_size=16,
        patch_size=4,
        embed_dim=16,
        depth=1,
        num_heads=2,
        drop_rate=0.1,
        attn_drop_rate=0.2,
        mlp_ratio=1.5,
    ),
    "patch-dropout": ViTConfig(
        img_size=16,
        patch_size=4,
        embed_dim=16,
        depth=2,
        num_heads=2,
        patch_drop_rate=0.25,
        global_pool="avg",
        class_token=False,
    ),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("case", ROUND_TRIP)
def test_round_trip_ours_timm_ours_is_exact(case, dtype):
    ours = like_trained(VisionTransformer(ROUND_TRIP[case])).to(dtype)
    reference = to_timm(ours)
    back = from_timm(reference)
    assert dataclasses.asdict(back.config) == dataclasses.asdict(ours.config)
    for a, b, c in [(ours, reference, back)]:
        sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
        assert list(sa) == list(sc) and set(sa) == set(sb)
        assert all(torch.equal(sa[k], sb[k]) and torch.equal(sa[k], sc[k]) for k in sa)
    assert back.training == reference.training == ours.training
    assert [blk.attn.fused_attn for blk in reference.blocks] == [
        blk.attn.fused_attn for blk in ours.blocks
    ]


def test_round_trip_timm_ours_timm_keeps_everything():
    reference = timm_model(dtype=torch.float64, depth=3, global_pool="avg", qkv_bias=False).train()
    again = to_timm(from_timm(reference))
    assert type(again) is type(reference) and again.training
    sa, sb = reference.state_dict(), again.state_dict()
    assert set(sa) == set(sb) and all(
        torch.equal(sa[k], sb[k]) and sa[k].dtype == sb[k].dtype for k in sa
    )
    assert config_from_timm(again) == config_from_timm(reference)


def test_to_timm_kwargs_build_the_same_model():
    config = ViTConfig(
        img_size=(16, 32),
        patch_size=8,
        embed_dim=32,
        depth=2,
        num_heads=4,
        drop_rate=0.1,
        attn_drop_rate=0.05,
        norm_eps=1e-5,
        global_pool="avg",
        num_classes=0,
    )
    kwargs = timm_kwargs(config)
    assert (
        kwargs["proj_drop_rate"] == 0.1 and "drop_rate" not in kwargs
    )  # timm's drop_rate is head dropout
    built = timm_vit.VisionTransformer(**kwargs)
    assert config_from_timm(built) == dataclasses.replace(
        config, fused_attn=built.blocks[0].attn.fused_attn
    )


@pytest.mark.parametrize("class_token", [True, False])
def test_patch_dropout_drops_the_same_tokens_as_timm_for_the_same_seed(class_token):
    pool = "token" if class_token else "avg"
    reference = timm_model(patch_drop_rate=0.4, class_token=class_token, global_pool=pool).train()
    ours = from_timm(reference)
    assert ours.config.patch_drop_rate == 0.4 and ours.training
    x = images_for(reference, batch=3)
    outputs = []
    for model in (reference, ours):
        torch.manual_seed(7)
        with torch.no_grad():
            outputs.append(model.forward_features(x))
    expected, got = outputs
    assert (
        got.shape == expected.shape == (3, int(class_token) + 9, 32)
    )  # int(16 * 0.6) = 9 patches kept
    assert (got - expected).abs().max() <= TOLERANCE[torch.float32]
    torch.manual_seed(8)
    with torch.no_grad():
        assert not torch.allclose(ours.forward_features(x), got)  # another seed, other tokens


def test_ordered_patch_dropout_is_refused():
    reference = timm_model(patch_drop_rate=0.25)
    reference.patch_drop.ordered = True
    with pytest.raises(
        UnsupportedOptionError, match=r"a PatchDropout other than patch_drop_rate's"
    ):
        from_timm(reference)


def test_registered_timm_architecture_converts_without_download():
    timm = pytest.importorskip("timm")
    reference = timm.create_model(
        "vit_tiny_patch16_224", pretrained=False, img_size=64, num_classes=10
    ).eval()
    ours = from_timm(reference)
    assert (ours.config.embed_dim, ours.config.depth, ours.config.num_heads) == (192, 12, 3)
    x = images_for(reference, batch=1)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max() <= 1e-5


# One test per unsupported timm option: a finding names it (timm's keyword) and its value, and
# the error prints that finding.
UNSUPPORTED = {
    "init_values": (dict(init_values=1e-5), ("init_values", 1e-5)),
    "reg_tokens": (dict(reg_tokens=4), ("reg_tokens", 4)),
    "no_embed_class": (dict(no_embed_class=True), ("no_embed_class", True)),
    "qk_norm": (dict(qk_norm=True), ("qk_norm", True)),
    "pre_norm": (dict(pre_norm=True), ("pre_norm", True)),
    "fc_norm-token": (dict(fc_norm=True), ("fc_norm", True)),
    "fc_norm-avg": (dict(global_pool="avg", fc_norm=False), ("fc_norm", False)),
    "final_norm": (dict(final_norm=False), ("final_norm", False)),
    "dynamic_img_size": (dict(dynamic_img_size=True), ("dynamic_img_size", True)),
    "pool-max": (dict(global_pool="max"), ("global_pool", "max")),
    "pool-avgmax": (dict(global_pool="avgmax"), ("global_pool", "avgmax")),
    "pool-map": (dict(global_pool="map"), ("global_pool", "map")),
    "pool-none": (dict(global_pool=""), ("global_pool", "")),
    "act-gelu-tanh": (dict(act_layer="gelu_tanh"), ("act_layer", "GELUTanh")),
    "act-quick-gelu": (dict(act_layer="quick_gelu"), ("act_layer", "QuickGELU")),
    "pos_embed-none": (dict(pos_embed="none"), ("pos_embed", "none")),
    "proj_bias": (dict(proj_bias=False), ("proj_bias", False)),
    "mlp-swiglu": (dict(mlp_layer=timm_layers.SwiGLU, act_layer="silu"), ("mlp_layer", "SwiGLU")),
    "norm-rms": (dict(norm_layer=timm_layers.RmsNorm), ("norm_layer", "RmsNorm")),
    "drop_path": (dict(drop_path_rate=0.1), ("drop_path_rate", 0.1)),
    "head-dropout": (dict(drop_rate=0.1), ("head_drop", 0.1)),
    "pos_drop": (dict(pos_drop_rate=0.1), ("pos_drop_rate", 0.1)),
}


@pytest.mark.parametrize("option", UNSUPPORTED)
def test_unsupported_timm_option_is_named(option):
    kwargs, (name, value) = UNSUPPORTED[option]
    model = timm_vit.VisionTransformer(
        img_size=16, patch_size=8, embed_dim=16, depth=2, num_heads=2, **kwargs
    )
    found = {finding.option: finding for finding in unsupported_timm_options(model)}
    assert name in found and found[name].value == pytest.approx(value)
    with pytest.raises(UnsupportedOptionError) as refused:
        config_from_timm(model)
    assert f"  - {found[name]}" in str(refused.value).splitlines()


def test_a_finding_reads_as_option_value_note_and_place():
    finding = Finding("reg_tokens", 4, "reg_token", "registers")
    assert str(finding) == "reg_tokens=4 (registers), at reg_token"
    assert str(Finding("qk_norm", True, "blocks.0.attn")) == "qk_norm=True, at blocks.0.attn"


def test_an_image_the_patches_do_not_tile_is_refused_by_vitconfig_and_converted_by_chapter_18():
    """timm's convolution drops the last 4 pixels of a 20-pixel image cut into 8-pixel patches:
    chapter 10's ViTConfig refuses it, chapter 18's StemViT does the same as timm, and says so."""
    model = timm_vit.VisionTransformer(
        img_size=20, patch_size=8, embed_dim=16, depth=1, num_heads=2
    ).eval()
    (finding,) = unsupported_timm_options(model)
    assert (finding.option, finding.value, finding.where) == ("img_size", (20, 20), "patch_embed")
    with pytest.raises(
        UnsupportedOptionError,
        match=r"img_size=\(20, 20\) \(not divisible by patch_size \(8, 8\)",
    ):
        config_from_timm(model)
    ours = from_timm(model)
    assert type(ours).__name__ == "StemViT" and ours.patch_embed.dropped == (4, 4)
    x = torch.randn(2, 3, 20, 20)
    with torch.no_grad():
        assert torch.equal(ours(x), model(x))


def test_every_unsupported_option_is_listed_at_once():
    model = timm_vit.VisionTransformer(
        img_size=16,
        patch_size=8,
        embed_dim=16,
        depth=1,
        num_heads=2,
        init_values=1e-5,
        reg_tokens=1,
        qk_norm=True,
    )
    with pytest.raises(
        UnsupportedOptionError, match=r"(?s)reg_tokens=1.*init_values.*qk_norm=True"
    ):
        config_from_timm(model)


def test_the_distilled_subclass_needs_the_family_and_other_classes_are_refused():
    distilled = pytest.importorskip("timm.models.deit").VisionTransformerDistilled(
        img_size=16, patch_size=8, embed_dim=16, depth=1, num_heads=2
    )
    with pytest.raises(UnsupportedOptionError, match=r"distilled=True \(a distillation token"):
        config_from_timm(distilled)
    assert type(from_timm(distilled)).__name__ == "FamilyViT"  # chapter 15 builds it
    relpos = pytest.importorskip("timm.models.vision_transformer_relpos")
    other = relpos.VisionTransformerRelPos(
        img_size=16, patch_size=8, embed_dim=16, depth=1, num_heads=2
    )
    with pytest.raises(UnsupportedOptionError, match=r"model_class='VisionTransformerRelPos'"):
        from_timm(other)


def test_to_timm_refuses_sincos_positions():
    ours = VisionTransformer(
        ViTConfig(img_size=16, patch_size=8, embed_dim=16, depth=1, num_heads=2, pos_embed="sincos")
    )
    with pytest.raises(
        UnsupportedOptionError, match=r"pos_embed='sincos': timm's VisionTransformer has learned"
    ):
        to_timm(ours)


def test_to_timm_refuses_an_attention_width_other_than_d():
    """The seed configuration: h * d_h = 12 * 64 = 768 != D = 1024."""
    config = ViTConfig(
        img_size=32, patch_size=8, embed_dim=1024, depth=1, num_heads=12, head_dim=64
    )
    with pytest.raises(
        UnsupportedOptionError, match=r"head_dim=64: h \* d_h = 12 \* 64 = 768 != embed_dim 1024"
    ):
        timm_kwargs(config)


def test_wrong_argument_types():
    with pytest.raises(TypeError, match=r"to_timm expects a vit_lib VisionTransformer, got Linear"):
        to_timm(nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"from_timm expects a timm VisionTransformer, got str"):
        from_timm("vit_small_patch16_224")


def test_missing_timm_gives_install_hint(monkeypatch):
    for name in ("timm", "timm.layers", "timm.models", "timm.models.vision_transformer"):
        monkeypatch.setitem(sys.modules, name, None)
    ours = VisionTransformer(
        ViTConfig(img_size=16, patch_size=8, embed_dim=16, depth=1, num_heads=2)
    )
    with pytest.raises(ImportError, match=r'pip install "vit-lib\[timm\]"'):
        to_timm(ours)


def test_vit_lib_imports_without_timm():
    code = "import sys, vit_lib; assert 'timm' not in sys.modules, 'vit_lib imported timm'"
    subprocess.run([sys.executable, "-c", code], check=True)
