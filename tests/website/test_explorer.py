"""The explorer page (book/explorer.md) in Chromium, against PyTorch.

The page runs the shipped digits ViT with onnxruntime-web; its outputs for the shipped test
digits, for the scripted strokes of book/_static/explorer/strokes.json and for a stroke drawn
with the mouse must equal `vit_lib.explorer.ExplorerModel`'s for the same 8 x 8 digit (to 1e-4),
and the page's pen must give the same 8 x 8 counts as `strokes_to_digit`. A planted model file
and a planted preprocessing bug must both be caught. The page does all of this in both editions,
the English one and the Chinese one (zh_CN/), whose interface is Chinese. Needs a built site
(`make book`).
"""

import json
import re
from urllib.parse import urlsplit

import pytest
import torch
from page_fixtures import base_url, browser, site, unavailable, watch  # noqa: F401  (fixtures)
from sitecheck import ROOT, SITE

from conftest import CJK, interface_text
from vit_lib import attention_rollout, load_digits, load_pretrained
from vit_lib.explorer import ExplorerModel, export_onnx, strokes_to_digit

STROKES = json.loads((ROOT / "book/_static/explorer/strokes.json").read_text())["strokes"]
TOLERANCE = 1e-4
PAGE = "book/explorer.html"
EDITIONS = {"en": PAGE, "zh": f"zh_CN/{PAGE}"}  # the English site and the Chinese one
TEXT = interface_text(ROOT / "book" / "_static" / "explorer" / "explorer.js")


@pytest.fixture(scope="module")
def trained():
    return load_pretrained("digits")


class Opened:
    """The explorer in a fresh page, with what went wrong while it ran."""

    def __init__(self, chromium_browser, url: str, **context) -> None:
        self.page = chromium_browser.new_page(**context)
        self.problems = watch(self.page)
        self.url = url

    def open(self) -> "Opened":
        self.page.goto(self.url, wait_until="load")
        self.page.wait_for_function(
            "() => document.getElementById('vit-explorer').dataset.ready", timeout=30_000
        )
        state = self.page.evaluate("() => document.getElementById('vit-explorer').dataset.ready")
        assert state == "true", f"the explorer did not start: {self.problems}"
        return self

    def close(self) -> None:
        self.page.close()


@pytest.fixture(params=sorted(EDITIONS))
def explorer(request, browser, base_url):
    opened = Opened(browser, f"{base_url}/{EDITIONS[request.param]}").open()
    opened.edition = request.param
    yield opened
    problems = opened.problems
    opened.close()
    assert problems == [], problems


def mismatches(page, trained, digits: list[list[list[int]]]) -> list[str]:
    """Where the page's outputs for 8 x 8 `digits` (counts 0..16) differ from PyTorch's."""
    names = ["logits", "pixels", "patches", "tokens"]
    problems = []
    for k, digit in enumerate(digits):
        got = page.evaluate("(d) => window.explorer.predict(d)", digit)
        images = torch.tensor(digit, dtype=torch.float32).reshape(1, 1, 8, 8) / 16
        with torch.no_grad():
            want = ExplorerModel(trained.model, trained.transform)(images)
        pairs = [(name, got[name], want[i]) for i, name in enumerate(names)]
        pairs += [(f"attention_{b}", a, want[4 + b]) for b, a in enumerate(got["attention"])]
        rollout = attention_rollout(list(want[4:]))[0]
        pairs.append(("rollout", {"data": sum(got["rollout"], []), "dims": [17, 17]}, rollout))
        for name, ours, theirs in pairs:
            if list(ours["dims"]) != list(theirs.shape):
                problems.append(
                    f"digit {k} {name}: shape {ours['dims']}, not {tuple(theirs.shape)}"
                )
                continue
            delta = (torch.tensor(ours["data"]).reshape(theirs.shape) - theirs).abs().max().item()
            if not delta <= TOLERANCE:
                problems.append(f"digit {k} {name}: max |Δ| = {delta:.2e} > {TOLERANCE}")
    return problems


