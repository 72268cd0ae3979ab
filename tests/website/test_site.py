"""The built site, as a reader's browser sees it: every page, offline.

These tests need a built site (`make book`, or SITE_DIR=<folder with index.html>) and, for the
browser tests, Debian's Chromium (`make browser`). `make test` runs them after the build with
SITE_TESTS_REQUIRED=1, so that a missing site or browser fails instead of skipping (unless
SKIP_BROWSER=1 says to run without the browser: the static checks, links included, still run).
Screenshots of every page, at 1280 and 390 px, go to _build/screenshots/ under
SITE_SCREENSHOTS=1 (`make screenshots`); otherwise only pages with a problem are photographed.

The fixtures live here rather than in a conftest.py: tests/conftest.py is imported by name
(`from conftest import ROOT`), and a second conftest.py would shadow it.
"""

import re
import shutil
from pathlib import Path

import pytest
import yaml
from page_fixtures import built_site, launch, unavailable
from sitecheck import (
    AXE_JS,
    MAX_PAGE_HEIGHT,
    MIN_TEXT_PX,
    ROOT,
    SITE,
    PageReport,
    check_links,
    check_page,
    html_pages,
    serve,
)


@pytest.fixture(scope="session")
def site() -> Path:
    return built_site()


@pytest.fixture(scope="session")
def base_url(site: Path):
    with serve(site) as url:
        yield url


@pytest.fixture(scope="session")
def browser(request):
    if not AXE_JS.is_file():
        unavailable(f"no axe-core at {AXE_JS}: `make site-test` installs it from npm")
    return launch(request.config)


@pytest.fixture(scope="session")
def screenshots(site: Path) -> Path:
    """_build/screenshots beside _build/html: kept as build artifacts, not published."""
    folder = site.parent / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


PAGES = [p.relative_to(SITE).as_posix() for p in html_pages(SITE)] if SITE.is_dir() else []


def is_chapter(page: str) -> bool:
    """book/01_patches.html ... book/90_checkers.html, in either edition (zh_CN/book/...): the
    pages with a reading time."""
    return re.fullmatch(r"(zh_CN/)?book/\d\d_\w+\.html", page) is not None


def shot_name(page: str) -> str:
    """book/01_patches.html -> 01_patches.png (the root index.html -> root.png); the Chinese
    edition's pages go to a folder of their own, zh_CN/01_patches.png."""
    edition = "zh_CN/" if page.startswith("zh_CN/") else ""
    page = page.removeprefix(edition)
    return edition + ("root.png" if page == "index.html" else Path(page).with_suffix(".png").name)


def toc_pages() -> list[str]:
    """book/<name>.html for every file in _toc.yml."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return [f"{f}.html" for f in files]


# ---------------------------------------------------------------------------- static checks
def test_every_toc_page_was_built(site: Path):
    missing = [page for page in toc_pages() if not (site / page).is_file()]
    assert not missing, f"pages in _toc.yml that the build did not produce: {missing}"
    assert (site / "search.html").is_file() and (site / "searchindex.js").is_file()


def test_no_broken_internal_links(site: Path):
    broken = check_links(site)
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_chapter_pages_offer_downloads_and_no_launch_button_that_cannot_work(site: Path):
    html = (site / "book" / "01_patches.html").read_text()
    for link in ("../_sources/book/01_patches.ipynb", "../_sources/chapters/01_patches.md"):
        assert f'href="{link}"' in html, f"download menu lacks {link}"
    copied = site / "_sources" / "chapters" / "01_patches.md"
    assert copied.read_text() == (ROOT / "chapters" / "01_patches.md").read_text()
    # Binder and Colab would open a notebook whose first `import vit_lib` fails (README)
    assert "mybinder.org" not in html and "colab.research.google.com" not in html
    assert "theme-switch-button" in html  # light / dark / auto
    assert "search-button" in html  # the search field, on every page


def test_pages_use_no_cdn(site: Path):
    """No page may *load* anything from outside the site (links to elsewhere are fine)."""
    loads = re.compile(r'<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)="(?:https?:)?//[^"]*"')
    offenders = {}
    for page in html_pages(site):
        found = [m for m in loads.findall(page.read_text()) if 'rel="canonical"' not in m]
        if found:
            offenders[page.relative_to(site).as_posix()] = found[:3]
    assert not offenders, f"pages that load external resources: {offenders}"


# ---------------------------------------------------------------------------- in the browser
# Both checks of a page share one load (`checked`); `make site-test` runs them on the same xdist
# worker (tests/conftest.py: pytest_xdist_make_scheduler).
_CHECKED: dict[str, PageReport] = {}


def checked(page: str, browser, base_url: str, screenshots: Path) -> PageReport:
    """`page` checked at 1280 px, then narrowed to a phone's 390 px: loaded once for both tests."""
    if page not in _CHECKED:
        _CHECKED[page] = check_page(
            browser,
            f"{base_url}/{page}",
            screenshot=screenshots / "1280" / shot_name(page),
            accessibility=True,
            chapter=is_chapter(page),
            max_height=MAX_PAGE_HEIGHT,
            min_text_px=MIN_TEXT_PX,
            then_at=390,
            then_screenshot=screenshots / "390" / shot_name(page),
        )
    return _CHECKED[page]


