"""Shared fixtures and helpers: the repository root, a scratch copy of the literate sources, the
Fashion-MNIST skip, random weights of trained-like size for comparisons with timm, and the
interface strings of the site's two widgets (the explorer, the shape calculator) in English and
Chinese, the scheduler that keeps a site page's checks on one xdist worker, and a notebook whose
kernel fails to start (for the nbval_kernels and portability tests)."""

import json
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import torch
from torch import nn

from vit_lib.fashion_mnist import FASHION_MNIST_DIR, find_fashion_mnist

ROOT = Path(__file__).resolve().parent.parent


def fashion_mnist_installed() -> bool:
    """Whether the Fashion-MNIST IDX files are where the loader looks by default."""
    try:
        find_fashion_mnist(FASHION_MNIST_DIR)
    except FileNotFoundError:
        return False
    return True


# For tests that need the real Fashion-MNIST files (`make test` installs them where apt is
# available).
requires_fashion_mnist = pytest.mark.skipif(
    not fashion_mnist_installed(),
    reason=f"Fashion-MNIST is not installed in {FASHION_MNIST_DIR}: "
    "run `apt-get install dataset-fashion-mnist` to include this smoke test",
)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of chapters/, vit_lib/ and the twins in book/, for tests that break things."""
    for folder in ("chapters", "vit_lib"):
        shutil.copytree(
            ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    (tmp_path / "book").mkdir()
    for twin in (ROOT / "book").glob("*.ipynb"):
        shutil.copy(twin, tmp_path / "book" / twin.name)
    return tmp_path


def like_trained(model: nn.Module, seed: int = 0) -> nn.Module:
    """Overwrite every parameter with random values of trained-like size.

    timm's initialisation hides bugs: zero biases make a dropped bias invisible, unit LayerNorm
    weights make swapped norms invisible. Random values everywhere make every parameter count.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype)
            if p.ndim >= 2 and name not in ("cls_token", "pos_embed"):
                p.copy_(noise / p[0].numel() ** 0.5)  # weights: std 1/sqrt(fan_in)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * noise)  # LayerNorm gains around 1
            else:
                p.copy_(0.2 * noise)  # biases, class token, positions
    return model


def images_for(
    model: nn.Module, batch: int = 2, dtype=torch.float32, seed: int = 1
) -> torch.Tensor:
    h, w = model.patch_embed.img_size
    g = torch.Generator().manual_seed(seed)
    return torch.randn(
        batch, model.patch_embed.proj.in_channels, h, w, generator=g, dtype=torch.float64
    ).to(dtype)


# ------------------------------------------------------------------ the widgets' two languages
# Ideographs and Chinese punctuation (a translation may be just "。").
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def interface_text(script: Path) -> dict[str, dict[str, str]]:
    """The interface strings of a widget's script, language -> key -> string.

    The script holds them as `const TEXT = { en: { key: "string", ... }, zh: { ... } };`, one
    string a line. Any other line inside a table (a comment aside) is refused, so that no string
    escapes the checks by being written another way.
    """
    source = script.read_text(encoding="utf-8")
    body = re.search(r"^const TEXT = \{\n(.*?)^\};$", source, re.MULTILINE | re.DOTALL)
    assert body, f"{script.name}: no `const TEXT = {{ ... }};`"
    tables: dict[str, dict[str, str]] = {}
    for language, table in re.findall(r"^  (\w+): \{\n(.*?)^  \},$", body[1], re.M | re.S):
        strings: dict[str, str] = {}
        for line in map(str.strip, table.splitlines()):
            if not line or line.startswith("//"):
                continue
            entry = re.fullmatch(r'(\w+): ("(?:[^"\\]|\\.)*"),', line)
            assert entry, f"{script.name}, {language}: not a one-line string: {line}"
            assert entry[1] not in strings, f"{script.name}, {language}: {entry[1]} twice"
            strings[entry[1]] = json.loads(entry[2])
        tables[language] = strings
    return tables


