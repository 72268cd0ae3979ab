"""Today's ViTs (vit_lib.eva, chapters/18_eva.md) against timm, option by option.

Each option of timm's `Eva` is built by timm with the same keywords, converted with `from_timm`
(strictly: every key, every shape), and the logits compared in float32 (<= 1e-6) and float64
(<= 1e-12); the copy goes back to timm weight for weight, and a model we build goes to timm and
back. All 49 EVA architectures of timm are checked for structure on the meta device; the hybrid
stems and the untiled sizes are checked like the options. Bad settings are refused case by case.
"""

import warnings
from dataclasses import replace

import pytest
import timm
import torch
from timm.layers import LayerNorm as TimmLayerNorm
from timm.layers import RmsNorm as TimmRmsNorm
from timm.models.eva import Eva

from conftest import like_trained
from vit_lib import from_timm, to_timm, unsupported_options
from vit_lib.eva import (
    STEMS,
    EvaAttention,
    EvaConfig,
    EvaViT,
    StemConfig,
    StemViT,
    UntiledPatchEmbed,
    repeat_kv,
    unsupported_eva_options,
)
from vit_lib.timm_compat import CONVERTERS

TOLERANCE = {torch.float32: 1e-6, torch.float64: 1e-12}
DTYPES = pytest.mark.parametrize("dtype", list(TOLERANCE), ids=["fp32", "fp64"])
SMALL = dict(
    img_size=32,
    patch_size=8,
    embed_dim=32,
    depth=2,
    num_heads=2,
    num_classes=5,
    use_rot_pos_emb=True,
    use_abs_pos_emb=False,
)
# timm's Eva keywords, one option (or one model's set) at a time
OPTIONS = {
    "axial, fused qkv (RoPE-ViT)": dict(attn_type="rope"),
    "fused qkv without bias": dict(attn_type="rope", qkv_bias=False),
    "eva layout: q_bias, v_bias": dict(attn_type="eva"),
    "eva layout without bias": dict(attn_type="eva", qkv_bias=False),
    "separate q, k, v": dict(attn_type="rope", qkv_fused=False),
    "separate, no bias": dict(attn_type="rope", qkv_fused=False, qkv_bias=False),
    "grouped key/value heads": dict(
        attn_type="rope", qkv_fused=False, num_heads=4, num_kv_heads=(2, 1)
    ),
    "qk norm, RMSNorm everywhere": dict(attn_type="rope", qk_norm=True, norm_layer=TimmRmsNorm),
    "qk norm, LayerNorm": dict(attn_type="rope", qk_norm=True),
    "SwiGLU packed": dict(swiglu_mlp=True),
    "norm inside the MLP (EVA-02)": dict(scale_mlp=True),
    "norm inside SwiGLU (EVA-02)": dict(swiglu_mlp=True, scale_mlp=True, mlp_ratio=8 / 3),
    "norm after the merged heads (EVA-02 CLIP)": dict(scale_attn_inner=True),
    "separate q, k, v, keys without a bias (EVA-02)": dict(attn_type="eva", qkv_fused=False),
    "SwiGLU in two matrices, aligned": dict(swiglu_mlp=True, swiglu_align_to=8, mlp_ratio=8 / 3),
    "layer scale": dict(init_values=1e-5),
    "layer scale on attention only": dict(init_values=1.0, attn_only_layer_scale=True),
    "registers": dict(num_reg_tokens=4),
    "registers, no class token, avg": dict(num_reg_tokens=1, class_token=False, global_pool="avg"),
    "learned table too": dict(use_abs_pos_emb=True),
    "learned table, no_embed_class": dict(use_abs_pos_emb=True, no_embed_class=True),
    "axial, offset, ref grid, xy (PE)": dict(
        rope_grid_offset=1.0, ref_feat_shape=(2, 2), rope_grid_indexing="xy"
    ),
    "axial, halves": dict(rope_rotate_half=True),
    "dinov3 rotation": dict(rope_type="dinov3", rope_temperature=100, rope_rotate_half=True),
    "mixed rotation": dict(rope_type="mixed", rope_temperature=10.0, rope_grid_indexing="xy"),
    "pre-norm, no patch bias": dict(use_pre_transformer_norm=True),
    "fc_norm after avg": dict(global_pool="avg", use_fc_norm=True),
    "no final norm": dict(use_post_transformer_norm=False, use_fc_norm=False),
    "attention pooling (PE core)": dict(
        global_pool="map", attn_pool_num_heads=1, attn_pool_mlp_ratio=2.0
    ),
    "LayerNorm eps 1e-5": dict(norm_layer=lambda dim, **kw: TimmLayerNorm(dim, eps=1e-5, **kw)),
    "dynamic image size": dict(
        rope_type="dinov3", rope_rotate_half=True, dynamic_img_size=True, use_abs_pos_emb=True
    ),
}


