# Generated from chapters/15_family.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/15_family.md, cell 6 ---
"""The ViT family: the options of today's ViTs, on top of chapter 10's model, in timm's names.

`FamilyConfig` adds register tokens, layer scale, positions without the prefix tokens, a norm
before the encoder, no final norm or one after pooling, attention pooling ('map'), GELU-tanh,
QuickGELU and SiLU, DeiT's distillation token, and blocks of other shapes: post-norm, parallel
branches, ViT-22B's fused block, gated MLPs and RMSNorm. `FamilyViT` builds them;
`resample_pos_embed` and `at_resolution` move a model to another image size as timm does.

Shapes: N batch, T tokens (prefix tokens, then patches), D width, h heads, K classes.
"""

import functools
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from vit_lib.attention import Attention, merge_heads
from vit_lib.mlp import Mlp
from vit_lib.model import PatchDropout, VisionTransformer, ViTConfig
from vit_lib.norm import NORM_EPS, LayerNorm
from vit_lib.patch_embed import PatchEmbed, check_images
from vit_lib.pool import pool_tokens
from vit_lib.sdpa import explicit_attention
from vit_lib.stages import Stage, record
from vit_lib.tokens import add_pos_embed, sincos_pos_embed

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = [
    "FamilyConfig", "FamilyViT", "LayerScale", "AttentionPool", "QuickGELU", "RmsNorm",
    "GluMlp", "ResPostBlock", "ParallelBlock", "ParallelScalingBlock",
    "resample_pos_embed", "at_resolution", "unsupported_family_options",
    "family_config_from_timm",
]

ACTIVATIONS = ("gelu", "gelu_tanh", "quick_gelu", "silu")
BLOCKS = ("block", "res_post", "parallel", "parallel_scaling")   # timm's block_fn, by name
MLPS = ("mlp", "glu")
NORMS = ("layernorm", "rmsnorm")