def interface_text_problems(tables: dict[str, dict[str, str]], same: set[str]) -> list[str]:
    """What is wrong with a widget's tables: a language other than en and zh, a key in one table
    only, a Chinese string that is empty or has no Chinese in it, or other {placeholders} than
    the English. The keys in `same` are identical in both languages on purpose (softmax)."""
    if sorted(tables) != ["en", "zh"]:
        return [f"the tables are {sorted(tables)}, not ['en', 'zh']"]
    en, zh = tables["en"], tables["zh"]
    problems = [f"{key}: only in the English table" for key in sorted(en.keys() - zh.keys())]
    problems += [f"{key}: only in the Chinese table" for key in sorted(zh.keys() - en.keys())]
    for key in sorted(en.keys() & zh.keys()):
        if not zh[key].strip():
            problems.append(f"{key}: the Chinese is empty")
        elif key in same:
            if zh[key] != en[key]:
                problems.append(f"{key}: listed as the same in both, but {zh[key]!r}")
        elif not CJK.search(zh[key]):
            problems.append(f"{key}: no Chinese in {zh[key]!r}")
        if sorted(PLACEHOLDER.findall(en[key])) != sorted(PLACEHOLDER.findall(zh[key])):
            problems.append(f"{key}: the placeholders of {en[key]!r} and {zh[key]!r} differ")
    problems += [f"{key}: listed as the same in both, but in no table" for key in same - en.keys()]
    return problems


class _MarkedWords(HTMLParser):
    """The words a page's raw HTML marks for translation: data-i18n="key" (the element's text)
    and data-i18n-label="key" (its aria-label), as (key, English) pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.marked: list[tuple[str, str]] = []
        self.open: list[list] = []  # [tag, key or None, text so far]

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = dict(attrs)
        if "data-i18n-label" in attributes:
            self.marked.append((attributes["data-i18n-label"], attributes.get("aria-label", "")))
        if tag not in ("input", "br", "link", "meta", "img"):
            self.open.append([tag, attributes.get("data-i18n"), ""])

    def handle_endtag(self, tag: str) -> None:
        while self.open:
            name, key, text = self.open.pop()
            if key is not None:
                self.marked.append((key, " ".join(text.split())))
            if self.open:
                self.open[-1][2] += text
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.open:
            self.open[-1][2] += data


def marked_words(page: Path) -> list[tuple[str, str]]:
    """(key, English) for each word of `page`'s `{raw} html` blocks that a widget translates."""
    parser = _MarkedWords()
    for block in re.findall(r"^```\{raw\} html\n(.*?)^```$", page.read_text(), re.M | re.S):
        parser.feed(block)
    return parser.marked


def pytest_xdist_make_scheduler(config, log):
    """`--dist loadscope` for the site tests (`make site-test`), with scopes that keep together
    what shares a browser page: the tests of one page of the site (test_site.py checks a page at
    1280 px and at 390 px from one load) by the page in their id, and every other test by its
    module (a page test module opens its page once). pytest-xdist's `loadgroup` would say this
    with marks, but with pytest 9.2 and xdist 3.8 the marks never reach its scheduler."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class PageScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return site_test_scope(nodeid)

    return PageScheduling(config, log)


def site_test_scope(nodeid: str) -> str:
    """The scope of a test id: the page in `test_x.py::test_y[book/01_patches.html]`, or the
    test's module."""
    param = re.search(r"\[([^\]]+\.html)\]$", nodeid)
    return f"page {param.group(1)}" if param else nodeid.split("::", 1)[0]


# A kernel whose first FLAKY_FAILS starts exit at once (counted in a file beside it), then starts
# ipykernel as usual: a kernel start that fails, with nothing in the plugin planted.
FLAKY_LAUNCHER = """\
import os, sys
from pathlib import Path
count = Path(__file__).with_name("starts")
starts = int(count.read_text()) if count.exists() else 0
count.write_text(str(starts + 1))
if starts < int(os.environ["FLAKY_FAILS"]):
    sys.exit(1)
os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", *sys.argv[1:]])
"""


def flaky_notebook(folder: Path) -> Path:
    """folder/nb.ipynb, run by the kernel spec `flaky` in folder/jupyter (JUPYTER_PATH)."""
    spec = folder / "jupyter" / "kernels" / "flaky"
    spec.mkdir(parents=True)
    (spec / "launch.py").write_text(FLAKY_LAUNCHER)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, str(spec / "launch.py"), "-f", "{connection_file}"],
                "display_name": "flaky",
                "language": "python",
            }
        )
    )
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "flaky", "display_name": "flaky"}
    output = nbformat.v4.new_output("stream", name="stdout", text="(4, 12, 17, 17)\n")
    cell = nbformat.v4.new_code_cell("print((4, 12, 17, 17))", outputs=[output], execution_count=1)
    notebook.cells = [cell]
    path = folder / "nb.ipynb"
    nbformat.write(notebook, path)
    return path
