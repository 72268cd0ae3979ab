# Generated from chapters/15_family.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/15_family.md, cell 6 ---
"""The ViT family: the options of today's ViTs, on top of chapter 10's model, in timm's names.

`FamilyConfig` adds register tokens, layer scale, positions without the prefix tokens, a norm
before the encoder, no final norm or one after pooling, attention pooling ('map'), GELU-tanh and
QuickGELU, and DeiT's distillation token. `FamilyViT` builds them; `resample_pos_embed` and
`at_resolution` move a model to another image size as timm does.

Shapes: N batch, T tokens (prefix tokens, then patches), D width, h heads, K classes.
"""

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from vit_lib.block import Block
from vit_lib.mlp import Mlp
from vit_lib.model import PatchDropout, VisionTransformer, ViTConfig
from vit_lib.norm import NORM_EPS, LayerNorm
from vit_lib.pool import pool_tokens
from vit_lib.stages import Stage, record
from vit_lib.tokens import add_pos_embed, sincos_pos_embed

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = [
    "FamilyConfig", "FamilyViT", "LayerScale", "AttentionPool", "QuickGELU",
    "resample_pos_embed", "at_resolution", "unsupported_family_options",
    "family_config_from_timm",
]

ACTIVATIONS = ("gelu", "gelu_tanh", "quick_gelu")


