"""Small layout fixes for reading on a phone (tests/website measures them).

- A shape tuple in the prose, "(4, 3, 32, 32)", is wrapped in `<span class="shape">`, which the
  site's CSS keeps on one line: a tuple broken in the middle reads as two shapes.
- Long inline code without spaces (`torch.nn.functional.scaled_dot_product_attention`) gets the
  class `long-literal`, which the CSS lets break anywhere: on a 390 px screen it would otherwise
  push the whole page sideways. Short code, and code with spaces, stays as Sphinx renders it.

- Each chapter opens with its reading time, under its title: the prose at 200 words a minute and
  the code at 12 lines a minute, without the cells folded by default (`hide-input`: library code
  summarised above it), and, separately, without the sections whose title ends in "(optional)".

And two accessibility fixes to the theme's HTML, after the build (axe-core, WCAG 2.1 AA, found
them on every page; tests/website runs it):

- The search button's `aria-label="Search"` hides its visible text ("Search Ctrl+K") from
  assistive technology; without the label, its accessible name is what it shows.
- The colour-mode button's icons carry titles of their own ("Light", "Dark"), which do not match
  the button's name, "Color mode"; they are hidden from assistive technology instead.
- MyST-NB's dropdowns (a hidden output) label their summary "Toggle hidden content", which hides
  the visible "Show code cell output"; without the label the summary is named by its text.
- docutils marks the bibliography `role="list"`, but its entries are `doc-biblioentry`, not list
  items; the plain container is what the entries need.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.locale import get_translation

_ = get_translation("sphinx")

SHAPE = re.compile(r"\((?:\d+|[A-Za-z_·−+\-*/ ]{1,12})(?:, (?:\d+|[A-Za-z_·−+\-*/ ]{1,12}))+\)")
LONG_LITERAL = 24  # characters; about a third of a phone's line of inline code
SKIP = (
    nodes.literal,
    nodes.literal_block,
    nodes.math,
    nodes.math_block,
    nodes.raw,
    nodes.FixedTextElement,
)


def mark_shapes_and_long_literals(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    for literal in list(doctree.findall(nodes.literal)):
        text = literal.astext()
        if len(text) > LONG_LITERAL and " " not in text:
            literal["classes"].append("long-literal")
    for text in list(doctree.findall(nodes.Text)):
        if text.parent is None or any(isinstance(node, SKIP) for node in _ancestors(text)):
            continue
        value = str(text)
        pieces, last = [], 0
        for match in SHAPE.finditer(value):
            pieces += [
                nodes.Text(value[last : match.start()]),
                nodes.inline(match[0], match[0], classes=["shape"]),
            ]
            last = match.end()
        if pieces:
            pieces.append(nodes.Text(value[last:]))
            text.parent.replace(text, [piece for piece in pieces if piece.astext()])


CHAPTER = re.compile(r"^book/\d\d_")
WORDS_PER_MINUTE = 200
CODE_LINES_PER_MINUTE = 12
CJK_CHARACTERS_PER_MINUTE = 400  # the Chinese edition: a reader's pace in characters
OPTIONAL = "(optional)"
OPTIONAL_MARKS = (OPTIONAL, "（选读）")  # how the Chinese edition's titles say it
CJK = re.compile(r"[\u3400-\u9fff]")


def _in_optional_section(node: nodes.Node) -> bool:
    return any(
        isinstance(up, nodes.section) and up[0].astext().strip().endswith(OPTIONAL_MARKS)
        for up in _ancestors(node)
    )


def _cell(node: nodes.Node) -> nodes.Element | None:
    for up in _ancestors(node):
        if isinstance(up, nodes.container) and "cell" in up["classes"]:
            return up
    return None


def reading_minutes(doctree: nodes.document) -> tuple[float, float]:
    """(minutes for the whole page, minutes without its optional sections)."""
    whole = core = 0.0
    for text in doctree.findall(nodes.Text):
        if _cell(text) is not None or any(isinstance(up, nodes.raw) for up in _ancestors(text)):
            continue
        value = str(text)
        minutes = len(CJK.findall(value)) / CJK_CHARACTERS_PER_MINUTE
        minutes += len(CJK.sub(" ", value).split()) / WORDS_PER_MINUTE
        whole += minutes
        core += 0 if _in_optional_section(text) else minutes
    for block in doctree.findall(nodes.literal_block):
        cell = _cell(block)
        if cell is not None:
            is_input = any("cell_input" in up.get("classes", []) for up in _ancestors(block))
            if not is_input or "tag_hide-input" in cell["classes"]:
                continue  # an output, or library code folded away (its summary is prose)
        minutes = len(block.astext().strip().splitlines()) / CODE_LINES_PER_MINUTE
        whole += minutes
        core += 0 if _in_optional_section(block) else minutes
    return whole, core


def add_reading_time(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    if not CHAPTER.match(docname):
        return
    top = next(iter(doctree.findall(nodes.section)), None)
    if top is None:
        return
    whole, core = (max(1, round(m)) for m in reading_minutes(doctree))
    # in the page's language (the Chinese edition's words are in locales/zh_CN/.../sphinx.po)
    if top[0].astext().strip().endswith(OPTIONAL_MARKS):
        line = _("Reading time: about {whole} min. The whole chapter is optional.")
    elif core < whole:
        line = _(
            "Reading time: about {whole} min, or {core} min without the sections marked (optional)."
        )
    else:
        line = _("Reading time: about {whole} min.")
    line = line.format(whole=whole, core=core)
    top.insert(1, nodes.paragraph(line, line, classes=["reading-time"]))


def _ancestors(node: nodes.Node):
    while node.parent is not None:
        node = node.parent
        yield node


# The search button's label, in either edition's language
SEARCH_LABEL = (
    re.compile(
        r'(<button class="btn search-button-field search-button__button pst-js-only" title="[^"]*")'
        r' aria-label="[^"]*"'
    ),
    r"\1",
)
# Each fix matches the attribute's value in either edition's language.
HTML_FIXES = (
    SEARCH_LABEL,
    # docutils' bibliography list
    (re.compile(r'<div role="list" class="citation-list">'), '<div class="citation-list">'),
    # MyST-NB's "Show code cell output" dropdowns: the label hid the text the reader sees
    (re.compile(r'<summary aria-label="[^"]*">'), "<summary>"),
    # the colour-mode button is named "Color mode"; its icons' titles made a second, hidden name
    (re.compile(r'data-mode="(\w+)"\s+title="[^"]*"'), r'data-mode="\1" aria-hidden="true"'),
)


def fix_theme_html(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = original = page.read_text(encoding="utf-8")
        for pattern, replacement in HTML_FIXES:
            text = pattern.sub(replacement, text)
        if text != original:
            page.write_text(text, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("doctree-resolved", mark_shapes_and_long_literals)
    app.connect("doctree-resolved", add_reading_time)
    app.connect("build-finished", fix_theme_html)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
