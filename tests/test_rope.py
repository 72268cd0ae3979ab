"""2-D rotary position embeddings (vit_lib.rope, chapters/17_rope.md) against timm's.

Every scheme timm's Eva models use (rope_type 'cat', 'dinov3', 'mixed'), with the settings they
set, on square and non-square grids: the rotated queries equal timm's in float32 (<= 1e-6) and
float64 (<= 1e-12); `RopeAttention` equals timm's `AttentionRope` with the same weights.
"""

import pytest
import torch
from timm.layers import AttentionRope
from timm.layers.pos_embed_sincos import apply_rot_embed_cat, create_rope_embed

from vit_lib import Attention, Rope2d, RopeAttention, apply_rope, patch_coords, rotate_pairs

TOLERANCE = {torch.float32: 1e-6, torch.float64: 1e-12}
DTYPES = pytest.mark.parametrize("dtype", list(TOLERANCE), ids=["fp32", "fp64"])
GRIDS = pytest.mark.parametrize("grid", [(4, 4), (3, 5), (1, 1)], ids=["4x4", "3x5", "1x1"])
# (ours, timm's create_rope_embed keywords)
SCHEMES = {
    "axial": (dict(kind="axial"), dict(rope_type="cat", in_pixels=False)),
    "axial, halves": (
        dict(kind="axial", rotate_half=True),
        dict(rope_type="cat", in_pixels=False, rotate_half=True),
    ),
    "axial, offset, temperature": (
        dict(kind="axial", offset=1.0, temperature=100.0),
        dict(rope_type="cat", in_pixels=False, grid_offset=1.0, temperature=100.0),
    ),
    "axial, ref grid (EVA-02)": (
        dict(kind="axial", ref_grid=(16, 16)),
        dict(rope_type="cat", in_pixels=False, ref_feat_shape=(16, 16)),
    ),
    "axial, xy": (
        dict(kind="axial", indexing="xy"),
        dict(rope_type="cat", in_pixels=False, grid_indexing="xy"),
    ),
    "dinov3": (dict(kind="dinov3", rotate_half=True), dict(rope_type="dinov3")),
    "dinov3, periods": (
        dict(kind="dinov3", rotate_half=True, min_period=0.5, max_period=90.0),
        dict(rope_type="dinov3", temperature=None, min_period=0.5, max_period=90.0),
    ),
    "dinov3, max, offset": (
        dict(kind="dinov3", rotate_half=True, normalize="max", offset=0.25),
        dict(rope_type="dinov3", normalize_coords="max", grid_offset=0.25),
    ),
    "mixed": (dict(kind="mixed", depth=3, num_heads=2), dict(rope_type="mixed", depth=3)),
}


def pair(name: str, grid: tuple[int, int], head_dim: int = 16, heads: int = 2):
    ours_kw, timm_kw = SCHEMES[name]
    theirs = create_rope_embed(
        dim=heads * head_dim, num_heads=heads, feat_shape=list(grid), **timm_kw
    )
    ours = Rope2d(head_dim, grid, **ours_kw)
    ours.load_state_dict(theirs.state_dict(), strict=True)  # mixed: the learned frequencies
    return ours, theirs


@DTYPES
@GRIDS
@pytest.mark.parametrize("name", SCHEMES)
def test_each_scheme_rotates_as_timm_does(name, grid, dtype):
    ours, theirs = pair(name, grid)
    table, angles = theirs.get_embed(), ours.angles()
    x = torch.randn(3, 2, grid[0] * grid[1], 16, dtype=dtype)  # (N, h, L, d_h)
    if ours.kind == "mixed":  # one table per block
        for block in range(3):
            want = apply_rot_embed_cat(x, table[block], half=False)
            assert (rotate_pairs(x, angles[block]) - want).abs().max() <= TOLERANCE[dtype]
    else:
        want = apply_rot_embed_cat(x, table, half=ours.rotate_half)
        got = rotate_pairs(x, angles, ours.rotate_half)
        assert got.dtype == dtype and (got - want).abs().max() <= TOLERANCE[dtype]


@pytest.mark.parametrize("name", SCHEMES)
def test_the_angle_table_has_one_angle_per_pair_and_patch(name):
    ours, _ = pair(name, (3, 5))
    want = (3, 2, 15, 8) if ours.kind == "mixed" else (15, 8)
    assert ours.angles().shape == want and ours.angles().dtype == torch.float32