def timm_eva(dtype=torch.float32, **options) -> Eva:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Eva(**{**SMALL, **options})
    return like_trained(model).to(dtype).eval()


def images(model, dtype, size=None, seed=1):
    g = torch.Generator().manual_seed(seed)
    h, w = size or model.patch_embed.img_size
    return torch.randn(2, 3, h, w, generator=g, dtype=torch.float64).to(dtype)


@DTYPES
@pytest.mark.parametrize("name", list(OPTIONS))
def test_each_option_computes_what_timm_computes_and_goes_back(name, dtype):
    theirs = timm_eva(dtype, **OPTIONS[name])
    assert not unsupported_options(theirs)
    ours = from_timm(theirs)
    assert type(ours) is EvaViT and ours.training is False
    sizes = [None] + ([(48, 24)] if theirs.dynamic_img_size else [])
    for size in sizes:
        x = images(theirs, dtype, size)
        with torch.no_grad():
            assert (ours(x) - theirs(x)).abs().max().item() <= TOLERANCE[dtype]
    back = to_timm(ours)
    assert type(back) is Eva
    state = theirs.state_dict()
    assert back.state_dict().keys() == state.keys()
    assert all(torch.equal(back.state_dict()[key], value) for key, value in state.items())


@pytest.mark.parametrize("name", ["layer scale", "mixed rotation", "grouped key/value heads"])
def test_a_model_we_build_goes_to_timm_and_back(name):
    theirs = timm_eva(**OPTIONS[name])
    config = from_timm(theirs).config
    ours = like_trained(EvaViT(config), seed=3).eval()
    there = to_timm(ours)
    again = from_timm(there)
    x = images(there, torch.float32)
    with torch.no_grad():
        assert torch.equal(ours(x), again(x))
        assert (there(x) - ours(x)).abs().max().item() <= 1e-6
    assert again.config == config


def test_the_explicit_path_and_the_fused_one_agree_and_return_maps():
    ours = from_timm(timm_eva(num_reg_tokens=2, rope_type="dinov3", rope_rotate_half=True))
    x = images(ours, torch.float32)
    fused = ours(x)
    ours.fused_attn = False
    assert not ours.fused_attn
    assert torch.allclose(ours(x), fused, atol=1e-5)
    maps = ours.attention_maps(x)
    assert len(maps) == 2 and maps[0].shape == (2, 2, 3 + 16, 3 + 16)
    assert torch.allclose(maps[0].sum(-1), torch.ones(2, 2, 19))


def test_training_time_coordinate_augmentation_draws_as_timm_does():
    theirs = timm_eva(
        rope_type="dinov3",
        rope_rotate_half=True,
        rope_shift_coords=0.5,
        rope_jitter_coords=1.5,
        rope_rescale_coords=2.0,
    )
    ours = from_timm(theirs)
    theirs.train(), ours.train()
    x = images(theirs, torch.float32)
    outputs = []
    for model in (theirs, ours):
        torch.manual_seed(7)
        outputs.append(model(x))
    assert (outputs[0] - outputs[1]).abs().max().item() <= 1e-6
    torch.manual_seed(8)
    assert not torch.allclose(ours(x), outputs[1])  # another draw, other angles
    ours.eval(), theirs.eval()
    with torch.no_grad():
        assert torch.equal(ours(x), ours(x))  # no augmentation in eval


