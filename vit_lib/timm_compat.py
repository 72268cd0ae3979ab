# Generated from chapters/11_timm.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/11_timm.md, cell 10 ---
"""Convert between timm's VisionTransformer and vit_lib's, in both directions, strictly.

Shapes: N batch, T tokens, D width, h heads, d_h head width, K classes.
timm is an optional dependency: it is imported inside the functions (`pip install "vit-lib[timm]"`).
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from vit_lib.model import VisionTransformer, ViTConfig

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = [
    "UnsupportedOptionError", "Finding", "unsupported_timm_options", "config_from_timm",
    "from_timm", "to_timm", "timm_kwargs", "compare_stages", "unsupported_options",
]

TIMM_INSTALL = 'pip install "vit-lib[timm]"'


class UnsupportedOptionError(ValueError):
    """A model uses an option that the other library's VisionTransformer cannot express."""


def _import_timm():
    """timm's `vision_transformer` and `layers` modules.

    Raises an ImportError that says how to get them when timm is not installed.
    """
    try:
        from timm import layers
        from timm.models import vision_transformer
    except ImportError as err:
        raise ImportError(
            f"vit_lib.timm_compat needs timm, an optional dependency: {TIMM_INSTALL}"
        ) from err
    return vision_transformer, layers


def _is_identity(module: nn.Module | None) -> bool:
    return module is None or isinstance(module, nn.Identity)


