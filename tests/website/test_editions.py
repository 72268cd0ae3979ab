"""The two editions of the built site: English at the root, Chinese under zh_CN/.

test_site.py runs every page check on the pages of both editions (its page list is every HTML
file of the site). This file checks what is particular to having two: every page exists in both,
the language switch leads to the same page in the other edition and back, the Chinese pages are
Chinese (their prose, the theme's words around it, the search), and the glossary links both ways.
"""

import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
from page_fixtures import base_url, browser, site, watch  # noqa: F401  (fixtures)
from sitecheck import ROOT, SEARCH_FINISHED, SITE, check_page, html_pages

ZH = "zh_CN"
CJK = re.compile(r"[\u3400-\u9fff]")
# four English words in a row: a sentence nobody translated
ENGLISH = re.compile(r"\b[A-Za-z][a-z]{2,}(?:[ ,;:'’-]+[A-Za-z][a-z]{2,}){3,}")


def english_pages(site: Path) -> list[str]:
    pages = [p.relative_to(site) for p in html_pages(site)]
    return [p.as_posix() for p in pages if p.parts[0] != ZH]


def chinese_pages(site: Path) -> list[str]:
    return [p.relative_to(site / ZH).as_posix() for p in html_pages(site / ZH)]


PAGES = english_pages(SITE) if (SITE / ZH).is_dir() else []
BOOK_PAGES = [page for page in PAGES if page.startswith("book/")]


class Reader(HTMLParser):
    """The text of an article (the page's own content), leaving out what is never translated:
    code and its outputs, maths, the bibliography's entries, scripts; and the language switch."""

    SKIPPED_CLASSES = {
        "cell_output",
        "highlight",
        "math",
        "citation",
        "notranslate",
        "language-switch",
    }
    BLOCKS = ("p", "li", "h1", "h2", "h3", "h4", "dt", "dd", "td", "th", "figcaption", "summary")
    SKIPPED_TAGS = ("script", "style", "pre", "code", "svg", "math", "kbd")

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # inside <article>
        self.skip: list[str] = []  # the tags we are skipping, innermost last
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.switch: list[tuple[str, str]] = []  # (href, text) of the language switch
        self.lang = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang", "")
        classes = (attrs.get("class") or "").split()
        if "language-switch" in classes:
            self.switch.append((attrs.get("href", ""), ""))
        if tag == "article":
            self.depth += 1
        if self.skip:
            if tag not in ("br", "img", "input", "meta", "link", "hr", "wbr"):
                self.skip.append(tag)
            return
        # a widget's words that its script translates (data-i18n) are checked in the browser
        if tag in self.SKIPPED_TAGS or self.SKIPPED_CLASSES & set(classes) or "data-i18n" in attrs:
            if tag not in ("br", "img", "input", "hr", "wbr"):
                self.skip.append(tag)
            return
        if tag in self.BLOCKS:
            self._flush()

    def handle_endtag(self, tag):
        if self.skip:
            if self.skip[-1] == tag:
                self.skip.pop()
            return
        if tag in self.BLOCKS:
            self._flush()
        if tag == "article":
            self.depth -= 1

    def handle_data(self, data):
        if self.switch and not self.switch[-1][1] and data.strip():
            self.switch[-1] = (self.switch[-1][0], data.strip())
        if self.depth and not self.skip:
            self.current.append(data)

    def _flush(self):
        text = " ".join("".join(self.current).split())
        if text:
            self.blocks.append(text)
        self.current = []


def read(path: Path) -> Reader:
    reader = Reader()
    reader.feed(path.read_text(encoding="utf-8"))
    reader._flush()
    return reader


def glossary_names() -> set[str]:
    sys.path.insert(0, str(ROOT / "tools"))
    from translations import glossary_names as names

    return set(names())


def untranslated(blocks: list[str]) -> list[str]:
    """The blocks of prose that are English sentences with no Chinese in them."""
    return [b for b in blocks if ENGLISH.search(b) and not CJK.search(b)]


# ---------------------------------------------------------------------------- static checks
def test_every_page_is_in_both_editions(site: Path):
    english, chinese = set(english_pages(site)), set(chinese_pages(site))
    assert len(english) > 20
    assert english == chinese, {
        "English only": english - chinese,
        "Chinese only": chinese - english,
    }


@pytest.mark.parametrize("page", BOOK_PAGES)
def test_language_switch_leads_to_the_same_page_both_ways(site: Path, page: str):
    for here, there in ((site / page, site / ZH / page), (site / ZH / page, site / page)):
        switch = read(here).switch
        assert len(switch) == 1, f"{here.relative_to(site)}: {len(switch)} language switches"
        href, name = switch[0]
        where = here.relative_to(site)
        assert not href.startswith(("/", "http")), f"{where}: the switch's link is absolute: {href}"
        assert (here.parent / href).resolve() == there.resolve(), f"{where} -> {href}"
        assert name == ("中文" if there.is_relative_to(site / ZH) else "English")


@pytest.mark.parametrize("page", BOOK_PAGES)
def test_chinese_page_is_chinese(site: Path, page: str):
    """Its html lang, its title, and its prose: no block of the article (a paragraph, list item,
    heading, table cell, caption, term) is an English sentence without Chinese."""
    reader = read(site / ZH / page)
    assert reader.lang == "zh-CN"
    assert reader.blocks and CJK.search(reader.blocks[0]), f"{page}: {reader.blocks[:1]}"
    # the glossary names each term in English too, on purpose (its own line, a <dt>)
    names = glossary_names() if page == "book/glossary.html" else set()
    left = [b for b in untranslated(reader.blocks) if b.rstrip("#").strip().lower() not in names]
    assert not left, f"{ZH}/{page}: English left in {len(left)} blocks:\n" + "\n".join(left[:10])