# --- chapters/15_family.md, cell 8 ---
def check_family_options(config: "FamilyConfig") -> None:
    """Raise ValueError for a combination of the family's options that cannot be built."""
    if not isinstance(config.reg_tokens, int) or config.reg_tokens < 0:
        raise ValueError(f"reg_tokens must be an integer >= 0, got {config.reg_tokens!r}")
    if config.init_values is not None and not config.init_values > 0:
        raise ValueError(f"init_values (layer scale) must be > 0 or None, "
                         f"got {config.init_values}")
    if config.act_layer not in ACTIVATIONS:
        raise ValueError(f"unknown act_layer {config.act_layer!r}; expected one of "
                         f"{ACTIVATIONS}")
    if config.fc_norm and not config.final_norm:
        raise ValueError("fc_norm=True asks for the final LayerNorm after pooling, "
                         "final_norm=False for no final LayerNorm at all; choose one")
    if config.distilled and (config.global_pool != "token" or config.reg_tokens):
        raise ValueError(
            "distilled=True reads the class token (position 0) and the distillation token "
            f"(position 1): it needs global_pool='token' and no registers, got "
            f"global_pool={config.global_pool!r}, reg_tokens={config.reg_tokens}")
    if (config.global_pool == "map"
            and config.head_dim not in (None, config.embed_dim // config.num_heads)):
        raise ValueError(f"global_pool='map' splits D = {config.embed_dim} into "
                         f"{config.num_heads} heads of D // h; head_dim={config.head_dim} "
                         "does not fit")


# --- chapters/15_family.md, cell 9 ---
@dataclass
class FamilyConfig(ViTConfig):
    """A `ViTConfig` with the options of the ViTs in use today; the defaults are chapter 10's."""

    reg_tokens: int = 0                 # register tokens, after the class token (DINOv2)
    init_values: float | None = None    # layer scale: each branch times a learned (D,) vector
    no_embed_class: bool = False        # positions on the patch tokens only (DeiT III)
    pre_norm: bool = False              # a LayerNorm before the blocks; no patch bias (CLIP)
    final_norm: bool = True             # the LayerNorm after the blocks (or after pooling)
    fc_norm: bool | None = None         # the final norm after pooling; None: for 'avg' only
    act_layer: str = "gelu"             # the MLPs' activation: 'gelu', 'gelu_tanh', 'quick_gelu'
    distilled: bool = False             # DeiT's distillation token and its second head
    # global_pool may also be 'map': attention pooling with a learned query (SigLIP)

    def __post_init__(self) -> None:
        attention_pool = self.global_pool == "map"
        if attention_pool:                  # ViTConfig checks the rest with a pool it knows
            self.global_pool = "avg"
        try:
            super().__post_init__()
        finally:
            if attention_pool:
                self.global_pool = "map"
        check_family_options(self)

    @property
    def num_prefix_tokens(self) -> int:
        """Tokens in front of the patches: class token, distillation token, registers."""
        return int(self.class_token) + int(self.distilled) + self.reg_tokens


# --- chapters/15_family.md, cell 13 ---
class LayerScale(nn.Module):
    """x * gamma, gamma a learned (D,) vector that starts at `init_values` (CaiT, DINOv2)."""

    def __init__(self, dim: int, init_values: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_values)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma                                     # (N, T, D)


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x): CLIP's approximation of GELU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


def activation(name: str) -> nn.Module:
    """The MLP activation called `name` in a `FamilyConfig`."""
    if name == "gelu":
        return nn.GELU()
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    if name == "quick_gelu":
        return QuickGELU()
    raise ValueError(f"unknown act_layer {name!r}; expected one of {ACTIVATIONS}")


# --- chapters/15_family.md, cell 15 ---
class AttentionPool(nn.Module):
    """Attention pooling ('map'): a learned query attends over the tokens, (N, T, D) -> (N, D).

    timm's `AttentionPoolLatent` with its defaults: one latent query, `q` and `kv` projections,
    h heads of D // h, `proj`, then `x + mlp(norm(x))`. Parameter names are timm's.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, *,
                 norm_eps: float = NORM_EPS, act_layer: str = "gelu",
                 fused_attn: bool = True) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.fused_attn = fused_attn
        self.latent = nn.Parameter(torch.zeros(1, 1, dim))          # the query, before `q`
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm = LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.mlp.act = activation(act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, dim = x.shape
        h, d_h = self.num_heads, self.head_dim
        q = self.q(self.latent.expand(n, -1, -1))                    # (N, 1, D)
        q = q.reshape(n, 1, h, d_h).transpose(1, 2)                  # (N, h, 1, d_h)
        kv = self.kv(x).reshape(n, t, 2, h, d_h).permute(2, 0, 3, 1, 4)   # (2, N, h, T, d_h)
        k, v = kv.unbind(0)                                          # (N, h, T, d_h) each
        if self.fused_attn:
            out = F.scaled_dot_product_attention(q, k, v)            # (N, h, 1, d_h)
        else:
            weights = ((q * d_h ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)   # (N, h, 1, T)
            out = weights @ v                                        # (N, h, 1, d_h)
        out = self.proj(out.transpose(1, 2).reshape(n, 1, dim))      # (N, 1, D)
        out = out + self.mlp(self.norm(out))                         # (N, 1, D)
        return out[:, 0]                                             # (N, D)


# --- chapters/15_family.md, cell 17 ---
class FamilyBlock(Block):
    """Chapter 8's block with an optional layer scale per branch and another MLP activation."""

    def __init__(self, dim: int, num_heads: int, *, init_values: float | None = None,
                 act_layer: str = "gelu", **kwargs) -> None:
        super().__init__(dim, num_heads, **kwargs)
        self.mlp.act = activation(act_layer)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """(N, T, D) -> (N, T, D): x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x)))."""
        h = record(Stage.NORM, self.norm1(x), "norm1")       # (N, T, D)
        h, weights = (
            self.attn(h, return_attention=True) if return_attention else (self.attn(h), None)
        )
        x = record(Stage.PROJ_RESIDUAL, x + self.ls1(h))     # (N, T, D)
        h = record(Stage.NORM, self.norm2(x), "norm2")       # (N, T, D)
        x = record(Stage.FFN_RESIDUAL, x + self.ls2(self.mlp(h)))   # (N, T, D)
        return (x, weights) if return_attention else x


# --- chapters/15_family.md, cell 19 ---
class FamilyViT(VisionTransformer):
    """A `VisionTransformer` with the options of `FamilyConfig`; timm's names throughout."""

    def __init__(self, config: FamilyConfig | None = None, **overrides) -> None:
        if config is None:
            config = FamilyConfig(**overrides)
        elif overrides or not isinstance(config, FamilyConfig):
            config = FamilyConfig(**{**config.__dict__, **overrides})
        super().__init__(config)
        cfg, dim = self.config, config.embed_dim
        if cfg.pre_norm:                             # timm (CLIP): no bias before a pre-norm
            self.patch_embed.proj.register_parameter("bias", None)
        self.num_prefix_tokens = cfg.num_prefix_tokens
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim)) if cfg.distilled else None
        self.reg_token = (nn.Parameter(torch.zeros(1, cfg.reg_tokens, dim))
                          if cfg.reg_tokens else None)
        in_table = 0 if cfg.no_embed_class else self.num_prefix_tokens
        rows = self.patch_embed.num_patches + in_table                # the position table's T
        if cfg.pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, rows, dim))     # (1, T', D)
        else:
            table = sincos_pos_embed(self.patch_embed.grid_size, dim, in_table)
            self.register_buffer("pos_embed", table, persistent=False)
        self.patch_drop = (PatchDropout(cfg.patch_drop_rate, self.num_prefix_tokens)
                           if cfg.patch_drop_rate > 0 else nn.Identity())
        self.norm_pre = LayerNorm(dim, eps=cfg.norm_eps) if cfg.pre_norm else nn.Identity()
        self.blocks = nn.Sequential(*[
            FamilyBlock(
                dim, cfg.num_heads, head_dim=cfg.head_dim, mlp_ratio=cfg.mlp_ratio,
                qkv_bias=cfg.qkv_bias, drop=cfg.drop_rate, attn_drop=cfg.attn_drop_rate,
                norm_eps=cfg.norm_eps, fused_attn=cfg.fused_attn,
                init_values=cfg.init_values, act_layer=cfg.act_layer,
            )
            for _ in range(cfg.depth)
        ])
        after_pool = cfg.global_pool == "avg" if cfg.fc_norm is None else cfg.fc_norm

        def final_norm() -> nn.Module:
            return LayerNorm(dim, eps=cfg.norm_eps) if cfg.final_norm else nn.Identity()

        self.norm = nn.Identity() if after_pool else final_norm()
        self.fc_norm = final_norm() if after_pool else nn.Identity()
        self.attn_pool = (AttentionPool(dim, cfg.num_heads, cfg.mlp_ratio, norm_eps=cfg.norm_eps,
                                        act_layer=cfg.act_layer, fused_attn=cfg.fused_attn)
                          if cfg.global_pool == "map" else None)
        if cfg.distilled:
            self.head_dist = (nn.Linear(dim, cfg.num_classes) if cfg.num_classes > 0
                              else nn.Identity())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Chapter 10's initialisation, and the new tokens and query near zero (timm's scales)."""
        super().reset_parameters()
        for token in (getattr(self, "dist_token", None), getattr(self, "reg_token", None)):
            if token is not None:
                nn.init.normal_(token, std=1e-6)
        if getattr(self, "attn_pool", None) is not None:
            nn.init.trunc_normal_(self.attn_pool.latent, std=self.config.embed_dim ** -0.5)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> prefix tokens and patches, with positions (N, T, D)."""
        x = self.patch_embed(record(Stage.INPUT, x))
        record(Stage.PATCH_EMBED, x)                                   # (N, T-prefix, D)
        prefix = [token.expand(x.shape[0], -1, -1)
                  for token in (self.cls_token, self.dist_token, self.reg_token)
                  if token is not None]                                # each (N, k, D)
        if self.config.no_embed_class:                     # positions first, on patches only
            x = add_pos_embed(x, self.pos_embed)                       # (N, T-prefix, D)
            if prefix:
                x = record(Stage.CLASS_TOKEN, torch.cat(prefix + [x], dim=1))   # (N, T, D)
        else:
            if prefix:
                x = record(Stage.CLASS_TOKEN, torch.cat(prefix + [x], dim=1))   # (N, T, D)
            x = add_pos_embed(x, self.pos_embed)                       # (N, T, D)
        return self.norm_pre(x)                                        # (N, T, D)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Encoded tokens (N, T, D) -> logits (N, K), or pooled features (N, D)."""
        if self.dist_token is not None:                    # DeiT: two tokens, two heads
            cls, dist = x[:, 0], x[:, 1]                               # (N, D) each
            if pre_logits:
                return record(Stage.POOL, (cls + dist) / 2)            # (N, D)
            return record(Stage.HEAD, (self.head(cls) + self.head_dist(dist)) / 2)  # (N, K)
        if self.attn_pool is not None:                     # the patches only, as in timm
            x = self.attn_pool(x[:, self.num_prefix_tokens:])          # (N, D)
        else:
            x = pool_tokens(x, self.config.global_pool, self.num_prefix_tokens)   # (N, D)
        x = record(Stage.POOL, self.fc_norm(x))                        # (N, D)
        return x if pre_logits else record(Stage.HEAD, self.head(x))   # (N, K)