def test_the_test_digits_give_pytorchs_numbers(explorer, trained):
    meta = explorer.page.evaluate("() => window.explorer.meta")
    test = load_digits().test
    for sample in meta["samples"]:  # the first test digit of each class, as scikit-learn has it
        first = test.images[test.labels == sample["label"]][0, 0] * 16
        assert torch.equal(torch.tensor(sample["image"], dtype=torch.float32), first.round())
    assert mismatches(explorer.page, trained, [s["image"] for s in meta["samples"]]) == []


def test_the_scripted_strokes_are_inked_as_in_python_and_read(explorer, trained):
    read = []
    digits = []
    for item in STROKES:
        digit = explorer.page.evaluate("(s) => window.explorer.drawStrokes(s)", item["strokes"])
        assert torch.equal(
            torch.tensor(digit, dtype=torch.float32), strokes_to_digit(item["strokes"])
        ), f"the pen differs on {item['label']}"
        digits.append(digit)
        logits = explorer.page.evaluate("(d) => window.explorer.predict(d)", digit)["logits"]
        read.append(max(range(10), key=lambda k: logits["data"][k]))
    right = sum(r == item["label"] for r, item in zip(read, STROKES))
    assert right >= 8, f"read {read} for {[item['label'] for item in STROKES]}"
    assert mismatches(explorer.page, trained, digits) == []
    shown = explorer.page.locator("#vx-probs .vx-best .vx-label").inner_text()
    assert shown == str(read[-1])  # the bar chart follows the last drawing


def test_a_digit_drawn_with_the_mouse(explorer, trained):
    page = explorer.page
    page.locator("#vx-draw").scroll_into_view_if_needed()
    box = page.locator("#vx-draw").bounding_box()
    seven = next(item["strokes"] for item in STROKES if item["label"] == 7)
    for stroke in seven:  # the scripted 7, drawn with the mouse on the canvas
        points = [
            (box["x"] + x / 100 * box["width"], box["y"] + y / 100 * box["height"])
            for x, y in stroke
        ]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point, steps=6)
        page.mouse.up()
    page.wait_for_function("() => window.explorer.app.state.strokes.length === 2")
    page.evaluate("() => window.explorer.app.update()")  # settles once the last stroke is shown
    recorded = page.evaluate("() => window.explorer.app.state.strokes")
    digit = page.evaluate("() => window.explorer.app.state.digit")
    assert torch.equal(torch.tensor(digit, dtype=torch.float32), strokes_to_digit(recorded))
    assert mismatches(page, trained, [digit]) == []
    assert page.locator("#vx-probs .vx-best .vx-label").inner_text() == "7"


def main_view(page) -> dict:
    return page.evaluate(
        "() => ({view: window.explorer.view(), image: document.querySelector('#vx-main')"
        ".toDataURL()})"
    )


def test_hovering_a_patch_shows_its_own_attention_row(explorer, trained):
    page = explorer.page
    before = main_view(page)
    assert before["view"]["query"] == 0  # the class token's row to start with
    main = page.locator("#vx-main")
    main.scroll_into_view_if_needed()
    box = main.bounding_box()
    main.hover(position={"x": 2.5 * box["width"] / 4, "y": 1.5 * box["height"] / 4})
    after = main_view(page)
    assert after["view"]["query"] == 1 + 1 * 4 + 2  # patch (row 1, column 2) is token 7
    assert after["image"] != before["image"]
    digit = page.evaluate("() => window.explorer.app.state.digit")
    images = torch.tensor(digit, dtype=torch.float32).reshape(1, 1, 8, 8) / 16
    with torch.no_grad():
        maps = ExplorerModel(trained.model, trained.transform)(images)[4:]
    row = maps[-1][0].mean(dim=0)[7, 1:].reshape(4, 4)  # last block, mean of heads
    assert (torch.tensor(after["view"]["main"]) - row).abs().max() <= TOLERANCE
    page.locator("#vx-rollout").check()  # the pointer leaves the map for the checkbox
    main.hover(position={"x": 2.5 * box["width"] / 4, "y": 1.5 * box["height"] / 4})
    rolled = main_view(page)
    assert rolled["view"]["query"] == 7
    row = attention_rollout(list(maps))[0, 7, 1:].reshape(4, 4)
    assert (torch.tensor(rolled["view"]["main"]) - row).abs().max() <= TOLERANCE
    page.locator("#vx-rollout").hover()  # the pointer leaves the map
    assert main_view(page)["view"]["query"] == 0


