"""The exercise checkers (vit_lib.course.exercises, chapters/90_checkers.md).

Every checker must accept a right solution and reject each known wrong one with the hint that
names that mistake. The solutions below are written the way a learner would write them,
independently of the checkers' own reference code.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import vit_lib
import vit_lib.train  # a submodule: `import vit_lib` loads it only on first use (PEP 562)
from vit_lib.course import exercises as ex


# ------------------------------------------------------------------ learner solutions: patches
def patchify(images, patch_size):
    n, c, h, w = images.shape
    p = patch_size
    x = images.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(n, (h // p) * (w // p), c * p * p)


def patchify_unfold(images, patch_size):
    return F.unfold(images, kernel_size=patch_size, stride=patch_size).transpose(1, 2)


def patchify_conv(images, patch_size):
    c, p = images.shape[1], patch_size
    conv = nn.Conv2d(c, c * p * p, kernel_size=p, stride=p, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.eye(c * p * p, dtype=torch.float64).reshape(c * p * p, c, p, p))
        return conv(images).flatten(2).transpose(1, 2)


def patchify_reshape_only(images, patch_size):
    n, c, h, w = images.shape
    return images.reshape(n, (h // patch_size) * (w // patch_size), c * patch_size**2)


def patchify_channels_last(images, patch_size):
    n, c, h, w = images.shape
    p = patch_size
    x = images.permute(0, 2, 3, 1).reshape(n, h // p, p, w // p, p, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, -1, p * p * c)


def patchify_column_major(images, patch_size):
    n, c, h, w = images.shape
    p = patch_size
    x = images.reshape(n, c, h // p, p, w // p, p).permute(0, 4, 2, 1, 3, 5)
    return x.reshape(n, -1, c * p * p)


def patchify_unfold_no_transpose(images, patch_size):
    return F.unfold(images, kernel_size=patch_size, stride=patch_size)


def patchify_square_only(images, patch_size):
    n, c, h, _ = images.shape
    g = h // patch_size
    x = images.reshape(n, c, g, patch_size, g, patch_size).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(n, g * g, -1)


# ------------------------------------------------------------------ class token, positions
def prepend_cls(tokens, cls_token):
    return torch.cat([cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)


def prepend_cls_repeat(tokens, cls_token):
    return torch.cat([cls_token.repeat(tokens.shape[0], 1, 1), tokens], dim=1)


def prepend_cls_no_expand(tokens, cls_token):
    return torch.cat([cls_token, tokens], dim=1)


def append_cls(tokens, cls_token):
    return torch.cat([tokens, cls_token.expand(tokens.shape[0], -1, -1)], dim=1)


def add_cls(tokens, cls_token):
    return tokens + cls_token


def prepend_cls_in_place(tokens, cls_token):
    tokens[:, 0] = 0.0
    return torch.cat([cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)


def make_pos_embed(num_patches, embed_dim):
    return nn.Parameter(torch.randn(1, num_patches + 1, embed_dim) * 0.02)


def make_pos_embed_patches_only(num_patches, embed_dim):
    return nn.Parameter(torch.zeros(1, num_patches, embed_dim))


def make_pos_embed_no_batch(num_patches, embed_dim):
    return nn.Parameter(torch.zeros(num_patches + 1, embed_dim))


# ------------------------------------------------------------------ heads
def split_heads(x, num_heads):
    n, t, inner = x.shape
    return x.view(n, t, num_heads, inner // num_heads).transpose(1, 2)


def split_heads_view_only(x, num_heads):
    n, t, inner = x.shape
    return x.view(n, num_heads, t, inner // num_heads)


def split_heads_interleaved(x, num_heads):
    n, t, inner = x.shape
    return x.view(n, t, inner // num_heads, num_heads).permute(0, 3, 1, 2)


def split_heads_no_transpose(x, num_heads):
    n, t, inner = x.shape
    return x.view(n, t, num_heads, inner // num_heads)


def split_heads_fixed_width(x, num_heads):
    n, t, _ = x.shape
    return x.view(n, t, num_heads, 4).transpose(1, 2)  # d_h hard-coded


def merge_heads(x):
    n, h, t, d = x.shape
    return x.transpose(1, 2).reshape(n, t, h * d)


def merge_heads_contiguous_view(x):
    n, h, t, d = x.shape
    return x.transpose(1, 2).contiguous().view(n, t, h * d)


def merge_heads_view_only(x):
    n, h, t, d = x.shape
    return x.view(n, t, h * d)


def merge_heads_view_after_transpose(x):
    n, h, t, d = x.shape
    return x.transpose(1, 2).view(n, t, h * d)


def merge_heads_interleaved(x):
    n, h, t, d = x.shape
    return x.permute(0, 2, 3, 1).reshape(n, t, h * d)


# ------------------------------------------------------------------ attention
def attention(q, k, v):
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v


def attention_with_weights(q, k, v):
    weights = torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, dim=-1)
    return weights @ v, weights


def attention_sdpa(q, k, v):
    return F.scaled_dot_product_attention(q, k, v)


def _scaled(scale, dim=-1):
    def attention_variant(q, k, v):
        return torch.softmax(q @ k.transpose(-2, -1) * scale(q.shape[-1]), dim=dim) @ v

    return attention_variant


def attention_naive_softmax(q, k, v):
    scores = q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5
    weights = scores.exp() / scores.exp().sum(dim=-1, keepdim=True)
    return weights @ v


def attention_returns_weights(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1) * q.shape[-1] ** -0.5, dim=-1)


def attention_k_not_transposed(q, k, v):
    return torch.softmax(q @ k * q.shape[-1] ** -0.5, dim=-1) @ v


# ------------------------------------------------------------------ layer norm
def layer_norm(x, weight, bias):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-6) * weight + bias


def layer_norm_functional(x, weight, bias):
    return F.layer_norm(x, x.shape[-1:], weight, bias, eps=1e-6)


def layer_norm_float32(x, weight, bias):
    return F.layer_norm(x.float(), x.shape[-1:], weight.float(), bias.float(), eps=1e-6)


def layer_norm_module_default(x, weight, bias):
    norm = nn.LayerNorm(x.shape[-1]).double()
    with torch.no_grad():
        norm.weight.copy_(weight)
        norm.bias.copy_(bias)
        return norm(x)


def layer_norm_unbiased(x, weight, bias):
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(-1, keepdim=True) + 1e-6) * weight + bias


def layer_norm_eps_outside(x, weight, bias):
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / (x.std(-1, keepdim=True, unbiased=False) + 1e-6) * weight + bias


def layer_norm_tokens_axis(x, weight, bias):
    mean = x.mean(1, keepdim=True)
    var = x.var(1, keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + 1e-6) * weight + bias


def layer_norm_no_affine(x, weight, bias):
    return F.layer_norm(x, x.shape[-1:], eps=1e-6)


def layer_norm_in_place(x, weight, bias):
    x -= x.mean(-1, keepdim=True)
    return x / torch.sqrt((x**2).mean(-1, keepdim=True) + 1e-6) * weight + bias


# ------------------------------------------------------------------ MLP factories
class MlpRight(nn.Module):
    def __init__(self, in_features, hidden_features, *, drop=0.0):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden_features, in_features)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x):
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(x)))))


def make_mlp_sequential(in_features, hidden_features, drop=0.0):
    return nn.Sequential(
        nn.Linear(in_features, hidden_features),
        nn.GELU(),
        nn.Dropout(drop),
        nn.Linear(hidden_features, in_features),
        nn.Dropout(drop),
    )


def make_mlp_default_dropout(in_features, hidden_features, drop=0.0):
    return nn.Sequential(
        nn.Linear(in_features, hidden_features),
        nn.GELU(),
        nn.Dropout(),
        nn.Linear(hidden_features, in_features),
        nn.Dropout(),
    )


def make_mlp_relu(in_features, hidden_features, drop=0.0):
    return nn.Sequential(
        nn.Linear(in_features, hidden_features),
        nn.ReLU(),
        nn.Dropout(drop),
        nn.Linear(hidden_features, in_features),
        nn.Dropout(drop),
    )


def make_mlp_tanh_gelu(in_features, hidden_features, drop=0.0):
    return nn.Sequential(
        nn.Linear(in_features, hidden_features),
        nn.GELU(approximate="tanh"),
        nn.Dropout(drop),
        nn.Linear(hidden_features, in_features),
        nn.Dropout(drop),
    )


def make_mlp_no_second_dropout(in_features, hidden_features, drop=0.0):
    return nn.Sequential(
        nn.Linear(in_features, hidden_features),
        nn.GELU(),
        nn.Dropout(drop),
        nn.Linear(hidden_features, in_features),
    )


def make_mlp_no_first_dropout(in_features, hidden_features, drop=0.0):
    return nn.Sequential(
        nn.Linear(in_features, hidden_features),
        nn.GELU(),
        nn.Linear(hidden_features, in_features),
        nn.Dropout(drop),
    )


def make_mlp_wrong_width(in_features, hidden_features, drop=0.0):
    return nn.Sequential(
        nn.Linear(in_features, 4 * in_features),
        nn.GELU(),
        nn.Dropout(drop),
        nn.Linear(4 * in_features, in_features),
        nn.Dropout(drop),
    )


class MlpFunctionalDropout(MlpRight):
    """F.dropout without training=self.training: drops in eval mode too."""

    def __init__(self, in_features, hidden_features, *, drop=0.0):
        super().__init__(in_features, hidden_features, drop=drop)
        self.p = drop

    def forward(self, x):
        x = F.dropout(self.act(self.fc1(x)), self.p)
        return F.dropout(self.fc2(x), self.p)


class MlpDropoutBeforeGelu(MlpRight):
    def forward(self, x):
        return self.drop2(self.fc2(self.act(self.drop1(self.fc1(x)))))


# ------------------------------------------------------------------ pooling, counts
def pool(x, global_pool):
    return x[:, 0] if global_pool == "token" else x[:, 1:].mean(dim=1)


def pool_avg_with_cls(x, global_pool):
    return x[:, 0] if global_pool == "token" else x.mean(dim=1)


def pool_last_token(x, global_pool):
    return x[:, -1] if global_pool == "token" else x[:, 1:].mean(dim=1)


def pool_keepdim(x, global_pool):
    return x[:, :1] if global_pool == "token" else x[:, 1:].mean(dim=1, keepdim=True)


def pool_sum(x, global_pool):
    return x[:, 0] if global_pool == "token" else x[:, 1:].sum(dim=1)


def num_tokens(img_size, patch_size, class_token=True):
    return (img_size // patch_size) ** 2 + int(class_token)


def num_tokens_no_cls(img_size, patch_size, class_token=True):
    return (img_size // patch_size) ** 2


def num_tokens_float(img_size, patch_size, class_token=True):
    return (img_size / patch_size) ** 2 + int(class_token)


def num_tokens_1d(img_size, patch_size, class_token=True):
    return img_size // patch_size + int(class_token)


def num_tokens_no_flag(img_size, patch_size):
    return (img_size // patch_size) ** 2 + 1


def num_tokens_always_cls(img_size, patch_size, class_token=True):
    return (img_size // patch_size) ** 2 + 1


def _count(
    *,
    img_size,
    patch_size,
    in_chans,
    embed_dim,
    depth,
    num_heads,
    head_dim,
    mlp_hidden,
    num_classes,
    inner=None,
    bias=True,
    cls_pos=True,
    norms=True,
    final_norm=True,
):
    d, b = embed_dim, int(bias)
    inner = num_heads * head_dim if inner is None else inner
    t = (img_size // patch_size) ** 2 + int(cls_pos)
    block = (
        (4 * d if norms else 0)
        + (3 * inner * d + 3 * inner * b)
        + (inner * d + d * b)
        + (d * mlp_hidden + mlp_hidden * b)
        + (mlp_hidden * d + d * b)
    )
    return (
        d * in_chans * patch_size**2
        + d * b
        + d
        + t * d
        + depth * block
        + (2 * d if final_norm else 0)
        + d * num_classes
        + num_classes * b
    )


def param_count(**sizes):
    return _count(**sizes)


def param_count_by_building(
    *,
    img_size,
    patch_size,
    in_chans,
    embed_dim,
    depth,
    num_heads,
    head_dim,
    mlp_hidden,
    num_classes,
):
    model = vit_lib.VisionTransformer(
        img_size=img_size,
        patch_size=patch_size,
        in_chans=in_chans,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        head_dim=head_dim,
        mlp_ratio=mlp_hidden / embed_dim,
        num_classes=num_classes,
    )
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------ timm's fused qkv
def split_qkv(weight, bias, num_heads):
    w_q, w_k, w_v = weight.chunk(3)
    if bias is None:
        return w_q, w_k, w_v, None, None, None
    return (w_q, w_k, w_v, *bias.chunk(3))


def split_qkv_by_heads(weight, bias, num_heads):
    d = weight.shape[1]
    w = weight.view(3, num_heads, -1, d)  # (3, h, d_h, D), timm's reshape order
    b = bias.view(3, num_heads, -1) if bias is not None else [None] * 3
    return (
        *(w[i].reshape(-1, d) for i in range(3)),
        *(b[i].reshape(-1) if bias is not None else None for i in range(3)),
    )


def split_qkv_via_linear(weight, bias, num_heads):
    """Like the chapter: the fused Linear's output, cut into three, equals three separate "
    "Linears."""
    inner = weight.shape[0] // 3
    parts = [weight[i * inner : (i + 1) * inner].clone() for i in range(3)]
    biases = [None if bias is None else bias[i * inner : (i + 1) * inner].clone() for i in range(3)]
    return tuple(parts) + tuple(biases)


