"""The ViT family (vit_lib.family, chapters/15_family.md) against timm, option by option.

Each option is built on both sides with the same keyword arguments, timm's weights are copied
into ours by name (strictly: every key, every shape), and the logits are compared on several
shapes, in float32 (<= 1e-6) and float64 (<= 1e-12). The copy also goes the other way: our
state_dict loads into timm's model strictly. Bad combinations are refused case by case.
"""

import functools
from dataclasses import replace

import pytest
import torch
from timm.layers import GluMlp as TimmGluMlp
from timm.layers import RmsNorm as TimmRmsNorm
from timm.layers import SwiGLUPacked, resample_abs_pos_embed
from timm.models.deit import VisionTransformerDistilled
from timm.models.vision_transformer import (
    ParallelScalingBlock as TimmParallelScalingBlock,
)
from timm.models.vision_transformer import (
    ParallelThingsBlock,
)
from timm.models.vision_transformer import ResPostBlock as TimmResPostBlock
from timm.models.vision_transformer import VisionTransformer as TimmViT
from torch import nn

from conftest import images_for, like_trained
from vit_lib import VisionTransformer, ViTConfig
from vit_lib.family import (
    AttentionPool,
    FamilyConfig,
    FamilyViT,
    GluMlp,
    LayerScale,
    ParallelBlock,
    ParallelScalingBlock,
    QuickGELU,
    ResPostBlock,
    RmsNorm,
    activation_layer,
    at_resolution,
    resample_pos_embed,
)

TOLERANCE = {torch.float32: 1e-6, torch.float64: 1e-12}
# small, non-square and odd shapes: (img, patch, D, depth, heads, classes)
SHAPES = [
    dict(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=4, num_classes=7),
    dict(img_size=(12, 20), patch_size=4, embed_dim=48, depth=1, num_heads=3, num_classes=5),
    dict(
        img_size=8, patch_size=(4, 2), embed_dim=16, depth=3, num_heads=2, num_classes=0, in_chans=1
    ),
]
OPTIONS = {
    "registers, token": dict(reg_tokens=4),
    "registers, avg": dict(reg_tokens=1, global_pool="avg"),
    "layer scale": dict(init_values=1e-5),
    "layer scale 1.0": dict(init_values=1.0),
    "no_embed_class": dict(no_embed_class=True),
    "no_embed_class, registers, no class token": dict(
        no_embed_class=True, reg_tokens=2, class_token=False, global_pool="avg"
    ),
    "pre_norm": dict(pre_norm=True),
    "final_norm=False": dict(final_norm=False),
    "avg, fc_norm=False": dict(global_pool="avg", fc_norm=False),
    "token, fc_norm=True": dict(global_pool="token", fc_norm=True),
    "map": dict(global_pool="map"),
    "map, no class token, registers": dict(global_pool="map", class_token=False, reg_tokens=4),
    "gelu_tanh": dict(act_layer="gelu_tanh"),
    "quick_gelu": dict(act_layer="quick_gelu"),
    "siglip-like": dict(global_pool="map", class_token=False, act_layer="gelu_tanh"),
    "clip-like": dict(pre_norm=True, act_layer="quick_gelu"),
    "dinov2-like": dict(reg_tokens=4, init_values=1.0),
    "deit3-like": dict(no_embed_class=True, init_values=1e-6),
    "dynamic_img_size": dict(dynamic_img_size=True),
    "dynamic_img_size, registers": dict(dynamic_img_size=True, reg_tokens=2, no_embed_class=True),
}
XP = dict(pre_norm=True, no_embed_class=True, qkv_bias=False, qk_norm=True)  # timm's xp models
# options timm spells as classes: (ours, timm's)
SPELLED = {
    "res_post": (dict(block_fn="res_post"), dict(block_fn=TimmResPostBlock)),
    "res_post, init_values, avg": (
        dict(block_fn="res_post", init_values=0.5, class_token=False, global_pool="avg"),
        dict(block_fn=TimmResPostBlock, init_values=0.5, class_token=False, global_pool="avg"),
    ),
    "parallel": (dict(block_fn="parallel"), dict(block_fn=ParallelThingsBlock)),
    "parallel, layer scale, registers": (
        dict(block_fn="parallel", init_values=1e-5, reg_tokens=2),
        dict(block_fn=ParallelThingsBlock, init_values=1e-5, reg_tokens=2),
    ),
    "parallel_scaling": (
        dict(block_fn="parallel_scaling"),
        dict(block_fn=TimmParallelScalingBlock),
    ),
    "parallel_scaling, no qkv bias, layer scale": (
        dict(block_fn="parallel_scaling", qkv_bias=False, init_values=1e-5),
        dict(block_fn=TimmParallelScalingBlock, qkv_bias=False, init_values=1e-5),
    ),
    "xp": (
        dict(XP, block_fn="parallel_scaling", norm_layer="rmsnorm"),
        dict(XP, block_fn=TimmParallelScalingBlock, norm_layer=TimmRmsNorm),
    ),
    "swiglu": (
        dict(mlp_layer="glu", act_layer="silu", init_values=1e-5),
        dict(mlp_layer=SwiGLUPacked, act_layer="silu", init_values=1e-5),
    ),
    "glu, gelu": (
        dict(mlp_layer="glu"),
        dict(mlp_layer=functools.partial(TimmGluMlp, gate_last=False)),
    ),
    "parallel, swiglu": (
        dict(block_fn="parallel", mlp_layer="glu", act_layer="silu"),
        dict(block_fn=ParallelThingsBlock, mlp_layer=SwiGLUPacked, act_layer="silu"),
    ),
    "rmsnorm": (dict(norm_layer="rmsnorm"), dict(norm_layer=TimmRmsNorm)),
    "rmsnorm, map, pre_norm": (
        dict(norm_layer="rmsnorm", global_pool="map", pre_norm=True),
        dict(norm_layer=TimmRmsNorm, global_pool="map", pre_norm=True),
    ),
}


