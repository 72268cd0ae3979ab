"""Small layout fixes for reading on a phone (tests/website measures them).

- A shape tuple in the prose, "(4, 3, 32, 32)", is wrapped in `<span class="shape">`, which the
  site's CSS keeps on one line: a tuple broken in the middle reads as two shapes.
- Long inline code without spaces (`torch.nn.functional.scaled_dot_product_attention`) gets the
  class `long-literal`, which the CSS lets break anywhere: on a 390 px screen it would otherwise
  push the whole page sideways. Short code, and code with spaces, stays as Sphinx renders it.

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


def _ancestors(node: nodes.Node):
    while node.parent is not None:
        node = node.parent
        yield node


SEARCH_BUTTON = (
    '<button class="btn search-button-field search-button__button pst-js-only" title="Search"'
)
HTML_FIXES = (
    (SEARCH_BUTTON + ' aria-label="Search"', SEARCH_BUTTON),
    ('<div role="list" class="citation-list">', '<div class="citation-list">'),
    # MyST-NB's "Show code cell output" dropdowns: the label hid the text the reader sees
    ('<summary aria-label="Toggle hidden content">', "<summary>"),
    # the colour-mode button is named "Color mode"; its icons' titles made a second, hidden name
    ('data-mode="light" title="Light"', 'data-mode="light" aria-hidden="true"'),
    ('data-mode="dark"  title="Dark"', 'data-mode="dark" aria-hidden="true"'),
    ('data-mode="auto"  title="System Settings"', 'data-mode="auto" aria-hidden="true"'),
)


def fix_theme_html(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = original = page.read_text(encoding="utf-8")
        for old, new in HTML_FIXES:
            text = text.replace(old, new)
        if text != original:
            page.write_text(text, encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("doctree-resolved", mark_shapes_and_long_literals)
    app.connect("build-finished", fix_theme_html)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