# --- chapters/15_family.md, cell 37 ---
from vit_lib.timm_compat import (  # noqa: E402  (the converter of chapter 11)
    _import_timm,
    _is_identity,
    load_exact,
    refuse,
    timm_config_fields,
    timm_kwargs,
    unsupported_timm_options,
)

# What chapter 11's checker reports that the family builds (checked again, in detail, below).
FAMILY_OPTIONS = (
    "reg_tokens=", "init_values", "no_embed_class=True", "pre_norm=True",
    "patch embedding without bias", "fc_norm=", "final_norm=False", "global_pool='map'",
    "attention pooling", "act_layer=", "distilled",
)


def _activation_name(act: nn.Module) -> str | None:
    """'gelu', 'gelu_tanh' or 'quick_gelu' for a timm or PyTorch activation module, else None."""
    kind = type(act).__name__
    if isinstance(act, nn.GELU):
        return {"none": "gelu", "tanh": "gelu_tanh"}.get(act.approximate)
    return {"GELU": "gelu", "GELUTanh": "gelu_tanh", "QuickGELU": "quick_gelu"}.get(kind)


def unsupported_family_options(model: nn.Module) -> dict[str, str]:
    """What a `FamilyConfig` cannot express in a timm ViT, {option: where}; empty: it converts."""
    vt, layers = _import_timm()
    problems = {option: where for option, where in unsupported_timm_options(model).items()
                if not option.startswith(FAMILY_OPTIONS)}
    if not isinstance(model, vt.VisionTransformer) or not len(model.blocks):
        return problems

    def check(ok: bool, option: str, where: str) -> None:
        if not ok:
            problems.setdefault(option, where)

    distilled = getattr(model, "dist_token", None) is not None
    registers = 0 if model.reg_token is None else model.reg_token.shape[1]
    check(model.num_prefix_tokens == int(model.cls_token is not None) + int(distilled) + registers,
          "prefix tokens other than class, distillation and register tokens", "num_prefix_tokens")
    if distilled:
        check(type(model).__name__ == "VisionTransformerDistilled" and model.global_pool == "token"
              and not registers and not getattr(model, "distilled_training", False),
              "a distillation token other than DeiT's", "dist_token")
    pre_norm = not _is_identity(model.norm_pre)
    conv = getattr(model.patch_embed, "proj", None)     # chapter 11 judges other embeddings
    if isinstance(conv, nn.Conv2d):
        check((conv.bias is None) == pre_norm,
              "a patch bias that is not `not pre_norm` (timm ties the two)", "patch_embed.proj")
    names, scales = set(), set()
    for i, block in enumerate(model.blocks):
        if type(block) is vt.Block and type(block.mlp) is layers.Mlp:
            names.add(_activation_name(block.mlp.act))
            scales.add(tuple(type(ls).__name__ for ls in (block.ls1, block.ls2)))
            for ls in (block.ls1, block.ls2):
                check(_is_identity(ls) or (type(ls) is layers.LayerScale and not ls.inplace),
                      f"a layer scale other than timm's LayerScale ({type(ls).__name__})",
                      f"blocks.{i}.ls1")
    check(None not in names, "an activation other than GELU, GELU-tanh or QuickGELU",
          "blocks.0.mlp.act")
    check(len(names) <= 1 and len(scales) <= 1, "blocks that differ in activation or layer scale",
          "blocks")
    check(not (not _is_identity(model.norm) and not _is_identity(model.fc_norm)),
          "both norm and fc_norm", "norm")
    for name in ("norm_pre", "norm", "fc_norm"):
        norm = getattr(model, name)
        check(_is_identity(norm) or (type(norm) in (nn.LayerNorm, layers.LayerNorm)
                                     and norm.bias is not None), f"{name}={type(norm).__name__}",
              name)
    pool = getattr(model, "attn_pool", None)
    if model.global_pool == "map":
        block, dim = model.blocks[0], model.embed_dim
        check(type(pool) is layers.AttentionPoolLatent and pool.latent_len == 1
              and pool.pos_embed is None and isinstance(pool.q, nn.Linear)
              and _is_identity(pool.q_norm) and pool.pool == "token" and pool.mlp is not None
              and pool.num_heads == block.attn.num_heads and pool.head_dim * pool.num_heads == dim
              and pool.mlp.fc1.out_features == block.mlp.fc1.out_features
              and _activation_name(pool.mlp.act) in names
              and not getattr(model, "pool_include_prefix", False),
              "an attention pool other than AttentionPoolLatent with timm's defaults", "attn_pool")
    return problems