def test_the_mixed_frequencies_round_trip_through_timms_state_dict():
    ours, theirs = pair("mixed", (4, 4))
    with torch.no_grad():
        ours.freqs.mul_(1.5)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    assert torch.equal(theirs.freqs, ours.freqs)
    assert list(ours.state_dict()) == ["freqs"]


def test_another_grid_needs_no_resampling():
    rope = Rope2d(16, (4, 4))
    wide = rope.angles((6, 6)).reshape(6, 6, 8)
    assert torch.equal(wide[:4, :4].reshape(16, 8), rope.angles())


def test_the_prefix_tokens_are_not_turned_and_lengths_are_kept():
    rope = Rope2d(16, (2, 3))
    x = torch.randn(2, 4, 3 + 6, 16, dtype=torch.float64)  # 3 prefix tokens, 6 patches
    turned = apply_rope(x, rope.angles(), num_prefix_tokens=3)
    assert torch.equal(turned[:, :, :3], x[:, :, :3])
    assert not torch.allclose(turned[:, :, 4:], x[:, :, 4:])
    # the angles are float32: sin² + cos² is 1 to float32 precision
    assert torch.allclose(turned.norm(dim=-1), x.norm(dim=-1), rtol=1e-6)


def test_scores_between_patches_depend_on_their_offset_only():
    rope = Rope2d(16, (3, 3))
    q, k = torch.randn(2, 9, 16, dtype=torch.float64)
    coords = patch_coords((3, 3))
    per_axis = rope.axis_frequencies().double()

    def scores(shift):
        angles = ((coords + torch.tensor(shift))[:, :, None] * per_axis).flatten(1)
        return rotate_pairs(q, angles) @ rotate_pairs(k, angles).T

    assert torch.allclose(scores([0.0, 0.0]), scores([5.0, -2.0]), atol=1e-10)


@DTYPES
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "explicit"])
@pytest.mark.parametrize("half", [False, True], ids=["neighbours", "halves"])
def test_rope_attention_equals_timms(fused, half, dtype):
    torch.manual_seed(0)
    theirs = AttentionRope(32, num_heads=4, num_prefix_tokens=2, rotate_half=half).to(dtype)
    ours = RopeAttention(32, 4, num_prefix_tokens=2, rotate_half=half, fused_attn=fused)
    ours = ours.to(dtype)
    ours.load_state_dict(theirs.state_dict(), strict=True)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    theirs.fused_attn = fused
    rope = Rope2d(8, (3, 4), rotate_half=half)
    table = timm_table(rope)
    x = torch.randn(2, 2 + 12, 32, dtype=dtype)
    with torch.no_grad():
        delta = (ours.eval()(x, rope.angles()) - theirs.eval()(x, rope=table)).abs().max()
    assert delta <= 10 * TOLERANCE[dtype]


def timm_table(rope: Rope2d) -> torch.Tensor:
    """timm's (L, 2 * d_h) layout of our angles: sines then cosines, one per feature."""
    angles = rope.angles()
    layout = (
        (lambda a: torch.cat([a, a], -1))
        if rope.rotate_half
        else (lambda a: a.repeat_interleave(2, -1))
    )
    return torch.cat([layout(angles.sin()), layout(angles.cos())], dim=-1)


def test_rope_attention_loads_chapter_5s_weights_and_returns_its_maps():
    plain = Attention(32, 4)
    ours = RopeAttention(32, 4, num_prefix_tokens=1)
    ours.load_state_dict(plain.state_dict(), strict=True)
    out, weights = ours(torch.randn(2, 1 + 6, 32), Rope2d(8, (2, 3)).angles(), True)
    assert out.shape == (2, 7, 32) and weights.shape == (2, 4, 7, 7)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 7))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(head_dim=18), r"d_h must be divisible by 4, got 18"),
        (dict(kind="spiral"), r"unknown RoPE kind 'spiral'; expected one of"),
        (dict(kind="mixed", rotate_half=True), r"rotate_half must be False"),
    ],
)
def test_bad_settings_are_refused_with_the_numbers(kwargs, message):
    settings = dict(head_dim=16, grid_size=(2, 2)) | kwargs
    with pytest.raises(ValueError, match=message):
        Rope2d(**settings)
