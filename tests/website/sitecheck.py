"""Check a built site the way a reader's browser sees it, offline.

Used by the site tests (tests/website/test_site.py) after `make book`; importable on its own:

    with serve(Path("_build/html")) as base_url, chromium() as browser:
        report = check_page(browser, f"{base_url}/book/01_patches.html")
        print(report.problems())

- `serve` serves a folder on 127.0.0.1 only, from a thread, on a free port.
- `chromium` starts Debian's Chromium (/usr/bin/chromium) headless through Playwright; the
  browser build that `playwright install` would download is never used.
- `check_page` opens one page and reports console errors, failed requests (including HTTP
  errors), requests to anything but the local server (they are recorded, then aborted, so
  nothing leaves the machine), images that did not load, and math that MathJax did not typeset.
  It also measures what a reader sees: boxes wider than their content area, a page that scrolls
  sideways, figures without alt text or whose smallest text is displayed under 9 CSS px, pages
  taller than 20,000 px, and, on chapter pages, the reading time and the links to the glossary.
- `check_links` reads every HTML file of the site and reports each local href/src whose file,
  or whose #anchor, does not exist. It needs no browser.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from figure_text import smallest_text_px  # noqa: E402  (what `make execute` records in a PNG)

# The site under test: _build/html (what `make book` builds), or SITE_DIR for a private build.
SITE = Path(os.environ.get("SITE_DIR", ROOT / "_build" / "html")).resolve()
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Screenshots of every page checked (`make site-test SITE_SCREENSHOTS=1`); without it, only of a
# page with a problem, so that a failure comes with a picture.
SCREENSHOTS = os.environ.get("SITE_SCREENSHOTS") == "1"
# axe-core (`make site-test` installs it from npm): injected into each page by the test, not served.
AXE_JS = Path(os.environ.get("AXE_JS", ROOT / ".cache" / "axe" / "axe.min.js"))
# The accessibility bar: WCAG 2 A and AA rules, and no violation of these impacts.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_BLOCKING = ("critical", "serious")
# What a reader can finish and read (issue: "pages a learner can finish", "every figure legible").
MAX_PAGE_HEIGHT = 20_000  # CSS px at 1280 px wide: about 22 screens
MIN_TEXT_PX = 9.0  # the smallest text of a figure, as displayed
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
]
LOCAL_HOST = "127.0.0.1"
NON_NETWORK_SCHEMES = ("data", "blob", "about", "chrome-error")


# ------------------------------------------------------------------------------ serving
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".md": "text/markdown; charset=utf-8",
        ".ipynb": "application/x-ipynb+json",
    }

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


@contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve `directory` on 127.0.0.1 (a free port) while the block runs; yield its URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer((LOCAL_HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def chromium():
    """Headless Debian Chromium driven by Playwright; yields a Browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


# ------------------------------------------------------------------------------ one page
@dataclass
class PageReport:
    url: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    missing_alt: list[str] = field(default_factory=list)  # figures a screen reader cannot describe
    math_problems: list[str] = field(default_factory=list)
    clipped: list[str] = field(default_factory=list)  # boxes whose content is wider than the box
    accessibility: list[str] = field(
        default_factory=list
    )  # axe-core's critical and serious findings
    sideways: list[str] = field(default_factory=list)  # the page itself scrolls sideways
    small_text: list[str] = field(default_factory=list)  # figures whose text is too small to read
    too_tall: list[str] = field(default_factory=list)  # a page longer than a learner can finish
    chapter_parts: list[str] = field(default_factory=list)  # reading time, glossary links
    figures: list[tuple[str, float]] = field(default_factory=list)  # (src, smallest text in px)
    math_elements: int = 0
    typeset: int = 0
    matches: int = 0  # elements matching `wait_for`, when given
    final_url: str = ""  # after redirects
    narrow: PageReport | None = None  # the same page narrowed (check_page's `then_at`)

    def problems(self) -> list[str]:
        """Every problem found, one line each, prefixed with its kind."""
        kinds = {
            "console error": self.console_errors,
            "failed request": self.failed_requests,
            "external request": self.external_requests,
            "image not loaded": self.broken_images,
            "no alt text": self.missing_alt,
            "math": self.math_problems,
            "clipped": self.clipped,
            "accessibility": self.accessibility,
            "sideways scroll": self.sideways,
            "small figure text": self.small_text,
            "too tall": self.too_tall,
            "chapter page": self.chapter_parts,
        }
        return [f"{kind}: {item}" for kind, items in kinds.items() for item in items]


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in NON_NETWORK_SCHEMES or parts.hostname == LOCAL_HOST


