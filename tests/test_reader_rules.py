"""Rules a chapter keeps for its reader, checked on the sources (the site tests check the pages).

- The first use of each glossary term in each chapter links to the glossary (tools/terms.py).
- A code cell longer than 40 lines is folded (`hide-input`) under a paragraph that summarises it.
- Each figure's PNG records the size of its smallest text (tools/figure_text.py), which the site
  tests turn into CSS pixels.
- The two matplotlibrc files, one for each folder a chapter runs in, are the same.
"""

import base64
import io
import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import figure_text  # noqa: E402
import literate  # noqa: E402
import terms  # noqa: E402

ENTRIES = {
    "token": ["token"],
    "patch": ["patch"],
    "patch embedding": ["patch embedding"],
    "query": ["query", "key", "value"],
    "depth": ["depth"],
}

MAX_CELL_LINES = 40
SUMMARY_WORDS = 20


# ------------------------------------------------------------------------------ glossary links
def plain(text: str) -> list[tuple[str, int]]:
    return [(entry, use.line) for entry, use in terms.first_plain_uses(text, ENTRIES)]


def test_a_plain_first_use_is_found_and_a_linked_one_is_not():
    assert plain("Each token is a row.\n") == [("token", 1)]
    assert plain("Each {term}`token` is a row; a token again.\n") == []
    assert plain("Two {term}`tokens <token>` and more tokens.\n") == []
    # a later link does not excuse a plain first use
    assert plain("A token.\n\nA {term}`token`.\n") == [("token", 1)]


def test_code_maths_links_headings_and_directive_titles_are_not_uses():
    text = "\n".join(
        [
            "# One token",
            '`token` and $token$ and [a token](x.md) and <img alt="token">',
            "```python",
            "token = 1",
            "```",
            "$$",
            "\\text{token}",
            "$$",
            "```{exercise} A token",
            ":label: ex-token",
            "The token, inside the exercise.",
            "```",
            "After the exercise, a patch.",
        ]
    )
    assert plain(text) == [("token", 11), ("patch", 13)]


def test_plural_and_case_match_and_the_longer_term_wins():
    assert plain("Patches are cut.\n") == [("patch", 1)]
    linked = terms.link("The patch embedding of a patch.\n", ENTRIES)
    assert linked.startswith("The {term}`patch embedding` of a ")
    assert terms.link(terms.link(linked, ENTRIES), ENTRIES).endswith("{term}`patch`.\n")
    assert terms.link("Two Tokens.\n", ENTRIES) == "Two {term}`Tokens <token>`.\n"


def test_everyday_senses_of_key_value_and_depth_are_not_uses():
    assert plain("The key idea is a value of 0.5, at stochastic depth.\n") == []
    assert plain("Queries, keys and values, at depth 2.\n") == [("query", 1), ("depth", 1)]


def test_every_chapter_links_the_first_use_of_every_glossary_term():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "terms.py"), "check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_the_glossary_has_the_terms_the_chapters_lean_on():
    entries = terms.glossary_entries()
    names = {name for names in entries.values() for name in names}
    for term in (
        "fused",
        "timm",
        "seed configuration",
        "residual stream",
        "TTA",
        "patch dropout",
        "FLOPs",
        "state_dict",
        "inner attention width",
    ):
        assert term in names, f"no glossary entry for {term!r}"
    # each entry has a Chinese name (a line with a CJK character), or says it keeps the English
    text = (ROOT / "book" / "glossary.md").read_text()
    for entry, names in entries.items():
        has_chinese = any(any("\u4e00" <= ch <= "\u9fff" for ch in name) for name in names)
        assert has_chinese or f"{entry}\n  " in text, f"{entry}: no Chinese name"


# ------------------------------------------------------------------------------ folded cells
def long_cells():
    for path in literate.chapter_paths(ROOT):
        notebook = literate.read_chapter(path)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type == "code" and len(cell.source.strip().splitlines()) > MAX_CELL_LINES:
                yield path.stem, notebook.cells, index


@pytest.mark.parametrize(
    "stem, cells, index",
    [pytest.param(*c, id=f"{c[0]}-cell{c[2]}") for c in long_cells()],
)
def test_a_long_code_cell_is_folded_under_a_summary(stem, cells, index):
    cell, before = cells[index], cells[index - 1]
    assert "hide-input" in cell.metadata.get("tags", []), (
        f"{stem}: a {len(cell.source.splitlines())}-line code cell is not folded: add "
        "`:tags: [hide-input]` (and a paragraph above it that says what it does)"
    )
    assert before.cell_type == "markdown", f"{stem}: a folded cell needs a summary above it"
    summary = before.source.strip().split("\n\n")[-1]
    assert len(summary.split()) >= SUMMARY_WORDS, (
        f"{stem}: the paragraph above a folded cell has {len(summary.split())} words; "
        f"say what the folded code does in at least {SUMMARY_WORDS}: {summary!r}"
    )


# ------------------------------------------------------------------------------ figure text
def run_cells(*sources: str, path=ROOT / "book"):
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(
        notebook, kernel_name="python3", resources={"metadata": {"path": str(path)}}, timeout=120
    ).execute()
    return notebook


def test_the_prelude_records_the_smallest_text_drawn_and_leaves_the_picture_alone():
    from PIL import Image

    figure = (
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(4, 2))\n"
        "ax.plot([1, 2]); ax.set_title('title', fontsize=7); ax.set_xticks([])\n"
        "ax.text(5, 5, 'outside, still drawn', fontsize=12)\n"
        "ax.text(0, 0, 'hidden', fontsize=3, visible=False)\n"
        "plt.show()"
    )
    notebook = run_cells(figure_text.PRELUDE, figure)
    literate.drop_prelude(notebook)
    (cell,) = notebook.cells
    assert cell.execution_count == 1
    png = base64.b64decode(cell.outputs[0]["data"]["image/png"])
    # 7 pt at the 150 dpi of book/matplotlibrc; the invisible 3 pt text does not count
    assert figure_text.smallest_text_px(png) == (pytest.approx(7 * 150 / 72, abs=0.01), "title")
    image = Image.open(io.BytesIO(png))
    image.load()  # a valid PNG, chunk checksums and all
    plain_run = run_cells(figure)
    plain_png = base64.b64decode(plain_run.cells[0].outputs[0]["data"]["image/png"])
    assert figure_text.smallest_text_px(plain_png) is None
    assert Image.open(io.BytesIO(plain_png)).tobytes() == image.tobytes()


def test_the_prelude_cannot_hide_output():
    notebook = run_cells("print('not quiet')", "1")
    with pytest.raises(literate.LiterateError, match="printed something"):
        literate.drop_prelude(notebook)


def test_both_folders_a_chapter_runs_in_draw_at_the_same_dpi():
    book, chapters = (ROOT / d / "matplotlibrc" for d in ("book", "chapters"))
    assert book.read_text() == chapters.read_text()
    assert "figure.dpi: 150" in book.read_text()