@pytest.mark.parametrize("page", PAGES)
def test_page_loads_cleanly_offline(page: str, browser, base_url: str, screenshots: Path):
    """At 1280 px: no errors, no code, output or table box clipped (nothing to scroll), no
    critical or serious accessibility violation (axe-core, WCAG 2.1 A and AA), no figure text
    under 9 px as shown, no page taller than 20,000 px; a chapter shows its reading time and
    links to the glossary."""
    report = checked(page, browser, base_url, screenshots)
    assert not report.problems(), f"{page}:\n" + "\n".join(report.problems())
    assert report.typeset >= report.math_elements


@pytest.mark.parametrize("page", PAGES)
def test_page_fits_a_phone(page: str, browser, base_url: str, screenshots: Path):
    """At 390 px the page never scrolls sideways (a code block may scroll inside itself), and
    shows no error, broken image or untypeset math there either."""
    phone = checked(page, browser, base_url, screenshots).narrow
    assert not phone.problems(), f"{page} at 390 px:\n" + "\n".join(phone.problems())


def test_both_checks_of_a_page_are_scheduled_together():
    """The scheduler of `make site-test` keeps a page's two checks on one worker (one load)."""
    from conftest import site_test_scope

    here = "tests/website/test_site.py"
    first = site_test_scope(f"{here}::test_page_loads_cleanly_offline[zh_CN/book/04_x.html]")
    assert first == site_test_scope(f"{here}::test_page_fits_a_phone[zh_CN/book/04_x.html]")
    assert first != site_test_scope(f"{here}::test_page_fits_a_phone[book/04_x.html]")
    explorer = "tests/website/test_explorer.py"
    assert site_test_scope(f"{explorer}::test_a[en]") == site_test_scope(f"{explorer}::test_b")


def test_shape_tuples_in_the_prose_stay_on_one_line(site: Path):
    html = (site / "book" / "01_patches.html").read_text()
    assert '<span class="shape">(4, 3, 32, 32)</span>' in html


def test_figures_are_measured_where_they_are_shown(browser, base_url: str):
    """Guards the figure-text check against passing vacuously: chapter 5 has two figures (the
    architecture SVG and the merge grids, a PNG scaled down to the column), both measured."""
    report = check_page(browser, f"{base_url}/book/05_merge_heads.html", min_text_px=MIN_TEXT_PX)
    assert not report.small_text, report.small_text
    sources = [src for src, _ in report.figures]
    assert len(sources) == 2 and sources[0].endswith("05_merge_heads.svg"), report.figures
    assert all(px >= MIN_TEXT_PX for _, px in report.figures), report.figures


def test_math_is_typeset_by_the_local_mathjax(browser, base_url: str):
    """Guards the page test above against passing vacuously: this page has plenty of math."""
    report = check_page(browser, f"{base_url}/book/04_attention_scores.html")
    assert report.math_elements > 5
    assert report.typeset >= report.math_elements
    assert not report.problems()


def test_search_finds_softmax(browser, base_url: str, screenshots: Path):
    report = check_page(
        browser,
        f"{base_url}/search.html?q=softmax",
        screenshot=screenshots / "search.png",
        wait_for="#search-results ul.search li",
    )
    assert report.matches >= 1, "searching for 'softmax' found nothing"
    assert not report.problems(), "\n".join(report.problems())