def family_config_from_timm(model: nn.Module) -> FamilyConfig:
    """The `FamilyConfig` of a timm ViT; raises `UnsupportedOptionError` naming what is missing."""
    refuse(unsupported_family_options(model), "vit_lib (chapters 10 and 15)")
    block = model.blocks[0]
    norm_before, norm_after = not _is_identity(model.norm), not _is_identity(model.fc_norm)
    return FamilyConfig(
        **timm_config_fields(model),
        reg_tokens=0 if model.reg_token is None else model.reg_token.shape[1],
        init_values=None if _is_identity(block.ls1) else block.ls1.init_values,
        no_embed_class=bool(model.no_embed_class),
        pre_norm=not _is_identity(model.norm_pre),
        final_norm=norm_before or norm_after,
        # None where timm's default rule gives the same placement: after pooling for 'avg' only
        fc_norm=None if not (norm_before or norm_after)
        or norm_after == (model.global_pool == "avg") else norm_after,
        act_layer=_activation_name(block.mlp.act),
        distilled=getattr(model, "dist_token", None) is not None,
    )


def family_from_timm(model: nn.Module) -> FamilyViT:
    """Our `FamilyViT` computing what the timm `model` computes, its weights copied exactly."""
    config = family_config_from_timm(model)
    like = next(model.parameters())
    ours = FamilyViT(config).to(device=like.device, dtype=like.dtype)
    if ours.attn_pool is not None:
        ours.attn_pool.fused_attn = bool(model.attn_pool.fused_attn)
    load_exact(ours, model.state_dict(), "timm")
    return ours.train(model.training)


