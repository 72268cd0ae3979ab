# Generated from chapters/18_eva.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/18_eva.md, cell 4 ---
"""Today's ViTs: timm's `Eva` class (DINOv3, Perception Encoder, RoPE-ViT, Sapiens2, LingBot).

`EvaConfig` names their options in timm's vocabulary; `EvaViT` assembles them from the parts of
chapters 1-17: chapter 1's patch embedding, chapter 15's norms, MLPs and attention pooling,
chapter 17's rotary positions, and three pieces of its own: `EvaAttention` (q, k, v fused, with
EVA's bias pattern, or separate; a norm on queries and keys; fewer key/value heads than query
heads), `SwiGLU` (the gated MLP with its two halves in separate matrices) and `EvaBlock` (layer
scale as two learned vectors, gamma_1 and gamma_2).

Shapes: N batch, T tokens (p prefix tokens, then L = gh * gw patches), D width, h query heads,
h_kv key/value heads, d_h head width, D_ff the MLP's hidden width, K classes.
"""

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from vit_lib.attention import merge_heads
from vit_lib.family import (
    AttentionPool,
    FamilyConfig,
    FamilyViT,
    GluMlp,
    make_mlp,
    make_norm,
    resample_pos_embed,
)
from vit_lib.mlp import Mlp
from vit_lib.model import VisionTransformer, ViTConfig
from vit_lib.norm import NORM_EPS
from vit_lib.patch_embed import PatchEmbed, check_images, to_2tuple
from vit_lib.pool import pool_tokens
from vit_lib.rope import ROPE_KINDS, Rope2d, apply_rope
from vit_lib.sdpa import explicit_attention
from vit_lib.stages import Stage, record, scope
from vit_lib.tokens import add_pos_embed

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["EvaConfig", "EvaViT", "EvaAttention", "EvaBlock", "SwiGLU", "repeat_kv",
           "StemConfig", "StemViT", "CnnPatchEmbed", "UntiledPatchEmbed"]

# one qkv with its bias; EVA's q/v bias; q_proj, k_proj, v_proj; the same, keys without a bias
QKV_LAYOUTS = ("fused", "eva", "separate", "eva_separate")
EVA_MLPS = ("mlp", "glu", "swiglu")          # chapter 7's; packed SwiGLU; SwiGLU in two matrices


# --- chapters/18_eva.md, cell 6 ---
def check_eva_options(config: "EvaConfig") -> None:
    """Raise ValueError for a combination of `EvaConfig`'s options that cannot be built."""
    known = (("qkv_layout", QKV_LAYOUTS), ("mlp_layer", EVA_MLPS), ("rope", ROPE_KINDS),
             ("norm_layer", ("layernorm", "rmsnorm")), ("pos_embed", ("learned", "none")))
    for field, values in known:
        if getattr(config, field) not in values:
            raise ValueError(f"unknown {field} {getattr(config, field)!r}; expected one of "
                             f"{values}")
    if not isinstance(config.reg_tokens, int) or config.reg_tokens < 0:
        raise ValueError(f"reg_tokens must be an integer >= 0, got {config.reg_tokens!r}")
    if config.init_values is not None and not config.init_values > 0:
        raise ValueError(f"init_values (layer scale) must be > 0 or None, "
                         f"got {config.init_values}")
    d_h = config.head_dim or config.embed_dim // config.num_heads
    if d_h % 4:
        raise ValueError(f"2-D RoPE gives a quarter of each head's d_h features to each "
                         f"half of an axis: d_h must be divisible by 4, got {d_h}")
    kv_heads = config.kv_heads()
    if len(kv_heads) != config.depth:
        raise ValueError(f"num_kv_heads gives {len(kv_heads)} values for depth {config.depth}; "
                         "give one per block, or one number for all")
    if config.scale_mlp and config.mlp_layer == "glu":
        raise ValueError("scale_mlp=True normalises SwiGLU's hidden features, which timm builds "
                         "in two matrices: use mlp_layer='swiglu', not 'glu'")
    for i, h_kv in enumerate(kv_heads):
        if h_kv < 1 or config.num_heads % h_kv:
            raise ValueError(f"block {i}: num_kv_heads {h_kv} does not divide num_heads "
                             f"{config.num_heads}")
        if h_kv != config.num_heads and config.qkv_layout != "separate":
            raise ValueError(f"block {i}: {h_kv} key/value heads for {config.num_heads} query "
                             "heads need qkv_layout='separate' (k_proj and v_proj of their own "
                             f"width), got {config.qkv_layout!r}")
    if config.patch_drop_rate:
        raise ValueError("patch_drop_rate > 0 is not built for EvaViT: dropped patches would "
                         "need their rows of the angle table dropped too")
    if config.dynamic_img_size and config.rope != "dinov3":
        raise ValueError(f"dynamic_img_size=True is built for rope='dinov3' (all of timm's "
                         f"dynamic EVA models), got rope={config.rope!r}: timm rounds that "
                         "scheme's per-call table in a way EvaViT does not reproduce")
    if config.global_pool == "map" and config.num_heads * d_h != config.embed_dim:
        raise ValueError(f"global_pool='map' splits D = {config.embed_dim} into "
                         f"{config.attn_pool_num_heads or config.num_heads} heads; "
                         f"h * d_h = {config.num_heads * d_h} does not fit")


