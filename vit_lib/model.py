# Generated from chapters/10_model.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/10_model.md, cell 6 ---
"""The whole Vision Transformer: configuration, model and a live shape trace.

Shapes: N batch, C/H/W image, P patch, T tokens, D width, h heads, d_h head width, K classes.
"""

from dataclasses import dataclass

import torch
from torch import nn

from vit_lib.block import Block
from vit_lib.norm import NORM_EPS, LayerNorm
from vit_lib.patch_embed import PatchEmbed, to_2tuple
from vit_lib.pool import GLOBAL_POOLS, pool_tokens
from vit_lib.stages import ShapeRow, Stage, format_rows, record, recording, scope
from vit_lib.tokens import add_pos_embed, prepend_class_token, sincos_pos_embed

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["ViTConfig", "VisionTransformer", "PatchDropout", "shape_trace"]

POS_EMBEDS = ("learned", "sincos")


# --- chapters/10_model.md, cell 8 ---
@dataclass
class ViTConfig:
    """Hyper-parameters of a ViT, in timm's vocabulary. Defaults are ViT-B/16 at 224 pixels."""

    img_size: int | tuple[int, int] = 224   # input H, W
    patch_size: int | tuple[int, int] = 16  # P; must divide img_size
    in_chans: int = 3                       # C
    num_classes: int = 1000                 # K; 0 means no head (forward returns pooled features)
    embed_dim: int = 768                    # D, the token width
    depth: int = 12                         # number of encoder blocks
    num_heads: int = 12                     # h
    head_dim: int | None = None             # d_h; None means embed_dim // num_heads
    mlp_ratio: float = 4.0                  # D_ff / D
    qkv_bias: bool = True                   # bias on the fused qkv projection (timm: True)
    global_pool: str = "token"              # 'token' (class token) or 'avg' (mean of patch tokens)
    class_token: bool = True                # prepend a learned class token
    pos_embed: str = "learned"              # 'learned' or 'sincos' (fixed 2-D sin-cos)
    drop_rate: float = 0.0                  # dropout after attention/MLP projections
                                            # (timm: proj_drop_rate)
    attn_drop_rate: float = 0.0             # dropout on attention weights
    patch_drop_rate: float = 0.0            # training only: share of patch tokens dropped per image
    norm_eps: float = NORM_EPS              # LayerNorm epsilon (timm: 1e-6)
    fused_attn: bool = True                 # F.scaled_dot_product_attention
                                            # instead of the explicit path

    def __post_init__(self) -> None:
        img, patch = to_2tuple(self.img_size), to_2tuple(self.patch_size)
        for axis, size, p in zip(("height", "width"), img, patch):
            if p <= 0 or size % p:
                raise ValueError(f"img_size {axis} {size} is not divisible by patch_size {p}")
        for name in ("in_chans", "embed_dim", "depth", "num_heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {self.num_classes}")
        if self.head_dim is None and self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}; "
                "set head_dim explicitly"
            )
        if self.head_dim is not None and self.head_dim < 1:
            raise ValueError(f"head_dim must be at least 1, got {self.head_dim}")
        if self.global_pool not in GLOBAL_POOLS:
            raise ValueError(
                f"unknown global_pool {self.global_pool!r}; expected one of {GLOBAL_POOLS}"
            )
        if self.global_pool == "token" and not self.class_token:
            raise ValueError(
                "global_pool='token' needs class_token=True; use global_pool='avg' without one"
            )
        if self.pos_embed not in POS_EMBEDS:
            raise ValueError(f"unknown pos_embed {self.pos_embed!r}; expected one of {POS_EMBEDS}")
        if self.pos_embed == "sincos" and self.embed_dim % 4:
            raise ValueError(
                f"pos_embed='sincos' needs embed_dim divisible by 4, got {self.embed_dim}"
            )
        if self.mlp_ratio <= 0:
            raise ValueError(f"mlp_ratio must be positive, got {self.mlp_ratio}")
        for name in ("drop_rate", "attn_drop_rate", "patch_drop_rate"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")


# --- chapters/10_model.md, cell 12 ---
class PatchDropout(nn.Module):
    """In training, keep a random `1 - rate` share of each image's patch tokens.

    In eval, do nothing. The `num_prefix_tokens` leading (class) tokens always stay. The kept
    patch tokens come in random order, as in timm: they already carry their positions. Keeps
    int(L * (1 - rate)) of L patch tokens, at least one.
    """

    def __init__(self, rate: float, num_prefix_tokens: int = 1) -> None:
        super().__init__()
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"patch dropout rate must be in [0, 1), got {rate}")
        self.rate, self.num_prefix_tokens = rate, num_prefix_tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, D) -> (N, p + keep, D) in training, where p is the number of prefix tokens."""
        if not self.training or self.rate == 0.0:
            return x
        prefix, patches = (x[:, :self.num_prefix_tokens],                 # (N, p, D)
                           x[:, self.num_prefix_tokens:])                 # (N, L, D)
        n, length, dim = patches.shape
        keep = max(1, int(length * (1.0 - self.rate)))
        chosen = (torch.randn(n, length, device=x.device)
                  .argsort(dim=-1)[:, :keep])                             # (N, keep)
        kept = patches.gather(1, chosen[:, :, None].expand(-1, -1, dim))  # (N, keep, D)
        return torch.cat([prefix, kept], dim=1)                           # (N, p + keep, D)

    def extra_repr(self) -> str:
        return f"rate={self.rate}, num_prefix_tokens={self.num_prefix_tokens}"


# --- chapters/10_model.md, cell 16 ---
class VisionTransformer(nn.Module):
    """A ViT with timm's module and parameter names, so timm weights load by name.

    Pass a `ViTConfig`, or keyword overrides of its fields: `VisionTransformer(depth=2)`.
    """

    def __init__(self, config: ViTConfig | None = None, **overrides) -> None:
        super().__init__()
        if config is None:
            config = ViTConfig(**overrides)
        elif overrides:
            config = ViTConfig(**{**config.__dict__, **overrides})
        self.config = cfg = config
        dim = cfg.embed_dim
        self.patch_embed = PatchEmbed(cfg.img_size, cfg.patch_size, cfg.in_chans, dim)
        self.num_prefix_tokens = 1 if cfg.class_token else 0
        num_tokens = self.patch_embed.num_patches + self.num_prefix_tokens          # T
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if cfg.class_token else None
        if cfg.pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, dim))           # (1, T, D)
        else:
            table = sincos_pos_embed(self.patch_embed.grid_size, dim, self.num_prefix_tokens)
            self.register_buffer("pos_embed", table, persistent=False)              # (1, T, D)
        # training only; an Identity when off, as in timm, so the module list matches timm's
        self.patch_drop = (PatchDropout(cfg.patch_drop_rate, self.num_prefix_tokens)
                           if cfg.patch_drop_rate > 0 else nn.Identity())
        self.blocks = nn.Sequential(*[
            Block(
                dim, cfg.num_heads, head_dim=cfg.head_dim, mlp_ratio=cfg.mlp_ratio,
                qkv_bias=cfg.qkv_bias, drop=cfg.drop_rate, attn_drop=cfg.attn_drop_rate,
                norm_eps=cfg.norm_eps, fused_attn=cfg.fused_attn,
            )
            for _ in range(cfg.depth)
        ])
        # timm's placement: 'token' normalises every token before pooling (`norm`); 'avg' pools
        # first and normalises the average (`fc_norm`). Exactly one of the two is a LayerNorm.
        use_fc_norm = cfg.global_pool == "avg"
        self.norm = nn.Identity() if use_fc_norm else LayerNorm(dim, eps=cfg.norm_eps)
        self.fc_norm = LayerNorm(dim, eps=cfg.norm_eps) if use_fc_norm else nn.Identity()
        self.head = nn.Linear(dim, cfg.num_classes) if cfg.num_classes > 0 else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """timm's initialisation: truncated normal(0.02) weights, zero biases, tiny class token."""
        if isinstance(self.pos_embed, nn.Parameter):
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    @property
    def fused_attn(self) -> bool:
        """Whether the blocks use `F.scaled_dot_product_attention`; settable."""
        return all(block.attn.fused_attn for block in self.blocks)

    @fused_attn.setter
    def fused_attn(self, value: bool) -> None:
        for block in self.blocks:
            block.attn.fused_attn = value

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> tokens with positions (N, T, D)."""
        x = self.patch_embed(record(Stage.INPUT, x))
        record(Stage.PATCH_EMBED, x)                            # (N, T-1, D)
        if self.cls_token is not None:
            x = prepend_class_token(x, self.cls_token)          # (N, T, D)
        return add_pos_embed(x, self.pos_embed)                 # (N, T, D)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> encoded tokens (N, T, D).

        Fewer tokens in training with patch dropout.
        """
        x = self.patch_drop(self.embed(x))
        for i, block in enumerate(self.blocks):
            with scope(f"block {i}"):
                x = block(x)
        return record(Stage.ENCODER, self.norm(x))              # (N, T, D)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Encoded tokens (N, T, D) -> logits (N, K).

        Or pooled features (N, D), with `pre_logits`.
        """
        x = pool_tokens(x, self.config.global_pool, self.num_prefix_tokens)
        x = record(Stage.POOL, self.fc_norm(x))                  # (N, D)
        return x if pre_logits else record(Stage.HEAD, self.head(x))   # (N, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> logits (N, K)."""
        return self.forward_head(self.forward_features(x))

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every block's attention weights for images x: a list of `depth` (N, h, T, T) tensors.

        Always computed in eval mode: in training mode dropout would change every map after
        the first block (and patch dropout the tokens). The model's own mode is restored.
        """
        was_training = self.training
        self.eval()
        try:
            x = self.embed(x)
            maps = []
            for block in self.blocks:
                x, weights = block(x, return_attention=True)
                maps.append(weights)
        finally:
            self.train(was_training)
        return maps


# --- chapters/10_model.md, cell 21 ---
def shape_trace(model: VisionTransformer, x: torch.Tensor, show: bool = True) -> list[ShapeRow]:
    """Run `x` through `model` on the explicit attention path and return every stage's shape.

    The rows come from live tensors, in the order the model computes them; `show` prints them.
    """
    fused = model.fused_attn
    model.fused_attn = False          # the fused kernel never materialises scores and softmax
    try:
        with torch.no_grad(), recording() as rows:
            model(x)
    finally:
        model.fused_attn = fused
    if show:
        print(format_rows(rows))
    return rows