def compare(ours: nn.Module, theirs: nn.Module, x: torch.Tensor) -> float:
    ours.load_state_dict(theirs.state_dict(), strict=True)
    theirs.load_state_dict(ours.state_dict(), strict=True)  # and back, every key
    with torch.no_grad():
        return (ours.eval()(x) - theirs.eval()(x)).abs().max().item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("shape", SHAPES, ids=["square", "non-square", "patch-4x2"])
@pytest.mark.parametrize("name", list(OPTIONS))
def test_each_option_equals_timm(name, shape, dtype):
    options = OPTIONS[name]  # with num_classes=0 (no head) the pooled features are compared
    theirs = like_trained(TimmViT(**shape, **options).to(dtype))
    ours = FamilyViT(FamilyConfig(**shape, **options)).to(dtype)
    delta = compare(ours, theirs, images_for(theirs, batch=3, dtype=dtype))
    assert delta <= TOLERANCE[dtype], f"{name}: max |Δ| = {delta:.2e}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("shape", SHAPES, ids=["square", "non-square", "patch-4x2"])
@pytest.mark.parametrize("name", list(SPELLED))
def test_each_block_mlp_and_norm_equals_timm(name, shape, dtype):
    ours_options, timm_options = SPELLED[name]
    theirs = like_trained(TimmViT(**shape, **timm_options).to(dtype))
    ours = FamilyViT(FamilyConfig(**shape, **ours_options)).to(dtype)
    delta = compare(ours, theirs, images_for(theirs, batch=3, dtype=dtype))
    assert delta <= TOLERANCE[dtype], f"{name}: max |Δ| = {delta:.2e}"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("size", [(16, 16), (24, 20), (8, 28)], ids=["native", "larger", "wide"])