def split_qkv_last_axis(weight, bias, num_heads):
    w_q, w_k, w_v = weight.chunk(3, dim=-1)
    b_q, b_k, b_v = bias.chunk(3, dim=-1) if bias is not None else (None, None, None)
    return w_q, w_k, w_v, b_q, b_k, b_v


def split_qkv_interleaved(weight, bias, num_heads):
    d = weight.shape[1]
    w = weight.view(num_heads, 3, -1, d)  # (h, 3, d_h, D): not timm's layout
    ws = [w[:, i].reshape(-1, d) for i in range(3)]
    bs = (
        [bias.view(num_heads, 3, -1)[:, i].reshape(-1) for i in range(3)]
        if bias is not None
        else [None] * 3
    )
    return (*ws, *bs)


def split_qkv_k_v_swapped(weight, bias, num_heads):
    w_q, w_v, w_k = weight.chunk(3)
    b_q, b_v, b_k = bias.chunk(3) if bias is not None else (None, None, None)
    return w_q, w_k, w_v, b_q, b_k, b_v


def split_qkv_q_k_swapped(weight, bias, num_heads):
    w_k, w_q, w_v = weight.chunk(3)
    b_k, b_q, b_v = bias.chunk(3) if bias is not None else (None, None, None)
    return w_q, w_k, w_v, b_q, b_k, b_v


