"""What every browser test of the site needs: the built site, a server, Chromium, or a clear skip.

Every test module takes these fixtures by name (test_site.py wraps `browser` to require axe-core
too). They are not in a conftest.py: tests/conftest.py is imported by name, and a second one would
shadow it. Playwright's sync API runs one instance per thread, so there is one Chromium per
process, started by the first module that asks for it and closed when the session ends: the page
tests and test_site.py may then run in any order, on any xdist worker (`make site-test` runs
them on two).
"""

import os
from pathlib import Path

import pytest
from sitecheck import CHROMIUM, SITE, chromium, is_local, serve

REQUIRED = os.environ.get("SITE_TESTS_REQUIRED") == "1"


def unavailable(reason: str) -> None:
    """Fail under `make test` (SITE_TESTS_REQUIRED=1), skip otherwise."""
    if REQUIRED:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def built_site() -> Path:
    """The built site, or a skip (a failure under `make test`) that says how to build it."""
    if not (SITE / "index.html").is_file():
        unavailable(f"no built site in {SITE}: run `make book` first (or set SITE_DIR)")
    return SITE


_SHARED: dict[str, object] = {}  # this process's Chromium, once started


def launch(config) -> object:
    """This process's Chromium (started the first time, closed at the end of the session), or
    skip (fail under `make test`) saying what is missing."""
    if os.environ.get("SKIP_BROWSER"):
        pytest.skip("SKIP_BROWSER is set: the browser tests do not run")
    if not Path(CHROMIUM).is_file():
        unavailable(
            f"no Chromium at {CHROMIUM}: run `make browser` (Debian: apt-get install chromium)"
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        unavailable("the playwright package is missing: pip install -e '.[dev]'")
    if "browser" not in _SHARED:
        running = chromium()
        _SHARED["browser"] = running.__enter__()

        def close() -> None:
            _SHARED.pop("browser")
            running.__exit__(None, None, None)

        config.add_cleanup(close)
    return _SHARED["browser"]


def watch(page) -> list[str]:
    """What goes wrong in `page` from now on, appended to the list returned: console errors,
    uncaught exceptions, HTTP errors and requests to anything but the local server (aborted).

    A fresh browser asks for /favicon.ico on its own; the site has none, and that is no error.
    Routes a test adds afterwards take precedence over the one installed here.
    """
    problems: list[str] = []

    def route(route_) -> None:
        if is_local(route_.request.url):
            route_.continue_()
        else:
            problems.append(f"external request: {route_.request.url}")
            route_.abort("blockedbyclient")

    def console(message) -> None:
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            problems.append(f"console error: {message.text}")

    def response(response_) -> None:
        if response_.status >= 400 and not response_.url.endswith("/favicon.ico"):
            problems.append(f"HTTP {response_.status}: {response_.url}")

    page.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    page.on("response", response)
    return problems


@pytest.fixture(scope="module")
def site() -> Path:
    return built_site()


@pytest.fixture(scope="module")
def base_url(site: Path):
    with serve(site) as url:
        yield url


@pytest.fixture(scope="module")
def browser(request):
    return launch(request.config)