@dataclass
class EvaConfig(ViTConfig):
    """A `ViTConfig` with the options of timm's `Eva` models; the defaults are a RoPE ViT-B/16.

    Positions are rotary (`rope`), with or without a learned table (`pos_embed` 'learned' or
    'none'). timm's keyword, where it differs, is in the comment.
    """

    pos_embed: str = "none"             # 'learned' too: RoPE-ViT 'ape', Perception Encoder
    reg_tokens: int = 0                 # register tokens after the class token (num_reg_tokens)
    init_values: float | None = None    # layer scale: gamma_1, gamma_2 start at this value
    attn_only_layer_scale: bool = False # gamma_1 only (Sapiens2)
    no_embed_class: bool = False        # the position table covers the patches only
    pre_norm: bool = False              # a norm before the blocks (use_pre_transformer_norm)
    final_norm: bool | None = None      # the norm after the blocks (use_post_transformer_norm)
    fc_norm: bool | None = None         # the norm after pooling (use_fc_norm)
    mlp_layer: str = "mlp"              # GELU MLP; 'glu': packed SwiGLU; 'swiglu': fc1_g, fc1_x
    swiglu_align_to: int = 0            # 'swiglu': round D_ff up to a multiple of this
    norm_layer: str = "layernorm"       # or 'rmsnorm', for every norm of the model
    qkv_layout: str = "fused"           # 'fused': qkv; 'eva': qkv, q_bias, v_bias; 'separate'
    qk_norm: bool = False               # a norm on each head's queries and keys
    scale_attn_inner: bool = False      # a norm on the merged heads, before proj (EVA-02 CLIP)
    scale_mlp: bool = False             # a norm on the MLP's hidden features (EVA-02)
    num_kv_heads: int | tuple[int, ...] | None = None   # key/value heads, per block or for all
    rope: str = "axial"                 # rope_type: 'axial' ('cat'), 'dinov3', 'mixed'
    rope_temperature: float | None = None   # None: 10,000 (axial), 100 (DINOv3), 10 (mixed)
    rope_rotate_half: bool = False      # pairs (x_i, x_{i + d_h/2}) instead of neighbours
    rope_offset: float = 0.0            # added to the patch coordinates (rope_grid_offset)
    rope_ref_grid: tuple[int, int] | None = None   # rescale coordinates (ref_feat_shape)
    rope_indexing: str = "ij"           # 'xy': the column first (rope_grid_indexing)
    rope_shift_coords: float | None = None     # training only: DINOv3's coordinate
    rope_jitter_coords: float | None = None    # augmentation (chapter 17's augment_coords)
    rope_rescale_coords: float | None = None
    dynamic_img_size: bool = False      # any image size the patches tile: new angles, no resize
    attn_pool_num_heads: int | None = None   # global_pool='map': heads of the pool (None: h)
    attn_pool_mlp_ratio: float | None = None # and its MLP's ratio (None: mlp_ratio)

    def __post_init__(self) -> None:
        pos_embed, pool = self.pos_embed, self.global_pool
        # chapter 10 checks the rest with settings it knows, then they are put back
        self.pos_embed = "learned" if pos_embed == "none" else pos_embed
        self.global_pool = "avg" if pool == "map" else pool
        try:
            super().__post_init__()
        finally:
            self.pos_embed, self.global_pool = pos_embed, pool
        if self.rope_ref_grid is not None:
            self.rope_ref_grid = to_2tuple(self.rope_ref_grid)
        if isinstance(self.num_kv_heads, list):
            self.num_kv_heads = tuple(self.num_kv_heads)
        check_eva_options(self)

    @property
    def num_prefix_tokens(self) -> int:
        """Tokens in front of the patches: the class token, then the registers."""
        return int(self.class_token) + self.reg_tokens

    def kv_heads(self) -> tuple[int, ...]:
        """Each block's number of key/value heads h_kv."""
        if self.num_kv_heads is None or isinstance(self.num_kv_heads, int):
            return (self.num_kv_heads or self.num_heads,) * self.depth
        return tuple(self.num_kv_heads)

    def norms(self) -> tuple[bool, bool]:
        """timm's rule for the final norm: (after the blocks, after pooling)."""
        after_pool = self.global_pool == "avg" if self.fc_norm is None else self.fc_norm
        after_blocks = not after_pool if self.final_norm is None else self.final_norm
        return after_blocks, after_pool