def split_qkv_bias_forgotten(weight, bias, num_heads):
    return (*weight.chunk(3), None, None, None)


def split_qkv_whole_bias(weight, bias, num_heads):
    return (*weight.chunk(3), bias, bias, bias)


def split_qkv_bias_required(weight, bias, num_heads):
    return (*weight.chunk(3), *bias.chunk(3))


def split_qkv_transposed(weight, bias, num_heads):
    return (*(w.T for w in weight.chunk(3)), *(bias.chunk(3) if bias is not None else (None,) * 3))


def split_qkv_weights_only(weight, bias, num_heads):
    return weight.chunk(3)


# ------------------------------------------------------------------ learning-rate schedule
def lr_at(step, total_steps, warmup_steps, peak_lr, min_lr=0.0):
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return min_lr + 0.5 * (peak_lr - min_lr) * (1 + math.cos(math.pi * t))


def lr_lambda_lr(step, total_steps, warmup_steps, peak_lr, min_lr=0.0):
    """Through torch's LambdaLR, with the library's multiplier, as the trainer uses it."""
    optimizer = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=peak_lr)
    multiplier = vit_lib.train.WarmupCosine(warmup_steps, total_steps, min_lr / peak_lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)
    for _ in range(step):
        optimizer.step()
        scheduler.step()
    return optimizer.param_groups[0]["lr"]