@pytest.mark.parametrize(
    "options", [{}, dict(no_embed_class=True, reg_tokens=2)], ids=["plain", "no_embed_class"]
)
def test_dynamic_img_size_equals_timm_at_other_sizes(options, size, dtype):
    shape = dict(SHAPES[0], dynamic_img_size=True, **options)
    theirs = like_trained(TimmViT(**shape).to(dtype))
    ours = FamilyViT(FamilyConfig(**shape)).to(dtype)
    x = torch.rand(3, 3, *size, dtype=dtype)
    assert compare(ours, theirs, x) <= TOLERANCE[dtype]
    with torch.no_grad():
        tokens = ours.forward_features(x)
    assert tokens.shape == (
        3,
        3 + size[0] // 4 * (size[1] // 4) if options else 1 + size[0] // 4 * (size[1] // 4),
        32,
    )
    assert ours.pos_embed.shape[1] == (16 if options else 17)  # the stored table stays
    with pytest.raises(ValueError, match="input height 18 is not divisible by the patch size 4"):
        ours(torch.rand(1, 3, 18, 16, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("shape", SHAPES[:2], ids=["square", "non-square"])
def test_distillation_token_equals_timm(shape, dtype):
    theirs = like_trained(VisionTransformerDistilled(**shape).to(dtype))
    ours = FamilyViT(FamilyConfig(**shape, distilled=True)).to(dtype)
    x = images_for(theirs, batch=3, dtype=dtype)
    assert compare(ours, theirs, x) <= TOLERANCE[dtype]
    with torch.no_grad():
        pooled = ours.forward_features(x)
        assert pooled.shape[1] == ours.patch_embed.num_patches + 2
        assert torch.equal(
            ours.forward_head(pooled, pre_logits=True),
            theirs.forward_head(theirs.forward_features(x), pre_logits=True),
        )


@pytest.mark.parametrize("block", ["block", "res_post", "parallel", "parallel_scaling"])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "explicit"])
def test_explicit_and_fused_paths_agree_with_timm(fused, block):
    shape = SHAPES[0]
    options = dict(global_pool="map", reg_tokens=2, init_values=0.5)
    timm_block = {
        "res_post": TimmResPostBlock,
        "parallel": ParallelThingsBlock,
        "parallel_scaling": TimmParallelScalingBlock,
    }
    kind = {"block_fn": timm_block[block]} if block in timm_block else {}
    theirs = like_trained(TimmViT(**shape, **options, **kind))
    for module in theirs.modules():
        if hasattr(module, "fused_attn"):
            module.fused_attn = fused
    ours = FamilyViT(FamilyConfig(**shape, **options, block_fn=block, fused_attn=fused))
    assert ours.fused_attn == fused
    assert compare(ours, theirs, images_for(theirs, batch=3)) <= 1e-5


@pytest.mark.parametrize("block", ["res_post", "parallel", "parallel_scaling"])
def test_attention_maps_of_other_blocks(block):
    model = FamilyViT(FamilyConfig(**SHAPES[0], block_fn=block)).eval()
    x = images_for(model, batch=3)
    maps = model.attention_maps(x)
    heads = 4 * (2 if block == "parallel" else 1)  # the parallel block's two branches
    assert len(maps) == 2 and maps[0].shape == (3, heads, 17, 17)
    assert torch.allclose(maps[0].sum(-1), torch.ones(3, heads, 17))
    model.fused_attn = False  # the explicit path gives the same logits as the fused one
    with torch.no_grad():
        explicit = model(x)
    model.fused_attn = True
    with torch.no_grad():
        assert (model(x) - explicit).abs().max() <= 1e-5


def test_defaults_are_chapter_10s_model():
    config = dict(SHAPES[0])
    torch.manual_seed(0)
    plain = like_trained(VisionTransformer(ViTConfig(**config)))
    family = FamilyViT(FamilyConfig(**config))
    family.load_state_dict(plain.state_dict(), strict=True)
    x = images_for(plain, batch=3)
    with torch.no_grad():
        assert torch.equal(family.eval()(x), plain.eval()(x))
    assert set(family.state_dict()) == set(plain.state_dict())


@pytest.mark.parametrize(
    "options",
    [
        {},
        dict(global_pool="avg"),
        dict(class_token=False, global_pool="avg"),
        dict(pos_embed="sincos"),
        dict(num_classes=0, qkv_bias=False, head_dim=4),
    ],
    ids=["token", "avg", "no class token", "sincos", "no head"],
)
def test_one_seed_gives_chapter_10s_weights(options):
    config = dict(SHAPES[0], **options)
    torch.manual_seed(0)
    plain = VisionTransformer(ViTConfig(**config))
    torch.manual_seed(0)
    family = FamilyViT(FamilyConfig(**config))
    ours, theirs = dict(family.named_buffers()), dict(plain.named_buffers())
    ours.update(family.named_parameters())
    theirs.update(plain.named_parameters())
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[name], theirs[name]) for name in ours)