# --- chapters/11_timm.md, cell 12 ---
@dataclass(frozen=True)
class Finding:
    """One option of a timm model that a configuration cannot express, found in its modules.

    `option` is timm's keyword argument (or the module's name where there is none), `value` what
    the model has, `where` the module it was found in, `note` a few words for people. Code reads
    the first three; only `str(finding)` is meant for people.
    """

    option: str
    value: object
    where: str
    note: str = ""

    def __str__(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return f"{self.option}={self.value!r}{note}, at {self.where}"


def unsupported_timm_options(model: nn.Module) -> list[Finding]:
    """Every option of a timm ViT that vit_lib cannot express, one `Finding` per option.

    Reads the modules, not the model's name: a model built by hand or by `timm.create_model`
    is judged by what it contains. An empty list means a `ViTConfig` expresses it; `from_timm`
    converts more (the family of chapter 15: `vit_lib.unsupported_family_options`).

    Args:
        model: a `timm.models.vision_transformer.VisionTransformer`.
    """
    vt, layers = _import_timm()
    if not isinstance(model, vt.VisionTransformer):
        return [Finding("model_class", type(model).__name__, "the model",
                        "only timm.models.vision_transformer.VisionTransformer and its "
                        "subclasses, not relative-position or EVA variants")]
    problems: dict[str, Finding] = {}

    def check(ok: bool, option: str, value: object, where: str, note: str = "") -> None:
        if not ok:                            # one finding per option, at its first place
            problems.setdefault(option, Finding(option, value, where, note))

    def check_norm(norm: nn.Module, where: str) -> None:
        check(type(norm) in (nn.LayerNorm, layers.LayerNorm),
              "norm_layer", type(norm).__name__, where)
        if isinstance(norm, nn.LayerNorm):
            check(norm.elementwise_affine and norm.bias is not None, "norm_affine", False, where,
                  "a LayerNorm without weight and bias")

    # Stages 1-4: patch embedding, prefix tokens, positions.
    distilled = getattr(model, "dist_token", None) is not None      # DeiT's subclass
    check(not distilled, "distilled", True, "dist_token",
          "a distillation token and a second head")
    prefix = int(model.cls_token is not None) + int(distilled)
    check(model.num_prefix_tokens == prefix, "reg_tokens", model.num_prefix_tokens - prefix,
          "reg_token", "registers")
    check(not getattr(model, "no_embed_class", False), "no_embed_class", True, "pos_embed",
          "positions added before the class token")
    check(model.pos_embed is not None, "pos_embed", "none", "pos_embed", "no position embedding")
    check(not getattr(model, "dynamic_img_size", False), "dynamic_img_size", True, "patch_embed")
    check(_is_identity(getattr(model, "norm_pre", None)), "pre_norm", True, "norm_pre",
          "a LayerNorm before the blocks")
    drop = getattr(model, "patch_drop", None)
    check(_is_identity(drop) or (type(drop) is layers.PatchDropout and not drop.ordered
                                 and drop.num_prefix_tokens == model.num_prefix_tokens),
          "patch_drop", type(drop).__name__, "patch_drop",
          "a PatchDropout other than patch_drop_rate's: ordered, or other prefix tokens")
    check(model.pos_drop.p == 0, "pos_drop_rate", model.pos_drop.p, "pos_drop")
    pe = model.patch_embed
    check(type(pe) is layers.PatchEmbed, "embed_layer", type(pe).__name__, "patch_embed")
    if type(pe) is layers.PatchEmbed:
        conv = pe.proj
        check(_is_identity(pe.norm), "embed_norm_layer", type(pe.norm).__name__,
              "patch_embed.norm", "a norm inside the patch embedding")
        check(conv.bias is not None, "patch_bias", False, "patch_embed.proj",
              "a patch embedding without bias")
        check(not pe.dynamic_img_pad, "dynamic_img_pad", True, "patch_embed")
        check(pe.strict_img_size, "strict_img_size", False, "patch_embed")
        check(pe.flatten, "flatten", False, "patch_embed")
        check(all(i % p == 0 for i, p in zip(pe.img_size, pe.patch_size)),
              "img_size", tuple(pe.img_size), "patch_embed",
              f"not divisible by patch_size {tuple(pe.patch_size)}; timm's convolution drops "
              "the rest")
        stride_p = tuple(conv.kernel_size) == tuple(conv.stride) == tuple(pe.patch_size)
        check(stride_p and tuple(conv.padding) == (0, 0), "patch_conv",
              (tuple(conv.kernel_size), tuple(conv.stride), tuple(conv.padding)),
              "patch_embed.proj", "kernel, stride and padding of a convolution that is not "
              "stride-P")

    # Stages 5-13: the blocks. Settings that vit_lib keeps once per model must agree across blocks.
    check(len(model.blocks) > 0, "depth", 0, "blocks", "no blocks")
    per_block: dict[str, set] = {}
    for i, blk in enumerate(model.blocks):
        at = f"blocks.{i}"
        if type(blk) is not vt.Block:
            check(False, "block_fn", type(blk).__name__, at)
            continue
        check(_is_identity(blk.ls1) and _is_identity(blk.ls2), "init_values",
              getattr(blk.ls1, "init_values", type(blk.ls1).__name__), f"{at}.ls1", "layer scale")
        check(_is_identity(blk.drop_path1) and _is_identity(blk.drop_path2), "drop_path_rate",
              getattr(blk.drop_path1, "drop_prob", None), f"{at}.drop_path1")
        check_norm(blk.norm1, f"{at}.norm1")
        check_norm(blk.norm2, f"{at}.norm2")
        attn, mlp = blk.attn, blk.mlp
        if type(attn) is not layers.Attention:
            check(False, "attn_layer", type(attn).__name__, f"{at}.attn")
        else:
            check(_is_identity(attn.q_norm) and _is_identity(attn.k_norm), "qk_norm", True,
                  f"{at}.attn")
            check(_is_identity(attn.norm), "scale_attn_norm", True, f"{at}.attn.norm")
            check(getattr(attn, "gate", None) is None, "attn_gate", True, f"{at}.attn.gate",
                  "gated attention")
            check(attn.proj.bias is not None, "proj_bias", False, f"{at}.attn.proj")
            for name, value in [("num_heads", attn.num_heads), ("head_dim", attn.head_dim),
                                ("qkv_bias", attn.qkv.bias is not None),
                                ("fused_attn", bool(attn.fused_attn)),
                                ("attn_drop_rate", attn.attn_drop.p),
                                ("drop_rate", attn.proj_drop.p)]:
                per_block.setdefault(name, set()).add(value)
        if type(mlp) is not layers.Mlp:
            check(False, "mlp_layer", type(mlp).__name__, f"{at}.mlp")
        else:
            act = mlp.act
            exact_gelu = ((type(act) is nn.GELU and act.approximate == "none")
                          or type(act) is layers.activations.GELU)
            extra = f"(approximate={act.approximate!r})" if isinstance(act, nn.GELU) else ""
            check(exact_gelu, "act_layer", f"{type(act).__name__}{extra}", f"{at}.mlp.act")
            check(_is_identity(mlp.norm), "scale_mlp_norm", True, f"{at}.mlp.norm")
            linear = isinstance(mlp.fc1, nn.Linear) and isinstance(mlp.fc2, nn.Linear)
            check(linear, "use_conv", True, f"{at}.mlp", "a convolutional Mlp")
            if linear:
                check(mlp.fc1.bias is not None and mlp.fc2.bias is not None, "proj_bias", False,
                      f"{at}.mlp")
                per_block.setdefault("mlp hidden width", set()).add(mlp.fc1.out_features)
            per_block.setdefault("drop_rate", set()).update({mlp.drop1.p, mlp.drop2.p})
    for name, values in per_block.items():
        check(len(values) == 1, name, sorted(values), "blocks", "blocks that differ in it")

    # Stages 14-16: final norm, pooling, head.
    pool = model.global_pool
    check(pool in ("token", "avg"), "global_pool", pool, "global_pool")
    attn_pool = getattr(model, "attn_pool", None)
    check(attn_pool is None, "attn_pool", type(attn_pool).__name__, "attn_pool",
          "attention pooling, global_pool 'map' or 'prr'")
    check(not getattr(model, "pool_include_prefix", False), "pool_include_prefix", True, "pool")
    if pool in ("token", "avg"):
        # vit_lib's placement
        ours, other = ("fc_norm", "norm") if pool == "avg" else ("norm", "fc_norm")
        if _is_identity(getattr(model, ours)) and _is_identity(getattr(model, other)):
            check(False, "final_norm", False, ours, "no final LayerNorm")
        elif not _is_identity(getattr(model, other)):
            side = "after" if other == "fc_norm" else "before"
            check(False, "fc_norm", other == "fc_norm", other,
                  f"the final LayerNorm {side} pooling with global_pool={pool!r}; vit_lib "
                  f"puts it in '{ours}'")
        else:
            check_norm(getattr(model, ours), ours)
    check(model.head_drop.p == 0, "head_drop", model.head_drop.p, "head_drop",
          "timm's drop_rate, a dropout before the head; vit_lib's drop_rate is timm's "
          "proj_drop_rate")
    head = model.head
    linear_head = type(head) is nn.Linear and head.bias is not None
    check(_is_identity(head) or linear_head, "head", type(head).__name__, "head")
    eps = sorted({m.eps for m in model.modules() if isinstance(m, nn.LayerNorm)})
    check(len(eps) <= 1, "norm_eps", eps, "norm_layer", "LayerNorms with different eps")
    dtypes = sorted({str(p.dtype) for p in model.parameters()})
    check(len(dtypes) == 1, "dtype", dtypes, "parameters", "parameters of mixed dtypes")
    return list(problems.values())


# --- chapters/11_timm.md, cell 14 ---
def refuse(problems: list[Finding], what: str = "vit_lib's ViTConfig") -> None:
    """Raise `UnsupportedOptionError` listing every finding, if there is any."""
    if problems:
        lines = "\n".join(f"  - {finding}" for finding in problems)
        raise UnsupportedOptionError(
            f"this timm VisionTransformer uses options {what} cannot express:\n{lines}"
        )


def timm_config_fields(model: nn.Module, block: object = None) -> dict:
    """The `ViTConfig` fields of a timm `VisionTransformer`, read from its modules, unchecked.

    The block settings come from `block` (default: the first block), anything with a `Block`'s
    `attn`, `mlp.fc1` and `norm1`: chapter 15 passes a stand-in for blocks of other shapes.
    """
    block = model.blocks[0] if block is None else block
    pe, attn, mlp = model.patch_embed, block.attn, block.mlp
    dim, hidden = model.embed_dim, mlp.fc1.out_features           # D, D_ff
    img, patch = tuple(pe.img_size), tuple(pe.patch_size)
    drop = getattr(model, "patch_drop", None)                   # PatchDropout; Identity when off
    if int(dim * (hidden / dim)) != hidden:
        raise UnsupportedOptionError(f"MLP width {hidden} is not int(embed_dim * mlp_ratio), "
                                     f"mlp_ratio = {hidden} / {dim}")
    return dict(
        img_size=img[0] if img[0] == img[1] else img,
        patch_size=patch[0] if patch[0] == patch[1] else patch,
        in_chans=getattr(pe, "in_chans", None) or pe.proj.in_channels,   # a CNN stem's or ours
        num_classes=model.head.out_features if isinstance(model.head, nn.Linear) else 0,
        embed_dim=dim,
        depth=len(model.blocks),
        num_heads=attn.num_heads,
        head_dim=None if attn.num_heads * attn.head_dim == dim else attn.head_dim,
        mlp_ratio=hidden / dim,
        qkv_bias=attn.qkv.bias is not None,
        global_pool=model.global_pool,
        class_token=model.cls_token is not None,
        pos_embed="learned",
        drop_rate=attn.proj_drop.p,
        attn_drop_rate=attn.attn_drop.p,
        patch_drop_rate=0.0 if _is_identity(drop) else drop.prob,
        norm_eps=block.norm1.eps,
        fused_attn=bool(attn.fused_attn),
    )


def config_from_timm(model: nn.Module) -> ViTConfig:
    """The `ViTConfig` of a timm `VisionTransformer`, read from its modules.

    Raises `UnsupportedOptionError`, listing every option a `ViTConfig` cannot express (the
    family of chapter 15 expresses more: `from_timm` uses it). Square sizes come back as ints
    and `head_dim` as None when it is D // h, so a config that goes to timm and back comes back
    equal.

    Args:
        model: a `timm.models.vision_transformer.VisionTransformer`.
    """
    refuse(unsupported_timm_options(model))
    return ViTConfig(**timm_config_fields(model))


# --- chapters/11_timm.md, cell 16 ---
def load_exact(target: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy `state` into `target`, refusing any missing, unused or mis-shaped key.

    The two libraries use the same parameter names, so the key map is the identity. What this
    adds to `load_state_dict(strict=True)` is one message that lists every problem at once.

    Args:
        target: the module that receives the weights.
        state: a state_dict, e.g. `timm_model.state_dict()`.
        source: where `state` comes from, for the message.
    """
    want = target.state_dict()
    missing = sorted(set(want) - set(state))
    unused = sorted(set(state) - set(want))
    mismatched = sorted(
        f"{key} {tuple(state[key].shape)} -> {tuple(want[key].shape)}"
        for key in want.keys() & state.keys() if state[key].shape != want[key].shape
    )
    if missing or unused or mismatched:
        raise KeyError(
            f"the {source} state_dict does not map one-to-one onto {type(target).__name__}: "
            f"missing {missing}, unused {unused}, shape mismatches {mismatched}"
        )
    target.load_state_dict(state, strict=True)


class Converter(NamedTuple):
    """How a later chapter converts the timm models that a `ViTConfig` cannot express."""

    accepts: Callable[[nn.Module], bool]                  # is this timm model one of mine?
    config_type: type                                     # the config my models carry
    from_timm: Callable[[nn.Module], VisionTransformer]
    to_timm: Callable[[VisionTransformer], nn.Module]
    unsupported: Callable[[nn.Module], list[Finding]]     # what I cannot express; empty: all


# Filled by later chapters (15, the family; 18, EVA) when `vit_lib` is imported. This module
# imports none of them, so the package has no import cycle.
CONVERTERS: list[Converter] = []


def unsupported_options(model: nn.Module) -> list[Finding]:
    """What `from_timm` cannot convert in a timm `model`, asking the later chapters' converters
    about the models a `ViTConfig` cannot express; empty: it converts."""
    found = unsupported_timm_options(model)
    for converter in CONVERTERS if found else []:
        if converter.accepts(model):
            return converter.unsupported(model)
    return found


def from_timm(model: nn.Module) -> VisionTransformer:
    """Our `VisionTransformer` computing what the timm `model` computes, its weights copied exactly.

    The copy has the model's dtype, device and train/eval mode.

    Args:
        model: a `timm.models.vision_transformer.VisionTransformer`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"from_timm expects a timm VisionTransformer, got {type(model).__name__}")
    if unsupported_timm_options(model):
        # not the 2020 ViT: perhaps a wider model of a later chapter, which says what it lacks
        for converter in CONVERTERS:
            if converter.accepts(model):
                return converter.from_timm(model)
    config = config_from_timm(model)
    like = next(model.parameters())
    with torch.device(like.device):            # a meta model's copy is built on meta, no CPU
        ours = VisionTransformer(config)
    ours = ours.to(dtype=like.dtype)
    load_exact(ours, model.state_dict(), "timm")
    return ours.train(model.training)


# --- chapters/11_timm.md, cell 18 ---
def timm_kwargs(config: ViTConfig) -> dict:
    """Keyword arguments of `timm.models.vision_transformer.VisionTransformer` that build `config`.

    Our `drop_rate` (after the projections) is timm's `proj_drop_rate`; timm's own `drop_rate`
    is a head dropout we do not have, left at 0. Raises `UnsupportedOptionError` for what timm's
    class cannot build: fixed sin-cos positions, and an attention width h * d_h other than D.

    Args:
        config: a vit_lib `ViTConfig`.
    """
    problems = []
    if config.pos_embed != "learned":
        problems.append(
            f"pos_embed={config.pos_embed!r}: timm's VisionTransformer has learned positions only "
            "('learn' or 'none'); copy the table into a pos_embed='learned' model first"
        )
    head_dim = config.head_dim or config.embed_dim // config.num_heads
    if config.num_heads * head_dim != config.embed_dim:
        problems.append(
            f"head_dim={head_dim}: h * d_h = {config.num_heads} * {head_dim} = "
            f"{config.num_heads * head_dim} != embed_dim {config.embed_dim}; "
            "timm's VisionTransformer has no head_dim, its width is D"
        )
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise UnsupportedOptionError(f"timm cannot build this vit_lib config:\n{lines}")
    return dict(
        img_size=config.img_size,
        patch_size=config.patch_size,
        in_chans=config.in_chans,
        num_classes=config.num_classes,
        global_pool=config.global_pool,
        embed_dim=config.embed_dim,
        depth=config.depth,
        num_heads=config.num_heads,
        mlp_ratio=config.mlp_ratio,
        qkv_bias=config.qkv_bias,
        class_token=config.class_token,
        pos_embed="learn",
        proj_drop_rate=config.drop_rate,
        attn_drop_rate=config.attn_drop_rate,
        patch_drop_rate=config.patch_drop_rate,
        norm_layer=functools.partial(nn.LayerNorm, eps=config.norm_eps),
    )


def to_timm(model: VisionTransformer) -> nn.Module:
    """A timm `VisionTransformer` computing what our `model` computes, its weights copied exactly.

    Built from `timm_kwargs(model.config)`, with each attention's `fused_attn` switch set like
    ours; the copy has our model's dtype, device and train/eval mode.

    Args:
        model: a vit_lib `VisionTransformer`.
    """
    if not isinstance(model, VisionTransformer):
        raise TypeError(f"to_timm expects a vit_lib VisionTransformer, got {type(model).__name__}")
    for converter in CONVERTERS:
        if type(model.config) is not ViTConfig and isinstance(model.config, converter.config_type):
            return converter.to_timm(model)          # a FamilyConfig: chapter 15 builds its twin
    vt, _ = _import_timm()
    like = next(model.parameters())
    with torch.device(like.device):
        reference = vt.VisionTransformer(**timm_kwargs(model.config))
    for ours, theirs in zip(model.blocks, reference.blocks):
        theirs.attn.fused_attn = ours.attn.fused_attn    # a per-attention switch in both libraries
    reference = reference.to(dtype=like.dtype)
    load_exact(reference, model.state_dict(), "vit_lib")
    return reference.train(model.training)


# --- chapters/11_timm.md, cell 22 ---
@torch.no_grad()
def our_stages(model: VisionTransformer, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Our model's stages on images x: patch embedding, each block, final norm, pooled, logits."""
    stages = {"patch embedding": model.patch_embed(x)}                     # (N, T-1, D)
    tokens = model.embed(x)                                                # (N, T, D)
    for i, block in enumerate(model.blocks):
        tokens = stages[f"block {i}"] = block(tokens)                      # (N, T, D)
    stages["final norm"] = model.norm(tokens)                              # (N, T, D)
    stages["pooled"] = model.forward_head(stages["final norm"], pre_logits=True)   # (N, D)
    stages["logits"] = model.head(stages["pooled"])                        # (N, K)
    return stages


@torch.no_grad()
def timm_stages(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The same stages of a timm ViT, from its public `forward_intermediates` and submodules."""
    stages = {"patch embedding": model.patch_embed(x)}                     # (N, T-1, D)
    final, outputs = model.forward_intermediates(x, output_fmt="NLC", return_prefix_tokens=True)
    for i, out in enumerate(outputs):
        patches, prefix = out if isinstance(out, tuple) else (out, None)   # (N, T-1, D), (N, 1, D)
        stages[f"block {i}"] = (patches if prefix is None
                                else torch.cat([prefix, patches], dim=1))  # (N, T, D)
    stages["final norm"] = final                                           # (N, T, D)
    stages["pooled"] = model.forward_head(final, pre_logits=True)          # (N, D)
    stages["logits"] = model.forward_head(final)                           # (N, K)
    return stages


def compare_stages(
    ours: VisionTransformer, reference: nn.Module, x: torch.Tensor,
) -> dict[str, float]:
    """max |Δ| between our model and a timm ViT at every stage, for images x.

    Put both models in eval mode first unless dropout is 0.
    """
    a, b = our_stages(ours, x), timm_stages(reference, x)
    if list(a) != list(b):
        raise ValueError(f"the models have different stages: {list(a)} vs {list(b)}")
    for name in a:
        if a[name].shape != b[name].shape:
            raise ValueError(
                f"{name}: our shape {tuple(a[name].shape)} vs timm's {tuple(b[name].shape)}"
            )
    return {name: (a[name] - b[name]).abs().max().item() for name in a}