# Text left in the page that should have become math: $...$, \( ... \), \[ ... \].
RAW_MATH = re.compile(r"\$[^$\s][^$]*\$|\\\(|\\\)|\\\[|\\\]")

_MATH_STATE = """() => {
    const math = Array.from(document.querySelectorAll('.math'));
    const untypeset = math.filter(el => !el.querySelector('mjx-container'))
        .map(el => el.textContent.trim().slice(0, 60));
    const article = document.querySelector('article') || document.body;
    const clone = article.cloneNode(true);
    // Code shows TeX on purpose; search results quote page sources, TeX included.
    const quoted = 'pre, code, script, style, mjx-container, .highlight, textarea, #search-results';
    clone.querySelectorAll(quoted)
        .forEach(el => el.remove());
    return {
        count: math.length,
        typeset: document.querySelectorAll('mjx-container').length,
        untypeset: untypeset,
        text: clone.textContent,
    };
}"""

# Boxes in the article whose content is wider than the box: a reader must scroll inside them to
# see the end of a line (code, an output, a table). Display math is measured by its container.
_CLIPPED = """() => {
    const article = document.querySelector('article') || document.body;
    const kinds = 'pre, table, div.cell_output, div.output, mjx-container[display]';
    const boxes = article.querySelectorAll(kinds);
    const where = el => {
        const section = el.closest('section');
        const heading = section && section.querySelector('h1, h2, h3, h4');
        return heading ? heading.textContent.replace(/[#¶]/g, '').trim().slice(0, 50) : '(top)';
    };
    return Array.from(boxes)
        .filter(el => el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0)
        .map(el => `${el.tagName.toLowerCase()} ${el.scrollWidth}px in a ${el.clientWidth}px box, `
                   + `under "${where(el)}": ${el.textContent.trim().split('\\n')[0].slice(0, 60)}`);
}"""

_SIDEWAYS = """() => {
    const page = document.documentElement;
    const wide = page.scrollWidth > page.clientWidth + 1;
    return wide ? [`${page.scrollWidth}px wide at ${page.clientWidth}px`] : [];
}"""

_AXE_RUN = """async (tags) => {
    const options = {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']};
    const result = await axe.run(document, options);
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
        first: v.nodes[0].target.join(' '), html: v.nodes[0].html.slice(0, 100),
    }));
}"""

# Figures in the article whose alt text is missing or only a file name (MyST-NB's default).
_BAD_ALT = """() => Array.from(document.querySelectorAll('article img'))
    .filter(img => {
        const alt = (img.getAttribute('alt') || '').trim();
        return alt.length < 10 || /\\.(png|svg|jpe?g|gif)$/i.test(alt);
    })
    .map(img => `${img.getAttribute('src')} (alt: ${JSON.stringify(img.getAttribute('alt'))})`)"""

_FIGURES = """() => Array.from(document.querySelectorAll('article img'))
    .filter(img => img.complete && img.naturalWidth > 0)
    .map(img => ({src: img.src, shown: img.getAttribute('src'),
                  natural: img.naturalWidth, width: img.getBoundingClientRect().width}))"""

_CHAPTER_PARTS = """() => ({
    reading: Array.from(document.querySelectorAll('article p.reading-time'))
        .map(p => p.textContent.trim()),
    terms: document.querySelectorAll('article a[href*="glossary.html#term-"]').length,
})"""

