"""How fast and how small the explorer page is, in headless Chromium on this machine.

    python benchmarks/explorer_speed.py [--runs 50] [--output benchmarks/results/explorer.json]

Needs a built site (`make book`) and Debian's Chromium (`make browser`). The page is served on
127.0.0.1 and opened in a fresh browser, so nothing comes from a cache. It reports:

- page ready: from the start of explorer.js to the runtime and the model loaded (the page's own
  `timings.ready`), and to its first prediction shown (`timings.first`), in ms;
- the median time per prediction over `--runs` calls of the page's own `predict` on the shipped
  test digits (one wasm thread, as the page runs), and the fastest and slowest; and the median
  time to show one, every view of the page redrawn;
- the bytes the browser downloaded for the page, by kind (the runtime, the model, the page's
  code, the rest of the site's page), from the responses themselves, uncompressed.

Targets (issue 16): at most 50 ms per prediction; the explorer's own download (runtime, model
and code) under 16 MB. The theme's files, which every page of the site loads, are reported
beside it.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "website"))

from sitecheck import CHROMIUM, SITE, chromium, serve  # noqa: E402

TARGET_MS, TARGET_BYTES = 50.0, 16_000_000
EXPLORER_PARTS = ("runtime", "model", "explorer code")


def kind(url: str) -> str:
    """Which part of the page a downloaded file belongs to."""
    if "/_static/ort/" in url:
        return "runtime"
    if "/explorer/generated/" in url:
        return "model"
    if "/_static/explorer/" in url:
        return "explorer code"
    return "the site's page (theme, fonts, search)"


def measure(runs: int) -> dict:
    with serve(SITE) as base, chromium() as browser:
        page = browser.new_page()
        sizes: dict[str, int] = {}

        def on_response(response) -> None:
            try:
                body = response.body()
            except Exception:  # a redirect or an aborted request has no body
                return
            sizes[kind(response.url)] = sizes.get(kind(response.url), 0) + len(body)

        page.on("response", on_response)
        page.goto(f"{base}/book/explorer.html", wait_until="load")
        page.wait_for_function("() => document.getElementById('vit-explorer').dataset.ready", timeout=60_000)
        state = page.evaluate("() => document.getElementById('vit-explorer').dataset.ready")
        if state != "true":
            raise RuntimeError(f"the explorer did not start ({state})")
        page.wait_for_load_state("networkidle")
        timings = page.evaluate("() => window.explorer.app.timings")
        times = page.evaluate(
            """async (runs) => {
                const samples = window.explorer.meta.samples;
                const times = [];
                for (let i = 0; i < runs; i++) {
                    const start = performance.now();
                    await window.explorer.app.predict(samples[i % samples.length].image);
                    times.push(performance.now() - start);
                }
                return times;
            }""",
            runs,
        )
        shown = page.evaluate(
            """async (runs) => {
                const app = window.explorer.app;
                const samples = window.explorer.meta.samples;
                const times = [];
                for (let i = 0; i < runs; i++) {
                    const start = performance.now();
                    await app.showSample(i % samples.length);
                    times.push(performance.now() - start);
                }
                return times;
            }""",
            runs,
        )
        page.close()
    return {
        "ready_ms": round(timings["ready"], 1),
        "first_prediction_ms": round(timings["first"], 1),
        "prediction_ms": {
            "median": round(statistics.median(times), 2),
            "min": round(min(times), 2),
            "max": round(max(times), 2),
            "runs": runs,
        },
        "prediction_shown_ms": {"median": round(statistics.median(shown), 2), "runs": runs},
        "bytes": dict(sorted(sizes.items())),
        "explorer_bytes": sum(n for part, n in sizes.items() if part in EXPLORER_PARTS),
        "total_bytes": sum(sizes.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="predictions to time")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        print(f"error: --runs must be at least 1, got {args.runs}", file=sys.stderr)
        return 2
    if not (SITE / "book" / "explorer.html").is_file():
        print(f"error: no built explorer in {SITE}: run `make book` first", file=sys.stderr)
        return 2
    if not Path(CHROMIUM).is_file():
        print(f"error: no Chromium at {CHROMIUM}: run `make browser`", file=sys.stderr)
        return 2
    result = measure(args.runs)
    result.update(machine=platform.processor() or platform.machine(), browser=CHROMIUM)
    median = result["prediction_ms"]["median"]
    print(
        f"page ready {result['ready_ms']:.0f} ms, first prediction shown at "
        f"{result['first_prediction_ms']:.0f} ms"
    )
    print(
        f"per prediction: median {median:.1f} ms over {args.runs} "
        f"(min {result['prediction_ms']['min']:.1f}, max {result['prediction_ms']['max']:.1f}); "
        f"target <= {TARGET_MS:g} ms; with every view redrawn, median "
        f"{result['prediction_shown_ms']['median']:.1f} ms"
    )
    for part, size in result["bytes"].items():
        print(f"  {part:<40} {size / 1e6:6.2f} MB")
    print(
        f"the explorer's own download: {result['explorer_bytes'] / 1e6:.2f} MB "
        f"(target < {TARGET_BYTES / 1e6:g} MB); with the theme, {result['total_bytes'] / 1e6:.2f} MB"
    )
    if args.output is not None:
        args.output.write_text(json.dumps(result, indent=1) + "\n")
    return 0 if median <= TARGET_MS and result["explorer_bytes"] < TARGET_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
