"""The files the explorer page (book/explorer.md) loads, written into the site's static folder.

    python tools/explorer_assets.py [--out book/_static/explorer/generated]

`make book` runs it. It exports the shipped digits model with `vit_lib.explorer.export_onnx`
(preprocessing included: the page hands the model an 8 x 8 digit of values in [0, 1]) and writes
`digits.json`, what the page shows around the model:

- `classes`, `config` (the ViTConfig), `preprocess`;
- `outputs`: the ONNX outputs' names and shapes for one image;
- `stages`: every row `shape_trace` records for one image, with its stage number, the book's
  name for it, and the chapter section that builds it (the page links there);
- `samples`: the first test digit of each class, values 0..16 as in scikit-learn;
- `pen`: the constants of `strokes_to_digit` (bitmap size, block, width, pen radius), which the
  page's JavaScript uses and the site tests check against Python.

The output is generated (git ignores it); nothing here is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vit_lib import explorer as pen  # noqa: E402
from vit_lib import load_digits, load_pretrained, shape_trace  # noqa: E402
from vit_lib.explorer import ExplorerModel, export_onnx  # noqa: E402

OUT = ROOT / "book" / "_static" / "explorer" / "generated"


def metadata(trained, outputs: dict[str, tuple[int, ...]]) -> dict:
    """What the page shows around the model, as described in the module docstring."""
    model = trained.model
    pixels = trained.transform(torch.zeros(1, 1, 8, 8))
    rows = shape_trace(model, pixels, show=False)
    test = load_digits().test
    samples = []
    for label in range(len(trained.classes)):
        image = test.images[test.labels == label][0, 0] * 16  # (8, 8), back to 0..16
        samples.append({"label": label, "image": image.round().int().tolist()})
    steps = {type(s).__name__: s for s in trained.transform.transforms}
    return {
        "classes": list(trained.classes),
        "config": asdict(model.config),
        "preprocess": {
            "resize": steps["Resize"].size,
            "mean": steps["Normalize"].mean,
            "std": steps["Normalize"].std,
        },
        "outputs": outputs,
        "stages": [
            {
                "number": row.stage.number,
                "name": row.stage.label,
                "chapter": row.stage.chapter,
                "anchor": row.stage.anchor,
                "where": row.where,
                "shape": list(row.shape),
            }
            for row in rows
        ],
        "samples": samples,
        "pen": {
            "size": pen.DIGIT_SIZE,
            "block": pen.BLOCK,
            "width": pen.INK_WIDTH,
            "radius": pen.STROKE_RADIUS,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write into")
    args = parser.parse_args(argv)
    try:
        import onnx  # noqa: F401
    except ImportError:
        print('error: the onnx package is missing (pip install "vit-lib[onnx]")', file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    trained = load_pretrained("digits")
    example = torch.zeros(1, 1, 8, 8)
    names = export_onnx(trained.model, args.out / "digits.onnx", example, trained.transform)
    with torch.no_grad():
        tensors = ExplorerModel(trained.model, trained.transform)(example)
    outputs = {name: list(t.shape) for name, t in zip(names, tensors)}
    text = json.dumps(metadata(trained, outputs), indent=1)
    (args.out / "digits.json").write_text(text + "\n")
    size = (args.out / "digits.onnx").stat().st_size
    print(f"explorer: wrote {args.out / 'digits.onnx'} ({size / 1e6:.2f} MB) and digits.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
