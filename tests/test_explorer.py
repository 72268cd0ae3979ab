"""vit_lib.explorer (chapters/16_explorer.md): the export to ONNX and the pen; the page's words.

onnxruntime must give every named output of `ExplorerModel` to 1e-5 for several configurations,
the seed configuration among them, at a batch size other than the one exported with; the pen must
ink exactly what its rule says. Bad input is refused case by case. The page's interface strings
(book/_static/explorer/explorer.js) come in English and Chinese, with the same keys.
"""

import pytest
import torch

from conftest import ROOT, interface_text, interface_text_problems, like_trained, marked_words
from vit_lib import FamilyViT, VisionTransformer, load_pretrained
from vit_lib.explorer import (
    BLOCK,
    DIGIT_SIZE,
    ExplorerModel,
    export_onnx,
    ink_bitmap,
    strokes_to_digit,
)
from vit_lib.stages import Stage

onnxruntime = pytest.importorskip("onnxruntime", reason="pip install 'vit-lib[onnx]'")

SEED = dict(
    img_size=32, patch_size=8, embed_dim=1024, depth=2, num_heads=12, head_dim=64, mlp_ratio=2.0
)
CONFIGS = {
    "seed": (VisionTransformer, SEED, (4, 3, 32, 32)),
    "non-square, avg, no class token": (
        VisionTransformer,
        dict(
            img_size=(12, 20),
            patch_size=4,
            embed_dim=48,
            depth=3,
            num_heads=3,
            global_pool="avg",
            class_token=False,
            num_classes=5,
        ),
        (2, 3, 12, 20),
    ),
    "sincos positions, one channel": (
        VisionTransformer,
        dict(
            img_size=16,
            patch_size=4,
            in_chans=1,
            embed_dim=32,
            depth=1,
            num_heads=2,
            pos_embed="sincos",
            num_classes=0,
        ),
        (3, 1, 16, 16),
    ),
    "family: registers, layer scale": (
        FamilyViT,
        dict(
            img_size=16,
            patch_size=4,
            embed_dim=32,
            depth=2,
            num_heads=4,
            reg_tokens=2,
            init_values=0.1,
        ),
        (2, 3, 16, 16),
    ),
}


def run_both(model, transform, images, tmp_path):
    path = tmp_path / "model.onnx"
    names = export_onnx(model, path, images[:1], transform)  # exported with a batch of one
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {"images": images.numpy()})
    with torch.no_grad():
        ours = ExplorerModel(model, transform)(images)
    assert [o.name for o in session.get_outputs()] == names
    return names, theirs, ours


@pytest.mark.parametrize("name", list(CONFIGS))
def test_onnxruntime_gives_every_output_of_pytorch(name, tmp_path):
    kind, config, shape = CONFIGS[name]
    model = like_trained(kind(**config)).eval()  # a trained model's scale, not the init's
    images = torch.rand(*shape)
    names, theirs, ours = run_both(model, None, images, tmp_path)
    assert names[:4] == ["logits", "pixels", "patches", "tokens"]
    assert names[4:] == [f"attention_{i}" for i in range(len(model.blocks))]
    for output, t, o in zip(names, theirs, ours):
        assert tuple(t.shape) == tuple(o.shape), output
        delta = (torch.from_numpy(t) - o).abs().max().item()
        assert delta <= 1e-5, f"{output}: max |Δ| = {delta:.2e}"


def test_the_seed_configurations_shapes(tmp_path):
    model = VisionTransformer(**SEED).eval()
    _, theirs, _ = run_both(model, None, torch.rand(4, 3, 32, 32), tmp_path)
    assert [tuple(t.shape) for t in theirs] == [
        (4, 1000),
        (4, 3, 32, 32),
        (4, 16, 1024),
        (4, 17, 1024),
        (4, 12, 17, 17),
        (4, 12, 17, 17),
    ]


def test_the_digits_model_with_its_preprocessing(tmp_path):
    trained = load_pretrained("digits")
    digits = torch.rand(5, 1, 8, 8)
    names, theirs, ours = run_both(trained.model, trained.transform, digits, tmp_path)
    assert tuple(theirs[1].shape) == (5, 1, 16, 16)  # resized and normalised inside the graph
    for output, t, o in zip(names, theirs, ours):
        assert (torch.from_numpy(t) - o).abs().max().item() <= 1e-5, output
    assert torch.equal(ours[1], trained.transform(digits))
    assert torch.allclose(ours[0], trained.logits(digits), atol=1e-6)