def family_timm_kwargs(config: FamilyConfig) -> dict:
    """Keyword arguments of timm's `VisionTransformer` (or DeiT's distilled one) for `config`."""
    kwargs = timm_kwargs(config)
    kwargs.update(
        reg_tokens=config.reg_tokens, init_values=config.init_values,
        no_embed_class=config.no_embed_class, pre_norm=config.pre_norm,
        final_norm=config.final_norm, fc_norm=config.fc_norm,
    )
    if config.act_layer != "gelu":
        kwargs["act_layer"] = config.act_layer
    return kwargs


def family_to_timm(model: FamilyViT) -> nn.Module:
    """A timm model computing what our `FamilyViT` computes, its weights copied exactly."""
    vt, _ = _import_timm()
    from timm.models.deit import VisionTransformerDistilled

    kind = VisionTransformerDistilled if model.config.distilled else vt.VisionTransformer
    reference = kind(**family_timm_kwargs(model.config))
    for ours, theirs in zip(model.blocks, reference.blocks):
        theirs.attn.fused_attn = ours.attn.fused_attn
    if model.attn_pool is not None:
        reference.attn_pool.fused_attn = model.attn_pool.fused_attn
    like = next(model.parameters())
    reference = reference.to(device=like.device, dtype=like.dtype)
    load_exact(reference, model.state_dict(), "vit_lib")
    return reference.train(model.training)


# --- chapters/15_family.md, cell 43 ---
def resample_pos_embed(pos_embed: torch.Tensor, new_grid: tuple[int, int],
                       old_grid: tuple[int, int], num_prefix_tokens: int = 1) -> torch.Tensor:
    """A (1, prefix + gh*gw, D) position table resized to another patch grid, as timm does.

    The prefix rows (class token, ...) are kept; the patch rows, seen as a (D, gh, gw) image, are
    resized bicubically with antialiasing, in float32 (timm's choice), then cast back.
    """
    rows = num_prefix_tokens + old_grid[0] * old_grid[1]
    if pos_embed.ndim != 3 or pos_embed.shape[1] != rows:
        raise ValueError(f"pos_embed {tuple(pos_embed.shape)} is not {num_prefix_tokens} prefix "
                         f"rows plus a {old_grid[0]} x {old_grid[1]} grid")
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    dim = grid.shape[-1]
    image = grid.float().reshape(1, *old_grid, dim).permute(0, 3, 1, 2)     # (1, D, gh, gw)
    image = F.interpolate(image, size=tuple(new_grid), mode="bicubic", antialias=True)
    grid = image.permute(0, 2, 3, 1).reshape(1, -1, dim).to(pos_embed.dtype)  # (1, gh'*gw', D)
    return torch.cat([prefix, grid], dim=1)


def at_resolution(model: VisionTransformer, img_size: int | tuple[int, int]) -> VisionTransformer:
    """`model` for images of `img_size`: the same weights, the position table resampled."""
    config = replace(model.config, img_size=img_size)
    moved = type(model)(config)
    state = model.state_dict()
    if isinstance(model.pos_embed, nn.Parameter):
        in_table = 0 if getattr(config, "no_embed_class", False) else model.num_prefix_tokens
        state["pos_embed"] = resample_pos_embed(
            model.pos_embed.detach(), moved.patch_embed.grid_size, model.patch_embed.grid_size,
            in_table,
        )
    like = next(model.parameters())
    moved = moved.to(device=like.device, dtype=like.dtype)
    moved.load_state_dict(state, strict=True)
    return moved.train(model.training)