EVA_NAMES = timm.list_models(["vit_*"], module="eva")
EVA02_NAMES = timm.list_models(["eva02_*"], module="eva")


def test_timm_has_the_49_eva_architectures_the_chapter_counts():
    assert len(EVA_NAMES) == 49


def test_eva02_converts_but_its_enormous_post_norm_model():
    assert len(EVA02_NAMES) == 12
    refused = {}
    for name in EVA02_NAMES:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")
            found = unsupported_options(timm.create_model(name, pretrained=False))
        if found:
            refused[name] = sorted(finding.option for finding in found)
    assert refused == {"eva02_enormous_patch14_clip_224": ["use_post_norm", "use_rot_pos_emb"]}


@pytest.mark.parametrize("name", EVA_NAMES + ["eva02_large_patch14_clip_336"])
def test_every_eva_architecture_converts_with_timms_structure(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.device("meta"):
            theirs = timm.create_model(name, pretrained=False)
    assert unsupported_options(theirs) == []
    ours = from_timm(theirs)
    shapes = {key: tuple(value.shape) for key, value in theirs.state_dict().items()}
    assert {key: tuple(value.shape) for key, value in ours.state_dict().items()} == shapes
    assert ours.config.kv_heads() == tuple(
        getattr(block.attn, "num_kv_heads", block.attn.num_heads) for block in theirs.blocks
    )


@pytest.mark.parametrize(
    "options, option",
    [
        (dict(use_post_norm=True), "use_post_norm"),
        (dict(use_rot_pos_emb=False, use_abs_pos_emb=True), "use_rot_pos_emb"),
        (dict(patch_drop_rate=0.25), "patch_drop_rate"),
        (dict(dynamic_img_pad=True, dynamic_img_size=True), "dynamic_img_pad"),
        (dict(dynamic_img_size=True), "dynamic_img_size"),
        (dict(dynamic_img_size=True, rope_type="mixed"), "dynamic_img_size"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_what_an_eva_config_cannot_express_is_named_by_its_option(options, option):
    theirs = timm_eva(**options)
    found = unsupported_eva_options(theirs)
    assert option in [finding.option for finding in found], found
    with pytest.raises(ValueError, match=option):
        from_timm(theirs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(qkv_layout="packed"), "unknown qkv_layout 'packed'"),
        (dict(mlp_layer="geglu"), "unknown mlp_layer 'geglu'"),
        (dict(rope="cat"), "unknown rope 'cat'"),
        (dict(pos_embed="sincos"), "unknown pos_embed 'sincos'"),
        (dict(num_heads=12, head_dim=6), "divisible by 4, got 6"),
        (dict(num_kv_heads=5), "num_kv_heads 5 does not divide num_heads 12"),
        (dict(num_kv_heads=4), "need qkv_layout='separate'"),
        (dict(num_kv_heads=(4, 4), qkv_layout="separate"), "2 values for depth 12"),
        (dict(patch_drop_rate=0.1), "patch_drop_rate"),
        (dict(scale_mlp=True, mlp_layer="glu"), "use mlp_layer='swiglu', not 'glu'"),
        (dict(dynamic_img_size=True), "built for rope='dinov3'"),
        (dict(reg_tokens=-1), "reg_tokens must be an integer >= 0, got -1"),
        (dict(init_values=0.0), "must be > 0 or None, got 0.0"),
    ],
)
def test_bad_eva_settings_are_refused_with_the_numbers(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        EvaConfig(**kwargs)


def test_grouped_heads_share_keys_in_place():
    k = torch.arange(2 * 3 * 2 * 1, dtype=torch.float32).reshape(2, 3, 2, 1)
    shared = repeat_kv(k, 6)
    assert shared.shape == (2, 6, 2, 1)
    assert [torch.equal(shared[:, i], k[:, i // 2]) for i in range(6)] == [True] * 6
    assert repeat_kv(k, 3) is k


def test_a_key_bias_does_not_change_the_attention_weights():
    attn = EvaAttention(16, 2, layout="fused", num_prefix_tokens=1)
    x = torch.randn(2, 5, 16)
    _, before = attn(x, return_attention=True)
    with torch.no_grad():
        attn.qkv.bias[16:32].normal_()
    _, after = attn(x, return_attention=True)
    assert torch.allclose(before, after, atol=1e-6)


# ------------------------------------------------------------------ stems and untiled sizes
HYBRIDS = sorted(name for name in timm.list_models(["vit_*"], module="vision_transformer_hybrid"))


def test_timm_has_the_14_hybrids_and_two_untiled_siglips():
    assert len(HYBRIDS) == 14
    untiled = []
    for name in timm.list_models(["vit_so400m_patch14_siglip*"]):  # the whole list: the benchmark
        with torch.device("meta"):
            embed = timm.create_model(name).patch_embed
        if any(size % patch for size, patch in zip(embed.img_size, embed.patch_size)):
            untiled.append(name)
    assert untiled == ["vit_so400m_patch14_siglip_384", "vit_so400m_patch14_siglip_gap_384"]


@pytest.mark.parametrize("name", HYBRIDS + ["vit_so400m_patch14_siglip_gap_384"])
def test_each_stem_computes_what_timm_computes(name):
    small = dict(depth=1, embed_dim=32, num_heads=2, mlp_ratio=2)
    if "_mci_" in name:  # MobileCLIP's stem ends at D = 768
        small.update(embed_dim=768, num_heads=12)
    if "so400m" not in name:  # 64 pixels: the stems stay cheap
        small["img_size"] = 64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = like_trained(timm.create_model(name, pretrained=False, **small))
    for module in theirs.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # statistics that matter
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    theirs = theirs.double().eval()
    ours = from_timm(theirs)
    assert type(ours) is StemViT and ours.config.stem in ("patches", *STEMS)
    x = images(theirs, torch.float64)[:1]
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max().item() <= TOLERANCE[torch.float64]
    back = to_timm(ours).state_dict()
    assert back.keys() == theirs.state_dict().keys()
    assert all(torch.equal(back[key], value) for key, value in theirs.state_dict().items())


def test_the_stem_converter_goes_before_the_familys():
    kinds = [converter.config_type.__name__ for converter in CONVERTERS]
    assert kinds.index("StemConfig") < kinds.index("FamilyConfig")


def test_an_untiled_size_warns_with_the_dropped_pixels():
    with pytest.warns(UserWarning, match=r"cover \(378, 375\), and the last 6 rows and 9"):
        embed = UntiledPatchEmbed((384, 384), (14, 15), 3, 8)
    assert embed.grid_size == (27, 25) and embed.dropped == (6, 9)
    with pytest.raises(ValueError, match=r"input size \(378, 375\) doesn't match"):
        embed(torch.randn(1, 3, 378, 375))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(stem="resnet18"), "unknown stem 'resnet18'"),
        (
            dict(stem="resnetv2_50_s16", img_size=40, patch_size=1),
            r"must be a multiple of \(16, 16\)",
        ),
        (
            dict(stem="resnet26d", img_size=64, patch_size=1, dynamic_img_size=True),
            "dynamic_img_size=True is not built",
        ),
        (dict(img_size=10, patch_size=12), r"patch_size \(12, 12\) is larger than img_size"),
    ],
)
def test_bad_stem_settings_are_refused_with_the_numbers(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StemConfig(**kwargs)


def test_a_stem_model_we_build_round_trips():
    config = StemConfig(
        stem="resnetv2_stem",
        img_size=32,
        patch_size=2,
        embed_dim=16,
        depth=1,
        num_heads=2,
        num_classes=3,
    )
    ours = like_trained(StemViT(config)).eval()
    again = from_timm(to_timm(ours))
    assert again.config == config
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(ours(x), again(x))
    assert replace(config, stem="patches").stem == "patches"