def test_untranslated_prose_is_found():
    """Guards the test above: an English page's article is full of untranslated blocks, and code,
    outputs and maths are not counted as prose."""
    reader = read(SITE / "book" / "04_attention_scores.html")
    assert len(untranslated(reader.blocks)) > 30
    planted = Reader()
    planted.feed(
        "<article><p>这是中文 with some English words in it</p>"
        '<pre>print("not prose at all here")</pre>'
        '<div class="cell_output"><p>an output line that stays English</p></div>'
        "<p>This sentence was left in English.</p></article>"
    )
    planted._flush()
    assert untranslated(planted.blocks) == ["This sentence was left in English."]


THEME_ATTRIBUTE = re.compile(r'(?:title|aria-label|placeholder|alt)="([^"]*)"')


@pytest.mark.parametrize("page", BOOK_PAGES)
def test_chinese_page_chrome_is_chinese(site: Path, page: str):
    """The theme's words around the article (buttons' titles and labels, the search box, the
    sidebars' captions) are Chinese: none is English words only."""
    html = (site / ZH / page).read_text(encoding="utf-8")
    start, end = html.find("<article"), html.find("</article>")
    chrome = re.sub(r"<script.*?</script>", "", html[:start] + html[end:], flags=re.S)
    english = sorted(
        {
            value
            for value in THEME_ATTRIBUTE.findall(chrome)
            if re.search("[A-Za-z]{3,}", value) and not CJK.search(value)
        }
    )
    captions = [c for c in re.findall(r'caption-text">([^<]*)<', chrome) if not CJK.search(c)]
    placeholder = re.findall(r'placeholder="([^"]*)"', html)
    assert not english, f"{ZH}/{page}: English theme words: {english}"
    assert not captions, f"{ZH}/{page}: English table-of-contents captions: {captions}"
    assert all(CJK.search(p) for p in placeholder), placeholder


def test_markup_left_over_in_no_edition(site: Path):
    """No page of either edition shows markup as text: a role ({term}`...`), stray backticks or
    asterisks of emphasis (a translation that broke its markup)."""
    leaks = {}
    for path in html_pages(site):
        found = [
            b
            for b in read(path).blocks
            if re.search(r"\{[a-z:]+\}`|\*\*\w|\w\*\*|(?<![\w*])\*\w[^*]*\w\*(?![\w*])|`", b)
        ]
        if found:
            leaks[path.relative_to(site).as_posix()] = found[:3]
    assert not leaks, f"markup shown as text: {leaks}"


def test_glossary_links_both_editions(site: Path):
    english = (site / "book" / "glossary.html").read_text(encoding="utf-8")
    chinese = (site / ZH / "book" / "glossary.html").read_text(encoding="utf-8")
    other = r'<a class="other-edition[^"]*" href="{}(\d\d_\w+\.html)">{}</a>'
    to_chinese = re.findall(other.format(r"\.\./zh_CN/book/", "中文"), english)
    to_english = re.findall(other.format(r"\.\./\.\./book/", "English"), chinese)
    entries = english.count("<dd>")
    assert entries > 50 and len(to_chinese) >= entries - 5 and len(to_english) == len(to_chinese)
    assert set(to_chinese) == set(to_english)
    assert all((site / ZH / "book" / name).is_file() for name in to_chinese)
    # each entry's first name: English in the English edition, Chinese in the Chinese one
    first = re.compile(r"(?:</dd>|<dl class=\"simple glossary\">)\s*<dt id=\"[^\"]+\">([^<]+)<")
    english_first, chinese_first = first.findall(english), first.findall(chinese)
    assert len(english_first) == len(chinese_first) == entries
    with_chinese = [name for name in chinese_first if CJK.search(name)]
    assert len(with_chinese) >= entries - 6, f"entries not named in Chinese first: {chinese_first}"
    assert not any(CJK.search(name) for name in english_first), english_first


# ---------------------------------------------------------------------------- in the browser
def test_language_switch_in_the_browser(browser, base_url: str):  # noqa: F811
    """Click the switch on an English chapter, land on its Chinese page; click back."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = watch(page)
    try:
        page.goto(f"{base_url}/book/04_attention_scores.html", wait_until="load")
        page.locator("a.language-switch").first.click()
        page.wait_for_load_state("load")
        assert page.url == f"{base_url}/{ZH}/book/04_attention_scores.html"
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        page.locator("a.language-switch").first.click()
        page.wait_for_load_state("load")
        assert page.url == f"{base_url}/book/04_attention_scores.html"
    finally:
        page.close()
    assert not problems, problems


def test_chinese_search_finds_the_attention_chapters(browser, base_url: str, site: Path):  # noqa: F811
    report = check_page(
        browser,
        f"{base_url}/{ZH}/search.html?q={quote('注意力')}",
        screenshot=site.parent / "screenshots" / ZH / "search.png",
        wait_for="#search-results ul.search li",
    )
    assert not report.problems(), "\n".join(report.problems())
    page = browser.new_page()
    try:
        page.goto(f"{base_url}/{ZH}/search.html?q={quote('注意力')}", wait_until="load")
        page.wait_for_function(SEARCH_FINISHED, timeout=20_000)  # every result, not the first
        links = "#search-results ul.search li a"
        found = page.eval_on_selector_all(links, "a => a.map(x => x.href)")
    finally:
        page.close()
    chapters = {Path(href.split("?")[0]).name for href in found}
    assert {"04_attention_scores.html", "03_qkv_heads.html"} <= chapters, sorted(chapters)