@pytest.mark.parametrize("edition", sorted(EDITIONS))
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_it_works_on_a_phone_in_both_themes(browser, base_url, scheme, site, edition):
    opened = Opened(
        browser,
        f"{base_url}/{EDITIONS[edition]}",
        viewport={"width": 390, "height": 844},
        color_scheme=scheme,
        has_touch=True,
    ).open()
    page = opened.page
    if scheme == "dark":
        page.evaluate("() => { document.documentElement.dataset.theme = 'dark'; }")
    page.locator("[data-sample='3']").tap()
    page.wait_for_function("() => window.explorer.app.state.sample === 3")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    page.locator("#vx-main").tap()
    assert page.evaluate("() => window.explorer.view().query") != 0  # a tap pins a patch
    shots = site.parent / "screenshots"
    shots.mkdir(exist_ok=True)
    page.screenshot(path=str(shots / f"explorer-{edition}-390-{scheme}.png"), full_page=True)
    problems = opened.problems
    opened.close()
    assert problems == []


@pytest.mark.parametrize(
    "edition, says",
    [("en", "needs the site to be served"), ("zh", "探索器需要由服务器提供网站")],
    ids=["en", "zh"],
)
def test_opened_from_a_file_it_says_it_must_be_served(browser, edition, says):
    page = browser.new_page()
    page.goto((SITE / EDITIONS[edition]).as_uri(), wait_until="load")
    alert = page.locator("#vit-explorer [role=alert]")
    assert says in alert.inner_text()
    page.close()


# ---------------------------------------------------------------------- the page's language
INTERFACE = """() => {
    const root = document.getElementById("vit-explorer");
    const texts = (selector) => Array.from(root.querySelectorAll(selector),
        (node) => node.textContent.trim());
    return {
        headings: texts("h3"), buttons: texts("button"), labels: texts("label"),
        options: texts("option"), headers: texts("th"), links: texts("a"),
        lines: texts(".vx-status, .vx-note"),
        attributes: Array.from(root.querySelectorAll("[aria-label], [title]"),
            (node) => [node.getAttribute("aria-label"), node.getAttribute("title")])
            .flat().filter(Boolean),
        text: root.innerText,
        hrefs: Array.from(root.querySelectorAll("a"), (a) => a.href),
    };
}"""
# English words that the Chinese interface keeps: code names and the runtime's name
KEPT = {"onnxruntime", "web", "softmax", "LayerNorm"}


def english_words(text: str) -> set[str]:
    """Words of English prose in `text`: three letters or more, not part of an identifier
    (norm1, img_size) and not one of the names the Chinese interface keeps."""
    words = re.findall(r"(?<![\w.])[A-Za-z][A-Za-z0-9_]*", text)
    return {w for w in words if len(w) >= 3 and w.isalpha() and w not in KEPT}


