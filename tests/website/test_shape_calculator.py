"""The shape calculator (book/shape_calculator.md) gives what vit_lib gives, number for number.

For each configuration below (the seed configuration, a few chosen edge cases, and many drawn
with a fixed `random.Random(0)`, valid and invalid), the expected answer comes from vit_lib
itself, never from a second copy of the formulas:

- the rows, their stage names and shapes: `shape_trace(model, torch.zeros(N, C, H, W))`;
- the parameters of each row: the built model's own parameters, each module given to the row of
  the stage it belongs to (and every parameter given to exactly one row);
- the FLOPs of each row: what `FlopCounterMode` has counted by the time the model records the
  row, on the explicit attention path, as chapter 10's `measure_flops` counts;
- chapter 10's groups: its parameter table (`count` per module) and `measure_flops` per module;
- an invalid configuration: `str()` of the ValueError that `ViTConfig` raises.

Then `window.shapeCalculator.compute(config)` runs in Chromium on the built page, and every
shape, count and message must agree exactly. The last tests prove that the comparison bites.
The page works the same in both editions; on the Chinese one (zh_CN/) its interface is Chinese,
ViTConfig's messages stay as Python prints them.

Run after `make book`: SITE_TESTS_REQUIRED=1 python -m pytest tests/website/test_shape_calculator.py
"""

import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import torch
from page_fixtures import base_url, browser, site, unavailable, watch  # noqa: F401  (fixtures)
from sitecheck import ROOT, SITE
from torch.utils.flop_counter import FlopCounterMode

from conftest import CJK, interface_text, interface_text_problems, marked_words
from vit_lib import VisionTransformer, ViTConfig, shape_trace
from vit_lib import stages as stage_recorder
from vit_lib.stages import ShapeRow, Stage

# D = 49, D_ff = 1 builds an MLP of int(49 * (1 / 49)) = 0 hidden units, on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Initializing zero-element tensors:UserWarning")

PAGE = "book/shape_calculator.html"
EDITIONS = {"en": PAGE, "zh": f"zh_CN/{PAGE}"}  # the English site and the Chinese one
SCRIPT = SITE / "_static" / "calculator" / "calculator.js"
SOURCE = ROOT / "book" / "_static" / "calculator" / "calculator.js"
SEED = dict(
    N=4, C=3, H=32, W=32, P=8, D=1024, h=12, d_h=64, D_ff=2048, K=1000,
    depth=2, class_token=True, pool="token",
)  # fmt: skip


# ---------------------------------------------------------------------------- fixtures
class CalculatorPage:
    """The calculator page in one browser tab, with what went wrong in it (`watch`)."""

    def __init__(self, browser, url: str, script: str | None = None, width: int = 1280) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": 900})
        self.errors = watch(self.page)
        if script is not None:  # serve this instead of the site's calculator.js
            self.page.route(
                "**/_static/calculator/calculator.js",
                lambda route: route.fulfill(body=script, content_type="text/javascript"),
            )
        self.page.goto(url, wait_until="load")
        self.page.wait_for_function("() => window.shapeCalculator !== undefined")

    def compute(self, configs: list[dict]) -> list[dict]:
        """`compute` of each config, BigInts as decimal strings (JSON has no BigInt)."""
        return self.page.evaluate(
            """configs => configs.map(config => JSON.parse(JSON.stringify(
                window.shapeCalculator.compute(config),
                (key, value) => typeof value === "bigint" ? value.toString() : value)))""",
            configs,
        )

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="module")
def calculator(browser, base_url: str):
    page = CalculatorPage(browser, f"{base_url}/{PAGE}")
    yield page
    page.close()