def benchmark(name: str):
    """The script benchmarks/<name>.py, loaded as a module: the tests use its measurements."""
    import importlib.util
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))  # the scripts import benchmarks/machine.py
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", [*OPTIONS, *SPELLED, "distilled"])
def test_every_module_built_is_kept(name):
    options = OPTIONS.get(name) or SPELLED.get(name, [dict(distilled=True)])[0]
    built, kept, thrown_away = benchmark("family_build").modules_built(
        lambda: FamilyViT(FamilyConfig(**SHAPES[0], **options))
    )
    assert not thrown_away
    assert built == kept


def test_shapes_at_the_seed_configuration():
    seed = dict(
        img_size=32,
        patch_size=8,
        embed_dim=1024,
        depth=1,
        num_heads=12,
        head_dim=64,
        mlp_ratio=2.0,
        num_classes=1000,
    )
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        assert FamilyViT(**seed, reg_tokens=4).forward_features(x).shape == (4, 21, 1024)
        assert FamilyViT(**seed, distilled=True).forward_features(x).shape == (4, 18, 1024)
        model = FamilyViT(**seed, no_embed_class=True)
        assert model.pos_embed.shape == (1, 16, 1024) and model.embed(x).shape == (4, 17, 1024)
        assert FamilyViT(**seed, init_values=0.1)(x).shape == (4, 1000)
        maps = FamilyViT(**seed, block_fn="parallel").attention_maps(x)
        assert maps[0].shape == (4, 24, 17, 17)
        glu = FamilyViT(**seed, mlp_layer="glu", act_layer="silu").blocks[0].mlp
        tokens = torch.rand(4, 17, 1024)
        assert glu.fc1(tokens).shape == (4, 17, 2048) and glu(tokens).shape == (4, 17, 1024)
        fused = FamilyViT(
            **dict(seed, num_heads=16, head_dim=None), block_fn="parallel_scaling"
        ).blocks[0]
        assert fused.in_proj(tokens).shape == (4, 17, 2048 + 3 * 1024)
        dynamic = FamilyViT(**seed, dynamic_img_size=True)
        assert dynamic.forward_features(torch.rand(4, 3, 48, 48)).shape == (4, 37, 1024)


def test_the_pieces():
    scale = LayerScale(5, 0.25)
    assert torch.equal(scale(torch.ones(2, 5)), torch.full((2, 5), 0.25))
    x = torch.linspace(-3, 3, 61)
    assert torch.allclose(QuickGELU()(x), x * torch.sigmoid(1.702 * x))
    assert activation_layer("gelu_tanh")().approximate == "tanh"
    pool = AttentionPool(16, 4)
    assert pool(torch.randn(3, 7, 16)).shape == (3, 16)
    with pytest.raises(ValueError, match="unknown act_layer 'relu'"):
        activation_layer("relu")
    tokens = torch.randn(3, 7, 16, dtype=torch.float64)
    ours, theirs = RmsNorm(16).double(), TimmRmsNorm(16).double()
    theirs.weight.data.normal_()
    ours.load_state_dict(theirs.state_dict())
    assert (ours(tokens) - theirs(tokens)).abs().max() <= 1e-12
    assert [name for name, _ in ours.named_parameters()] == ["weight"]
    ours, theirs = GluMlp(16, 12).double(), SwiGLUPacked(16, 12).double()
    ours.load_state_dict(theirs.state_dict())
    assert ours.fc2.in_features == 6 and (ours(tokens) - theirs(tokens)).abs().max() <= 1e-12
    assert isinstance(ResPostBlock(16, 4), nn.Module) and ParallelBlock(16, 4).attns[1].ls
    assert ParallelScalingBlock(16, 4, qkv_bias=False).mlp_bias.shape == (64,)