def test_dark_mode_switch(browser, base_url: str, screenshots: Path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{base_url}/book/04_attention_scores.html", wait_until="load")
        switch = page.locator("button.theme-switch-button").first
        for _ in range(3):  # the button cycles light -> dark -> auto
            if page.evaluate("document.documentElement.dataset.mode") == "dark":
                break
            switch.click()
        assert page.evaluate("document.documentElement.dataset.mode") == "dark"
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        red, green, blue = (int(v) for v in re.findall(r"\d+", background)[:3])
        assert red + green + blue < 3 * 80, f"dark mode, but the background is {background}"
        page.reload(wait_until="load")  # the choice is remembered
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        page.screenshot(path=str(screenshots / "dark_mode.png"))
    finally:
        page.close()


def test_code_cells_have_copy_buttons(browser, base_url: str):
    page = browser.new_page()
    try:
        page.goto(f"{base_url}/book/01_patches.html", wait_until="load")
        cells = page.locator("div.cell_input pre").count()
        buttons = page.locator("button.copybtn").count()
        assert cells > 0 and buttons >= cells, f"{cells} code cells, {buttons} copy buttons"
    finally:
        page.close()


# ---------------------------------------------------------------------------- the checks bite
BROKEN_MARKUP = """
<p id="planted">raw $x^2$ left for MathJax</p>
<img src="missing.png" alt="a picture that is not there">
<script>console.error("planted console error");</script>
<script src="https://example.invalid/x.js"></script>
<a href="no_such_page.html">a dead link</a>
<a href="index.html#no-such-anchor">a dead anchor</a>
<div class="cell"><pre>{long_line}</pre></div>
<p><code class="docutils literal notranslate"><span class="pre">{long_code}</span></code></p>
<img src="../_static/logo.svg">
<img src="../_static/logo.svg" alt="../_images/0123abcd.png">
<img src="planted_tiny_text.png" alt="a figure whose smallest text is 6 px">
<img src="planted_unmeasured.png" alt="a figure nobody measured">
<div style="height: 25000px">a page far too long to finish</div>
"""


def planted_png(path: Path, record: str | None) -> None:
    """A 200 x 100 PNG, with `record` as its smallest-text chunk (tools/figure_text.py) if given."""
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if record is not None:
        info.add_text("vit:smallest-text-px", record)
    Image.new("RGB", (200, 100), "white").save(path, pnginfo=info)


@pytest.fixture
def broken_site(site: Path, tmp_path: Path) -> Path:
    """A copy of the site whose notation page has one of each problem planted in it."""
    copy = tmp_path / "html"
    shutil.copytree(site, copy, ignore=shutil.ignore_patterns(".*"))
    page = copy / "book" / "notation.html"
    html = page.read_text()
    assert "</article>" in html
    planted = BROKEN_MARKUP.replace("{long_line}", "x = " + "1 + " * 40 + "1").replace(
        "{long_code}", "torch." * 12 + "planted_long_name"
    )
    page.write_text(html.replace("</article>", planted + "</article>", 1))
    planted_png(page.parent / "planted_tiny_text.png", "6.00 tiny")
    planted_png(page.parent / "planted_unmeasured.png", None)
    return copy


def test_link_check_reports_a_dead_link_and_a_dead_anchor(site: Path, broken_site: Path):
    planted = sorted(set(check_links(broken_site)) - set(check_links(site)))
    assert planted == [
        "book/notation.html: index.html#no-such-anchor (no anchor #no-such-anchor in "
        "book/index.html)",
        "book/notation.html: missing.png (no such file)",
        "book/notation.html: no_such_page.html (no such file)",
    ]


def test_page_check_reports_each_planted_problem(broken_site: Path, browser):
    with serve(broken_site) as url:
        report = check_page(
            browser,
            f"{url}/book/notation.html",
            accessibility=True,
            chapter=True,  # as if it were a chapter: it has no reading time and no term link
            max_height=MAX_PAGE_HEIGHT,
            min_text_px=MIN_TEXT_PX,
            then_at=390,
        )
    assert "https://example.invalid/x.js" in report.external_requests
    assert any("planted console error" in e for e in report.console_errors), report.console_errors
    assert any("missing.png" in r and "404" in r for r in report.failed_requests), (
        report.failed_requests
    )
    assert "missing.png" in report.broken_images
    assert any("$x^2$" in m for m in report.math_problems), report.math_problems
    assert any("pre " in c and "x = 1 + 1" in c for c in report.clipped), report.clipped
    assert any("image-alt" in a and "logo.svg" in a for a in report.accessibility), (
        report.accessibility
    )
    assert any("0123abcd.png" in m for m in report.missing_alt), report.missing_alt
    assert any("planted_tiny_text.png: smallest text 6.0 px" in t for t in report.small_text), (
        report.small_text
    )
    assert any("planted_unmeasured.png: no record" in t for t in report.small_text), (
        report.small_text
    )
    assert len(report.small_text) == 2, report.small_text  # the logo has no text to measure
    assert report.too_tall and "at most 20,000" in report.too_tall[0], report.too_tall
    assert any("no reading time" in c for c in report.chapter_parts), report.chapter_parts
    assert any("no link to the glossary" in c for c in report.chapter_parts), report.chapter_parts
    phone = report.narrow  # the same page, narrowed to a phone's width
    assert phone.sideways, "a long unbreakable inline code must push the planted page sideways"
    assert not report.sideways, "at 1280 px the planted inline code fits"
    assert "missing.png" in phone.broken_images and phone.console_errors, phone.problems()
    # Nothing else: the rest of the page is as clean as the real one.
    assert all("missing.png" in r or "example.invalid" in r for r in report.failed_requests), (
        report.failed_requests
    )


def test_bug_hunt_hints_are_shown_only_on_request(site: Path):
    """A checker's FAIL message names the mistake: the page hides it in a dropdown (hide-output)."""
    shown = {}
    # (the appendix shows checkers failing on purpose: that is its subject, not an exercise)
    chapters = [p for p in (site / "book").glob("[0-9]*.html") if not p.name.startswith("9")]
    for page in sorted(chapters):
        html = page.read_text()
        hidden = [
            (m.start(), html.find("</details>", m.start())) for m in re.finditer("<details", html)
        ]
        fails = [m.start() for m in re.finditer(r"check_\w+: FAIL\b", html)]  # a printed verdict
        visible = [at for at in fails if not any(start < at < end for start, end in hidden)]
        if visible:
            shown[page.name] = html[visible[0] : visible[0] + 80]
    assert not shown, f"FAIL hints visible without a click: {shown}"