# ---------------------------------------------------------------------------- configurations
def grid_image(rng: random.Random, patch: int) -> tuple[int, int]:
    """A height and a width that `patch` tiles, at most 48 pixels and 6 patches a side."""
    most = min(6, 48 // patch)
    return patch * rng.randint(1, most), patch * rng.randint(1, most)


def random_valid(rng: random.Random) -> dict:
    """A small configuration that builds: D <= 96, depth <= 3, images <= 48 pixels."""
    patch = rng.randint(1, 8)
    height, width = grid_image(rng, patch)
    heads = rng.randint(1, 6)
    if rng.random() < 0.5:
        head_dim, dim = None, heads * rng.randint(1, 96 // heads)  # d_h = D // h
    else:
        head_dim, dim = rng.randint(1, 24), rng.randint(1, 96)  # h·d_h free of D
    class_token = rng.random() < 0.7
    return dict(
        N=rng.randint(1, 4), C=rng.randint(1, 4), H=height, W=width, P=patch, D=dim, h=heads,
        d_h=head_dim, D_ff=rng.randint(1, 4 * dim), K=rng.choice([0, rng.randint(1, 20)]),
        depth=rng.randint(1, 3), class_token=class_token,
        pool="token" if class_token and rng.random() < 0.7 else "avg",
    )  # fmt: skip


def not_a_multiple(rng: random.Random, patch: int) -> int:
    return patch * rng.randint(0, 5) + rng.randint(1, patch - 1)


# One way to break a valid configuration per rule that the calculator's inputs can trigger:
# ViTConfig's rules, then the calculator's own (an image or a batch of nothing).
BREAKERS: dict[str, Callable[[random.Random, dict], dict]] = {
    "height": lambda rng, c: {**c, "P": max(c["P"], 2), "H": not_a_multiple(rng, max(c["P"], 2))},
    "width": lambda rng, c: {**c, "P": max(c["P"], 2), "W": not_a_multiple(rng, max(c["P"], 2))},
    "patch": lambda rng, c: {**c, "P": rng.choice([0, -1, -8])},
    "in_chans": lambda rng, c: {**c, "C": rng.choice([0, -3])},
    "embed_dim": lambda rng, c: {**c, "D": rng.choice([0, -16])},
    "depth": lambda rng, c: {**c, "depth": rng.choice([0, -1])},
    "num_heads": lambda rng, c: {**c, "h": rng.choice([0, -2])},
    "num_classes": lambda rng, c: {**c, "K": rng.choice([-1, -1000])},
    "heads divide": lambda rng, c: {
        **c,
        "d_h": None,
        "h": 5,
        "D": 5 * rng.randint(1, 19) + rng.randint(1, 4),
    },
    "head_dim": lambda rng, c: {**c, "d_h": rng.choice([0, -4])},
    "unknown pool": lambda rng, c: {**c, "pool": rng.choice(["max", "cls", "mean"])},
    "token pool": lambda rng, c: {**c, "class_token": False, "pool": "token"},
    "mlp_ratio": lambda rng, c: {**c, "D_ff": rng.choice([0, -1, -c["D"] - 7])},
    "empty image": lambda rng, c: {**c, "H": 0} if rng.random() < 0.5 else {**c, "W": 0},
    "negative image": lambda rng, c: {**c, "H": -c["P"] * rng.randint(1, 3)},
    "empty batch": lambda rng, c: {**c, "N": rng.choice([0, -2])},
}

EDGE_CASES = [
    SEED,
    {**SEED, "depth": 1, "K": 0},  # no head: stage 16 passes the pooled (N, D) through
    {**SEED, "class_token": False, "pool": "avg", "H": 40, "W": 24},  # no class token, H != W
    {**SEED, "pool": "avg", "D": 96, "h": 4, "d_h": None, "D_ff": 96 * 4},  # avg with a class token
    dict(SEED, D=11, h=1, d_h=None, D_ff=15, depth=1, K=3),  # int(11 * (15 / 11)) = 14
    dict(SEED, D=49, h=7, d_h=None, D_ff=1, depth=1, K=3),  # int(49 * (1 / 49)) = 0: no hidden
    dict(SEED, N=1, C=1, H=3, W=5, P=1, D=1, h=1, d_h=None, D_ff=1, K=1, depth=1),  # all tiny
]
INVALID_CASES = [
    {**SEED, "H": 30},  # chapter 10's example: "30 px, 8 px patches"
    {**SEED, "d_h": None},  # chapter 10's "1024 over 12 heads"
    {**SEED, "class_token": False},  # chapter 10's "'token' without cls"
    {**SEED, "D": 20_000, "D_ff": -1},  # mlp_ratio -5e-05: Python's repr of a small float
    {**SEED, "H": 30, "C": 0, "K": -1},  # three rules broken: the first one in ViTConfig's order
    {**SEED, "N": 0, "K": -1},  # ViTConfig's rule comes before the calculator's own
    {**SEED, "N": 0},  # PyTorch would run an empty batch; the calculator refuses it
    {**SEED, "D_ff": 0},  # mlp_ratio 0.0
]


def configurations() -> tuple[list[dict], list[dict]]:
    """(valid, invalid): the fixed cases and those drawn with random.Random(0)."""
    rng = random.Random(0)
    valid = EDGE_CASES + [random_valid(rng) for _ in range(45)]
    invalid = list(INVALID_CASES)
    for breaker in BREAKERS.values():  # every rule at least once
        invalid.append(breaker(rng, random_valid(rng)))
    for _ in range(14):  # and random ones, some with two rules broken at once
        config = random_valid(rng)
        for name in rng.sample(sorted(BREAKERS), rng.choice([1, 1, 2])):
            config = BREAKERS[name](rng, config)
        invalid.append(config)
    return valid, invalid


# ---------------------------------------------------------------------------- what vit_lib says
# The calculator's own rules, checked after ViTConfig's: ViTConfig lets them through, and then
# no model can trace them (PyTorch fails with errors of its own; an empty batch runs, but traces
# nothing). The messages are the calculator's, in ViTConfig's wording.
CALCULATOR_RULES = [
    (lambda c: c["H"] < 1, lambda c: f"image height H must be at least 1, got {c['H']}"),
    (lambda c: c["W"] < 1, lambda c: f"image width W must be at least 1, got {c['W']}"),
    (lambda c: c["N"] < 1, lambda c: f"batch size N must be at least 1, got {c['N']}"),
]


def vit_config(config: dict) -> ViTConfig:
    """The calculator's fields as a ViTConfig; raises ViTConfig's ValueError."""
    return ViTConfig(
        img_size=(config["H"], config["W"]),
        patch_size=config["P"],
        in_chans=config["C"],
        num_classes=config["K"],
        embed_dim=config["D"],
        depth=config["depth"],
        num_heads=config["h"],
        head_dim=config["d_h"],
        # D_ff / D as the page passes it (D < 1 is refused by ViTConfig before mlp_ratio is read)
        mlp_ratio=config["D_ff"] / config["D"] if config["D"] else 1.0,
        global_pool=config["pool"],
        class_token=config["class_token"],
    )


class RowsWithFlops(list):
    """The shape recorder's list of rows, which also notes the FLOPs counted so far at each row."""

    def __init__(self, counter: FlopCounterMode) -> None:
        super().__init__()
        self.counter, self.flops_so_far = counter, []

    def append(self, row: ShapeRow) -> None:
        super().append(row)
        self.flops_so_far.append(self.counter.get_total_flops())


def traced_with_flops(model: VisionTransformer, x: torch.Tensor) -> tuple[list, list, dict, int]:
    """Rows as `shape_trace` records them, FLOPs per row, FLOPs per module, and the total.

    The FLOPs of a row are those counted since the previous row: the row's own operation.
    """
    fused, model.fused_attn = model.fused_attn, False  # as shape_trace and measure_flops do
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            rows = RowsWithFlops(counter)
            token = stage_recorder._rows.set(rows)  # the recorder `recording()` sets up
            try:
                model(x)
            finally:
                stage_recorder._rows.reset(token)
    finally:
        model.fused_attn = fused
    so_far = [0, *rows.flops_so_far]
    per_row = [after - before for before, after in zip(so_far, so_far[1:])]
    by_module = {name: sum(ops.values()) for name, ops in counter.get_flop_counts().items()}
    return list(rows), per_row, by_module, counter.get_total_flops()


def count(*parts: torch.nn.Module | torch.Tensor | None) -> int:
    """Parameters of modules and of bare tensors (a class token), as chapter 10's `count`;
    a missing part (no class token) counts 0."""
    total = 0
    for part in parts:
        if isinstance(part, torch.nn.Module):
            total += sum(p.numel() for p in part.parameters())
        elif part is not None:
            total += part.numel()
    return total


def row_params(model: VisionTransformer, row: ShapeRow) -> int:
    """The parameters of the module(s) that compute `row`'s stage."""
    block = model.blocks[int(row.where.split()[1])] if row.where else None
    owners = {
        Stage.PATCH_EMBED: lambda: model.patch_embed,
        Stage.CLASS_TOKEN: lambda: model.cls_token,
        Stage.POS_EMBED: lambda: model.pos_embed,
        Stage.NORM: lambda: block.norm1 if row.part == "norm1" else block.norm2,
        Stage.QKV: lambda: block.attn.qkv,
        Stage.PROJ_RESIDUAL: lambda: block.attn.proj,
        Stage.FFN_RESIDUAL: lambda: block.mlp,
        Stage.ENCODER: lambda: model.norm,  # 'token' pooling: the final LayerNorm
        Stage.POOL: lambda: model.fc_norm,  # 'avg' pooling: the LayerNorm after the mean
        Stage.HEAD: lambda: model.head,
    }
    return count(owners[row.stage]()) if row.stage in owners else 0


def chapter_groups(model: VisionTransformer, by_module: dict[str, int]) -> dict:
    """Chapter 10's parameter table (`counted`) and its `measure_flops`, per module."""
    root = type(model).__name__

    def blocks(suffix: str) -> int:
        names = (f"{root}.blocks.{i}.{suffix}" for i in range(len(model.blocks)))
        return sum(by_module.get(name, 0) for name in names)

    params = {
        "patch embedding": count(model.patch_embed),
        "class token": count(model.cls_token),
        "positional embedding": count(model.pos_embed),
        f"{model.config.depth} blocks": count(model.blocks),
        "final norm": count(model.norm, model.fc_norm),
        "head": count(model.head),
    }
    flops = {
        "patch embedding": by_module[f"{root}.patch_embed"],
        "qkv": blocks("attn.qkv"),
        "scores + weighted values": blocks("attn") - blocks("attn.qkv") - blocks("attn.proj"),
        "proj": blocks("attn.proj"),
        "mlp": blocks("mlp"),
        "head": by_module.get(f"{root}.head", 0),
    }
    return {"params": _strings(params), "flops": _strings(flops)}


def _strings(counts: dict[str, int]) -> dict[str, str]:
    return {name: str(value) for name, value in counts.items()}


def python_fails(config: dict) -> bool:
    """Whether vit_lib cannot build the model or trace one batch of this configuration."""
    try:
        model = VisionTransformer(vit_config(config)).eval()
        x = torch.zeros(config["N"], config["C"], config["H"], config["W"])
        shape_trace(model, x, show=False)
    except (RuntimeError, ValueError):
        return True
    return False


def expected_answer(config: dict) -> dict:
    """What `compute(config)` must return, from vit_lib (BigInts as decimal strings)."""
    try:
        cfg = vit_config(config)
    except ValueError as err:
        return {"error": str(err)}
    for applies, message in CALCULATOR_RULES:
        if applies(config):
            assert python_fails(config) or config["N"] == 0, config  # 0 images run, trace nothing
            return {"error": message(config)}
    model = VisionTransformer(cfg).eval()
    x = torch.zeros(config["N"], config["C"], config["H"], config["W"])
    rows, flops, by_module, total_flops = traced_with_flops(model, x)
    assert rows == shape_trace(model, x, show=False)  # the public trace, row for row
    params = [row_params(model, row) for row in rows]
    assert sum(params) == count(model), "every parameter belongs to exactly one row"
    assert sum(flops) == total_flops, "every FLOP is counted at some row"
    return {
        "stages": [
            {
                "stage": row.step,
                "name": row.label,
                "where": row.where,
                "shape": list(row.shape),
                "params": str(row_params_),
                "flops": str(row_flops),
                "href": f"{row.stage.chapter}.html#{row.stage.anchor}",
            }
            for row, row_params_, row_flops in zip(rows, params, flops)
        ],
        "params": str(count(model)),
        "flops": str(total_flops),
        "groups": chapter_groups(model, by_module),
        "sizes": {
            "T": model.pos_embed.shape[1],
            "d_h": model.blocks[0].attn.head_dim,
            "inner": model.blocks[0].attn.qkv.out_features // 3,
            "D_ff": model.blocks[0].mlp.fc1.out_features,
            "mlp_ratio": repr(cfg.mlp_ratio),
        },
    }


def mismatches(expected: dict, got: dict) -> list[str]:
    """Every difference between vit_lib's answer and the calculator's, one line each."""
    if "error" in expected:
        if got.get("error") == expected["error"]:
            return []
        return [f"error: expected {expected['error']!r}, got {got.get('error', 'a result')!r}"]
    if "error" in got:
        return [f"expected a result, got the error {got['error']!r}"]
    problems = [
        f"{key}: expected {expected[key]}, got {got.get(key)}"
        for key in ("params", "flops", "groups", "sizes")
        if got.get(key) != expected[key]
    ]
    if len(got["stages"]) != len(expected["stages"]):
        problems.append(f"{len(got['stages'])} rows, expected {len(expected['stages'])}")
    for i, (want, have) in enumerate(zip(expected["stages"], got["stages"])):
        problems += [
            f"row {i} ({want['name']}, {want['where'] or '-'}) {field}: "
            f"expected {want[field]!r}, got {have.get(field)!r}"
            for field in want
            if have.get(field) != want[field]
        ]
    return problems


def all_mismatches(configs: list[dict], expected: list[dict], got: list[dict]) -> list[str]:
    return [
        f"{config}: {problem}"
        for config, want, have in zip(configs, expected, got, strict=True)
        for problem in mismatches(want, have)
    ]


@pytest.fixture(scope="module")
def cases() -> tuple[list[dict], list[dict]]:
    """(configs, vit_lib's answers): the valid configurations first, then the invalid ones."""
    valid, invalid = configurations()
    configs = valid + invalid
    return configs, [expected_answer(config) for config in configs]


# ---------------------------------------------------------------------------- the tests
def test_the_configurations_are_many_and_cover_every_rule(cases):
    configs, expected = cases
    errors = [answer["error"] for answer in expected if "error" in answer]
    assert len(configs) - len(errors) >= 50 and len(errors) >= 30, (len(configs), len(errors))
    # every message that the calculator's inputs can trigger appears at least once
    kinds = {
        "img_size height": r"^img_size height -?\d+ is not divisible by patch_size -?\d+$",
        "img_size width": r"^img_size width -?\d+ is not divisible by patch_size -?\d+$",
        "patch size < 1": r"is not divisible by patch_size (0|-\d+)$",
        "in_chans": r"^in_chans must be at least 1, got -?\d+$",
        "embed_dim": r"^embed_dim must be at least 1, got -?\d+$",
        "depth": r"^depth must be at least 1, got -?\d+$",
        "num_heads": r"^num_heads must be at least 1, got -?\d+$",
        "num_classes": r"^num_classes must be >= 0, got -\d+$",
        "D % h": r"^embed_dim \d+ is not divisible by num_heads \d+; set head_dim explicitly$",
        "head_dim": r"^head_dim must be at least 1, got -?\d+$",
        "unknown pool": r"^unknown global_pool '\w+'; expected one of \('token', 'avg'\)$",
        "token pool": r"^global_pool='token' needs class_token=True; use global_pool='avg'",
        "mlp_ratio": r"^mlp_ratio must be positive, got -?[\d.e-]+$",
        "mlp_ratio in e-notation": r"^mlp_ratio must be positive, got -5e-05$",
        "height < 1": r"^image height H must be at least 1, got -?\d+$",
        "width < 1": r"^image width W must be at least 1, got -?\d+$",
        "batch < 1": r"^batch size N must be at least 1, got -?\d+$",
    }
    missing = [kind for kind, rule in kinds.items() if not any(re.search(rule, e) for e in errors)]
    assert not missing, f"no configuration triggers: {missing}"
    unexplained = [e for e in errors if not any(re.search(r, e) for r in kinds.values())]
    assert not unexplained, unexplained
    # the valid ones cover what changes the rows: no class token, 'avg', no head, d_h = D // h,
    # an MLP width that int(D * mlp_ratio) rounds down, a non-square image
    valid = [c for c, answer in zip(configs, expected) if "error" not in answer]
    assert any(not c["class_token"] for c in valid) and any(c["pool"] == "avg" for c in valid)
    assert any(c["K"] == 0 for c in valid) and any(c["d_h"] is None for c in valid)
    assert any(c["H"] != c["W"] for c in valid)
    rounded = [a["sizes"]["D_ff"] for c, a in zip(configs, expected) if "error" not in a]
    assert any(d_ff != c["D_ff"] for c, d_ff in zip(valid, rounded))


def test_the_calculator_agrees_with_vit_lib(calculator: CalculatorPage, cases):
    configs, expected = cases
    got = calculator.compute(configs)
    problems = all_mismatches(configs, expected, got)
    assert not problems, f"{len(problems)} differences:\n" + "\n".join(problems[:30])
    assert not calculator.errors, calculator.errors


def test_the_seed_configuration_is_chapter_10s(calculator: CalculatorPage):
    """The rows of the shape map for the seed configuration, and chapter 10's totals."""
    (result,) = calculator.compute([SEED])
    shapes = [tuple(row["shape"]) for row in result["stages"]]
    assert len(shapes) == 4 + 10 * 2 + 3
    assert shapes[:4] == [(4, 3, 32, 32), (4, 16, 1024), (4, 17, 1024), (4, 17, 1024)]
    assert shapes[5:8] == [(4, 17, 768), (4, 12, 17, 64), (4, 12, 17, 17)]
    assert shapes[-3:] == [(4, 17, 1024), (4, 1024), (4, 1000)]
    assert result["groups"]["flops"]["qkv"] == str(2 * 2 * 4 * 17 * 1024 * 3 * 768)


def test_invalid_types_are_refused_with_a_message(calculator: CalculatorPage):
    """What the form can send but Python's types rule out: the calculator's own messages."""
    refused = {
        "N must be a whole number, got 4.5": {"N": 4.5},
        "H must be a whole number, got ''": {"H": ""},
        "D_ff must be a whole number, got '2e3'": {"D_ff": "2e3"},
        "d_h must be a whole number or empty (D // h), got 'x'": {"d_h": "x"},
        "class_token must be true or false, got 'yes'": {"class_token": "yes"},
    }
    got = calculator.compute([{**SEED, **fields} for fields in refused.values()])
    assert [answer.get("error") for answer in got] == list(refused)


def test_the_site_serves_the_current_calculator(site: Path):
    """A stale build would test yesterday's calculator.js: rebuild (`make book`) after an edit."""
    for name in ("calculator.js", "calculator.css"):
        source = ROOT / "book" / "_static" / "calculator" / name
        assert (site / "_static" / "calculator" / name).read_text() == source.read_text(), name


def test_every_stage_links_to_the_section_that_builds_it(site: Path, calculator: CalculatorPage):
    (result,) = calculator.compute([{**SEED, "depth": 1}])
    for row in result["stages"]:
        page, anchor = row["href"].split("#")
        html = (site / "book" / page).read_text()
        assert f'id="{anchor}"' in html, f"{row['name']}: no #{anchor} in {page}"


# The calculator's own messages, on each edition (ViTConfig's are the same on both).
NO_BATCH = {"en": "batch size N must be at least 1, got 0", "zh": "批大小 N 至少为 1，实际为 0"}
NOT_WHOLE = {"en": "D must be a whole number, got '4.5'", "zh": "D 必须是整数，实际为 '4.5'"}


@pytest.mark.parametrize("edition", sorted(EDITIONS))
def test_the_form_shows_the_message_of_an_invalid_value(browser, base_url: str, edition: str):
    page = CalculatorPage(browser, f"{base_url}/{EDITIONS[edition]}")
    try:
        tab = page.page
        alert, rows = (
            tab.locator("#calculator [role=alert]"),
            tab.locator("#calc-stages tbody tr"),
        )
        ids = tab.evaluate("Array.from(document.querySelectorAll('[id]'), e => e.id)")
        assert len(ids) == len(set(ids)), "an id used twice: getElementById finds the first"
        assert rows.count() == 27 and alert.text_content() == ""
        assert tab.locator("#calc-stages tfoot th").nth(4).text_content() == "15,944,168"
        tab.fill("input[name=H]", "30")
        assert alert.text_content() == "img_size height 30 is not divisible by patch_size 8"
        assert tab.locator(".calc-output").is_hidden()  # no stale numbers beside the message
        assert tab.get_attribute("input[name=H]", "aria-invalid") == "true"
        tab.fill("input[name=H]", "40")
        assert alert.text_content() == "" and rows.count() == 27
        assert rows.nth(1).locator("td.shape").text_content() == "(4, 20, 1024)"
        tab.uncheck("input[name=class_token]")
        assert alert.text_content().startswith("global_pool='token' needs class_token=True")
        tab.select_option("select[name=pool]", "avg")
        assert alert.text_content() == "" and rows.count() == 26  # no class-token row
        tab.fill("input[name=d_h]", "")  # d_h = D // h = 1024 // 12: not whole
        assert alert.text_content() == (
            "embed_dim 1024 is not divisible by num_heads 12; set head_dim explicitly"
        )
        tab.fill("input[name=d_h]", "64")
        tab.fill("input[name=N]", "0")  # the calculator's own rules, in the page's language
        assert alert.text_content() == NO_BATCH[edition]
        assert tab.get_attribute("input[name=N]", "aria-invalid") == "true"
        tab.fill("input[name=N]", "4")
        tab.fill("input[name=D]", "4.5")
        assert alert.text_content() == NOT_WHOLE[edition]
        tab.click("button[type=reset]")
        tab.wait_for_function("document.querySelectorAll('#calc-stages tbody tr').length === 27")
        assert alert.text_content() == ""
        assert not page.errors, page.errors
    finally:
        page.close()


# ---------------------------------------------------------------------------- the page's language
SAME_IN_BOTH = {"stage8", "stage12"}  # softmax and LayerNorm keep their names in Chinese


def test_the_calculator_has_its_words_in_english_and_chinese():
    tables = interface_text(SOURCE)
    assert interface_text_problems(tables, SAME_IN_BOTH) == []
    # the English stage names are vit_lib's (shape_trace's), as compute() gives them
    stages = {f"stage{stage.number}": stage.label for stage in Stage}
    assert {key: tables["en"].get(key) for key in stages} == stages
    # what the page's own HTML says in English, before calculator.js words it
    marked = marked_words(ROOT / "book" / "shape_calculator.md")
    assert len(marked) > 20 and all(tables["en"].get(k) == english for k, english in marked), marked


INTERFACE = """() => {
    const root = document.getElementById("calculator");
    const texts = (selector) => Array.from(root.querySelectorAll(selector),
        (node) => node.textContent.trim());
    return {
        marked: texts("[data-i18n]"), legends: texts("legend"), buttons: texts("button"),
        captions: texts("caption"), headers: texts("thead th"), summary: texts(".calc-summary"),
        stages: texts("#calc-stages tbody td.stage-name"),
        where: texts("#calc-stages tbody td:nth-child(3)"),
        groups: texts("#calc-params tbody td:first-child, #calc-flops tbody td:first-child"),
        total: texts("#calc-stages tfoot th")[1],
        regions: Array.from(root.querySelectorAll("[role=region]"),
            (region) => region.getAttribute("aria-label")),
        text: root.innerText,
        hrefs: Array.from(root.querySelectorAll("#calc-stages a"), (a) => a.href),
    };
}"""
SUMMARY = {
    "en": "T = 17 tokens (16 patches + class token), h·d_h = 768, D_ff = 2048 (mlp_ratio 2.0); "
    "15,944,168 parameters, 2,036,948,992 FLOPs per forward pass.",
    "zh": "T = 17 个词元（16 个图像块 + 类别标记），h·d_h = 768，D_ff = 2048（mlp_ratio 2.0）；"
    "参数 15,944,168 个，每次前向传播 2,036,948,992 次浮点运算（FLOPs）。",
}
# The names the Chinese interface keeps: stages, modules (qkv, proj, mlp), options and fields.
KEPT = {"softmax", "LayerNorm", "qkv", "proj", "mlp", "token", "avg", "depth", "FLOPs"}


def english_words(text: str) -> set[str]:
    """Words of English prose in `text`: three letters or more, not part of an identifier
    (norm1, img_size, shape_trace) and not one of the names the Chinese interface keeps."""
    words = re.findall(r"(?<![\w.])[A-Za-z][A-Za-z0-9_]*", text)
    return {w for w in words if len(w) >= 3 and w.isalpha() and w not in KEPT}


@pytest.mark.parametrize("edition", sorted(EDITIONS))
def test_the_interface_is_in_the_pages_language(browser, base_url: str, site: Path, edition):
    page = CalculatorPage(browser, f"{base_url}/{EDITIONS[edition]}")
    try:
        shown = page.page.evaluate(INTERFACE)
        assert not page.errors, page.errors
    finally:
        page.close()
    assert shown["summary"] == [SUMMARY[edition]]
    if edition == "en":  # as it was before the page had two languages
        assert shown["legends"] == ["Images", "Widths", "Model"]
        assert shown["headers"][:6] == ["#", "stage", "where", "shape", "parameters", "FLOPs"]
        assert shown["stages"][4:6] == ["LayerNorm (norm1)", "q, k, v (each)"]
        assert shown["where"][4] == "block 0" and shown["total"] == "total"
        assert shown["groups"][:4] == ["patch embedding", "class token", "positional embedding",
                                       "2 blocks"]  # fmt: skip
    else:
        assert shown["legends"] == ["图像", "宽度", "模型"]
        assert shown["headers"][:6] == ["#", "阶段", "所在块", "形状", "参数", "浮点运算次数"]
        assert shown["stages"][4:6] == ["LayerNorm（norm1）", "q, k, v（各自）"]
        assert shown["where"][4] == "块 0" and shown["total"] == "合计"
        wordy = [shown[kind] for kind in ("marked", "legends", "buttons", "captions", "regions")]
        wordy.append(shown["headers"][1:] + shown["stages"] + shown["groups"])
        unworded = [text for texts in wordy for text in texts if not CJK.search(text)]
        kept = ["softmax", "LayerNorm（norm1）", "LayerNorm（norm2）", "qkv", "proj", "mlp"]
        assert set(unworded) <= set(kept), "not in Chinese"
        left = english_words(shown["text"] + " " + " ".join(shown["regions"]))
        assert left == set(), "English left on the Chinese page"
    # each stage links to the chapter that builds it, in the page's own edition
    folder = "zh_CN/book/" if edition == "zh" else "book/"
    for href in shown["hrefs"]:
        path, anchor = urlsplit(href).path.lstrip("/"), urlsplit(href).fragment
        assert path.startswith(folder), href
        assert f'id="{anchor}"' in (site / path).read_text(), href


@pytest.mark.parametrize("edition", sorted(EDITIONS))
def test_it_fits_a_phone(browser, base_url: str, site: Path, edition: str):
    page = CalculatorPage(browser, f"{base_url}/{EDITIONS[edition]}", width=390)
    try:
        assert page.page.evaluate("() => document.documentElement.scrollWidth") <= 390
        shots = site.parent / "screenshots"
        shots.mkdir(exist_ok=True)
        path = shots / f"shape_calculator-{edition}-390.png"
        page.page.screenshot(path=str(path), full_page=True)
        assert not page.errors, page.errors
    finally:
        page.close()


# ---------------------------------------------------------------------------- the test bites
def test_the_comparison_reports_a_perturbed_answer(cases):
    configs, expected = cases
    seed = expected[configs.index(SEED)]
    wrong_shape = json.loads(json.dumps(seed))
    wrong_shape["stages"][7]["shape"][2] = 16  # scores (4, 12, 16, 17)
    wrong_flops = json.loads(json.dumps(seed))
    wrong_flops["groups"]["flops"]["mlp"] = str(int(seed["groups"]["flops"]["mlp"]) + 1)
    assert mismatches(seed, seed) == []
    assert mismatches(seed, wrong_shape) == [
        "row 7 (scores, block 0) shape: expected [4, 12, 17, 17], got [4, 12, 16, 17]"
    ]
    assert len(mismatches(seed, wrong_flops)) == 1
    error = {"error": "img_size height 30 is not divisible by patch_size 8"}
    assert mismatches(error, {"error": error["error"] + "."}) != []
    assert mismatches(error, seed) != [] and mismatches(seed, error) != []


# Small mistakes planted in calculator.js: each must make some configuration disagree.
MUTANTS = {
    "D_ff rounded, not truncated": ("Math.trunc(cfg.D * mlpRatio)", "Math.round(cfg.D * mlpRatio)"),
    "the class token always counted": ("(cfg.class_token ? 1 : 0)", "1"),
    "the head without its bias": ("{ params: D * K + K,", "{ params: D * K,"),
    "ViTConfig's order changed": (
        '[["height", H, "H"], ["width", W, "W"]]',
        '[["width", W, "W"], ["height", H, "H"]]',
    ),
    "a float printed the JavaScript way": ("got ${pyFloatRepr(mlpRatio)}", "got ${mlpRatio}"),
}


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_a_planted_mistake_is_caught(mutant: str, site: Path, browser, base_url: str, cases):
    original, planted = MUTANTS[mutant]
    source = SCRIPT.read_text()
    assert source.count(original) == 1, f"calculator.js no longer contains {original!r}"
    page = CalculatorPage(browser, f"{base_url}/{PAGE}", script=source.replace(original, planted))
    try:
        configs, expected = cases
        assert all_mismatches(configs, expected, page.compute(configs)), f"{mutant}: not caught"
    finally:
        page.close()