# Sphinx's search shows its results one at a time and writes its summary ("Search finished,
# found N page(s)", in the page's language) after the last: until then the list is incomplete.
SEARCH_FINISHED = """() => {
    const summary = document.querySelector('#search-results p.search-summary');
    return summary !== null && summary.innerText.trim() !== '';
}"""

_BROKEN_IMAGES = """() => Array.from(document.images)
    .filter(img => !(img.complete && img.naturalWidth > 0))
    .map(img => img.getAttribute('src'))"""


_META_REFRESH = re.compile(
    r"""<meta[^>]*http-equiv=["']?refresh["']?[^>]*content=["']\s*\d+\s*;\s*url=([^"']+)["']""",
    re.I,
)


def meta_refresh_target(url: str) -> str | None:
    """Where a page's `<meta http-equiv="refresh">` sends the reader, or None."""
    with urllib.request.urlopen(url, timeout=10) as response:
        match = _META_REFRESH.search(response.read().decode("utf-8", errors="replace"))
    return urljoin(url, match.group(1).strip()) if match else None


_SVG_ROOT = re.compile(r"<svg\b[^>]*>", re.S)
_SVG_VIEWBOX = re.compile(r'viewBox="\s*[-\d.]+[\s,]+[-\d.]+[\s,]+([\d.]+)')
_SVG_WIDTH = re.compile(r'\swidth="([\d.]+)(px)?"')
_SVG_FONT = re.compile(r'font-size[=:]\s*"?([\d.]+)')


def figure_text_px(data: bytes, name: str) -> float | None:
    """The smallest text of a figure, in its own pixels (None when it has no text to measure).

    PNG: what `make execute` recorded in it (tools/figure_text.py); a PNG without the record
    raises ValueError. SVG: the smallest font-size in it, in units of its viewBox width.
    """
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        record = smallest_text_px(data)
        if record is None:
            raise ValueError(f"{name}: no record of its text size (run `make execute`)")
        return record[0]
    text = data.decode("utf-8", errors="replace")
    root = _SVG_ROOT.search(text)
    if root is None:
        raise ValueError(f"{name}: neither PNG nor SVG; cannot measure its text")
    if "<text" not in text:
        return None
    box = _SVG_VIEWBOX.search(root.group(0)) or _SVG_WIDTH.search(root.group(0))
    width = _SVG_WIDTH.search(root.group(0))
    scale = float(width.group(1)) / float(box.group(1)) if width and box else 1.0
    sizes = [float(size) for size in _SVG_FONT.findall(text)]
    return min(sizes) * scale if sizes else 16.0 * scale  # the browser's default size


def _measure_figures(page, report: PageReport, min_text_px: float) -> None:
    for figure in page.evaluate(_FIGURES):
        with urllib.request.urlopen(figure["src"], timeout=10) as response:
            data = response.read()
        try:
            own = figure_text_px(data, figure["shown"])
        except ValueError as err:
            report.small_text.append(str(err))
            continue
        if own is None:
            continue
        shown = own * figure["width"] / figure["natural"]  # the browser scales it to fit
        report.figures.append((figure["shown"], shown))
        if shown < min_text_px:
            report.small_text.append(
                f"{figure['shown']}: smallest text {shown:.1f} px as shown "
                f"({own:.1f} px at its natural width {figure['natural']} px, shown "
                f"{figure['width']:.0f} px wide); at least {min_text_px:g} px"
            )