# --- chapters/15_family.md, cell 8 ---
def check_family_options(config: "FamilyConfig") -> None:
    """Raise ValueError for a combination of the family's options that cannot be built."""
    if not isinstance(config.reg_tokens, int) or config.reg_tokens < 0:
        raise ValueError(f"reg_tokens must be an integer >= 0, got {config.reg_tokens!r}")
    if config.init_values is not None and not config.init_values > 0:
        raise ValueError(f"init_values (layer scale) must be > 0 or None, "
                         f"got {config.init_values}")
    for field, known in (("act_layer", ACTIVATIONS), ("block_fn", BLOCKS),
                         ("mlp_layer", MLPS), ("norm_layer", NORMS)):
        if getattr(config, field) not in known:
            raise ValueError(f"unknown {field} {getattr(config, field)!r}; expected one of "
                             f"{known}")
    hidden = int(config.embed_dim * config.mlp_ratio)
    if config.mlp_layer == "glu" and hidden % 2:
        raise ValueError(f"mlp_layer='glu' splits fc1's int(D * mlp_ratio) = {hidden} outputs "
                         "into two halves; it must be even")
    if config.qk_norm and config.block_fn != "parallel_scaling":
        raise ValueError(f"qk_norm=True is built for block_fn='parallel_scaling' only (timm's "
                         f"xp models); chapter 5's Attention has no q/k norms, got "
                         f"block_fn={config.block_fn!r}")
    if config.dynamic_img_size and config.pos_embed != "learned":
        raise ValueError("dynamic_img_size=True resamples a learned position table; with "
                         f"pos_embed={config.pos_embed!r} build the model at the size instead")
    if config.block_fn == "parallel_scaling":
        if config.mlp_layer != "mlp":
            raise ValueError("block_fn='parallel_scaling' fuses the MLP into the block's "
                             f"in_proj: mlp_layer must be 'mlp', got {config.mlp_layer!r}")
        if config.head_dim not in (None, config.embed_dim // config.num_heads):
            raise ValueError(f"block_fn='parallel_scaling' splits D = {config.embed_dim} into "
                             f"{config.num_heads} heads of D // h; head_dim={config.head_dim} "
                             "does not fit")
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
    block_fn: str = "block"             # 'res_post', 'parallel' or 'parallel_scaling' (ViT-22B)
    mlp_layer: str = "mlp"              # 'glu': a gated MLP, SwiGLU with act_layer='silu'
    norm_layer: str = "layernorm"       # 'rmsnorm': every norm without mean or bias
    qk_norm: bool = False               # a norm on each head's queries and keys
    dynamic_img_size: bool = False      # any image size the patches tile; positions resampled
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


def layer_scale(dim: int, init_values: float | None) -> nn.Module:
    """A `LayerScale` starting at `init_values`, or an `Identity` when it is None (timm's rule)."""
    return LayerScale(dim, init_values) if init_values else nn.Identity()


def activation_layer(name: str) -> Callable[[], nn.Module]:
    """What makes the MLP activation called `name` in a `FamilyConfig` (timm's `act_layer`)."""
    layers = {"gelu": nn.GELU, "gelu_tanh": functools.partial(nn.GELU, approximate="tanh"),
              "quick_gelu": QuickGELU, "silu": nn.SiLU}
    if name not in layers:
        raise ValueError(f"unknown act_layer {name!r}; expected one of {ACTIVATIONS}")
    return layers[name]


class RmsNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last axis: a LayerNorm without mean or bias."""

    def __init__(self, dim: int, eps: float = NORM_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps) * self.weight


def make_norm(name: str, dim: int, eps: float = NORM_EPS) -> nn.Module:
    """The norm called `name` in a `FamilyConfig`, 'layernorm' or 'rmsnorm', over `dim` features."""
    return RmsNorm(dim, eps) if name == "rmsnorm" else LayerNorm(dim, eps=eps)


class GluMlp(nn.Module):
    """A gated MLP: fc1 makes two halves, act(first) * second goes into fc2 (timm's GluMlp).

    With act_layer='silu' this is SwiGLU, packed as timm's `SwiGLUPacked` (DINOv2 giant).
    """

    def __init__(self, dim: int, hidden: int, act_layer: str = "silu", drop: float = 0.0) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)           # both halves in one matrix, as in timm
        self.act = activation_layer(act_layer)()
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden // 2, dim)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, value = self.fc1(x).chunk(2, dim=-1)                 # (N, T, D_ff / 2) each
        x = self.drop1(self.act(gate) * value)                     # (N, T, D_ff / 2)
        return self.drop2(self.fc2(x))                             # (N, T, D)


def make_mlp(name: str, dim: int, hidden: int, act_layer: str, drop: float = 0.0) -> nn.Module:
    """Chapter 7's MLP with the activation `act_layer` names ('mlp'), or the gated one ('glu')."""
    if name == "glu":
        return GluMlp(dim, hidden, act_layer, drop)
    return Mlp(dim, hidden, drop=drop, act_layer=activation_layer(act_layer))


# --- chapters/15_family.md, cell 15 ---
class AttentionPool(nn.Module):
    """Attention pooling ('map'): a learned query attends over the tokens, (N, T, D) -> (N, D).

    timm's `AttentionPoolLatent` with its defaults: one latent query, `q` and `kv` projections,
    h heads of D // h, `proj`, then `x + mlp(norm(x))`. Parameter names are timm's.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, *,
                 norm_eps: float = NORM_EPS, act_layer: str = "gelu",
                 norm_layer: str = "layernorm", fused_attn: bool = True) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.fused_attn = fused_attn
        self.latent = nn.Parameter(torch.zeros(1, 1, dim))          # the query, before `q`
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm = make_norm(norm_layer, dim, norm_eps)
        self.mlp = make_mlp("mlp", dim, int(dim * mlp_ratio), act_layer)

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
class FamilyBlock(nn.Module):
    """Chapter 8's block with an optional layer scale per branch, another MLP or other norms.

    Arguments as chapter 8's `Block`, and the family's: `init_values` (layer scale), `act_layer`,
    `mlp_layer` and `norm_layer`, by their `FamilyConfig` names.
    """

    def __init__(self, dim: int, num_heads: int, *, head_dim: int | None = None,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, drop: float = 0.0,
                 attn_drop: float = 0.0, norm_eps: float = NORM_EPS, fused_attn: bool = True,
                 init_values: float | None = None, act_layer: str = "gelu",
                 mlp_layer: str = "mlp", norm_layer: str = "layernorm") -> None:
        super().__init__()
        self.norm1 = make_norm(norm_layer, dim, norm_eps)
        self.attn = Attention(dim, num_heads, head_dim=head_dim, qkv_bias=qkv_bias,
                              attn_drop=attn_drop, proj_drop=drop, fused_attn=fused_attn)
        self.ls1 = layer_scale(dim, init_values)
        self.norm2 = make_norm(norm_layer, dim, norm_eps)
        self.mlp = make_mlp(mlp_layer, dim, int(dim * mlp_ratio), act_layer, drop)
        self.ls2 = layer_scale(dim, init_values)

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
class ResPostBlock(FamilyBlock):
    """Post-norm: x + norm1(attn(x)), then x + norm2(mlp(x)) (timm's ResPostBlock, Swin V2).

    No layer scale: `init_values` is the norms' starting weight instead.
    """

    def __init__(self, dim: int, num_heads: int, *, init_values: float | None = None,
                 **kwargs) -> None:
        super().__init__(dim, num_heads, **kwargs)
        if init_values is not None:
            for norm in (self.norm1, self.norm2):
                nn.init.constant_(norm.weight, init_values)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        h, weights = (
            self.attn(x, return_attention=True) if return_attention else (self.attn(x), None)
        )
        x = record(Stage.PROJ_RESIDUAL, x + self.norm1(h))              # (N, T, D)
        x = record(Stage.FFN_RESIDUAL, x + self.norm2(self.mlp(x)))     # (N, T, D)
        return (x, weights) if return_attention else x


class ParallelBlock(nn.Module):
    """Two attention branches side by side, then two MLP branches (timm's ParallelThingsBlock).

    Each branch is norm -> attn (or mlp) -> layer scale; the maps of both attentions come back
    as one (N, 2h, T, T) tensor.
    """

    def __init__(self, dim: int, num_heads: int, *, head_dim: int | None = None,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, drop: float = 0.0,
                 attn_drop: float = 0.0, norm_eps: float = NORM_EPS, fused_attn: bool = True,
                 init_values: float | None = None, act_layer: str = "gelu",
                 mlp_layer: str = "mlp", norm_layer: str = "layernorm") -> None:
        super().__init__()

        def branch(name: str, module: nn.Module) -> nn.Sequential:
            norm, scale = make_norm(norm_layer, dim, norm_eps), layer_scale(dim, init_values)
            return nn.Sequential(OrderedDict([("norm", norm), (name, module), ("ls", scale)]))

        self.attns = nn.ModuleList([
            branch("attn", Attention(dim, num_heads, head_dim=head_dim, qkv_bias=qkv_bias,
                                     attn_drop=attn_drop, proj_drop=drop, fused_attn=fused_attn))
            for _ in range(2)
        ])
        hidden = int(dim * mlp_ratio)
        self.ffns = nn.ModuleList([
            branch("mlp", make_mlp(mlp_layer, dim, hidden, act_layer, drop)) for _ in range(2)
        ])

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        outs, maps = [], []
        for branch in self.attns:
            h = branch.norm(x)                                          # (N, T, D)
            h, weights = (branch.attn(h, return_attention=True) if return_attention
                          else (branch.attn(h), None))
            outs.append(branch.ls(h))
            maps.append(weights)
        x = record(Stage.PROJ_RESIDUAL, x + torch.stack(outs).sum(dim=0))          # (N, T, D)
        ffn = torch.stack([branch(x) for branch in self.ffns]).sum(dim=0)
        x = record(Stage.FFN_RESIDUAL, x + ffn)                                     # (N, T, D)
        return (x, torch.cat(maps, dim=1)) if return_attention else x


class ParallelScalingBlock(nn.Module):
    """ViT-22B's block: one norm and one Linear feed attention and MLP, added in one step.

    `in_proj` makes the MLP's input and q, k, v at once (timm's ParallelScalingBlock); without
    `qkv_bias` the MLP keeps a bias of its own, `mlp_bias`. `qk_norm` normalises each head's
    queries and keys.
    """

    def __init__(self, dim: int, num_heads: int, *, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, qk_norm: bool = False, drop: float = 0.0,
                 attn_drop: float = 0.0, norm_eps: float = NORM_EPS, fused_attn: bool = True,
                 init_values: float | None = None, act_layer: str = "gelu",
                 norm_layer: str = "layernorm") -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, dim // num_heads
        self.fused_attn = fused_attn
        hidden = int(dim * mlp_ratio)
        self.in_split = [hidden, dim, dim, dim]                   # MLP input, q, k, v
        self.in_norm = make_norm(norm_layer, dim, norm_eps)
        self.in_proj = nn.Linear(dim, hidden + 3 * dim, bias=qkv_bias)
        self.mlp_bias = None if qkv_bias else nn.Parameter(torch.zeros(hidden))
        self.q_norm = make_norm(norm_layer, self.head_dim, norm_eps) if qk_norm else nn.Identity()
        self.k_norm = make_norm(norm_layer, self.head_dim, norm_eps) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.mlp_drop = nn.Dropout(drop)
        self.mlp_act = activation_layer(act_layer)()
        self.attn_out_proj = nn.Linear(dim, dim)
        self.mlp_out_proj = nn.Linear(hidden, dim)
        self.ls = layer_scale(dim, init_values)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        n, t, _ = x.shape
        h, d_h = self.num_heads, self.head_dim
        y = self.in_proj(self.in_norm(x))                           # (N, T, D_ff + 3D)
        x_mlp, q, k, v = torch.split(y, self.in_split, dim=-1)
        if self.mlp_bias is not None:
            x_mlp = x_mlp + self.mlp_bias                           # (N, T, D_ff)
        q = self.q_norm(q.reshape(n, t, h, d_h)).transpose(1, 2)    # (N, h, T, d_h)
        k = self.k_norm(k.reshape(n, t, h, d_h)).transpose(1, 2)
        v = v.reshape(n, t, h, d_h).transpose(1, 2)
        if self.fused_attn and not return_attention:
            weights = None
            out = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        else:
            out, weights = explicit_attention(q, k, v, self.attn_drop)    # (N, h, T, d_h)
        y = (self.attn_out_proj(merge_heads(out))
             + self.mlp_out_proj(self.mlp_drop(self.mlp_act(x_mlp))))   # (N, T, D)
        x = record(Stage.FFN_RESIDUAL, x + self.ls(y))              # (N, T, D)
        return (x, weights) if return_attention else x


def _attentions(model: nn.Module) -> list[nn.Module]:
    """The modules of `model` that hold a `fused_attn` switch: attentions, pools, fused blocks."""
    return [module for module in model.modules()
            if isinstance(module, (Attention, AttentionPool, ParallelScalingBlock))]


def family_block(cfg: "FamilyConfig") -> nn.Module:
    """One block of the kind `cfg.block_fn` names, with `cfg`'s settings."""
    common = dict(mlp_ratio=cfg.mlp_ratio, qkv_bias=cfg.qkv_bias, drop=cfg.drop_rate,
                  attn_drop=cfg.attn_drop_rate, norm_eps=cfg.norm_eps, fused_attn=cfg.fused_attn,
                  init_values=cfg.init_values, act_layer=cfg.act_layer,
                  norm_layer=cfg.norm_layer)
    if cfg.block_fn == "parallel_scaling":
        return ParallelScalingBlock(cfg.embed_dim, cfg.num_heads, qk_norm=cfg.qk_norm, **common)
    kind = {"block": FamilyBlock, "res_post": ResPostBlock, "parallel": ParallelBlock}
    return kind[cfg.block_fn](cfg.embed_dim, cfg.num_heads, head_dim=cfg.head_dim,
                              mlp_layer=cfg.mlp_layer, **common)


# --- chapters/15_family.md, cell 21 ---
class FamilyViT(VisionTransformer):
    """A `VisionTransformer` with the options of `FamilyConfig`; timm's names throughout.

    With the default options it is chapter 10's model: the same modules, and from one seed the
    same weights.
    """

    def __init__(self, config: FamilyConfig | None = None, **overrides) -> None:
        if config is None:
            config = FamilyConfig(**overrides)
        elif overrides or not isinstance(config, FamilyConfig):
            config = FamilyConfig(**{**config.__dict__, **overrides})
        nn.Module.__init__(self)           # not chapter 10's __init__: the parts are built here
        self.config = cfg = config
        dim = cfg.embed_dim
        self.patch_embed = self.make_patch_embed(cfg)
        self.num_prefix_tokens = cfg.num_prefix_tokens
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cfg.class_token else None
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
        self.norm_pre = (make_norm(cfg.norm_layer, dim, cfg.norm_eps) if cfg.pre_norm
                         else nn.Identity())
        self.blocks = nn.Sequential(*[family_block(cfg) for _ in range(cfg.depth)])
        after_pool = cfg.global_pool == "avg" if cfg.fc_norm is None else cfg.fc_norm

        def final_norm() -> nn.Module:
            return make_norm(cfg.norm_layer, dim, cfg.norm_eps) if cfg.final_norm else nn.Identity()

        self.norm = nn.Identity() if after_pool else final_norm()
        self.fc_norm = final_norm() if after_pool else nn.Identity()
        self.attn_pool = (AttentionPool(dim, cfg.num_heads, cfg.mlp_ratio, norm_eps=cfg.norm_eps,
                                        act_layer=cfg.act_layer, norm_layer=cfg.norm_layer,
                                        fused_attn=cfg.fused_attn)
                          if cfg.global_pool == "map" else None)
        self.head = nn.Linear(dim, cfg.num_classes) if cfg.num_classes > 0 else nn.Identity()
        if cfg.distilled:
            self.head_dist = (nn.Linear(dim, cfg.num_classes) if cfg.num_classes > 0
                              else nn.Identity())
        self.reset_parameters()

    def make_patch_embed(self, cfg: FamilyConfig) -> nn.Module:
        """Chapter 1's patch embedding; without a bias before a pre-norm, as timm (CLIP) has it.
        Chapter 18's stems replace this part."""
        return PatchEmbed(cfg.img_size, cfg.patch_size, cfg.in_chans, cfg.embed_dim,
                          bias=not cfg.pre_norm)

    @property
    def fused_attn(self) -> bool:
        """Whether every attention uses `F.scaled_dot_product_attention`; settable."""
        return all(module.fused_attn for module in _attentions(self))

    @fused_attn.setter
    def fused_attn(self, value: bool) -> None:
        for module in _attentions(self):
            module.fused_attn = value

    def reset_parameters(self) -> None:
        """Chapter 10's initialisation, and the new tokens and query near zero (timm's scales)."""
        super().reset_parameters()
        for token in (self.dist_token, self.reg_token):
            if token is not None:
                nn.init.normal_(token, std=1e-6)
        if self.attn_pool is not None:
            nn.init.trunc_normal_(self.attn_pool.latent, std=self.config.embed_dim ** -0.5)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> prefix tokens and patches, with positions (N, T, D)."""
        record(Stage.INPUT, x)
        if self.config.dynamic_img_size:
            x, pos_embed = self.embed_any_size(x)
        else:
            x, pos_embed = self.patch_embed(x), self.pos_embed
        record(Stage.PATCH_EMBED, x)                                   # (N, T-prefix, D)
        prefix = [token.expand(x.shape[0], -1, -1)
                  for token in (self.cls_token, self.dist_token, self.reg_token)
                  if token is not None]                                # each (N, k, D)
        if self.config.no_embed_class:                     # positions first, on patches only
            x = add_pos_embed(x, pos_embed)                            # (N, T-prefix, D)
            if prefix:
                x = record(Stage.CLASS_TOKEN, torch.cat(prefix + [x], dim=1))   # (N, T, D)
        else:
            if prefix:
                x = record(Stage.CLASS_TOKEN, torch.cat(prefix + [x], dim=1))   # (N, T, D)
            x = add_pos_embed(x, pos_embed)                            # (N, T, D)
        return self.norm_pre(x)                                        # (N, T, D)

    def embed_any_size(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Patch tokens of images of any size the patches tile, and the position table
        resampled to their grid (`dynamic_img_size`; `resample_pos_embed` is below)."""
        pe = self.patch_embed
        size = tuple(x.shape[-2:]) if isinstance(x, torch.Tensor) and x.ndim == 4 else pe.img_size
        check_images(x, pe.in_chans, size, pe.patch_size)
        grid = (size[0] // pe.patch_size[0], size[1] // pe.patch_size[1])
        pos_embed = self.pos_embed
        if grid != pe.grid_size:
            in_table = 0 if self.config.no_embed_class else self.num_prefix_tokens
            pos_embed = resample_pos_embed(pos_embed, grid, pe.grid_size, in_table)
        return pe.proj(x).flatten(2).transpose(1, 2), pos_embed     # (N, gh*gw, D), (1, T', D)

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


# --- chapters/15_family.md, cell 64 ---
from types import SimpleNamespace  # noqa: E402

from vit_lib.timm_compat import (  # noqa: E402  (the converter of chapter 11)
    CONVERTERS,
    Converter,
    Finding,
    UnsupportedOptionError,
    _import_timm,
    _is_identity,
    load_exact,
    refuse,
    timm_config_fields,
    timm_kwargs,
    unsupported_timm_options,
)

# What chapter 11's checker reports that the family builds (checked again, in detail, below):
# {option: the values of it that the family builds}, None for any value.
FAMILY_OPTIONS = {
    "reg_tokens": None, "init_values": None, "no_embed_class": None, "pre_norm": None,
    "patch_bias": None, "fc_norm": None, "final_norm": None, "global_pool": {"map"},
    "attn_pool": None, "act_layer": None, "distilled": None, "dynamic_img_size": None,
    "strict_img_size": None, "flatten": None, "mlp_layer": {"GluMlp"}, "norm_layer": {"RmsNorm"},
    "block_fn": {"ResPostBlock", "ParallelThingsBlock", "ParallelScalingBlock"},
}
# timm's block classes, by our block_fn names
TIMM_BLOCKS = {"block": "Block", "res_post": "ResPostBlock", "parallel": "ParallelThingsBlock",
               "parallel_scaling": "ParallelScalingBlock"}


def _activation_name(act: nn.Module) -> str | None:
    """'gelu', 'gelu_tanh', 'quick_gelu' or 'silu' for a timm or PyTorch activation, else None."""
    kind = type(act).__name__
    if isinstance(act, nn.GELU):
        return {"none": "gelu", "tanh": "gelu_tanh"}.get(act.approximate)
    return {"GELU": "gelu", "GELUTanh": "gelu_tanh", "QuickGELU": "quick_gelu",
            "SiLU": "silu"}.get(kind)


def _block_parts(block: nn.Module) -> SimpleNamespace:
    """A timm block's attention, MLP, first norm, layer scale and activation, in `Block`'s names.

    For ViT-22B's block, whose attention and MLP share `in_proj`, a stand-in with the same
    names: what chapter 11's `timm_config_fields` reads.
    """
    kind = type(block).__name__
    if kind == "ParallelThingsBlock":
        attn, ffn = block.attns[0], block.ffns[0]
        return SimpleNamespace(attn=attn.attn, mlp=ffn.mlp, norm1=attn.norm, ls1=attn.ls)
    if kind == "ParallelScalingBlock":
        attn = SimpleNamespace(num_heads=block.num_heads, head_dim=block.head_dim,
                               qkv=block.in_proj, proj_drop=block.mlp_drop,
                               attn_drop=block.attn_drop, fused_attn=block.fused_attn)
        mlp = SimpleNamespace(fc1=SimpleNamespace(out_features=block.in_split[0]),
                              act=block.mlp_act)
        return SimpleNamespace(attn=attn, mlp=mlp, norm1=block.in_norm, ls1=block.ls)
    return SimpleNamespace(attn=block.attn, mlp=block.mlp, norm1=block.norm1,
                           ls1=getattr(block, "ls1", None))


def _read_family_config(model: nn.Module, config_type: type | None = None) -> FamilyConfig:
    """The `FamilyConfig` (or its subclass `config_type`) a timm ViT's modules describe, read
    without checking them."""
    _, layers = _import_timm()
    block = model.blocks[0]
    kind = type(block).__name__
    parts = _block_parts(block)
    norm_before, norm_after = not _is_identity(model.norm), not _is_identity(model.fc_norm)
    if kind == "ResPostBlock":
        init_values = block.init_values                    # the norms' starting weight
    else:
        init_values = None if _is_identity(parts.ls1) else parts.ls1.init_values
    return (config_type or FamilyConfig)(
        **timm_config_fields(model, parts),
        reg_tokens=0 if model.reg_token is None else model.reg_token.shape[1],
        init_values=init_values,
        no_embed_class=bool(model.no_embed_class),
        pre_norm=not _is_identity(model.norm_pre),
        final_norm=norm_before or norm_after,
        # None where timm's default rule gives the same placement: after pooling for 'avg' only
        fc_norm=None if not (norm_before or norm_after)
        or norm_after == (model.global_pool == "avg") else norm_after,
        act_layer=_activation_name(parts.mlp.act),
        distilled=getattr(model, "dist_token", None) is not None,
        block_fn={timm: ours for ours, timm in TIMM_BLOCKS.items()}[kind],
        mlp_layer="glu" if type(parts.mlp) is layers.GluMlp else "mlp",
        norm_layer="rmsnorm" if type(parts.norm1) is layers.RmsNorm else "layernorm",
        qk_norm=kind == "ParallelScalingBlock" and not _is_identity(block.q_norm),
        dynamic_img_size=bool(model.dynamic_img_size),
    )


def _settings(module: nn.Module) -> dict:
    """A module's plain settings (eps, p, num_heads, approximate, ...) and parameter shapes."""
    found = {key: value for key, value in vars(module).items()
             if not key.startswith("_") and key not in ("training", "fused_attn")
             and isinstance(value, (bool, int, float, str, tuple, list, type(None)))}
    for key, value in module._parameters.items():
        found[key] = None if value is None else tuple(value.shape)
    return found


def _kind(module: nn.Module | None) -> str:
    """A module's class name; timm's LayerNorm and PyTorch's count as one (they compute alike)."""
    return "LayerNorm" if isinstance(module, nn.LayerNorm) else type(module).__name__


def rebuild_differences(model: nn.Module, config: FamilyConfig) -> list[str]:
    """Where a timm `model` differs from the one timm builds from `config`: its module types,
    settings and parameter shapes, one line each (empty: the config describes the model)."""
    vt, _ = _import_timm()
    from timm.models.deit import VisionTransformerDistilled

    kind = VisionTransformerDistilled if config.distilled else vt.VisionTransformer
    with torch.device("meta"):                             # no memory, no initialisation cost
        return module_differences(model, kind(**family_timm_kwargs(config)))


def module_differences(model: nn.Module, twin: nn.Module) -> list[str]:
    """Where `model` differs from `twin`, module by module: types, settings, parameter shapes."""
    rebuilt = dict(twin.named_modules())
    found = []
    for name, module in model.named_modules():
        other = rebuilt.pop(name, None)
        where = name or "the model"
        if _kind(other) != _kind(module):
            found.append(f"{where}: {type(module).__name__}, where the config builds "
                         f"{type(other).__name__}")
            continue
        theirs, ours = _settings(module), _settings(other)
        keys = sorted(theirs.keys() | ours.keys(), key=lambda key: (key in module._parameters, key))
        found += [f"{where}.{key} = {theirs.get(key)!r}, where the config builds "
                  f"{ours.get(key)!r}" for key in keys if theirs.get(key) != ours.get(key)]
    return found + [f"{name}: absent, where the config builds one" for name in rebuilt]


def _family_builds(finding: Finding) -> bool:
    """Whether the family builds what chapter 11's `finding` names (judged by option and value)."""
    if finding.option not in FAMILY_OPTIONS:
        return False
    values = FAMILY_OPTIONS[finding.option]
    return values is None or finding.value in values


def unsupported_family_options(model: nn.Module) -> list[Finding]:
    """What a `FamilyConfig` cannot express in a timm ViT, one `Finding` per option; empty: it
    converts."""
    vt, layers = _import_timm()
    found = [finding for finding in unsupported_timm_options(model)
             if not _family_builds(finding)]
    if not isinstance(model, vt.VisionTransformer) or not len(model.blocks):
        return found
    problems = {finding.option: finding for finding in found}

    def check(ok: bool, option: str, value: object, where: str, note: str = "") -> None:
        if not ok:
            problems.setdefault(option, Finding(option, value, where, note))

    distilled = getattr(model, "dist_token", None) is not None
    registers = 0 if model.reg_token is None else model.reg_token.shape[1]
    check(model.num_prefix_tokens == int(model.cls_token is not None) + int(distilled) + registers,
          "num_prefix_tokens", model.num_prefix_tokens, "the model",
          "prefix tokens other than class, distillation and register tokens")
    if distilled:
        check(type(model).__name__ == "VisionTransformerDistilled" and model.global_pool == "token"
              and not registers and not getattr(model, "distilled_training", False),
              "distilled", type(model).__name__, "dist_token",
              "a distillation token other than DeiT's")
    pre_norm = not _is_identity(model.norm_pre)
    conv = getattr(model.patch_embed, "proj", None)     # chapter 11 judges other embeddings
    if isinstance(conv, nn.Conv2d):
        check((conv.bias is None) == pre_norm, "patch_bias", conv.bias is not None,
              "patch_embed.proj", "a patch bias that is not `not pre_norm`; timm ties the two")
        pe = model.patch_embed
        check((pe.strict_img_size and pe.flatten) or model.dynamic_img_size, "strict_img_size",
              pe.strict_img_size, "patch_embed", "without dynamic_img_size")
    kinds = sorted({type(block).__name__ for block in model.blocks})
    check(len(kinds) == 1, "block_fn", kinds, "blocks", "blocks of different kinds")
    names, unknown = set(), set()                        # activations, by name and by class
    for i, block in enumerate(model.blocks):
        if type(block).__name__ not in TIMM_BLOCKS.values():
            continue                                     # chapter 11 has named it
        act = _block_parts(block).mlp.act
        names.add(_activation_name(act))
        if _activation_name(act) is None:
            unknown.add(type(act).__name__)
        for name, module in block.named_modules(prefix=f"blocks.{i}"):
            leaf = name.rsplit(".", 1)[-1]
            if leaf in ("ls", "ls1", "ls2"):
                check(_is_identity(module) or (type(module) is layers.LayerScale
                                               and not module.inplace),
                      "layer_scale", type(module).__name__, name,
                      "a layer scale other than timm's LayerScale")
            elif leaf == "mlp":
                check(type(module) in (layers.Mlp, layers.GluMlp), "mlp_layer",
                      type(module).__name__, name)
                check(type(module) is not layers.GluMlp or not module.gate_last, "gate_last",
                      True, name, "a GluMlp with the gate in the second half")
            elif leaf == "attn":
                check(type(module) is layers.Attention, "attn_layer", type(module).__name__,
                      name)
                check(_is_identity(getattr(module, "q_norm", None)), "qk_norm", True, name)
    check(not unknown, "act_layer", sorted(unknown), "blocks",
          "an activation other than GELU, GELU-tanh, QuickGELU or SiLU")
    check(len(kinds) > 1 or len(names) <= 1, "act_layer", sorted(map(str, names)), "blocks",
          "blocks that differ in activation")
    check(_is_identity(model.norm) or _is_identity(model.fc_norm), "fc_norm", "and norm", "norm",
          "both norm and fc_norm")
    norms = set()
    # inside a module already refused (another patch embedding, block or attention) norms
    # are that module's business
    refused = ("patch_embed.",) + tuple(
        f"{name}." for name, module in model.named_modules()
        if (name.startswith("blocks.") and name.count(".") == 1
            and type(module).__name__ not in TIMM_BLOCKS.values())
        or (name.endswith(".attn") and type(module) is not layers.Attention))
    for name, module in model.named_modules():
        inside = name.startswith(refused) and name != "patch_embed.norm"
        if "norm" in name.rsplit(".", 1)[-1] and not _is_identity(module) and not inside:
            layer_norm = type(module) in (nn.LayerNorm, layers.LayerNorm)
            check((layer_norm and module.bias is not None)
                  or (type(module) is layers.RmsNorm and module.weight is not None),
                  "norm_layer", type(module).__name__, name,
                  "a norm other than LayerNorm or RmsNorm with weights")
            norms.add(type(module).__name__ if not layer_norm else "LayerNorm")
    check(len(norms) <= 1, "norm_layer", sorted(norms), "norm", "norms of different kinds")
    pool = getattr(model, "attn_pool", None)
    if model.global_pool == "map":
        block, dim = model.blocks[0], model.embed_dim
        parts = _block_parts(block)
        check(type(pool) is layers.AttentionPoolLatent and pool.latent_len == 1
              and pool.pos_embed is None and isinstance(pool.q, nn.Linear)
              and _is_identity(pool.q_norm) and pool.pool == "token" and pool.mlp is not None
              and pool.num_heads == parts.attn.num_heads and pool.head_dim * pool.num_heads == dim
              and pool.mlp.fc1.out_features == parts.mlp.fc1.out_features
              and _activation_name(pool.mlp.act) in names
              and not getattr(model, "pool_include_prefix", False),
              "attn_pool", type(pool).__name__, "attn_pool",
              "an attention pool other than AttentionPoolLatent with timm's defaults")
    if not problems:                                     # the last word: timm rebuilds it
        return rebuild_findings(
            lambda: rebuild_differences(model, _read_family_config(model)), "the family")
    return list(problems.values())


def rebuild_findings(differences: Callable[[], list[str]], what: str) -> list[Finding]:
    """timm's last word on a conversion: `differences()` lists where the model timm builds from
    the configuration read off a model differs from it; a 'rebuild' `Finding` names the first."""
    try:
        found = differences()
    except (UnsupportedOptionError, ValueError) as err:  # the configuration itself is refused
        found = [str(err)]
    return [Finding("rebuild", found[0], "the model",
                    f"a setting {what} does not rebuild")] if found else []


def family_config_from_timm(model: nn.Module) -> FamilyConfig:
    """The `FamilyConfig` of a timm ViT; raises `UnsupportedOptionError` naming what is missing."""
    refuse(unsupported_family_options(model), "vit_lib (chapters 10 and 15)")
    return _read_family_config(model)


def _copy_switches(source: nn.Module, target: nn.Module) -> None:
    """Set every `fused_attn` switch of `target` like the module of the same name in `source`."""
    modules = dict(source.named_modules())
    for name, module in target.named_modules():
        twin = modules.get(name)
        if name and hasattr(module, "fused_attn") and hasattr(twin, "fused_attn"):
            module.fused_attn = bool(twin.fused_attn)


def copy_of(model: nn.Module, build: Callable[[], nn.Module], source: str) -> nn.Module:
    """`build()` (the other library's twin of `model`) made on `model`'s device, in its dtype,
    mode and attention switches, with `model`'s weights copied in exactly."""
    like = next(model.parameters())
    with torch.device(like.device):            # a meta model's copy is built on meta, no CPU
        twin = build()
    twin = twin.to(dtype=like.dtype)
    _copy_switches(model, twin)
    load_exact(twin, model.state_dict(), source)
    return twin.train(model.training)


def family_from_timm(model: nn.Module) -> FamilyViT:
    """Our `FamilyViT` computing what the timm `model` computes, its weights copied exactly."""
    config = family_config_from_timm(model)
    return copy_of(model, lambda: FamilyViT(config), "timm")


def family_timm_kwargs(config: FamilyConfig) -> dict:
    """Keyword arguments of timm's `VisionTransformer` (or DeiT's distilled one) for `config`."""
    vt, layers = _import_timm()
    kwargs = timm_kwargs(config)
    kwargs.update(
        reg_tokens=config.reg_tokens, init_values=config.init_values,
        no_embed_class=config.no_embed_class, pre_norm=config.pre_norm,
        final_norm=config.final_norm, fc_norm=config.fc_norm, qk_norm=config.qk_norm,
        block_fn=getattr(vt, TIMM_BLOCKS[config.block_fn]),
        dynamic_img_size=config.dynamic_img_size,
    )
    if config.act_layer != "gelu":
        kwargs["act_layer"] = config.act_layer
    if config.mlp_layer == "glu":                        # act(first half) * second half
        kwargs["mlp_layer"] = functools.partial(layers.GluMlp, gate_last=False)
    if config.norm_layer == "rmsnorm":
        kwargs["norm_layer"] = functools.partial(layers.RmsNorm, eps=config.norm_eps)
    return kwargs


def family_to_timm(model: FamilyViT) -> nn.Module:
    """A timm model computing what our `FamilyViT` computes, its weights copied exactly."""
    vt, _ = _import_timm()
    from timm.models.deit import VisionTransformerDistilled

    kind = VisionTransformerDistilled if model.config.distilled else vt.VisionTransformer
    return copy_of(model, lambda: kind(**family_timm_kwargs(model.config)), "vit_lib")


def _is_timm_vit(model: nn.Module) -> bool:
    return isinstance(model, _import_timm()[0].VisionTransformer)


# chapter 11's from_timm and to_timm hand the models a ViTConfig cannot express to these
CONVERTERS.append(Converter(accepts=_is_timm_vit, config_type=FamilyConfig,
                            from_timm=family_from_timm, to_timm=family_to_timm,
                            unsupported=unsupported_family_options))


# --- chapters/15_family.md, cell 70 ---
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