def test_export_refuses_what_it_cannot_export(tmp_path):
    with pytest.raises(
        TypeError, match="ExplorerModel wraps a vit_lib VisionTransformer, got Linear"
    ):
        export_onnx(torch.nn.Linear(2, 2), tmp_path / "x.onnx", torch.zeros(1, 2))
    model = VisionTransformer(img_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2)
    with pytest.raises(ValueError, match=r"input size \(8, 8\) doesn't match the model's img_size"):
        export_onnx(model, tmp_path / "x.onnx", torch.zeros(1, 3, 8, 8))
    assert not (tmp_path / "x.onnx").exists()


# ------------------------------------------------------------------------------ the pen
def test_a_dot_inks_a_disc_of_the_pens_radius():
    bitmap = ink_bitmap([[(5, 5)]], radius=2.5)
    centre = DIGIT_SIZE / 2  # a lone point is centred
    expected = torch.tensor(
        [
            [
                float((c + 0.5 - centre) ** 2 + (r + 0.5 - centre) ** 2 <= 6.25)
                for c in range(DIGIT_SIZE)
            ]
            for r in range(DIGIT_SIZE)
        ]
    )
    assert torch.equal(bitmap, expected) and bitmap.sum() == 16


def test_a_vertical_stroke_fills_the_height_in_the_middle_columns():
    digit = strokes_to_digit([[(0, 0), (0, 10)]])
    assert digit.shape == (DIGIT_SIZE // BLOCK, DIGIT_SIZE // BLOCK)
    assert (digit[:, 3] > 0).all() and (digit[:, 4] > 0).all()  # columns 13-18 are inked
    assert digit[:, :3].sum() == 0 and digit[:, 5:].sum() == 0
    assert torch.equal(digit, strokes_to_digit([[(0, 0), (0, 1000)]]))  # any scale: the same


def test_the_counts_are_the_bitmap_in_blocks():
    strokes = [[(10, 10), (90, 10), (50, 95)], [(30, 50), (70, 50)]]
    bitmap, digit = ink_bitmap(strokes), strokes_to_digit(strokes)
    assert digit.sum() == bitmap.sum() and digit.max() <= BLOCK * BLOCK
    assert digit[1, 2] == bitmap[4:8, 8:12].sum()


@pytest.mark.parametrize(
    "strokes, message",
    [
        ([], "no strokes: there is nothing to read"),
        ([[]], "no strokes: there is nothing to read"),
        ([[(1, 2, 3)]], r"a stroke point must be \(x, y\), got \(1.0, 2.0, 3.0\)"),
    ],
)
def test_bad_strokes_are_refused(strokes, message):
    with pytest.raises(ValueError, match=message):
        strokes_to_digit(strokes)


# ------------------------------------------------------------------------------ the page's words
EXPLORER_JS = ROOT / "book" / "_static" / "explorer" / "explorer.js"
SAME_IN_BOTH = {"stage8", "stage12"}  # softmax and LayerNorm keep their names in Chinese


def test_the_explorer_has_its_words_in_english_and_chinese():
    tables = interface_text(EXPLORER_JS)
    assert interface_text_problems(tables, SAME_IN_BOTH) == []
    # the table of stages shows vit_lib's names on the English page, as it did before
    stages = {f"stage{stage.number}": stage.label for stage in Stage}
    assert {key: tables["en"].get(key) for key in stages} == stages
    # what the page's own HTML says in English, before explorer.js words it
    marked = marked_words(ROOT / "book" / "explorer.md")
    assert marked and all(tables["en"].get(key) == english for key, english in marked), marked


def test_the_check_of_the_two_tables_bites(tmp_path):
    script = tmp_path / "widget.js"
    script.write_text(
        "const TEXT = {\n"
        '  en: {\n    clear: "Clear",\n    sample: "test {label}",\n    soft: "softmax",\n'
        '    head: "head",\n    block: "block",\n  },\n'
        '  zh: {\n    clear: " ",\n    sample: "测试 {name}",\n    soft: "软最大",\n'
        '    heads: "头",\n    block: "block",\n  },\n};\n',
        encoding="utf-8",
    )
    assert interface_text_problems(interface_text(script), {"soft"}) == [
        "head: only in the English table",
        "heads: only in the Chinese table",
        "block: no Chinese in 'block'",
        "clear: the Chinese is empty",
        "sample: the placeholders of 'test {label}' and '测试 {name}' differ",
        "soft: listed as the same in both, but '软最大'",
    ]
    script.write_text('const TEXT = {\n  en: {\n    a: "two " +\n      "lines",\n  },\n};\n')
    with pytest.raises(AssertionError, match="not a one-line string"):
        interface_text(script)