def _lr_variant(
    warm="right", decay=0, clamp=False, angle=math.pi, shape="cos", from_zero=False, floor=True
):
    def lr(step, total_steps, warmup_steps, peak_lr, min_lr=0.0):
        w = 0 if warm == "none" else warmup_steps
        if warm == "right" and step < w:
            return peak_lr * (step + 1) / w
        if warm == "zero" and step < w:
            return peak_lr * step / w
        if warm == "overshoot" and step <= w:
            return peak_lr * (step + 1) / w
        start = 0 if from_zero else w
        t = (step - start) / (total_steps - start + decay)
        t = min(t, 1.0) if clamp else t
        low = min_lr if floor else 0.0
        if shape == "linear":
            return low + (peak_lr - low) * (1 - t)
        if shape == "unscaled":
            return min_lr + peak_lr * 0.5 * (1 + math.cos(angle * t))
        return low + 0.5 * (peak_lr - low) * (1 + math.cos(angle * t))

    return lr


def lr_no_min_lr(step, total_steps, warmup_steps, peak_lr):
    return lr_at(step, total_steps, warmup_steps, peak_lr)


def lr_divides_by_warmup(step, total_steps, warmup_steps, peak_lr, min_lr=0.0):
    warm = min(1.0, (step + 1) / warmup_steps)
    return warm * lr_at(max(step, warmup_steps), total_steps, warmup_steps, peak_lr, min_lr)


# ------------------------------------------------------------------ attention rollout
def rollout(maps):
    result = None
    for attn in maps:
        a = 0.5 * attn.mean(dim=1) + 0.5 * torch.eye(attn.shape[-1], dtype=attn.dtype)
        result = a if result is None else a @ result
    return result


def rollout_stacked(maps):
    a = torch.stack(maps).mean(dim=2)  # (L, N, T, T)
    a = a + torch.eye(a.shape[-1], dtype=a.dtype)
    a = a / a.sum(-1, keepdim=True)
    r = a[-1]
    for layer in reversed(range(a.shape[0] - 1)):
        r = r @ a[layer]  # Â_L ... Â_1, built from the left
    return r


def _rollout_variant(identity=True, renorm=True, order="right", heads="mean"):
    def rollout_variant(maps):
        result = None
        for attn in maps:
            a = attn.mean(dim=1) if heads == "mean" else attn.max(dim=1).values
            if identity:
                a = a + torch.eye(a.shape[-1], dtype=a.dtype)
            if renorm:
                a = a / a.sum(-1, keepdim=True)
            result = a if result is None else (a @ result if order == "right" else result @ a)
        return result

    return rollout_variant


def rollout_layers_averaged(maps):
    a = torch.stack(maps, dim=1).mean(dim=2)  # (N, L, T, T)
    a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], dtype=a.dtype)
    return a.mean(dim=1)


def rollout_heads_kept(maps):
    a = torch.stack(maps, dim=1)  # (N, L, h, T, T)
    a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], dtype=a.dtype)
    r = a[:, 0]
    for layer in range(1, a.shape[1]):
        r = a[:, layer] @ r
    return r  # (N, h, T, T): heads not averaged


# ------------------------------------------------------------------ gated MLP (SwiGLU)
def glu(x, w1, b1, w2, b2):
    hidden = x @ w1.T + b1
    size = hidden.shape[-1] // 2
    gate, value = hidden[..., :size], hidden[..., size:]
    return (gate * torch.sigmoid(gate) * value) @ w2.T + b2


def _glu_variant(act=F.silu, gate_last=False, alternate=False):
    def variant(x, w1, b1, w2, b2):
        hidden = F.linear(x, w1, b1)
        if alternate:
            gate, value = hidden[..., ::2], hidden[..., 1::2]
        else:
            gate, value = hidden.chunk(2, dim=-1)
        if gate_last:
            gate, value = value, gate
        return F.linear(act(gate) * value, w2, b2)

    return variant


def glu_without_split(x, w1, b1, w2, b2):
    return F.linear(F.silu(x @ w1.T + b1), w2, b2)