def check_page(
    browser,
    url: str,
    screenshot: Path | None = None,
    wait_for: str | None = None,
    timeout_ms: int = 20_000,
    width: int = 1280,
    boxes_must_fit: bool = True,
    accessibility: bool = False,
    chapter: bool = False,
    max_height: int | None = None,
    min_text_px: float | None = None,
    then_at: int | None = None,
    then_screenshot: Path | None = None,
) -> PageReport:
    """Open `url` in a fresh page and report what a reader's browser would get wrong.

    Args:
        browser: a Playwright Browser (see `chromium`).
        url: the page, on the local server.
        screenshot: where to save a PNG of the first screenful: always under SITE_SCREENSHOTS=1,
            otherwise only when a problem was found (a picture of what failed).
        wait_for: a CSS selector to wait for (content that scripts add, e.g. search results);
            `PageReport.matches` counts its elements.
        timeout_ms: how long to wait for each step.
        width: the viewport's width in CSS pixels (1280: a laptop, 390: a phone).
        boxes_must_fit: report code, output and table boxes whose content is wider than the box
            (at 1280 px nothing may be clipped; on a phone a block may scroll inside itself).
        accessibility: run axe-core (AXE_JS) on the page and report its critical and serious
            violations of WCAG 2.1 A and AA.
        chapter: the page is a chapter: it must show its reading time and link to the glossary.
        max_height: report a page taller than this many CSS px.
        min_text_px: report a figure whose smallest text is displayed smaller than this (PNGs
            carry the size of their smallest text, tools/figure_text.py; SVGs say it themselves).
        then_at: after the checks above, narrow the same page to this many CSS px (a phone: 390)
            and check it again, as a page whose boxes may scroll inside themselves; the result is
            `PageReport.narrow`, which also holds what went wrong while the page loaded. One load
            serves both widths: the browser lays the page out again for the new viewport.
        then_screenshot: where to save the narrowed page's first screenful (as `screenshot`).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    report = PageReport(url)
    current = [report]  # the report that events go to: the narrowed page's, once it is narrowed
    page = browser.new_page(viewport={"width": width, "height": 900})

    def route(route_) -> None:
        if is_local(route_.request.url):
            route_.continue_()
        else:
            route_.abort("blockedbyclient")  # recorded below; never leaves the machine

    def on_request(request) -> None:
        if not is_local(request.url):
            current[-1].external_requests.append(request.url)

    def on_request_failed(request) -> None:
        if is_local(request.url):
            current[-1].failed_requests.append(f"{request.url} ({request.failure})")

    def on_response(response) -> None:
        if response.status >= 400:
            current[-1].failed_requests.append(f"{response.url} (HTTP {response.status})")

    def on_console(message) -> None:
        if message.type == "error":
            current[-1].console_errors.append(message.text)

    page.route("**/*", route)
    page.on("request", on_request)
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    page.on("console", on_console)
    page.on("pageerror", lambda error: current[-1].console_errors.append(f"uncaught: {error}"))
    try:
        # A redirect page (the site's root index.html -> book/index.html) is followed here, before
        # the browser opens it: a meta refresh navigates while scripts are being asked questions.
        target = meta_refresh_target(url)
        page.goto(target or url, wait_until="load", timeout=timeout_ms)
        report.final_url = page.url
        if page.evaluate("() => document.querySelector('script[src*=\"mathjax\"]') !== null"):
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                timeout=timeout_ms,
            )
            page.evaluate("() => MathJax.startup.promise.then(() => true)")
        if wait_for is not None:
            try:
                page.wait_for_selector(wait_for, timeout=timeout_ms)
            except PlaywrightTimeout:
                pass  # counted as 0 below; the caller decides
            report.matches = page.locator(wait_for).count()
        page.wait_for_load_state("networkidle", timeout=timeout_ms)
        _measure(page, report, width, boxes_must_fit, max_height, min_text_px, chapter)
        if accessibility:
            page.add_script_tag(content=AXE_JS.read_text())
            for v in page.evaluate(_AXE_RUN, AXE_TAGS):
                if v["impact"] in AXE_BLOCKING:
                    report.accessibility.append(
                        f"{v['impact']} {v['id']} ({v['help']}): {v['count']} element(s), "
                        f"first {v['first']}: {v['html']}"
                    )
        _shoot(page, report, screenshot)
        if then_at is not None:
            narrow = PageReport(url, final_url=report.final_url)
            for kind in ("console_errors", "failed_requests", "external_requests"):
                setattr(narrow, kind, list(getattr(report, kind)))  # the load is theirs too
            current.append(narrow)
            page.set_viewport_size({"width": then_at, "height": 900})
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)))")
            page.wait_for_load_state("networkidle", timeout=timeout_ms)
            _measure(page, narrow, then_at, False, None, None, False)
            _shoot(page, narrow, then_screenshot)
            report.narrow = narrow
    finally:
        page.close()
    return report


def _measure(page, report, width, boxes_must_fit, max_height, min_text_px, chapter) -> None:
    """What check_page measures in a loaded page at its present width."""
    report.broken_images += page.evaluate(_BROKEN_IMAGES)
    report.missing_alt += page.evaluate(_BAD_ALT)
    report.sideways += page.evaluate(_SIDEWAYS)
    if boxes_must_fit:
        report.clipped += page.evaluate(_CLIPPED)
    if max_height is not None:
        height = page.evaluate("() => document.documentElement.scrollHeight")
        if height > max_height:
            report.too_tall.append(f"{height:,} px tall at {width} px; at most {max_height:,}")
    if min_text_px is not None:
        _measure_figures(page, report, min_text_px)
    if chapter:
        parts = page.evaluate(_CHAPTER_PARTS)
        # "about 12 min" in English, "约 12 分钟" in Chinese
        if len(parts["reading"]) != 1 or not re.search(r"\d+ (min|分钟)", parts["reading"][0]):
            report.chapter_parts.append(f"no reading time under the title: {parts['reading']}")
        if parts["terms"] == 0:
            report.chapter_parts.append("no link to the glossary")
    math = page.evaluate(_MATH_STATE)
    report.math_elements, report.typeset = math["count"], math["typeset"]
    report.math_problems += [f"not typeset: {text!r}" for text in math["untypeset"]]
    report.math_problems += [
        f"raw math delimiter left in the text: {m!r}"
        for m in sorted(set(RAW_MATH.findall(math["text"])))
    ]


def _shoot(page, report: PageReport, path: Path | None) -> None:
    """Save the first screenful to `path` (if given) when asked for, or when something is wrong."""
    if path is not None and (SCREENSHOTS or report.problems()):
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=False)


# ------------------------------------------------------------------------------ links
class _LinkParser(HTMLParser):
    URL_ATTRS = {
        "a": "href",
        "link": "href",
        "img": "src",
        "script": "src",
        "iframe": "src",
        "source": "src",
        "video": "src",
        "audio": "src",
        "embed": "src",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if values.get(key):
                self.ids.add(values[key])
        attr = self.URL_ATTRS.get(tag)
        if attr and values.get(attr):
            self.urls.append(values[attr])
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            match = re.search(r"url=(.+)$", values.get("content") or "", re.IGNORECASE)
            if match:
                self.urls.append(match.group(1).strip("'\" "))


def html_pages(site: Path) -> list[Path]:
    """The site's pages: its HTML files outside Sphinx's asset folders (_static holds template
    macros ending in .html, which are not pages) and outside hidden folders."""
    return sorted(
        p
        for p in site.rglob("*.html")
        if not any(part.startswith((".", "_")) for part in p.relative_to(site).parts[:-1])
    )


def _parse(path: Path, cache: dict[Path, _LinkParser]) -> _LinkParser:
    if path not in cache:
        parser = _LinkParser()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = parser
    return cache[path]


def check_links(site: Path) -> list[str]:
    """Every local href/src in the site's HTML whose target file or #anchor is missing."""
    site = site.resolve()
    cache: dict[Path, _LinkParser] = {}
    broken = []
    for page in html_pages(site):
        for url in _parse(page, cache).urls:
            parts = urlsplit(url.strip())
            if parts.scheme or url.startswith("//"):
                continue  # external (http, mailto, javascript, data): not loaded offline
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            where = f"{page.relative_to(site)}: {url}"
            if target != site and site not in target.parents:
                broken.append(f"{where} (points outside the site)")
                continue
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{where} (no such file)")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in _parse(target, cache).ids:
                broken.append(f"{where} (no anchor #{fragment} in {target.relative_to(site)})")
    return broken
