"""The site's two editions: English at the root of the site, Chinese under ``zh_CN/``.

Both are built from the same pages (tools/translations.py builds the second one with
``language = zh_CN``, its prose read from locales/zh_CN/LC_MESSAGES/). This extension adds what
the theme lacks for that:

- On every page, a language switch in the article header that leads to the same page in the
  other edition, by a relative link (the one built folder publishes anywhere).
- The site's own words outside the pages, translated in the Chinese edition: the part captions
  of the table of contents, the site's title, the search box's placeholder, and the theme's
  strings that its catalogues leave in English. All are messages of Sphinx's own catalogue
  domain, so they live in locales/zh_CN/LC_MESSAGES/sphinx.po; `CHROME` lists those that are
  not the table of contents' captions, and tools/translations.py checks that catalogue too.
- The glossary in both directions: in the Chinese edition each entry shows its Chinese name
  first; in both, the chapter that introduces a term is linked in this edition and the other.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.locale import get_translation
from sphinx.transforms import SphinxTransform

_ = get_translation("sphinx")

SOURCE_LANGUAGE = "en"
OTHER_LANGUAGE = "zh_CN"
# The other edition of each, seen from the root of this one: (its folder, its name, html lang).
EDITIONS = {
    SOURCE_LANGUAGE: (f"{OTHER_LANGUAGE}/", "中文", "zh-CN"),
    OTHER_LANGUAGE: ("../", "English", "en"),
}
TEMPLATES = Path(__file__).parent / "templates"
CJK = re.compile(r"[\u3400-\u9fff]")

# Words of the site outside its pages, English in the source; tools/translations.py puts them,
# with the table of contents' captions, into the template of the Chinese `sphinx.po`.
SITE_TITLE = "ViT, Shape by Shape"
SEARCH_TEXT = "Search this book..."
CHROME = (
    SITE_TITLE,
    SEARCH_TEXT,
    # the language switch's title
    "This page in the other language",
    # book/_ext/reader.py
    "Reading time: about {whole} min.",
    "Reading time: about {whole} min. The whole chapter is optional.",
    "Reading time: about {whole} min, or {core} min without the sections marked (optional).",
    # book/_ext/chapter_sources.py
    "Download the chapter's source (MyST Markdown text notebook)",
    # the themes' strings that their Chinese catalogues lack or word otherwise
    "Color mode",
    "Toggle primary sidebar",
    "Toggle secondary sidebar",
    "Source repositories",
    "Repository",
    "Open issue",
    "Print to PDF",
    "Main",
    "Page",
    "Light",
    "Dark",
    "System Settings",
    "Home",
    "Link to this heading",
    "Link to this term",
    # MyST-NB's folded cells (the text of their summaries)
    "Show code cell source",
    "Hide code cell source",
    "Show code cell output",
    "Hide code cell output",
)
# The themes write some of those without translating them, as HTML attributes (aria-label="Page",
# title="Toggle primary sidebar") or as an element's whole text (MyST-NB's "Show code cell
# source"): after the build, the Chinese edition's pages get them translated from sphinx.po.
ATTRIBUTE = re.compile(r'(?P<name>title|aria-label|alt)="(?P<value>[^"<>]*)"')
ELEMENT_TEXT = re.compile(r">(?P<value>[A-Z][^<>]*)</")


def edition(app: Sphinx) -> str:
    return OTHER_LANGUAGE if app.config.language == OTHER_LANGUAGE else SOURCE_LANGUAGE


def translate_config(app: Sphinx, config) -> None:
    """The header's language switch on every page; the site's own words in its language."""
    options = config.html_theme_options
    options["article_header_end"] = ["language-switch.html", "article-header-buttons.html"]
    config.templates_path = [*config.templates_path, str(TEMPLATES)]
    if edition(app) != SOURCE_LANGUAGE:
        config.html_title = _(config.html_title)
        options["search_bar_text"] = _(options.get("search_bar_text", SEARCH_TEXT))
        options["logo"] = {**options.get("logo", {}), "alt_text": f"{_(SITE_TITLE)} - {_('Home')}"}


def language_switch(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    folder, name, lang = EDITIONS[edition(app)]
    # this edition's root, seen from the page: "../" from book/x.html, "" from the root's pages
    root = context["pathto"]("index").rsplit("index", 1)[0]
    context["other_edition"] = {
        "url": f"{root}{folder}{pagename}.html",
        "name": name,
        "lang": lang,
        "title": _("This page in the other language"),
    }


def translate_captions(app: Sphinx, doctree: nodes.document) -> None:
    """The part captions of the table of contents, from sphinx.po: sphinx-external-toc inserts
    them after Sphinx has translated the page, and the sidebar reads them from the stored page."""
    if edition(app) == SOURCE_LANGUAGE:
        return
    for toctree in doctree.findall(addnodes.toctree):
        if toctree.get("caption"):
            toctree["caption"] = _(toctree["caption"])


def keep_heading_anchors(app: Sphinx, doctree: nodes.document) -> None:
    """A link to a heading of another page (`01_patches.ipynb#recap`) uses the English heading's
    anchor in both editions. MyST-Parser records a page's heading anchors for those links, but
    Sphinx parses each translated title again, as a small document of its own, and that parse
    replaces the page's record with the one translated title's anchor; the page's own record,
    from the English, is put back here."""
    slugs = getattr(doctree, "myst_slugs", None)
    if slugs:
        app.env.metadata[app.env.docname]["myst_slugs"] = slugs


def glossary_both_editions(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Each glossary entry: the Chinese name first in the Chinese edition, and beside the link to
    the chapter that introduces the term, the same chapter in the other edition."""
    folder, name, _lang = EDITIONS[edition(app)]
    depth = docname.count("/")
    for glossary in doctree.findall(addnodes.glossary):
        for item in glossary.findall(nodes.definition_list_item):
            terms = [child for child in item.children if isinstance(child, nodes.term)]
            if edition(app) != SOURCE_LANGUAGE and terms:
                chinese = [term for term in terms if CJK.search(term.astext())]
                others = [term for term in terms if term not in chinese]
                for term in terms:
                    item.remove(term)
                for index, term in enumerate(chinese + others):
                    item.insert(index, term)
            definition = next(iter(item.findall(nodes.definition)), None)
            if definition is None:
                continue
            for reference in list(definition.findall(nodes.reference)):
                uri = reference.get("refuri", "")
                if not reference.get("internal") or not uri.endswith(".html") or "#" in uri:
                    continue
                # a page of this folder, e.g. "13_inside.html": the same page in the other edition
                other = "../" * depth + folder + docname.rsplit("/", 1)[0] + "/" + uri
                link = nodes.reference("", name, refuri=other, classes=["other-edition"])
                parent = reference.parent
                parent.insert(parent.index(reference) + 1, [nodes.Text(" · "), link])


