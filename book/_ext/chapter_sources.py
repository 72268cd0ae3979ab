"""Offer each chapter's source, chapters/NN_name.md, in its page's download menu.

The site shows the executed twins book/NN_name.ipynb, so sphinx-book-theme's download menu
offers the twin (.ipynb, outputs included) and a print-to-PDF. The file a reader edits and runs
in the course is the chapter itself, a MyST Markdown text notebook (open it in JupyterLab with
jupytext, or read it as plain text). This extension copies every chapter into the built site as
``_sources/chapters/NN_name.md`` and adds a ".md" entry to that page's download menu.

Why an extension rather than ``html_extra_path``: extra paths are copied to the site root with
no link to them; here the link sits in the menu readers already use, only on pages that have a
chapter, and the copies live beside the other page sources, with relative URLs that work on
any static host.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.locale import get_translation

_ = get_translation("sphinx")

SOURCES = "_sources/chapters"


def chapter_of(app: Sphinx, docname: str) -> Path | None:
    """chapters/<stem>.md for the page book/<stem>, or None when the page has no chapter."""
    path = Path(app.srcdir) / "chapters" / f"{docname.rsplit('/', 1)[-1]}.md"
    return path if path.is_file() else None


def add_md_download(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    chapter = chapter_of(app, pagename)
    if chapter is None:
        return
    for button in context.get("header_buttons", []):
        if button.get("label") == "download-buttons":
            button["buttons"].insert(
                1,
                {
                    "type": "link",
                    "url": f"{context['pathto']('_sources', 1)}/chapters/{chapter.name}",
                    "text": ".md",
                    # translated in the Chinese edition (book/_ext/editions.py)
                    "tooltip": _("Download the chapter's source (MyST Markdown text notebook)"),
                    "icon": "fab fa-markdown",
                    "label": "download-chapter-source-button",
                },
            )


def copy_chapters(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / SOURCES
    for docname in sorted(app.env.found_docs):
        chapter = chapter_of(app, docname)
        if chapter is not None:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(chapter, target / chapter.name)


def setup(app: Sphinx) -> dict:
    # After sphinx-book-theme has built the menu (its handler runs at priority 501).
    app.connect("html-page-context", add_md_download, priority=502)
    app.connect("build-finished", copy_chapters)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