# ------------------------------------------------------------------------------ resolution
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize(
    "options",
    [{}, dict(no_embed_class=True), dict(reg_tokens=2), dict(class_token=False, global_pool="avg")],
    ids=["plain", "no_embed_class", "registers", "no-class-token"],
)
def test_at_resolution_equals_timms_set_input_size(options, dtype):
    shape = dict(img_size=16, patch_size=4, embed_dim=32, depth=2, num_heads=4, num_classes=7)
    theirs = like_trained(TimmViT(**shape, **options).to(dtype))
    ours = FamilyViT(FamilyConfig(**shape, **options)).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    theirs.set_input_size(img_size=(24, 20))
    moved = at_resolution(ours, (24, 20))
    assert moved.pos_embed.shape == theirs.pos_embed.shape
    x = images_for(moved, batch=3, dtype=dtype)
    with torch.no_grad():
        assert (moved.eval()(x) - theirs.eval()(x)).abs().max().item() <= TOLERANCE[dtype]


def test_resample_equals_timms_function_on_a_non_square_grid():
    table = torch.randn(1, 1 + 3 * 5, 8)
    ours = resample_pos_embed(table, (6, 4), (3, 5), num_prefix_tokens=1)
    theirs = resample_abs_pos_embed(table, new_size=(6, 4), old_size=(3, 5), num_prefix_tokens=1)
    assert ours.shape == (1, 25, 8) and torch.equal(ours, theirs)
    assert torch.equal(ours[:, :1], table[:, :1])  # the class token's row is kept


def test_plain_models_move_too_and_keep_their_mode():
    model = VisionTransformer(
        img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2, num_classes=3
    ).train()
    moved = at_resolution(model, 24)
    assert type(moved) is VisionTransformer and moved.training
    assert moved.pos_embed.shape == (1, 1 + 36, 32)
    assert torch.equal(moved.blocks[0].attn.qkv.weight, model.blocks[0].attn.qkv.weight)


def test_resample_refuses_a_table_of_another_grid():
    with pytest.raises(
        ValueError,
        match=r"pos_embed \(1, 17, 8\) is not 1 prefix rows plus a "
        r"3 x 3 grid",
    ):
        resample_pos_embed(torch.zeros(1, 17, 8), (6, 6), (3, 3))


# ------------------------------------------------------------------------------ refusals
BASE = dict(img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=4)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(reg_tokens=-1), "reg_tokens must be an integer >= 0, got -1"),
        (dict(reg_tokens=1.5), "reg_tokens must be an integer >= 0, got 1.5"),
        (dict(init_values=0.0), r"init_values \(layer scale\) must be > 0 or None, got 0.0"),
        (dict(act_layer="relu"), "unknown act_layer 'relu'"),
        (dict(fc_norm=True, final_norm=False), "fc_norm=True asks for the final LayerNorm"),
        (
            dict(distilled=True, global_pool="avg"),
            "global_pool='token' and no registers, got global_pool='avg', reg_tokens=0",
        ),
        (dict(distilled=True, reg_tokens=4), "got global_pool='token', reg_tokens=4"),
        (dict(global_pool="map", num_heads=3, head_dim=8), "global_pool='map' splits D = 32"),
        (dict(global_pool="max"), "unknown global_pool 'max'"),
        (dict(global_pool="map", img_size=15), "img_size height 15 is not divisible"),
        (dict(block_fn="sequential"), "unknown block_fn 'sequential'; expected one of"),
        (dict(mlp_layer="swiglu"), "unknown mlp_layer 'swiglu'; expected one of"),
        (dict(norm_layer="batchnorm"), "unknown norm_layer 'batchnorm'; expected one of"),
        (dict(mlp_layer="glu", mlp_ratio=1 / 32), r"int\(D \* mlp_ratio\) = 1 outputs"),
        (dict(qk_norm=True), "qk_norm=True is built for block_fn='parallel_scaling' only"),
        (dict(qk_norm=True, block_fn="parallel"), "got block_fn='parallel'"),
        (
            dict(block_fn="parallel_scaling", mlp_layer="glu"),
            "fuses the MLP into the block's in_proj: mlp_layer must be 'mlp', got 'glu'",
        ),
        (
            dict(block_fn="parallel_scaling", head_dim=16),
            "block_fn='parallel_scaling' splits D = 32 into 4 heads of D // h; head_dim=16",
        ),
        (
            dict(dynamic_img_size=True, pos_embed="sincos"),
            "dynamic_img_size=True resamples a learned position table; with pos_embed='sincos'",
        ),
    ],
)
def test_bad_combinations_are_refused_with_the_numbers(options, message):
    with pytest.raises(ValueError, match=message):
        FamilyConfig(**{**BASE, **options})