def test_the_interface_is_in_the_pages_language(explorer, site):
    page = explorer.page
    page.locator("#vx-main").hover()  # a patch's row: the line under the map names the patch
    shown = page.evaluate(INTERFACE)
    en, zh = TEXT["en"], TEXT["zh"]
    headings = ["drawHeading", "seesHeading", "probsHeading", "attentionHeading",
                "tokensHeading", "shapesHeading"]  # fmt: skip
    if explorer.edition == "en":  # as it was before the page had two languages
        assert shown["headings"] == [en[key] for key in headings]
        assert shown["buttons"][:2] == ["Clear", "test 0"]
        assert shown["headers"] == ["stage", "where", "shape"]
        assert shown["lines"][0] == en["ready"]
    else:
        assert shown["headings"] == [zh[key] for key in headings]
        assert shown["buttons"][:2] == ["清除", "测试 0"]
        assert shown["headers"] == ["阶段", "所在块", "形状"]
        assert shown["lines"][0] == zh["ready"]
        everything = [shown[kind] for kind in ("headings", "buttons", "labels", "options",
                                                "headers", "lines", "attributes")]  # fmt: skip
        unworded = [t for texts in everything for t in texts if not CJK.search(t)]
        assert unworded == [], "not in Chinese"
        left = english_words(shown["text"] + " " + " ".join(shown["attributes"]))
        assert left == set(), "English left on the Chinese page"
        assert "图像块 " in shown["lines"][2]  # the hovered patch, named in Chinese
    # each stage links to the chapter that builds it, in the page's own edition
    edition = "zh_CN/book/" if explorer.edition == "zh" else "book/"
    for href in shown["hrefs"]:
        path, anchor = urlsplit(href).path.lstrip("/"), urlsplit(href).fragment
        assert path.startswith(edition), href
        assert f'id="{anchor}"' in (site / path).read_text(), href


# ---------------------------------------------------------------------- the checks bite
def test_a_wrong_model_file_is_caught(browser, base_url, trained, tmp_path):
    other = load_pretrained("digits").model
    with torch.no_grad():
        other.head.bias.add_(0.01)  # a model that differs from the shipped one, slightly
    planted = tmp_path / "digits.onnx"
    export_onnx(other, planted, torch.zeros(1, 1, 8, 8), trained.transform)
    opened = Opened(browser, f"{base_url}/{PAGE}")
    opened.page.route(
        re.compile(r".*/generated/digits\.onnx$"),
        lambda route: route.fulfill(
            body=planted.read_bytes(), content_type="application/octet-stream"
        ),
    )
    opened.open()
    digit = load_digits().test.images[0, 0].mul(16).round().int().tolist()
    found = mismatches(opened.page, trained, [digit])
    opened.close()
    assert any(problem.startswith("digit 0 logits") for problem in found), found


def test_a_broken_pen_is_caught(browser, base_url):
    source = (SITE / "_static/explorer/digits.js").read_text()
    broken = source.replace(
        "squaredDistance(col + 0.5, row + 0.5,", "squaredDistance(row + 0.5, col + 0.5,"
    )
    assert broken != source
    opened = Opened(browser, f"{base_url}/{PAGE}")
    opened.page.route(
        re.compile(r".*/explorer/digits\.js$"),
        lambda route: route.fulfill(body=broken, content_type="text/javascript"),
    )
    opened.open()
    four = next(item["strokes"] for item in STROKES if item["label"] == 4)
    digit = opened.page.evaluate("(s) => window.explorer.drawStrokes(s)", four)
    opened.close()
    assert not torch.equal(torch.tensor(digit, dtype=torch.float32), strokes_to_digit(four))


def test_the_speed_benchmark_runs_and_refuses_a_bad_count(site, tmp_path):
    import os
    import subprocess
    import sys

    script = ROOT / "benchmarks" / "explorer_speed.py"
    env = dict(os.environ, SITE_DIR=str(site))
    bad = subprocess.run(
        [sys.executable, str(script), "--runs", "0"], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 2 and bad.stderr == "error: --runs must be at least 1, got 0\n"
    out = tmp_path / "explorer.json"
    run = subprocess.run(
        [sys.executable, str(script), "--runs", "3", "--output", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert "per prediction: median" in run.stdout, run.stderr
    result = json.loads(out.read_text())
    assert result["prediction_ms"]["runs"] == 3 and result["bytes"]["model"] > 100_000