def translate_theme_words(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html" or edition(app) == SOURCE_LANGUAGE:
        return
    words = {html.escape(m, quote=True): html.escape(_(m), quote=True) for m in CHROME}

    def attribute(match: re.Match) -> str:
        return f'{match["name"]}="{words.get(match["value"], match["value"])}"'

    def element_text(match: re.Match) -> str:
        return f">{words.get(match['value'], match['value'])}</"

    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = ELEMENT_TEXT.sub(element_text, ATTRIBUTE.sub(attribute, text))
        if new != text:
            page.write_text(new, encoding="utf-8")


class SourceOfNestedText(SphinxTransform):
    """Text that a directive parsed inside itself (a table in an admonition) can come without the
    file and line it came from, and Sphinx extracts and translates only text that has them: it
    gets those of the directive around it, before Sphinx's translation (priority 20) runs."""

    default_priority = 15

    def apply(self, **kwargs) -> None:
        for node in self.document.findall(nodes.TextElement):
            if node.source or not node.astext().strip():
                continue
            up = node.parent
            while up is not None and not up.source:
                up = up.parent
            if up is not None:
                node.source, node.line = up.source, node.line or up.line


def setup(app: Sphinx) -> dict:
    app.add_transform(SourceOfNestedText)
    app.connect("config-inited", translate_config)
    app.connect("html-page-context", language_switch)
    app.connect("doctree-read", translate_captions)
    app.connect("doctree-read", keep_heading_anchors)
    app.connect("doctree-resolved", glossary_both_editions)
    app.connect("build-finished", translate_theme_words)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
