"""The whole ViT in one picture, drawn from the library's stage table.

    python tools/architecture.py            # write book/_static/architecture/*.svg
    python tools/architecture.py --check    # fail, naming the file, if a stored figure differs

Every row of the figure is a row that `vit_lib.shape_trace` records for the seed configuration
(N = 4 images of 3 x 32 x 32, P = 8, D = 1024, h = 12 heads of 64, D_ff = 2048, K = 1000, two
blocks): its number and name come from `vit_lib.Stage`, its shape from the live tensor. One
block is drawn opened up; the encoder repeats it. `whole.svg` is the landing page's picture;
`<chapter>.svg` is the same picture with that chapter's stages highlighted ("you are here").
So the figure cannot drift from the library: change a stage or a shape there and `--check`
(part of `make check`) fails until the figures are drawn again.

The Chinese edition has its own copy of each, `<name>.zh_CN.svg`, with the same rows in Chinese
(Sphinx shows it on the Chinese pages: `figure_language_filename`). Its words are messages of the
site's catalogue, locales/zh_CN/LC_MESSAGES/sphinx.po (`WORDS` lists them, tools/translations.py
checks them), and the chapters' titles those of the chapters' catalogues.
"""

from __future__ import annotations

import argparse
import functools
import re
import sys
from html import escape
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "book" / "_static" / "architecture"
sys.path.insert(0, str(ROOT))

from vit_lib import Stage, VisionTransformer, ViTConfig, shape_trace  # noqa: E402

SEED = dict(img_size=32, patch_size=8, in_chans=3, num_classes=1000, embed_dim=1024, depth=2,
            num_heads=12, head_dim=64, mlp_ratio=2.0)  # fmt: skip
WIDTH, ROW, TOP, CAPTION, GAP, FONT = 720, 30, 58, 28, 8, 14
INK, MUTED, ACCENT, ACCENT_BG, BLOCK_BG = "#1f2328", "#57606a", "#0a5bd3", "#dbe9ff", "#f3f4f6"
LOCALES = ROOT / "locales"
LANGUAGES = ("zh_CN",)  # the editions besides English with a figure of their own
FONTS = "DejaVu Sans, Arial, WenQuanYi Zen Hei, Noto Sans CJK SC, Microsoft YaHei, sans-serif"

# The figure's own words (the row labels are vit_lib's stage labels, `stage_labels()`).
TITLE = "The Vision Transformer at the seed configuration"
HERE = "You are here: chapter {number} · {title}"
LEGEND = "stage · what it does · the shape it leaves (N = 4 images, T = 17 tokens, D = 1024)"
BLOCK = "one encoder block, opened up: the encoder repeats it depth times (2 here, 12 in ViT-B)"
CHAPTER = "ch. {number}"
WORDS = (TITLE, HERE, LEGEND, BLOCK, CHAPTER)


def stage_labels() -> list[str]:
    """The row labels of the figure, in order: its words to translate besides `WORDS`."""
    return list(dict.fromkeys(row.label for row in traced_rows()))


def translator(language: str | None):
    """English -> the language's words, from its catalogues; English itself for None."""
    if language is None:
        return lambda text: text
    from babel.messages.pofile import read_po

    words = {}
    for po in sorted((LOCALES / language / "LC_MESSAGES").rglob("*.po")):
        with po.open("rb") as file:
            words.update({m.id: m.string for m in read_po(file) if m.id and m.string and not m.fuzzy})

    def translate(text: str) -> str:
        if text not in words:
            sys.exit(f"error: no {language} translation of {text!r}: run `make translations`, "
                     "translate it in locales/, then `make figures`")  # fmt: skip
        return words[text]

    return translate


def chapter_title(chapter: str, translate=str) -> str:
    """The title a chapter gives itself, e.g. "Queries, keys, values and heads"."""
    heading = re.search(r"^# (.+)$", (ROOT / "chapters" / f"{chapter}.md").read_text(), re.MULTILINE)
    return translate(heading[1])


@functools.cache
def traced_rows() -> tuple:
    """The seed model's rows in the order it computes them: block 0 opened up, block 1 folded."""
    torch.manual_seed(0)
    model = VisionTransformer(ViTConfig(**SEED)).eval()
    rows = shape_trace(model, torch.zeros(4, 3, 32, 32), show=False)
    return tuple(row for row in rows if row.where in ("", "block 0"))


def row_tops(rows: tuple) -> list[int]:
    """The top of each row: a caption line before the opened-up block, a gap after it."""
    tops, y, before = [], TOP, ""
    for row in rows:
        if row.where != before:
            y += CAPTION if row.where == "block 0" else GAP
            before = row.where
        tops.append(y)
        y += ROW
    return tops