def test_a_map_config_keeps_its_pool_name():
    config = FamilyConfig(**BASE, global_pool="map")
    assert config.global_pool == "map" and config.num_prefix_tokens == 1


# ------------------------------------------------------------------------------ conversion
@pytest.mark.parametrize("name", list(OPTIONS) + list(SPELLED))
def test_from_timm_and_to_timm_round_trip_every_option(name):
    from vit_lib import family_config_from_timm, from_timm, to_timm

    shape = SHAPES[1]
    options = OPTIONS[name] if name in OPTIONS else SPELLED[name][0]
    config = FamilyConfig(**shape, **options)
    ours = like_trained(FamilyViT(config))
    theirs = to_timm(ours)
    assert family_config_from_timm(theirs) == config  # the configuration comes back equal
    back = from_timm(theirs)
    assert type(back) is FamilyViT and back.config == config
    for key, value in ours.state_dict().items():
        assert torch.equal(back.state_dict()[key], value), key
    x = images_for(ours, batch=3)
    with torch.no_grad():
        assert torch.equal(back.eval()(x), theirs.eval()(x))


def test_a_distilled_deit_round_trips():
    from vit_lib import from_timm, to_timm

    theirs = like_trained(VisionTransformerDistilled(**SHAPES[0])).eval()
    ours = from_timm(theirs)
    assert ours.config.distilled and type(to_timm(ours)) is VisionTransformerDistilled
    x = images_for(theirs, batch=3)
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), theirs(x))


@pytest.mark.parametrize(
    "options, option, value",
    [
        (dict(qk_norm=True), "qk_norm", True),
        (dict(qk_norm=True, block_fn="res_post"), "qk_norm", True),
        (dict(norm_layer="rmsnorm_fp32"), "norm_layer", "RmsNormFp32"),
        (dict(mlp_layer="swiglu", act_layer="silu"), "mlp_layer", "SwiGLU"),
        (dict(mlp_layer="glu_gate_last"), "gate_last", True),
        (
            dict(block_fn="parallel_3"),
            "rebuild",
            "blocks.0.num_parallel = 3, where the config builds 2",
        ),
        (
            dict(block_fn="fused_out"),
            "rebuild",
            "blocks.0.out_proj: Linear, where the config builds NoneType",
        ),
        (dict(attn_layer="diff"), "attn_layer", "DiffAttention"),
        (dict(drop_path_rate=0.1), "drop_path_rate", 0.1),
        (dict(global_pool="max"), "global_pool", "max"),
    ],
)
def test_what_the_family_lacks_is_still_refused_by_name(options, option, value):
    from timm.layers import RmsNormFp32, SwiGLU

    from vit_lib import UnsupportedOptionError, from_timm, unsupported_family_options

    kinds = {
        "rmsnorm_fp32": RmsNormFp32,
        "swiglu": SwiGLU,
        "res_post": TimmResPostBlock,
        "glu_gate_last": TimmGluMlp,  # timm's default puts the gate in the second half
        "parallel_3": functools.partial(ParallelThingsBlock, num_parallel=3),
        "fused_out": functools.partial(TimmParallelScalingBlock, fuse_out_proj=True),
    }
    options = {k: kinds.get(v, v) if isinstance(v, str) else v for k, v in options.items()}
    model = TimmViT(**SHAPES[0], **options)
    found = {finding.option: finding for finding in unsupported_family_options(model)}
    assert option in found and found[option].value == pytest.approx(value)
    with pytest.raises(UnsupportedOptionError) as refused:
        from_timm(model)
    assert f"  - {found[option]}" in str(refused.value).splitlines()


def findings(model: nn.Module) -> set[tuple]:
    from vit_lib import unsupported_family_options

    return {(f.option, repr(f.value), f.where) for f in unsupported_family_options(model)}


