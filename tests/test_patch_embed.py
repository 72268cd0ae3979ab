"""vit_lib.PatchEmbed: the stride-P convolution is the reshape + linear map; timm agrees; bad "
"input is named."""

import pytest
import torch

from vit_lib import PatchEmbed


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(n, (h // p) * (w // p), c * p * p)


@pytest.mark.parametrize(
    "img_size,patch,chans,dim", [(32, 8, 3, 1024), (24, 4, 1, 16), ((16, 32), 8, 2, 7)]
)
def test_conv_equals_reshape_then_linear(img_size, patch, chans, dim):
    torch.manual_seed(0)
    embed = PatchEmbed(img_size, patch, chans, dim).double()
    h, w = embed.img_size
    x = torch.randn(2, chans, h, w, dtype=torch.float64)
    weight = embed.proj.weight.reshape(dim, -1)
    expected = patchify(x, patch) @ weight.T + embed.proj.bias
    got = embed(x)
    assert got.shape == (2, embed.num_patches, dim)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-12)


def test_seed_configuration_shape_and_geometry():
    embed = PatchEmbed(img_size=32, patch_size=8, in_chans=3, embed_dim=1024)
    assert embed.grid_size == (4, 4) and embed.num_patches == 16
    assert embed(torch.randn(4, 3, 32, 32)).shape == (4, 16, 1024)


def test_patch_order_is_row_major():
    """Token t holds patch (t // grid_w, t % grid_w): a one-hot image lights up exactly that "
    "token."""
    embed = PatchEmbed(img_size=(16, 24), patch_size=8, in_chans=1, embed_dim=1, bias=False)
    torch.nn.init.ones_(embed.proj.weight)
    x = torch.zeros(1, 1, 16, 24)
    x[0, 0, 9, 17] = 1.0  # patch row 1, patch column 2
    assert embed(x)[0, :, 0].nonzero().flatten().tolist() == [1 * 3 + 2]


def test_matches_timm_patch_embed():
    timm_layers = pytest.importorskip("timm.layers")
    torch.manual_seed(0)
    reference = timm_layers.PatchEmbed(img_size=32, patch_size=8, in_chans=3, embed_dim=64)
    ours = PatchEmbed(img_size=32, patch_size=8, in_chans=3, embed_dim=64)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=1e-6)


@pytest.fixture
def embed():
    return PatchEmbed(img_size=32, patch_size=8, in_chans=3, embed_dim=16)


def test_wrong_channel_count(embed):
    with pytest.raises(
        ValueError, match=r"expected 3 input channels, got 1 \(input shape \(4, 1, 32, 32\)\)"
    ):
        embed(torch.randn(4, 1, 32, 32))


def test_size_not_divisible_by_patch(embed):
    with pytest.raises(
        ValueError, match=r"input height 30 is not divisible by the patch size 8 \(30 % 8 = 6\)"
    ):
        embed(torch.randn(4, 3, 30, 32))


def test_width_not_divisible_by_patch(embed):
    with pytest.raises(ValueError, match=r"input width 36 is not divisible by the patch size 8"):
        embed(torch.randn(4, 3, 32, 36))


def test_wrong_image_size(embed):
    with pytest.raises(
        ValueError, match=r"input size \(64, 64\) doesn't match the model's img_size \(32, 32\)"
    ):
        embed(torch.randn(4, 3, 64, 64))


def test_wrong_rank(embed):
    with pytest.raises(
        ValueError,
        match=r"expected a 4-D batch \(N, C, H, W\), got 3-D shape \(3, 32, 32\).*unsqueeze",
    ):
        embed(torch.randn(3, 32, 32))


def test_integer_dtype(embed):
    with pytest.raises(TypeError, match=r"floating point, got dtype torch.uint8"):
        embed(torch.zeros(4, 3, 32, 32, dtype=torch.uint8))


def test_not_a_tensor(embed):
    with pytest.raises(TypeError, match=r"expected a torch.Tensor of images, got ndarray"):
        embed(torch.zeros(4, 3, 32, 32).numpy())


def test_constructor_rejects_indivisible_geometry():
    with pytest.raises(ValueError, match=r"img_size height 30 is not divisible by patch_size 8"):
        PatchEmbed(img_size=(30, 32), patch_size=8)