def render(chapter: str | None, language: str | None = None) -> str:
    """The figure as SVG text; `chapter` (e.g. "03_qkv_heads") highlights that chapter's stages;
    `language` (e.g. "zh_CN"): its words in that language."""
    _ = translator(language)
    rows = traced_rows()
    tops = row_tops(rows)
    height = tops[-1] + ROW + 12
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" font-family="{FONTS}" font-size="{FONT}">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
    ]
    title = _(TITLE)
    if chapter is not None:
        title = _(HERE).format(number=int(chapter[:2]), title=chapter_title(chapter, _))
    out.append(f'<text x="16" y="26" font-size="17" font-weight="bold" fill="{INK}">{escape(title)}</text>')
    out.append(f'<text x="16" y="46" fill="{MUTED}">{escape(_(LEGEND))}</text>')
    block = [i for i, row in enumerate(rows) if row.where == "block 0"]
    y0, y1 = tops[block[0]] - CAPTION + 4, tops[block[-1]] + ROW + 4
    out.append(
        f'<rect x="8" y="{y0}" width="{WIDTH - 16}" height="{y1 - y0}" rx="8" fill="{BLOCK_BG}" '
        f'stroke="{MUTED}" stroke-dasharray="4 3"/>'
    )
    out.append(f'<text x="20" y="{y0 + 18}" fill="{MUTED}">{escape(_(BLOCK))}</text>')
    for row, y in zip(rows, tops):
        here = chapter is not None and row.stage.chapter == chapter
        if here:
            out.append(
                f'<rect x="14" y="{y + 1}" width="{WIDTH - 28}" height="{ROW - 2}" rx="5" '
                f'fill="{ACCENT_BG}"/>'
            )
        colour = ACCENT if here else INK
        x = 40 if row.where == "block 0" else 20
        middle = y + ROW / 2 + 5
        weight = ' font-weight="bold"' if here else ""
        out += [
            f'<circle cx="{x + 12}" cy="{y + ROW / 2}" r="11" fill="{colour if here else "#ffffff"}" '
            f'stroke="{colour}"/>',
            f'<text x="{x + 12}" y="{middle}" text-anchor="middle" font-size="12" '
            f'fill="{"#ffffff" if here else colour}">{row.step}</text>',
            f'<text x="{x + 32}" y="{middle}" fill="{colour}"{weight}>{escape(_(row.label))}</text>',
            f'<text x="{WIDTH - 90}" y="{middle}" text-anchor="end" '
            f'font-family="DejaVu Sans Mono, monospace" fill="{colour}"{weight}>'
            f"{escape(str(row.shape))}</text>",
            f'<text x="{WIDTH - 22}" y="{middle}" text-anchor="end" fill="{MUTED}">'
            f"{escape(_(CHAPTER).format(number=int(row.stage.chapter[:2])))}</text>",
        ]
    out.append("</svg>")
    return "\n".join(out) + "\n"


def alt_text(chapter: str) -> str:
    """What a chapter's figure shows, in words (the image's alt text in the chapter)."""
    rows = [row for row in traced_rows() if row.stage.chapter == chapter]
    steps = "; ".join(f"{row.step} {row.label}, {row.shape}" for row in rows)
    return (f"The whole ViT, one row per stage with the shape it leaves; highlighted, the stages this "
            f"chapter builds: {steps}.")  # fmt: skip


def opening(chapter: str) -> str:
    """The Markdown line a chapter opens with: its figure, with alt text."""
    return f"![{alt_text(chapter)}](../book/_static/architecture/{chapter}.svg)"


def figures() -> dict[Path, str]:
    """Every figure: English as `<name>.svg`, each other edition's as `<name>.<language>.svg`."""
    files = {}
    for language in (None, *LANGUAGES):
        suffix = f".{language}.svg" if language else ".svg"
        files[OUT / f"whole{suffix}"] = render(None, language)
        for chapter in sorted({stage.chapter for stage in Stage}):
            files[OUT / f"{chapter}{suffix}"] = render(chapter, language)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored figures, write nothing")
    args = parser.parse_args(argv)
    wanted = figures()
    if args.check:
        stale = [p for p, text in wanted.items() if not p.is_file() or p.read_text() != text]
        stray = sorted(set(OUT.glob("*.svg")) - set(wanted))
        for path in stale + stray:
            shown = path.relative_to(ROOT) if ROOT in path.parents else path
            print(f"error: {shown} is not what tools/architecture.py draws; run `make figures`")
        return 1 if stale or stray else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path, text in wanted.items():
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