# --- chapters/18_eva.md, cell 8 ---
def repeat_kv(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Keys or values of h_kv heads (N, h_kv, T, d_h) -> (N, h, T, d_h): query head i reads
    key/value head i // (h / h_kv), so neighbouring query heads share one (grouped-query)."""
    groups = num_heads // x.shape[1]
    return x if groups == 1 else x.repeat_interleave(groups, dim=1)


class EvaAttention(nn.Module):
    """Attention as timm's `Eva` models compute it: chapter 17's RoPE attention, and more ways
    to make q, k and v.

    `layout` 'fused': one `qkv` Linear, its bias or none (timm's `AttentionRope`, RoPE-ViT,
    Perception Encoder); 'eva': `qkv` without a bias, then `q_bias` and `v_bias`, keys with
    none (timm's `EvaAttention`, DINOv3); 'separate': `q_proj`, `k_proj`, `v_proj`, where keys
    and values may have fewer heads, `num_kv_heads` (Sapiens2). `qk_norm` normalises each head's
    queries and keys before they are turned.
    """

    def __init__(self, dim: int, num_heads: int, *, head_dim: int | None = None,
                 qkv_bias: bool = True, layout: str = "fused", qk_norm: bool = False,
                 num_kv_heads: int | None = None, norm_layer: str = "layernorm",
                 norm_eps: float = NORM_EPS, num_prefix_tokens: int = 1,
                 rotate_half: bool = False, attn_drop: float = 0.0, proj_drop: float = 0.0,
                 fused_attn: bool = True, scale_norm: bool = False) -> None:
        super().__init__()
        self.num_heads, self.head_dim = num_heads, head_dim or dim // num_heads
        self.num_kv_heads = num_kv_heads or num_heads
        self.num_prefix_tokens, self.rotate_half = num_prefix_tokens, rotate_half
        self.layout, self.fused_attn = layout, fused_attn
        inner, kv_inner = num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        if layout in ("separate", "eva_separate"):
            self.q_proj = nn.Linear(dim, inner, bias=qkv_bias)
            self.k_proj = nn.Linear(dim, kv_inner, bias=qkv_bias and layout == "separate")
            self.v_proj = nn.Linear(dim, kv_inner, bias=qkv_bias)
        else:
            self.qkv = nn.Linear(dim, 3 * inner, bias=qkv_bias and layout == "fused")
            if layout == "eva" and qkv_bias:
                self.q_bias = nn.Parameter(torch.zeros(inner))
                self.register_buffer("k_bias", torch.zeros(inner), persistent=False)
                self.v_bias = nn.Parameter(torch.zeros(inner))
        norm = (lambda: make_norm(norm_layer, self.head_dim, norm_eps)) if qk_norm else nn.Identity
        self.q_norm, self.k_norm = norm(), norm()
        self.attn_drop = nn.Dropout(attn_drop)
        self.norm = make_norm(norm_layer, inner, norm_eps) if scale_norm else nn.Identity()
        self.proj = nn.Linear(inner, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tokens (N, T, D) -> q (N, h, T, d_h), k and v (N, h_kv, T, d_h)."""
        n, t, _ = x.shape
        if self.layout in ("separate", "eva_separate"):
            q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)   # k, v: (N, T, h_kv*d_h)
        else:
            bias = self.qkv.bias
            if hasattr(self, "q_bias"):                  # EVA: no key bias, a zero in its place
                bias = torch.cat([self.q_bias, self.k_bias, self.v_bias])
            q, k, v = F.linear(x, self.qkv.weight, bias).chunk(3, dim=-1)   # (N, T, h*d_h) each
        record(Stage.QKV, q)
        q = q.reshape(n, t, self.num_heads, self.head_dim).transpose(1, 2)       # (N, h, T, d_h)
        k, v = (y.reshape(n, t, self.num_kv_heads, self.head_dim).transpose(1, 2)
                for y in (k, v))                                            # (N, h_kv, T, d_h)
        return record(Stage.SPLIT_HEADS, q), k, v

    def forward(self, x: torch.Tensor, angles: torch.Tensor | None = None,
                return_attention: bool = False):
        """(N, T, D) -> (N, T, D), with the patches' queries and keys turned by `angles`
        (L, d_h / 2) or (h, L, d_h / 2); with `return_attention`, also the (N, h, T, T) weights."""
        q, k, v = self.project(x)
        q, k = self.q_norm(q), self.k_norm(k)
        if angles is not None:
            p, half = self.num_prefix_tokens, self.rotate_half
            q, k = apply_rope(q, angles, p, half), apply_rope(k, angles, p, half)
        k, v = repeat_kv(k, self.num_heads), repeat_kv(v, self.num_heads)  # (N, h, T, d_h)
        if self.fused_attn and not return_attention:
            weights = None
            out = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)   # (N, h, T, d_h)
        else:
            out, weights = explicit_attention(q, k, v, self.attn_drop)
        record(Stage.WEIGHTED_VALUES, out)
        out = record(Stage.MERGE_HEADS, merge_heads(out))                       # (N, T, h*d_h)
        out = self.proj_drop(self.proj(self.norm(out)))                         # (N, T, D)
        return (out, weights) if return_attention else out


# --- chapters/18_eva.md, cell 16 ---
class SwiGLU(nn.Module):
    """SwiGLU with its two halves in two matrices: fc2(silu(fc1_g(x)) * fc1_x(x)) (timm's SwiGLU).

    The hidden width is rounded up to a multiple of `align_to` (DINOv3: 8; its 7B: 64).
    """

    def __init__(self, dim: int, hidden: int, align_to: int = 0, drop: float = 0.0,
                 norm: Callable[[int], nn.Module] | None = None) -> None:
        super().__init__()
        if align_to:
            hidden += -hidden % align_to                 # 2730 -> 2736 for align_to=8
        self.fc1_g = nn.Linear(dim, hidden)              # the gate
        self.fc1_x = nn.Linear(dim, hidden)              # the value
        self.act = nn.SiLU()
        self.drop1 = nn.Dropout(drop)
        self.norm = norm(hidden) if norm else nn.Identity()   # EVA-02's scale_mlp
        self.fc2 = nn.Linear(hidden, dim)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.drop1(self.act(self.fc1_g(x)) * self.fc1_x(x)))  # (N, T, D_ff)
        return self.drop2(self.fc2(x))                                       # (N, T, D)


# --- chapters/18_eva.md, cell 20 ---
def eva_mlp(cfg: "EvaConfig") -> nn.Module:
    """The MLP `cfg.mlp_layer` names, at D_ff = int(D * mlp_ratio): chapter 7's, SwiGLU packed
    (chapter 15's `GluMlp` with fc1 twice as wide: timm's layout), or in two matrices."""
    dim, hidden = cfg.embed_dim, int(cfg.embed_dim * cfg.mlp_ratio)
    if cfg.mlp_layer == "glu":
        return GluMlp(dim, 2 * hidden, "silu", cfg.drop_rate)
    norm = functools.partial(make_norm, cfg.norm_layer, eps=cfg.norm_eps) if cfg.scale_mlp else None
    if cfg.mlp_layer == "swiglu":
        return SwiGLU(dim, hidden, cfg.swiglu_align_to, cfg.drop_rate, norm)
    if norm:
        return NormMlp(dim, hidden, norm, drop=cfg.drop_rate)
    return make_mlp("mlp", dim, hidden, "gelu", cfg.drop_rate)


class NormMlp(Mlp):
    """Chapter 7's MLP with a norm on its hidden features, before fc2 (EVA-02's `scale_mlp`,
    after NormFormer)."""

    def __init__(self, dim: int, hidden: int, norm: Callable[[int], nn.Module], *,
                 drop: float = 0.0) -> None:
        super().__init__(dim, hidden, drop=drop)
        self.norm = norm(hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.drop1(self.act(self.fc1(x))))                    # (N, T, D_ff)
        return self.drop2(self.fc2(x))                                       # (N, T, D)


class EvaBlock(nn.Module):
    """Chapter 8's pre-norm block with EVA's parts: x + gamma_1 * attn(norm1(x), angles), then
    x + gamma_2 * mlp(norm2(x)); gamma_1 and gamma_2 are learned (D,) vectors or absent."""

    def __init__(self, cfg: "EvaConfig", num_kv_heads: int | None = None) -> None:
        super().__init__()
        dim = cfg.embed_dim
        self.norm1 = make_norm(cfg.norm_layer, dim, cfg.norm_eps)
        self.attn = EvaAttention(
            dim, cfg.num_heads, head_dim=cfg.head_dim, qkv_bias=cfg.qkv_bias,
            layout=cfg.qkv_layout, qk_norm=cfg.qk_norm, num_kv_heads=num_kv_heads,
            scale_norm=cfg.scale_attn_inner,
            norm_layer=cfg.norm_layer, norm_eps=cfg.norm_eps,
            num_prefix_tokens=cfg.num_prefix_tokens, rotate_half=cfg.rope_rotate_half,
            attn_drop=cfg.attn_drop_rate, proj_drop=cfg.drop_rate, fused_attn=cfg.fused_attn)
        scale = cfg.init_values
        self.gamma_1 = nn.Parameter(torch.full((dim,), float(scale))) if scale else None
        self.norm2 = make_norm(cfg.norm_layer, dim, cfg.norm_eps)
        self.mlp = eva_mlp(cfg)
        both = scale and not cfg.attn_only_layer_scale
        self.gamma_2 = nn.Parameter(torch.full((dim,), float(scale))) if both else None

    def forward(self, x: torch.Tensor, angles: torch.Tensor | None = None,
                return_attention: bool = False):
        """(N, T, D) -> (N, T, D); with `return_attention`, also the (N, h, T, T) weights."""
        h = record(Stage.NORM, self.norm1(x), "norm1")                       # (N, T, D)
        h, weights = self.attn(h, angles, return_attention=True) if return_attention else (
            self.attn(h, angles), None)
        x = record(Stage.PROJ_RESIDUAL, x + (h if self.gamma_1 is None else self.gamma_1 * h))
        h = self.mlp(record(Stage.NORM, self.norm2(x), "norm2"))             # (N, T, D)
        x = record(Stage.FFN_RESIDUAL, x + (h if self.gamma_2 is None else self.gamma_2 * h))
        return (x, weights) if return_attention else x


# --- chapters/18_eva.md, cell 24 ---
class EvaViT(VisionTransformer):
    """A ViT of timm's `Eva` class, assembled from the parts of chapters 1-18; timm's names.

    Chapter 10's methods (`forward`, `forward_head`, `fused_attn`, ...) carry over; the blocks
    take the angle table of chapter 17's `Rope2d`, made once per forward pass for the image's
    grid of patches.
    """

    def __init__(self, config: EvaConfig | None = None, **overrides) -> None:
        if config is None:
            config = EvaConfig(**overrides)
        elif overrides or not isinstance(config, EvaConfig):
            config = EvaConfig(**{**config.__dict__, **overrides})
        nn.Module.__init__(self)           # not chapter 10's __init__: the parts are built here
        self.config = cfg = config
        dim, d_h = cfg.embed_dim, cfg.head_dim or cfg.embed_dim // cfg.num_heads
        self.patch_embed = PatchEmbed(cfg.img_size, cfg.patch_size, cfg.in_chans, dim,
                                      bias=not cfg.pre_norm)
        self.num_prefix_tokens = cfg.num_prefix_tokens
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cfg.class_token else None
        self.reg_token = (nn.Parameter(torch.zeros(1, cfg.reg_tokens, dim))
                          if cfg.reg_tokens else None)
        rows = self.patch_embed.num_patches + (0 if cfg.no_embed_class else cfg.num_prefix_tokens)
        self.pos_embed = (nn.Parameter(torch.zeros(1, rows, dim))
                          if cfg.pos_embed == "learned" else None)
        self.rope = Rope2d(d_h, self.patch_embed.grid_size, cfg.rope,
                           temperature=cfg.rope_temperature, rotate_half=cfg.rope_rotate_half,
                           offset=cfg.rope_offset, ref_grid=cfg.rope_ref_grid,
                           indexing=cfg.rope_indexing, depth=cfg.depth, num_heads=cfg.num_heads,
                           shift=cfg.rope_shift_coords, jitter=cfg.rope_jitter_coords,
                           rescale=cfg.rope_rescale_coords)
        self.norm_pre = (make_norm(cfg.norm_layer, dim, cfg.norm_eps) if cfg.pre_norm
                         else nn.Identity())
        self.blocks = nn.Sequential(*[EvaBlock(cfg, h_kv) for h_kv in cfg.kv_heads()])
        after_blocks, after_pool = cfg.norms()
        self.norm = make_norm(cfg.norm_layer, dim, cfg.norm_eps) if after_blocks else nn.Identity()
        self.attn_pool = (AttentionPool(dim, cfg.attn_pool_num_heads or cfg.num_heads,
                                        cfg.attn_pool_mlp_ratio or cfg.mlp_ratio,
                                        norm_eps=cfg.norm_eps, norm_layer=cfg.norm_layer,
                                        fused_attn=cfg.fused_attn)
                          if cfg.global_pool == "map" else None)
        self.fc_norm = (make_norm(cfg.norm_layer, dim, cfg.norm_eps) if after_pool
                        else nn.Identity())
        self.head = nn.Linear(dim, cfg.num_classes) if cfg.num_classes > 0 else nn.Identity()
        self.reset_parameters()

    @property
    def fused_attn(self) -> bool:
        """Whether every attention uses `F.scaled_dot_product_attention`; settable."""
        return all(m.fused_attn for m in self.modules()
                   if isinstance(m, (EvaAttention, AttentionPool)))

    @fused_attn.setter
    def fused_attn(self, value: bool) -> None:
        for module in self.modules():
            if isinstance(module, (EvaAttention, AttentionPool)):
                module.fused_attn = value

    def reset_parameters(self) -> None:
        """Chapter 10's initialisation; registers near zero, the pool's query at timm's scale."""
        super().reset_parameters()
        if self.reg_token is not None:
            nn.init.normal_(self.reg_token, std=1e-6)
        if self.attn_pool is not None:
            nn.init.trunc_normal_(self.attn_pool.latent, std=self.config.embed_dim ** -0.5)

    def embed(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images (N, C, H, W) -> tokens (N, T, D) and the angle table of their patches."""
        cfg, pe = self.config, self.patch_embed
        record(Stage.INPUT, x)
        size = tuple(x.shape[-2:]) if cfg.dynamic_img_size and x.ndim == 4 else pe.img_size
        check_images(x, pe.in_chans, size, pe.patch_size)
        grid = (size[0] // pe.patch_size[0], size[1] // pe.patch_size[1])
        x = record(Stage.PATCH_EMBED, pe.proj(x).flatten(2).transpose(1, 2))   # (N, L, D)
        pos_embed = self.pos_embed
        if pos_embed is not None and grid != pe.grid_size:          # dynamic_img_size only
            in_table = 0 if cfg.no_embed_class else self.num_prefix_tokens
            pos_embed = resample_pos_embed(pos_embed, grid, pe.grid_size, in_table)
        prefix = [token.expand(x.shape[0], -1, -1)
                  for token in (self.cls_token, self.reg_token) if token is not None]
        if pos_embed is not None and cfg.no_embed_class:        # positions on patches only
            x = add_pos_embed(x, pos_embed)
        if prefix:
            x = record(Stage.CLASS_TOKEN, torch.cat(prefix + [x], dim=1))     # (N, T, D)
        if pos_embed is not None and not cfg.no_embed_class:
            x = add_pos_embed(x, pos_embed)                                   # (N, T, D)
        # timm makes a fixed size's angle table once, in float32; a dynamic size's per forward
        # pass, in float64 in a float64 model: so do we, to compute exactly what timm computes
        dynamic64 = x.dtype == torch.float64 and cfg.dynamic_img_size
        exact = torch.float64 if dynamic64 else torch.float32
        return self.norm_pre(x), self.rope.angles(grid, exact)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> encoded tokens (N, T, D)."""
        x, angles = self.embed(x)              # angles (L, d_h/2); 'mixed': (depth, h, L, d_h/2)
        for i, block in enumerate(self.blocks):
            with scope(f"block {i}"):
                x = block(x, angles[i] if self.config.rope == "mixed" else angles)
        return record(Stage.ENCODER, self.norm(x))                            # (N, T, D)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Encoded tokens (N, T, D) -> logits (N, K), or pooled features (N, D)."""
        if self.attn_pool is not None:                 # every token, prefix included (timm's Eva)
            x = self.attn_pool(x)                                             # (N, D)
        else:
            x = pool_tokens(x, self.config.global_pool, self.num_prefix_tokens)
        x = record(Stage.POOL, self.fc_norm(x))                               # (N, D)
        return x if pre_logits else record(Stage.HEAD, self.head(x))          # (N, K)

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every block's attention weights for images x, (N, h, T, T) each, in eval mode."""
        was_training = self.training
        self.eval()
        try:
            x, angles = self.embed(x)
            maps = []
            for i, block in enumerate(self.blocks):
                x, weights = block(x, angles[i] if self.config.rope == "mixed" else angles,
                                   return_attention=True)
                maps.append(weights)
        finally:
            self.train(was_training)
        return maps


# --- chapters/18_eva.md, cell 28 ---
from types import SimpleNamespace  # noqa: E402

from vit_lib.family import (  # noqa: E402
    _activation_name,
    copy_of,
    module_differences,
    rebuild_findings,
)
from vit_lib.timm_compat import (  # noqa: E402  (the converter of chapter 11)
    CONVERTERS,
    Converter,
    Finding,
    _import_timm,
    _is_identity,
    refuse,
    timm_config_fields,
)

# timm's rope_type and RoPE module, by our kind
TIMM_ROPES = {"axial": ("cat", "RotaryEmbeddingCat"), "dinov3": ("dinov3", "RotaryEmbeddingDinoV3"),
              "mixed": ("mixed", "RotaryEmbeddingMixed")}


def _import_eva():
    from timm import layers
    from timm.models import eva
    return eva, layers


def _is_eva(model: nn.Module) -> bool:
    try:
        return isinstance(model, _import_eva()[0].Eva)
    except ImportError:
        return False


def _eva_mlp_kind(mlp: nn.Module) -> str | None:
    """'mlp', 'glu' or 'swiglu' for the MLP modules timm's EvaBlock builds, else None."""
    _, layers = _import_eva()
    if type(mlp) is layers.Mlp and _activation_name(mlp.act) == "gelu":
        return "mlp"
    if type(mlp) is layers.GluMlp and not mlp.gate_last and type(mlp.act) is nn.SiLU:
        return "glu"
    if type(mlp) is layers.SwiGLU and type(mlp.act) is nn.SiLU and mlp.fc1_g.bias is not None:
        return "swiglu"
    return None


def _read_eva_config(model: nn.Module) -> EvaConfig:
    """The `EvaConfig` a timm `Eva` model's modules describe, read without checking them."""
    block, rope = model.blocks[0], model.rope
    attn, mlp = block.attn, block.mlp
    eva_kind = type(attn).__name__ == "EvaAttention"
    layout = ("eva_separate" if attn.qkv is None and eva_kind else "separate" if attn.qkv is None
              else "eva" if eva_kind else "fused")
    qkv_bias = {"separate": lambda: attn.q_proj.bias is not None,
                "eva_separate": lambda: attn.q_proj.bias is not None,
                "eva": lambda: attn.q_bias is not None,
                "fused": lambda: attn.qkv.bias is not None}[layout]()
    kind = _eva_mlp_kind(mlp)
    hidden = {"glu": lambda: mlp.fc1.out_features // 2,
              "swiglu": lambda: mlp.fc1_g.out_features}.get(kind, lambda: mlp.fc1.out_features)()
    stand_in = SimpleNamespace(                            # what chapter 11 reads of a block
        attn=SimpleNamespace(num_heads=attn.num_heads, head_dim=attn.head_dim,
                             qkv=SimpleNamespace(bias=None), proj_drop=attn.proj_drop,
                             attn_drop=attn.attn_drop, fused_attn=attn.fused_attn),
        mlp=SimpleNamespace(fc1=SimpleNamespace(out_features=hidden)), norm1=block.norm1)
    fields = timm_config_fields(model, stand_in)
    kv_heads = tuple(getattr(b.attn, "num_kv_heads", b.attn.num_heads) for b in model.blocks)
    rope_kind = {module: ours for ours, (_, module) in TIMM_ROPES.items()}.get(
        type(rope).__name__, type(rope).__name__)
    pool = model.attn_pool
    return EvaConfig(
        **{**fields, "qkv_bias": qkv_bias,
           "pos_embed": "learned" if model.pos_embed is not None else "none"},
        reg_tokens=0 if model.reg_token is None else model.reg_token.shape[1],
        init_values=block.init_values if block.gamma_1 is not None else None,
        attn_only_layer_scale=block.gamma_1 is not None and block.gamma_2 is None,
        no_embed_class=bool(model.no_embed_class),
        pre_norm=not _is_identity(model.norm_pre),
        final_norm=not _is_identity(model.norm), fc_norm=not _is_identity(model.fc_norm),
        mlp_layer=kind or type(mlp).__name__,
        norm_layer="rmsnorm" if type(block.norm1).__name__ == "RmsNorm" else "layernorm",
        qkv_layout=layout, qk_norm=not _is_identity(attn.q_norm),
        scale_attn_inner=not _is_identity(attn.norm),
        scale_mlp=not _is_identity(getattr(mlp, "norm", None)),
        num_kv_heads=None if set(kv_heads) == {attn.num_heads} else kv_heads,
        rope=rope_kind, rope_temperature=float(rope.temperature),
        rope_rotate_half=bool(getattr(rope, "rotate_half", False)),
        rope_offset=float(getattr(rope, "grid_offset", 0.0)),
        rope_ref_grid=getattr(rope, "ref_feat_shape", None),
        rope_indexing=rope.grid_indexing,
        rope_shift_coords=rope.shift_coords, rope_jitter_coords=rope.jitter_coords,
        rope_rescale_coords=rope.rescale_coords,
        dynamic_img_size=bool(model.dynamic_img_size),
        attn_pool_num_heads=None if pool is None else pool.num_heads,
        attn_pool_mlp_ratio=(None if pool is None
                             else pool.mlp.fc1.out_features / fields["embed_dim"]),
    )


# --- chapters/18_eva.md, cell 30 ---
def unsupported_eva_options(model: nn.Module) -> list[Finding]:
    """What an `EvaConfig` cannot express in a timm `Eva` model, one `Finding` per option;
    empty: it converts."""
    eva, layers = _import_eva()
    if not isinstance(model, eva.Eva):
        return [Finding("model_class", type(model).__name__, "the model", "not timm's Eva")]
    problems: dict[str, Finding] = {}

    def check(ok: bool, option: str, value: object, where: str, note: str = "") -> None:
        if not ok:
            problems.setdefault(option, Finding(option, value, where, note))

    check(type(model.patch_embed) is layers.PatchEmbed, "embed_layer",
          type(model.patch_embed).__name__, "patch_embed")
    check(not getattr(model.patch_embed, "dynamic_img_pad", False), "dynamic_img_pad", True,
          "patch_embed")
    check(model.patch_drop is None, "patch_drop_rate", "> 0", "patch_drop")
    check(model.rope is not None, "use_rot_pos_emb", False, "rope", "EVA without RoPE")
    if model.rope is not None:
        kinds = [module for _, module in TIMM_ROPES.values()]
        check(type(model.rope).__name__ in kinds, "rope_type", type(model.rope).__name__, "rope")
        check(getattr(model.rope, "normalize_coords", "separate") == "separate",
              "rope_normalize", getattr(model.rope, "normalize_coords", None), "rope")
        check(getattr(model.rope, "min_period", None) is None, "rope_min_period",
              getattr(model.rope, "min_period", None), "rope")
        check(not model.dynamic_img_size or type(model.rope).__name__ == TIMM_ROPES["dinov3"][1],
              "dynamic_img_size", True, "the model", "with a rotation other than DINOv3's")
    for i, block in enumerate(model.blocks):
        where = f"blocks.{i}"
        check(type(block) is eva.EvaBlock, "use_post_norm", type(block).__name__, where)
        if type(block) is not eva.EvaBlock:
            continue
        attn, mlp = block.attn, block.mlp
        check(_eva_mlp_kind(mlp) is not None, "mlp_layer", type(mlp).__name__, f"{where}.mlp")
        check(getattr(attn, "gate", None) is None, "gated_attn", True, f"{where}.attn")
        check(type(attn) is not eva.EvaAttention or not attn.qkv_bias_separate,
              "qkv_bias_separate", True, f"{where}.attn")
    if model.global_pool == "map":
        pool = model.attn_pool
        check(type(pool) is layers.AttentionPoolLatent and pool.latent_len == 1
              and pool.pos_embed is None and _is_identity(pool.q_norm) and pool.pool == "token"
              and pool.mlp is not None and pool.head_dim * pool.num_heads == model.embed_dim,
              "attn_pool", type(pool).__name__, "attn_pool",
              "an attention pool other than AttentionPoolLatent with timm's defaults")
    if not problems:                                     # the last word: timm rebuilds it
        return rebuild_findings(lambda: module_differences(model, _on_meta(
            lambda: eva.Eva(**eva_timm_kwargs(_read_eva_config(model))))), "EvaConfig")
    return list(problems.values())


def _on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """`build()` on the meta device: no memory, no initialisation cost."""
    with torch.device("meta"):
        return build()


def eva_config_from_timm(model: nn.Module) -> EvaConfig:
    """The `EvaConfig` of a timm `Eva` model; raises `UnsupportedOptionError` naming what is
    missing."""
    refuse(unsupported_eva_options(model), "vit_lib's EvaConfig (chapter 18)")
    return _read_eva_config(model)


def eva_timm_kwargs(config: EvaConfig) -> dict:
    """Keyword arguments of timm's `Eva` that build `config`."""
    _, layers = _import_eva()
    norm = layers.RmsNorm if config.norm_layer == "rmsnorm" else layers.LayerNorm
    after_blocks, after_pool = config.norms()
    return dict(
        img_size=config.img_size, patch_size=config.patch_size, in_chans=config.in_chans,
        num_classes=config.num_classes, global_pool=config.global_pool,
        embed_dim=config.embed_dim, depth=config.depth, num_heads=config.num_heads,
        num_kv_heads=config.num_kv_heads, qkv_bias=config.qkv_bias,
        qkv_fused=config.qkv_layout in ("fused", "eva"), qk_norm=config.qk_norm,
        attn_type="eva" if config.qkv_layout in ("eva", "eva_separate") else "rope",
        scale_attn_inner=config.scale_attn_inner, scale_mlp=config.scale_mlp,
        mlp_ratio=config.mlp_ratio, swiglu_mlp=config.mlp_layer != "mlp",
        # timm builds SwiGLU in two matrices only when it rounds; rounding to 1 changes nothing
        swiglu_align_to=(config.swiglu_align_to or 1) if config.mlp_layer == "swiglu" else 0,
        proj_drop_rate=config.drop_rate, attn_drop_rate=config.attn_drop_rate,
        norm_layer=functools.partial(norm, eps=config.norm_eps),
        init_values=config.init_values, attn_only_layer_scale=config.attn_only_layer_scale,
        class_token=config.class_token, num_reg_tokens=config.reg_tokens,
        no_embed_class=config.no_embed_class, use_abs_pos_emb=config.pos_embed == "learned",
        use_rot_pos_emb=True, rope_type=TIMM_ROPES[config.rope][0],
        rope_grid_offset=config.rope_offset, rope_grid_indexing=config.rope_indexing,
        rope_temperature=Rope2d(4, (1, 1), config.rope).temperature
        if config.rope_temperature is None else config.rope_temperature,
        rope_rotate_half=config.rope_rotate_half, ref_feat_shape=config.rope_ref_grid,
        rope_shift_coords=config.rope_shift_coords, rope_jitter_coords=config.rope_jitter_coords,
        rope_rescale_coords=config.rope_rescale_coords,
        use_pre_transformer_norm=config.pre_norm, use_post_transformer_norm=after_blocks,
        use_fc_norm=after_pool, attn_pool_num_heads=config.attn_pool_num_heads,
        attn_pool_mlp_ratio=config.attn_pool_mlp_ratio,
        dynamic_img_size=config.dynamic_img_size,
    )


def eva_from_timm(model: nn.Module) -> EvaViT:
    """Our `EvaViT` computing what the timm `Eva` model computes, its weights copied exactly."""
    config = eva_config_from_timm(model)
    return copy_of(model, lambda: EvaViT(config), "timm")       # chapter 15's copier


def eva_to_timm(model: EvaViT) -> nn.Module:
    """A timm `Eva` model computing what our `EvaViT` computes, its weights copied exactly."""
    eva, _ = _import_eva()
    return copy_of(model, lambda: eva.Eva(**eva_timm_kwargs(model.config)), "vit_lib")


# chapter 11's from_timm and to_timm hand timm's Eva models to these
CONVERTERS.append(Converter(accepts=_is_eva, config_type=EvaConfig, from_timm=eva_from_timm,
                            to_timm=eva_to_timm, unsupported=unsupported_eva_options))


# --- chapters/18_eva.md, cell 38 ---
def _resnetv2(layers: tuple[int, ...]):
    """ResNet-v2 as timm's hybrid ViTs use it: standardised 'same' convolutions, no pre-activation;
    with no layers, only its stem. timm is imported when a stem is built, not before."""
    def build(chans: int, dim: int) -> nn.Module:
        from timm.layers import StdConv2dSame
        from timm.models.resnetv2 import ResNetV2, create_resnetv2_stem

        conv = functools.partial(StdConv2dSame, eps=1e-8)
        if not layers:
            return create_resnetv2_stem(chans, stem_type="same", preact=False, conv_layer=conv)
        return ResNetV2(layers, num_classes=0, global_pool="", in_chans=chans, preact=False,
                        stem_type="same", conv_layer=conv)
    return build


def _resnet_d(name: str, stage: int):
    """A ResNet-D of timm whose features are taken after `stage`."""
    def build(chans: int, dim: int) -> nn.Module:
        import timm
        return timm.create_model(name, pretrained=False, in_chans=chans, features_only=True,
                                 out_indices=[stage])
    return build


def _mobileclip(chans: int, dim: int) -> nn.Module:
    """MobileCLIP's convolutional stem, three strided convolutions to D channels."""
    from timm.models.vision_transformer_hybrid import ConvStem
    return ConvStem(channels=(dim // 4, dim // 4, dim), stride=(4, 2, 2), kernel_size=(4, 2, 2),
                    padding=0, in_chans=chans, act_layer=nn.GELU)


class Stem(NamedTuple):
    """A CNN stem of timm's hybrid ViTs: how to build it, its output channels, its stride."""

    build: Callable[[int, int], nn.Module]    # (in_chans, D) -> the backbone
    channels: int | None                      # feature channels; None: D, and no projection
    stride: int                               # pixels per feature, along each axis


STEMS = {
    "resnetv2_stem": Stem(_resnetv2(()), 64, 4),         # vit_tiny_r_s16_p8
    "resnetv2_26": Stem(_resnetv2((2, 2, 2, 2)), 2048, 32),
    "resnetv2_50_s16": Stem(_resnetv2((3, 4, 9)), 1024, 16),   # the original R50+ViT-B/16
    "resnetv2_50": Stem(_resnetv2((3, 4, 6, 3)), 2048, 32),
    "resnet26d": Stem(_resnet_d("resnet26d", 4), 2048, 32),
    "resnet50d_s16": Stem(_resnet_d("resnet50d", 3), 1024, 16),
    "resnet50d": Stem(_resnet_d("resnet50d", 4), 2048, 32),
    "mobileclip": Stem(_mobileclip, None, 16),
}


class CnnPatchEmbed(nn.Module):
    """A hybrid ViT's patch embedding: a CNN from timm, then chapter 1's convolution (usually
    1 x 1) over its feature map; timm's `HybridEmbed`, its names and its shapes.

    Images (N, C, H, W) -> features (N, C_f, H/s, W/s) -> tokens (N, (H/s/P) * (W/s/P), D).
    """

    def __init__(self, stem: str, img_size: int | tuple[int, int],
                 patch_size: int | tuple[int, int], in_chans: int, embed_dim: int,
                 bias: bool = True) -> None:
        super().__init__()
        kind = STEMS[stem]
        self.img_size, self.patch_size = to_2tuple(img_size), to_2tuple(patch_size)
        self.in_chans, self.stride = in_chans, kind.stride
        self.backbone = kind.build(in_chans, embed_dim)
        self.grid_size = tuple(size // kind.stride // patch
                               for size, patch in zip(self.img_size, self.patch_size))
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = (nn.Identity() if kind.channels is None else
                     nn.Conv2d(kind.channels, embed_dim, self.patch_size, self.patch_size,
                               bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_chans, self.img_size, (1, 1))
        features = self.backbone(x)
        if isinstance(features, (list, tuple)):               # a features_only ResNet
            features = features[-1]
        x = self.proj(features)                               # (N, D, gh, gw)
        return x.flatten(2).transpose(1, 2)                   # (N, gh * gw, D)


class UntiledPatchEmbed(PatchEmbed):
    """Chapter 1's patch embedding for an image size the patches do not tile, as timm builds
    it: the convolution covers the largest tiled area from the top left, and the last rows and
    columns of pixels are never seen (`dropped`)."""

    def __init__(self, img_size: int | tuple[int, int], patch_size: int | tuple[int, int],
                 in_chans: int, embed_dim: int, bias: bool = True) -> None:
        nn.Module.__init__(self)                  # chapter 1's __init__ refuses these sizes
        self.img_size, self.patch_size = to_2tuple(img_size), to_2tuple(patch_size)
        self.in_chans = in_chans
        self.grid_size = tuple(s // p for s, p in zip(self.img_size, self.patch_size))
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.dropped = tuple(s % p for s, p in zip(self.img_size, self.patch_size))
        self.proj = nn.Conv2d(in_chans, embed_dim, self.patch_size, self.patch_size, bias=bias)
        if any(self.dropped):
            warnings.warn(untiled_message(self.img_size, self.patch_size), stacklevel=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.in_chans, self.img_size, (1, 1))      # exactly img_size
        return self.proj(x).flatten(2).transpose(1, 2)               # (N, gh * gw, D)


def untiled_message(img_size: tuple[int, int], patch_size: tuple[int, int]) -> str:
    """What a patch size that does not tile an image size leaves out, in pixels."""
    covered = tuple(s - s % p for s, p in zip(img_size, patch_size))
    rows, cols = (s % p for s, p in zip(img_size, patch_size))
    return (f"img_size {img_size} is not a multiple of patch_size {patch_size}: the patches "
            f"cover {covered}, and the last {rows} rows and {cols} columns of pixels are never "
            "seen (as in timm)")


# --- chapters/18_eva.md, cell 42 ---
@dataclass
class StemConfig(FamilyConfig):
    """A `FamilyConfig` with another stem: one of timm's CNNs (`STEMS`) before the patches, or
    chapter 1's convolution over an image size the patches do not tile."""

    stem: str = "patches"               # chapter 1's convolution, or a name of STEMS

    def __post_init__(self) -> None:
        img, patch = to_2tuple(self.img_size), to_2tuple(self.patch_size)
        per_token = STEMS[self.stem].stride if self.stem in STEMS else 1
        tiled = tuple(s - s % (p * per_token) for s, p in zip(img, patch))
        if self.stem not in ("patches", *STEMS):
            raise ValueError(f"unknown stem {self.stem!r}; expected 'patches' or one of "
                             f"{tuple(STEMS)}")
        if self.stem != "patches" and tiled != img:
            raise ValueError(f"stem {self.stem!r} makes one feature per {per_token} pixels and "
                             f"patch_size {patch} groups them: img_size {img} must be a multiple "
                             f"of {tuple(p * per_token for p in patch)}")
        if self.stem != "patches" and self.dynamic_img_size:
            raise ValueError(f"dynamic_img_size=True is not built for stem {self.stem!r}")
        if patch[0] > img[0] or patch[1] > img[1]:
            raise ValueError(f"patch_size {patch} is larger than img_size {img}")
        self.img_size = tiled if self.stem == "patches" else img  # chapter 10 checks a tiled size
        try:
            super().__post_init__()
        finally:
            self.img_size = img if img[0] != img[1] else img[0]


class StemViT(FamilyViT):
    """Chapter 15's family with `StemConfig`'s stems; everything after the patch embedding is
    the family's."""

    def __init__(self, config: StemConfig | None = None, **overrides) -> None:
        if config is None or overrides or not isinstance(config, StemConfig):
            config = StemConfig(**{**(config.__dict__ if config else {}), **overrides})
        super().__init__(config)

    def make_patch_embed(self, cfg: StemConfig) -> nn.Module:
        if cfg.stem != "patches":
            return CnnPatchEmbed(cfg.stem, cfg.img_size, cfg.patch_size, cfg.in_chans,
                                 cfg.embed_dim, bias=not cfg.pre_norm)
        img, patch = to_2tuple(cfg.img_size), to_2tuple(cfg.patch_size)
        kind = PatchEmbed if img[0] % patch[0] == img[1] % patch[1] == 0 else UntiledPatchEmbed
        return kind(img, patch, cfg.in_chans, cfg.embed_dim, bias=not cfg.pre_norm)


# --- chapters/18_eva.md, cell 44 ---
from vit_lib.family import (  # noqa: E402
    _is_timm_vit,
    _read_family_config,
    family_timm_kwargs,
    unsupported_family_options,
)


def _stem_of(model: nn.Module) -> str | None:
    """The name in `STEMS` of a timm hybrid ViT's CNN, found by rebuilding each on the meta
    device and comparing modules; 'patches' for chapter 1's convolution; None: none of them."""
    pe = model.patch_embed
    if type(pe).__name__ == "PatchEmbed":
        return "patches"
    if type(pe).__name__ != "HybridEmbed":
        return None
    for name, stem in STEMS.items():
        with torch.device("meta"):
            candidate = stem.build(pe.in_chans, model.embed_dim)
        projected = not _is_identity(pe.proj)
        if projected == (stem.channels is not None) and not module_differences(pe.backbone,
                                                                                candidate):
            return name
    return None


def _is_stem_model(model: nn.Module) -> bool:
    """A timm ViT with a CNN stem, or whose patches do not tile its images."""
    if not _is_timm_vit(model):
        return False
    pe = model.patch_embed
    untiled = any(s % p for s, p in zip(pe.img_size, pe.patch_size))
    return type(pe).__name__ == "HybridEmbed" or untiled


def stem_timm_kwargs(config: StemConfig) -> dict:
    """Keyword arguments of timm's `VisionTransformer` that build `config`, stem included."""
    kwargs = family_timm_kwargs(config)
    if config.stem != "patches":
        from timm.layers import HybridEmbed

        stem = STEMS[config.stem]
        kwargs["embed_layer"] = functools.partial(
            HybridEmbed, backbone=stem.build(config.in_chans, config.embed_dim),
            proj=stem.channels is not None)
    return kwargs


def unsupported_stem_options(model: nn.Module) -> list[Finding]:
    """What a `StemConfig` cannot express in a timm ViT with a stem; empty: it converts."""
    found = [finding for finding in unsupported_family_options(model)
             if finding.option not in ("embed_layer", "img_size")]
    stem = _stem_of(model)
    if stem is None:
        found.append(Finding("embed_layer", type(model.patch_embed.backbone).__name__,
                             "patch_embed.backbone", "a CNN stem not in vit_lib.eva.STEMS"))
    if found:
        return found

    def twin() -> nn.Module:
        config = replace(_read_family_config(model, StemConfig), stem=stem)
        return _import_timm()[0].VisionTransformer(**stem_timm_kwargs(config))
    return rebuild_findings(lambda: module_differences(model, _on_meta(twin)), "StemConfig")


def stem_from_timm(model: nn.Module) -> StemViT:
    """Our `StemViT` computing what the timm ViT computes, its weights copied exactly."""
    refuse(unsupported_stem_options(model), "vit_lib's StemConfig (chapter 18)")
    config = replace(_read_family_config(model, StemConfig), stem=_stem_of(model))

    def build() -> StemViT:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")              # the untiled pixels: timm's choice
            return StemViT(config)
    return copy_of(model, build, "timm")


def stem_to_timm(model: StemViT) -> nn.Module:
    """A timm `VisionTransformer` computing what our `StemViT` computes, weights copied exactly."""
    vt = _import_timm()[0]
    return copy_of(model, lambda: vt.VisionTransformer(**stem_timm_kwargs(model.config)), "vit_lib")


# before chapter 15's converter, which accepts every timm VisionTransformer
CONVERTERS.insert(0, Converter(accepts=_is_stem_model, config_type=StemConfig,
                               from_timm=stem_from_timm, to_timm=stem_to_timm,
                               unsupported=unsupported_stem_options))
