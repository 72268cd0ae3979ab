# Generated from chapters/16_explorer.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/16_explorer.md, cell 4 ---
"""What the browser explorer runs: a model's forward pass with the stages the page draws as
named outputs, its export to ONNX, and a drawing brought to scikit-learn's digits as they were
made.

Shapes: N batch, C channels, H x W pixels, L patches, T tokens, D width, h heads, K classes.
"""

import warnings

import torch
from torch import nn

from vit_lib.model import VisionTransformer

__all__ = ["ExplorerModel", "export_onnx", "ink_bitmap", "strokes_to_digit"]

DIGIT_SIZE, BLOCK = 32, 4       # scikit-learn's digits: 32 x 32 bitmaps, counted in 4 x 4 blocks
INK_WIDTH = 24                  # the widest a digit is drawn, in bitmap pixels (6 of the 8 columns)
STROKE_RADIUS = 2.5             # half the pen's width, in bitmap pixels (see chapter 16)


class ExplorerModel(nn.Module):
    """`model`, after `transform`, as one pass whose outputs are what the explorer page draws.

    Raw images (N, C, H, W) -> logits (N, K), pixels (the model's input after `transform`),
    patches (N, L, D), tokens (N, T, D) and one attention_i (N, h, T, T) per block.
    """

    def __init__(self, model: VisionTransformer, transform: nn.Module | None = None) -> None:
        super().__init__()
        if not isinstance(model, VisionTransformer):
            raise TypeError(f"ExplorerModel wraps a vit_lib VisionTransformer, "
                            f"got {type(model).__name__}")
        self.model, self.transform = model, transform

    @property
    def output_names(self) -> list[str]:
        return (["logits", "pixels", "patches", "tokens"]
                + [f"attention_{i}" for i in range(len(self.model.blocks))])

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pixels = images if self.transform is None else self.transform(images)
        patches = self.model.patch_embed(pixels)                  # (N, L, D)
        x = tokens = self.model.embed(pixels)                     # (N, T, D)
        maps = []
        for block in self.model.blocks:
            x, weights = block(x, return_attention=True)          # weights (N, h, T, T)
            maps.append(weights)
        logits = self.model.forward_head(self.model.norm(x))      # (N, K)
        return (logits, pixels, patches, tokens, *maps)


# --- chapters/16_explorer.md, cell 8 ---
def export_onnx(model: VisionTransformer, path, images: torch.Tensor,
                transform: nn.Module | None = None, opset: int = 17) -> list[str]:
    """Write `ExplorerModel(model, transform)` to an ONNX file at `path`; return its output names.

    `images` (N, C, H, W) are example inputs, checked by running the model on them first; the
    batch axis of the file is free. Needs the `onnx` package (`pip install "vit-lib[onnx]"`).
    """
    try:
        import onnx  # noqa: F401  (torch.onnx.export needs it)
    except ImportError as err:
        raise ImportError('export_onnx needs the onnx package: pip install "vit-lib[onnx]"') \
            from err
    wrapped = ExplorerModel(model, transform).eval()
    with torch.no_grad():
        wrapped(images)                          # bad images fail here, with the model's message
    names = wrapped.output_names
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # TracerWarning: Python checks become constants
        torch.onnx.export(
            wrapped, (images,), str(path), input_names=["images"], output_names=names,
            dynamic_axes={name: {0: "N"} for name in ["images", *names]},
            opset_version=opset, dynamo=False,
        )
    return names


# --- chapters/16_explorer.md, cell 12 ---
def _squared_distance(px: float, py: float, a: tuple, b: tuple) -> float:
    """Squared distance from the point (px, py) to the segment a-b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, ((px - a[0]) * dx + (py - a[1]) * dy) / length))
    ex, ey = px - (a[0] + t * dx), py - (a[1] + t * dy)
    return ex * ex + ey * ey


def ink_bitmap(strokes: list, radius: float = STROKE_RADIUS) -> torch.Tensor:
    """Strokes (lists of (x, y) points, y down, any scale) -> a 32 x 32 bitmap of 0s and 1s.

    The drawing is scaled to fill the bitmap's height (at most INK_WIDTH wide) and centred; a
    pixel is inked when its centre is within `radius` of a stroke (a round pen).
    """
    points = [tuple(map(float, p)) for stroke in strokes for p in stroke]
    if not points:
        raise ValueError("no strokes: there is nothing to read (draw a digit first)")
    bad = [p for p in points if len(p) != 2]
    if bad:
        raise ValueError(f"a stroke point must be (x, y), got {bad[0]}")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    height, width = max(max(ys) - min(ys), 1e-9), max(max(xs) - min(xs), 1e-9)
    scale = min((DIGIT_SIZE - 2 * radius) / height, (INK_WIDTH - 2 * radius) / width)
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    segments = []
    for stroke in strokes:
        path = [(DIGIT_SIZE / 2 + (x - cx) * scale, DIGIT_SIZE / 2 + (y - cy) * scale)
                for x, y in stroke]
        path = path * 2 if len(path) == 1 else path                # a dot: a segment of length 0
        segments += list(zip(path[:-1], path[1:]))
    bitmap = torch.zeros(DIGIT_SIZE, DIGIT_SIZE)
    for row in range(DIGIT_SIZE):
        for col in range(DIGIT_SIZE):
            bitmap[row, col] = any(_squared_distance(col + 0.5, row + 0.5, a, b) <= radius**2
                                   for a, b in segments)
    return bitmap                                                  # (32, 32), 0 or 1


def strokes_to_digit(strokes: list, radius: float = STROKE_RADIUS) -> torch.Tensor:
    """Strokes -> an (8, 8) digit of ink counts 0-16, as scikit-learn's digits were made.

    `ink_bitmap`, then the inked pixels counted in 4 x 4 blocks. Divide by 16 for the model's
    [0, 1] input.
    """
    size = DIGIT_SIZE // BLOCK
    bitmap = ink_bitmap(strokes, radius)                           # (32, 32)
    return bitmap.reshape(size, BLOCK, size, BLOCK).sum(dim=(1, 3))   # (8, 8), 0..16
