"""vit_lib.Block: the two-line pre-norm formula by hand; timm agrees; attention weights; the "
"encoder."""

import pytest
import torch
import torch.nn.functional as F

from vit_lib import Block, VisionTransformer
from vit_lib.stages import recording


def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def block_by_hand(block: Block, x: torch.Tensor) -> torch.Tensor:
    """x + attn(norm1(x)), then x + mlp(norm2(x)), from the raw parameters only."""
    n, t, _ = x.shape
    h, dh = block.attn.num_heads, block.attn.head_dim
    a = layer_norm(x, block.norm1.weight, block.norm1.bias, block.norm1.eps)
    q, k, v = (a @ block.attn.qkv.weight.T + block.attn.qkv.bias).split(h * dh, dim=-1)
    q, k, v = (z.reshape(n, t, h, dh).transpose(1, 2) for z in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / dh**0.5, dim=-1)
    merged = (weights @ v).transpose(1, 2).reshape(n, t, h * dh)
    x = x + merged @ block.attn.proj.weight.T + block.attn.proj.bias
    m = layer_norm(x, block.norm2.weight, block.norm2.bias, block.norm2.eps)
    hidden = F.gelu(m @ block.mlp.fc1.weight.T + block.mlp.fc1.bias)
    return x + hidden @ block.mlp.fc2.weight.T + block.mlp.fc2.bias


def randomised_block(dim: int, heads: int, head_dim: int | None, mlp_ratio: float) -> Block:
    """A float64 block whose LayerNorm affine parameters are not the trivial ones/zeros."""
    block = Block(dim, heads, head_dim=head_dim, mlp_ratio=mlp_ratio).double().eval()
    with torch.no_grad():
        for norm in (block.norm1, block.norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
    return block


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("dim,heads,head_dim,mlp_ratio", [(16, 3, 5, 1.5), (24, 4, None, 2.0)])
def test_block_equals_hand_formula(dim, heads, head_dim, mlp_ratio, fused):
    torch.manual_seed(0)
    block = randomised_block(dim, heads, head_dim, mlp_ratio)
    block.attn.fused_attn = fused
    x = torch.randn(2, 7, dim, dtype=torch.float64)
    got = block(x)
    assert got.shape == (2, 7, dim)
    torch.testing.assert_close(got, block_by_hand(block, x), rtol=0, atol=1e-10)


def test_block_is_residual():
    """With the last layer of both branches zeroed, the block is exactly the identity."""
    torch.manual_seed(0)
    block = randomised_block(16, 2, 8, 2.0)
    with torch.no_grad():
        for linear in (block.attn.proj, block.mlp.fc2):
            linear.weight.zero_()
            linear.bias.zero_()
    x = torch.randn(3, 5, 16, dtype=torch.float64)
    assert torch.equal(block(x), x)


def test_matches_timm_block_after_copying_weights():
    vision_transformer = pytest.importorskip("timm.models.vision_transformer")
    torch.manual_seed(0)
    reference = vision_transformer.Block(dim=96, num_heads=4, mlp_ratio=2.0, qkv_bias=True).eval()
    ours = Block(96, 4, mlp_ratio=2.0).eval()
    ours.load_state_dict(reference.state_dict())  # strict: the names must match one to one
    x = torch.randn(3, 17, 96)
    expected = reference(x)
    for fused in (True, False):
        ours.attn.fused_attn = fused
        torch.testing.assert_close(ours(x), expected, rtol=0, atol=1e-5)


def test_return_attention_gives_weights_and_same_output():
    torch.manual_seed(0)
    block = Block(20, 4, head_dim=6, mlp_ratio=2.0).eval()  # h * d_h = 24 != D = 20
    x = torch.randn(3, 9, 20)
    out, weights = block(x, return_attention=True)
    assert weights.shape == (3, 4, 9, 9)  # (N, h, T, T)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, 9))
    assert bool((weights >= 0).all())
    torch.testing.assert_close(out, block(x), rtol=0, atol=1e-5)


def test_block_records_its_stages_in_compute_order():
    block = Block(16, 2, head_dim=4, mlp_ratio=2.0, fused_attn=False)
    with torch.no_grad(), recording() as rows:
        block(torch.randn(2, 5, 16))
    assert [r.step for r in rows] == [12, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    assert [r.shape for r in rows] == [
        (2, 5, 16),
        (2, 5, 8),
        (2, 2, 5, 4),
        (2, 2, 5, 5),
        (2, 2, 5, 5),
        (2, 2, 5, 4),
        (2, 5, 8),
        (2, 5, 16),
        (2, 5, 16),
        (2, 5, 16),
    ]


def test_encoder_blocks_do_not_share_weights():
    model = VisionTransformer(
        img_size=16, patch_size=8, embed_dim=32, depth=3, num_heads=2, num_classes=0
    )
    blocks = list(model.blocks)
    assert len({id(b) for b in blocks}) == 3  # three distinct modules
    per_block = sum(p.numel() for p in blocks[0].parameters())
    assert sum(p.numel() for p in model.blocks.parameters()) == 3 * per_block
    w0, w1 = (b.attn.qkv.weight for b in blocks[:2])
    assert w0.data_ptr() != w1.data_ptr() and not torch.equal(w0, w1)