def test_blocks_and_norms_of_different_kinds_are_refused():
    model = TimmViT(**SHAPES[0], block_fn=TimmResPostBlock)
    model.blocks[1] = TimmViT(**SHAPES[0]).blocks[1]
    assert ("block_fn", "['Block', 'ResPostBlock']", "blocks") in findings(model)
    model = TimmViT(**SHAPES[0])
    model.norm = TimmRmsNorm(32)
    assert ("norm_layer", "['LayerNorm', 'RmsNorm']", "norm") in findings(model)


def test_what_the_rebuilt_model_lacks_is_named():
    model = TimmViT(**SHAPES[0], block_fn=ParallelThingsBlock)
    model.blocks[1].ffns[0].mlp.fc1 = nn.Linear(32, 64)  # one branch narrower than the rest
    assert findings(model) == {
        (
            "rebuild",
            repr("blocks.1.ffns.0.mlp.fc1.out_features = 64, where the config builds 128"),
            "the model",
        )
    }


def test_a_pool_other_than_timms_defaults_is_refused():
    model = TimmViT(**SHAPES[0], global_pool="map")
    model.attn_pool.latent_len = 2  # as if built with two queries
    assert findings(model) == {("attn_pool", "'AttentionPoolLatent'", "attn_pool")}


def test_the_family_judges_findings_by_option_and_value_not_by_their_words(monkeypatch):
    """Rewording chapter 11's notes changes no verdict of the family."""
    from vit_lib import family, timm_compat, unsupported_family_options

    models = [
        TimmViT(**SHAPES[0], **options)
        for options in (
            dict(reg_tokens=4, no_embed_class=True, init_values=1e-5),  # DINOv2-like: converts
            dict(qk_norm=True),
            dict(global_pool="max"),  # refused
        )
    ]
    before = [findings(model) for model in models]
    reworded = timm_compat.unsupported_timm_options

    def unsupported_in_other_words(model):
        return [replace(f, note=f"reworded: {f.note[::-1]}") for f in reworded(model)]

    monkeypatch.setattr(family, "unsupported_timm_options", unsupported_in_other_words)
    assert not unsupported_family_options(models[0])
    assert [findings(model) for model in models] == before


def test_the_coverage_benchmark_names_each_architectures_options():
    coverage = benchmark("timm_coverage")
    assert coverage.options_used("deit_tiny_patch16_224") == ["plain"]
    assert coverage.options_used("deit_tiny_distilled_patch16_224") == ["distilled=True"]
    assert coverage.options_used("vit_small_patch14_reg4_dinov2") == [
        "reg_tokens=4",
        "init_values=1e-05",
        "no_embed_class=True",
    ]
    assert coverage.options_used("vit_base_patch16_xp_224") == [
        "no_embed_class=True",
        "pre_norm=True",
        "block_fn='parallel_scaling'",
        "norm_layer='rmsnorm'",
        "qk_norm=True",
    ]
    finding = coverage.Finding("init_values", 1e-5, "blocks.0.ls1", "layer scale")
    assert coverage.blocker(finding) == "init_values"
    assert (
        coverage.blocker(coverage.Finding("model_class", "Eva", "the model")) == "model_class=Eva"
    )
    assert coverage.equality("deit_tiny_patch16_224") <= coverage.TOLERANCE


@pytest.mark.parametrize("name", ["vit_tiny_patch16_224", "deit3_small_patch16_224"])
def test_converting_a_meta_model_builds_nothing_on_the_cpu(name):
    """Both ways; the only CPU tensors are timm's own stochastic-depth schedule, one number per
    block, which its constructor makes on the CPU whatever the device."""
    import timm

    from vit_lib import from_timm, to_timm

    with torch.device("meta"):
        theirs = timm.create_model(name, pretrained=False)
    depth = len(theirs.blocks)
    with benchmark("family_build").CpuTensors() as made:
        ours = from_timm(theirs)
        back = to_timm(ours)
    assert {p.device.type for p in [*ours.parameters(), *back.parameters()]} == {"meta"}
    assert made.largest <= depth, made.shapes