# ------------------------------------------------------------------ a drawing, counted
def counts_by_unfold(bitmap):
    patches = F.unfold(bitmap[None, None], kernel_size=4, stride=4)  # (1, 16, blocks)
    return patches.sum(dim=1).reshape(bitmap.shape[0] // 4, bitmap.shape[1] // 4)


def counts_by_loop(bitmap):
    h, w = bitmap.shape
    out = torch.zeros(h // 4, w // 4, dtype=bitmap.dtype)
    for i in range(h // 4):
        for j in range(w // 4):
            out[i, j] = bitmap[4 * i : 4 * i + 4, 4 * j : 4 * j + 4].sum()
    return out


def counts_of_rows(bitmap):
    return bitmap.reshape(bitmap.shape[0] // 4, bitmap.shape[1] // 4, 16).sum(-1)


def counts_averaged(bitmap):
    return F.avg_pool2d(bitmap[None, None], 4)[0, 0]


def counts_transposed(bitmap):
    return counts_by_loop(bitmap).T


def counts_of_corners(bitmap):
    return bitmap[::4, ::4]


def counts_of_a_square_bitmap(bitmap):
    return bitmap.reshape(8, 4, 8, 4).sum(dim=(1, 3))  # 32 x 32 only


# ------------------------------------------------------------------ rotary position embedding
def rotate_by_complex(x, angles):
    """Neighbouring features as complex numbers, turned by multiplying with e^(i·angle)."""
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    turned = pairs * torch.polar(torch.ones_like(angles), angles)
    return torch.view_as_real(turned).reshape(x.shape)


def rotate_by_loop(x, angles):
    out = x.clone()
    for m in range(angles.shape[-1]):
        a, b = x[..., 2 * m], x[..., 2 * m + 1]
        out[..., 2 * m] = a * angles[..., m].cos() - b * angles[..., m].sin()
        out[..., 2 * m + 1] = a * angles[..., m].sin() + b * angles[..., m].cos()
    return out


def rope_angles(grid, head_dim, temperature=10000.0):
    quarter = head_dim // 4
    frequencies = temperature ** (-torch.arange(quarter, dtype=torch.float64) / quarter)
    rows = torch.arange(grid[0]).repeat_interleave(grid[1])[:, None]  # row-major patches
    cols = torch.arange(grid[1]).repeat(grid[0])[:, None]
    return torch.cat([rows * frequencies, cols * frequencies], dim=-1)


def _rope_angles_variant(xy=False, step=4, alternate=False):
    def angles(grid, head_dim, temperature=10000.0):
        quarter = head_dim // 4
        frequencies = temperature ** (-torch.arange(quarter, dtype=torch.float64) * step / head_dim)
        rows = torch.arange(grid[0]).repeat_interleave(grid[1])[:, None]
        cols = torch.arange(grid[1]).repeat(grid[0])[:, None]
        first, second = (cols, rows) if xy else (rows, cols)
        if alternate:
            return torch.stack([first * frequencies, second * frequencies], -1).flatten(-2)
        return torch.cat([first * frequencies, second * frequencies], dim=-1)

    return angles


def _rotate_variant(sign=1.0, halves=False, cat_angles=False):
    def rotate(x, angles):
        cos, sin = angles.cos(), sign * angles.sin()
        if cat_angles:
            cos, sin = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)
        else:
            cos, sin = cos.repeat_interleave(2, -1), sin.repeat_interleave(2, -1)
        if halves:
            first, second = x.chunk(2, dim=-1)
            partner = torch.cat([-second, first], dim=-1)
        else:
            partner = torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)
        return x * cos + partner * sin

    return rotate


def rotate_without_repeat(x, angles):
    return x * angles.cos() + x * angles.sin()  # (..., d_h) against (..., d_h / 2)


def repeat_kv_by_expand(x, num_heads):
    """Each key head expanded over a new axis of its group, then the two axes merged."""
    n, h_kv, t, d = x.shape
    return x[:, :, None].expand(n, h_kv, num_heads // h_kv, t, d).reshape(n, num_heads, t, d)


RIGHT = [
    (ex.check_patchify, patchify),
    (ex.check_patchify, patchify_unfold),
    (ex.check_patchify, patchify_conv),
    (ex.check_prepend_cls, prepend_cls),
    (ex.check_prepend_cls, prepend_cls_repeat),
    (ex.check_prepend_cls, vit_lib.prepend_class_token),
    (ex.check_pos_embed_shape, make_pos_embed),
    (ex.check_pos_embed_shape, lambda n, d: vit_lib.sincos_pos_embed((n, 1), 4 * d)[..., :d]),
    (ex.check_split_heads, split_heads),
    (ex.check_split_heads, vit_lib.split_heads),
    (ex.check_attention, attention),
    (ex.check_attention, attention_with_weights),
    (ex.check_attention, attention_sdpa),
    (ex.check_attention, vit_lib.explicit_attention),
    (ex.check_merge_heads, merge_heads),
    (ex.check_merge_heads, merge_heads_contiguous_view),
    (ex.check_merge_heads, vit_lib.merge_heads),
    (ex.check_layer_norm, layer_norm),
    (ex.check_layer_norm, layer_norm_functional),
    (ex.check_layer_norm, layer_norm_float32),
    (ex.check_mlp_dropout, MlpRight),
    (ex.check_mlp_dropout, make_mlp_sequential),
    (ex.check_mlp_dropout, vit_lib.Mlp),
    (ex.check_pool, pool),
    (ex.check_pool, vit_lib.pool_tokens),
    (ex.check_num_tokens, num_tokens),
    (ex.check_param_count, param_count),
    (ex.check_param_count, param_count_by_building),
    (ex.check_split_qkv, split_qkv),
    (ex.check_split_qkv, split_qkv_by_heads),
    (ex.check_split_qkv, split_qkv_via_linear),
    (ex.check_lr_schedule, lr_at),
    (ex.check_lr_schedule, lr_lambda_lr),
    (ex.check_lr_schedule, _lr_variant(clamp=True)),
    (
        ex.check_lr_schedule,
        lambda s, total, w, peak, min_lr=0.0: (
            peak * vit_lib.train.WarmupCosine(w, total, min_lr / peak)(s)
        ),
    ),
    (ex.check_rollout, rollout),
    (ex.check_rollout, rollout_stacked),
    (ex.check_rollout, vit_lib.attention_rollout),
    (ex.check_rollout, lambda maps: vit_lib.attention_rollout([m.float() for m in maps])),
    (ex.check_glu, glu),
    (ex.check_glu, _glu_variant()),
    (ex.check_block_counts, counts_by_unfold),
    (ex.check_block_counts, counts_by_loop),
    (ex.check_rotate_pairs, rotate_by_complex),
    (ex.check_rotate_pairs, rotate_by_loop),
    (ex.check_rotate_pairs, vit_lib.rotate_pairs),
    (ex.check_rope_angles, rope_angles),
    (
        ex.check_rope_angles,
        lambda grid, d, t=10000.0: vit_lib.Rope2d(d, grid, temperature=t).angles(),
    ),
    (ex.check_repeat_kv, vit_lib.repeat_kv),
    (ex.check_repeat_kv, lambda x, h: x.repeat_interleave(h // x.shape[1], dim=1)),
    (ex.check_repeat_kv, repeat_kv_by_expand),
]


def _id(value):
    return getattr(value, "__name__", None) or repr(value)


def assert_printed(printed: str, message: str) -> None:
    """The checker printed its message, folded so that no line runs past 88 characters."""
    assert printed.split() == message.split()
    assert all(len(line) <= 88 or " " not in line.strip() for line in printed.splitlines()), printed


@pytest.mark.parametrize(
    "checker, solution", RIGHT, ids=[f"{c.__name__}-{_id(s)}" for c, s in RIGHT]
)
def test_right_solution_passes(checker, solution, capsys):
    result = checker(solution)
    printed = capsys.readouterr().out
    assert result.passed, result.message
    assert bool(result) is True
    assert_printed(printed, result.message)
    assert result.message.startswith(f"{checker.__name__}: PASS")


# (checker, wrong solution, a phrase of the hint that names the mistake)
WRONG = [
    (ex.check_patchify, patchify_reshape_only, "plain reshape mixes pixels"),
    (ex.check_patchify, patchify_channels_last, "yours is (row, column, channel)"),
    (ex.check_patchify, patchify_column_major, "numbered row by row"),
    (ex.check_patchify, patchify_unfold_no_transpose, "F.unfold puts the patch axis last"),
    (ex.check_patchify, patchify_square_only, "assuming square images"),
    (ex.check_prepend_cls, prepend_cls_no_expand, "expand it to the batch"),
    (ex.check_prepend_cls, append_cls, "goes in front, at position 0"),
    (ex.check_prepend_cls, add_cls, "adding it to the patch tokens"),
    (ex.check_prepend_cls, prepend_cls_in_place, "don't modify the inputs"),
    (ex.check_pos_embed_shape, make_pos_embed_patches_only, "class token needs a position too"),
    (ex.check_pos_embed_shape, make_pos_embed_no_batch, "leading batch axis"),
    (ex.check_split_heads, split_heads_view_only, "view as (N, T, h, d_h) first"),
    (ex.check_split_heads, split_heads_interleaved, "not (d_h, h)"),
    (ex.check_split_heads, split_heads_no_transpose, "you stopped at (N, T, h, d_h)"),
    (ex.check_split_heads, split_heads_fixed_width, "d_h = x.shape[-1] // num_heads"),
    (ex.check_attention, _scaled(lambda d: d * -0.5), "you wrote d_h * -0.5"),
    (ex.check_attention, _scaled(lambda d: 1.0), "without it the softmax saturates"),
    (ex.check_attention, _scaled(lambda d: 1.0 / d), "not 1/d_h"),
    (ex.check_attention, _scaled(lambda d: d**0.5), "don't multiply"),
    (ex.check_attention, _scaled(lambda d: d**-0.5, dim=-2), "over the queries (dim=-2)"),
    (ex.check_attention, _scaled(lambda d: d**-0.5, dim=1), "over the heads (dim=1)"),
    (ex.check_attention, attention_naive_softmax, "subtract each row's maximum"),
    (ex.check_attention, attention_returns_weights, "you returned the attention weights"),
    (ex.check_attention, attention_k_not_transposed, "transpose the last two axes of k"),
    (ex.check_merge_heads, merge_heads_view_only, "scrambles tokens across heads"),
    (ex.check_merge_heads, merge_heads_view_after_transpose, "use .reshape"),
    (ex.check_merge_heads, merge_heads_interleaved, "yours interleave"),
    (ex.check_merge_heads, lambda x: x.transpose(1, 2), "you stopped at (N, T, h, d_h)"),
    (ex.check_layer_norm, layer_norm_module_default, "you used 1e-5"),
    (ex.check_layer_norm, layer_norm_unbiased, "biased variance"),
    (ex.check_layer_norm, layer_norm_eps_outside, "inside the square root"),
    (ex.check_layer_norm, layer_norm_tokens_axis, "over the tokens (dim=1)"),
    (ex.check_layer_norm, layer_norm_no_affine, "scale by weight and shift by bias"),
    (ex.check_layer_norm, layer_norm_in_place, "don't modify the inputs"),
    (ex.check_mlp_dropout, make_mlp_default_dropout, "p = 0.5"),
    (ex.check_mlp_dropout, make_mlp_relu, "not ReLU"),
    (ex.check_mlp_dropout, make_mlp_tanh_gelu, "tanh approximation"),
    (ex.check_mlp_dropout, make_mlp_no_second_dropout, "after fc2 as well"),
    (ex.check_mlp_dropout, make_mlp_no_first_dropout, "after the GELU"),
    (ex.check_mlp_dropout, make_mlp_wrong_width, "fc1 widens each token from D to D_ff"),
    (ex.check_mlp_dropout, MlpFunctionalDropout, "switch off in eval mode"),
    (ex.check_mlp_dropout, MlpDropoutBeforeGelu, "dropout goes after the activation"),
    (ex.check_pool, pool_avg_with_cls, "you included the class token"),
    (ex.check_pool, pool_last_token, "not the last"),
    (ex.check_pool, pool_keepdim, "drop the token axis"),
    (ex.check_pool, pool_sum, "not a sum"),
    (ex.check_num_tokens, num_tokens_no_cls, "add 1 for the class token"),
    (ex.check_num_tokens, num_tokens_float, "use // (integer division)"),
    (ex.check_num_tokens, num_tokens_1d, "2-D grid"),
    (ex.check_num_tokens, num_tokens_no_flag, "add a parameter class_token"),
    (ex.check_num_tokens, num_tokens_always_cls, "no extra token"),
    (ex.check_param_count, lambda **s: _count(**s, inner=s["embed_dim"]), "h·d_h ≠ D"),
    (
        ex.check_param_count,
        lambda **s: _count(**s, cls_pos=False),
        "class token needs a position too",
    ),
    (ex.check_param_count, lambda **s: _count(**s, bias=False), "has a bias"),
    (
        ex.check_param_count,
        lambda **s: _count(**s, norms=False, final_norm=False),
        "two per block, and one after",
    ),
    (ex.check_param_count, lambda **s: _count(**s, final_norm=False), "final LayerNorm"),
    (ex.check_param_count, lambda **s: _count(**s, norms=False), "norm1 and norm2"),
    (ex.check_split_qkv, split_qkv_last_axis, "chunk along dim=0"),
    (ex.check_split_qkv, split_qkv_interleaved, "per-head layout (h, 3, d_h)"),
    (ex.check_split_qkv, split_qkv_k_v_swapped, "yours returns them as q, v, k"),
    (ex.check_split_qkv, split_qkv_q_k_swapped, "yours returns them as k, q, v"),
    (ex.check_split_qkv, split_qkv_bias_forgotten, "split the bias too"),
    (ex.check_split_qkv, split_qkv_whole_bias, "its own third of the bias"),
    (ex.check_split_qkv, split_qkv_bias_required, "the bias is None"),
    (ex.check_split_qkv, split_qkv_transposed, "don't transpose"),
    (ex.check_split_qkv, split_qkv_weights_only, "return a tuple of 6"),
    (ex.check_lr_schedule, _lr_variant(warm="none"), "no warm-up"),
    (ex.check_lr_schedule, _lr_variant(warm="zero"), "yours starts at 0"),
    (ex.check_lr_schedule, _lr_variant(warm="overshoot"), "warm-up overshoots"),
    (ex.check_lr_schedule, _lr_variant(angle=180.0), "radians"),
    (ex.check_lr_schedule, _lr_variant(angle=180.0, clamp=True), "radians"),
    (ex.check_lr_schedule, _lr_variant(shape="linear"), "straight line"),
    (ex.check_lr_schedule, _lr_variant(decay=-1), "one step early"),
    (ex.check_lr_schedule, _lr_variant(decay=-1, clamp=True), "one step early"),
    (ex.check_lr_schedule, _lr_variant(decay=1), "never reaches min_lr"),
    (ex.check_lr_schedule, _lr_variant(from_zero=True), "from step 0"),
    (ex.check_lr_schedule, _lr_variant(floor=False), "not at 0"),
    (ex.check_lr_schedule, _lr_variant(shape="unscaled"), "by (peak_lr − min_lr)"),
    (ex.check_lr_schedule, lr_no_min_lr, "add a parameter min_lr"),
    (ex.check_lr_schedule, lr_divides_by_warmup, "warmup_steps = 0 there is no warm-up"),
    (ex.check_rollout, _rollout_variant(identity=False), "add the identity"),
    (ex.check_rollout, _rollout_variant(renorm=False), "renormalise the rows"),
    (ex.check_rollout, _rollout_variant(order="left"), "first layer goes on the right"),
    (ex.check_rollout, _rollout_variant(heads="max"), "yours takes their maximum"),
    (ex.check_rollout, _rollout_variant(heads="max", renorm=False), "skips the renormalisation"),
    (ex.check_rollout, rollout_layers_averaged, "yours averages them"),
    (ex.check_rollout, rollout_heads_kept, "the shape should be"),
    (ex.check_glu, _glu_variant(gate_last=True), "gates with the second half"),
    (ex.check_glu, _glu_variant(act=F.gelu), "that is GeGLU"),
    (ex.check_glu, _glu_variant(act=torch.sigmoid), "the original GLU"),
    (ex.check_glu, _glu_variant(alternate=True), "takes every other feature"),
    (ex.check_glu, glu_without_split, "split them into two halves"),
    (ex.check_block_counts, counts_of_rows, "16 pixels of one row"),
    (ex.check_block_counts, counts_averaged, "yours averages them"),
    (ex.check_block_counts, counts_transposed, "yours is transposed"),
    (ex.check_block_counts, counts_of_corners, "only its top-left one"),
    (ex.check_block_counts, counts_of_a_square_bitmap, "multiples of 4"),
    (ex.check_rotate_pairs, _rotate_variant(sign=-1.0), "turns the wrong way round"),
    (ex.check_rotate_pairs, _rotate_variant(halves=True, cat_angles=True), "rotate_half layout"),
    (ex.check_rotate_pairs, _rotate_variant(cat_angles=True), "repeat each angle"),
    (ex.check_rotate_pairs, rotate_without_repeat, "repeat_interleave(2, -1)"),
    (ex.check_rope_angles, _rope_angles_variant(xy=True), "the other way round"),
    (ex.check_rope_angles, _rope_angles_variant(step=2), "1-D RoPE"),
    (ex.check_rope_angles, _rope_angles_variant(alternate=True), "one half of the angles"),
    (ex.check_repeat_kv, lambda x, h: x.repeat(1, h // x.shape[1], 1, 1), "yours tiles them"),
    (
        ex.check_repeat_kv,
        lambda x, h: x.repeat_interleave(h // x.shape[1], dim=2),
        "yours repeats the tokens",
    ),
    (ex.check_repeat_kv, lambda x, h: x, "FAIL on case: the seed"),
]


@pytest.mark.parametrize(
    "checker, solution, hint",
    WRONG,
    ids=[f"{c.__name__}-{i:02d}-{_id(s)}" for i, (c, s, _) in enumerate(WRONG)],
)
def test_wrong_solution_fails_with_its_hint(checker, solution, hint, capsys):
    result = checker(solution)
    printed = capsys.readouterr().out
    assert not result.passed
    assert bool(result) is False
    assert_printed(printed, result.message)
    assert result.message.startswith(f"{checker.__name__}: FAIL on case: ")
    assert "expected:" in result.message and "got:" in result.message
    assert hint in result.message, result.message


def test_strict_raises_with_the_message():
    with pytest.raises(AssertionError, match=r"(?s)check_merge_heads: FAIL.*scrambles tokens"):
        ex.check_merge_heads(merge_heads_view_only, strict=True)
    assert ex.check_merge_heads(merge_heads, strict=True).passed


def test_every_checker_is_in_vit_lib_course_and_none_in_vit_lib():
    import vit_lib.course

    checkers = [name for name in dir(ex) if name.startswith("check_")]
    assert len(checkers) == 19
    for name in checkers + ["CheckResult"]:
        assert getattr(vit_lib.course, name) is getattr(ex, name)
        assert name in vit_lib.course.__all__
        assert name not in vit_lib.__all__ and not hasattr(vit_lib, name)


def test_reference_parameter_count_matches_timm_vit_b16():
    timm = pytest.importorskip("timm")
    with torch.device("meta"):  # shapes only, nothing allocated
        model = timm.create_model("vit_base_patch16_224", pretrained=False)
    sizes = dict(
        img_size=224,
        patch_size=16,
        in_chans=3,
        embed_dim=768,
        depth=12,
        num_heads=12,
        head_dim=64,
        mlp_hidden=3072,
        num_classes=1000,
    )
    assert ex._vit_params(**sizes) == sum(p.numel() for p in model.parameters()) == 86_567_656


def test_reference_qkv_split_matches_timm_attention():
    """The checker's [q | k | v] split gives the q, k, v that timm's Attention computes."""
    timm_layers = pytest.importorskip("timm.layers")
    torch.manual_seed(0)
    heads, dim = 4, 24
    attn = timm_layers.Attention(dim, num_heads=heads, qkv_bias=True).double()
    with torch.no_grad():
        attn.qkv.bias.normal_()
        x = torch.randn(2, 5, dim, dtype=torch.float64)  # (N, T, D)
        theirs = (
            attn.qkv(x).reshape(2, 5, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        )  # (3, N, h, T, d_h)
        w_q, w_k, w_v, b_q, b_k, b_v = ex._split_qkv_reference(
            attn.qkv.weight, attn.qkv.bias, heads
        )
        ours = [
            vit_lib.split_heads(F.linear(x, w, b), heads)
            for w, b in [(w_q, b_q), (w_k, b_k), (w_v, b_v)]
        ]
        wrong = ex._split_qkv_interleaved(attn.qkv.weight, attn.qkv.bias, heads)
    for mine, reference in zip(ours, theirs):
        assert torch.allclose(mine, reference, atol=1e-12)
    assert not torch.allclose(F.linear(x, wrong[0], wrong[3]), F.linear(x, w_q, b_q))


def test_checkers_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ex.check_mlp_dropout(MlpRight)
    ex.check_attention(attention)
    assert torch.equal(torch.rand(3), expected)


def test_result_repr_is_short():
    result = ex.check_pool(pool)
    assert repr(result) == "CheckResult(check='check_pool', passed=True)"
