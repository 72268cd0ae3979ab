"""How many of timm's ViT architectures vit_lib converts, and what blocks the rest.

    python benchmarks/timm_coverage.py                     # table on stdout (about a minute)
    python benchmarks/timm_coverage.py --sample 2          # and real-weight equality, 2 per option
    python benchmarks/timm_coverage.py --output benchmarks/results/timm_coverage.json

Every architecture that `timm.list_models(["vit_*", "deit_*"])` registers is built with
`pretrained=False` on the `meta` device (no weights, no memory, no download) and asked
`vit_lib.unsupported_options` (what `from_timm` cannot convert: neither the ViT of chapter 10,
nor its family of chapter 15, nor the EVA models of chapter 18). An architecture *converts*
when nothing is reported. The
blocking options are counted by name (an architecture with two blockers counts under both), and
for each architecture that does not convert, the list is kept in the JSON output.

With `--sample K`, for each option of the family or of EVA (registers, layer scale, rotation,
...; "plain" for the 2020 ViT) the K smallest convertible architectures that use it (by
parameter count) are built for real on the CPU, with random weights at a trained-like scale,
converted with `from_timm`, and compared with timm on a batch of 2 images in float32 (eval
mode): the largest absolute difference of the logits must be at most 1e-5. The sample is the
check that "converts" means "computes the same thing".
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import import_timm  # noqa: E402  (benchmarks/machine.py)

from vit_lib import (  # noqa: E402
    EvaConfig,
    FamilyConfig,
    Finding,
    StemConfig,
    UntiledPatchEmbed,
    ViTConfig,
    from_timm,
    unsupported_options,
)

PATTERNS = ["vit_*", "deit_*"]
# the family's options, as fields of FamilyConfig (global_pool only counts when it is 'map')
FAMILY_FIELDS = (
    "reg_tokens",
    "init_values",
    "no_embed_class",
    "pre_norm",
    "final_norm",
    "fc_norm",
    "act_layer",
    "distilled",
    "global_pool",
    "block_fn",
    "mlp_layer",
    "norm_layer",
    "qk_norm",
)
TOLERANCE = 1e-5  # float32 logits, eval mode


def build(name: str, device: str):
    import timm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.device(device):
            return timm.create_model(name, pretrained=False)


# EvaConfig's options: its fields beyond chapter 10's, and its positions
EVA_FIELDS = ("pos_embed",) + tuple(
    field for field in EvaConfig.__dataclass_fields__ if field not in ViTConfig.__dataclass_fields__
)


def options_used(name: str) -> list[str]:
    """The options of the family, of EVA or of the stems that architecture `name` uses ("plain":
    none of them). An EVA architecture's list starts with "eva" and names its numbers (register
    count, temperatures, ...) without their values: one sample per kind of option, not per size."""
    ours = from_timm(build(name, "meta"))
    config = ours.config
    if isinstance(config, EvaConfig):
        fields, default = EVA_FIELDS, EvaConfig()
    elif isinstance(config, StemConfig):
        fields, default = (*FAMILY_FIELDS, "stem"), StemConfig()
    elif isinstance(config, FamilyConfig):
        fields, default = FAMILY_FIELDS, FamilyConfig()
    else:
        return ["plain"]  # chapter 10's ViTConfig
    used = [
        f"{field}={getattr(config, field)!r}"
        for field in fields
        if getattr(config, field) != getattr(default, field)
        and (field != "global_pool" or config.global_pool == "map")
    ]
    if isinstance(getattr(ours, "patch_embed", None), UntiledPatchEmbed):
        used.append("untiled img_size")
    if isinstance(config, EvaConfig):
        named = [
            option if isinstance(getattr(config, option.split("=")[0]), (str, bool)) else option.split("=")[0]
            for option in used
        ]
        return ["eva", *named]
    return used or ["plain"]


def blocker(finding: Finding) -> str:
    """How a finding is counted: its option, and the value where that names a kind of module
    ('model_class=Eva', 'block_fn=...'), not where it is a number ('reg_tokens')."""
    return f"{finding.option}={finding.value}" if isinstance(finding.value, str) else finding.option


def survey() -> dict[str, list[Finding]]:
    """{architecture: the findings that block it}, empty for those that convert."""
    import timm

    found = {}
    for name in timm.list_models(PATTERNS):
        try:
            found[name] = unsupported_options(build(name, "meta"))
        except Exception as err:  # an architecture timm itself cannot build here
            found[name] = [Finding("build error", type(err).__name__, "timm.create_model")]
    return found


@torch.no_grad()
def equality(name: str, seed: int = 0) -> float:
    """Largest |logit difference| between timm's `name` and its vit_lib copy, random weights."""
    torch.manual_seed(seed)
    reference = build(name, "cpu").eval()
    for parameter in reference.parameters():  # trained-like scale, not timm's tiny init
        parameter.normal_(0, 0.02 if parameter.dim() > 1 else 0.1)
    ours = from_timm(reference)
    size = reference.patch_embed.img_size
    x = torch.randn(2, ours.config.in_chans, *size)
    return (ours(x) - reference(x)).abs().max().item()


def non_negative(text: str) -> int:
    """An argparse type: an integer >= 0."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=non_negative, default=0, help="real-weight checks per option")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    timm = import_timm()
    if timm is None:
        return 2
    start = time.perf_counter()
    found = survey()
    converts = sorted(name for name, problems in found.items() if not problems)
    blockers = collections.Counter(blocker(f) for problems in found.values() for f in problems)
    print(
        f"timm {timm.__version__}: {len(converts)} of {len(found)} architectures convert "
        f"({100 * len(converts) / len(found):.0f} %)"
    )
    print("\nblocking option                                            architectures")
    for option, count in blockers.most_common():
        print(f"  {option[:56]:<56} {count:5d}")
    checked = {}
    if args.sample:
        sizes, by_option = {}, collections.defaultdict(list)
        for name in converts:
            sizes[name] = sum(p.numel() for p in build(name, "meta").parameters())
            for option in options_used(name):
                by_option[option].append(name)
        picked = sorted(
            {name for names in by_option.values() for name in sorted(names, key=sizes.get)[: args.sample]},
            key=sizes.get,
        )
        print(
            f"\nreal weights, the {args.sample} smallest per option "
            f"({len(by_option)} options, {len(picked)} architectures):"
        )
        for name in picked:
            checked[name] = equality(name)
            print(
                f"  {name:<44} {sizes[name] / 1e6:6.1f} M  max |Δ| = {checked[name]:.1e}  "
                f"{', '.join(options_used(name))}"
            )
        bad = {name: d for name, d in checked.items() if not d <= TOLERANCE}
        print(
            f"\nreal-weight equality: {len(checked) - len(bad)} of {len(checked)} within "
            f"{TOLERANCE:g}" + (f"; NOT EQUAL: {sorted(bad)}" if bad else "")
        )
    seconds = time.perf_counter() - start
    if args.output is not None:
        args.output.write_text(
            json.dumps(
                {
                    "timm": timm.__version__,
                    "torch": torch.__version__,
                    "machine": platform.processor() or platform.machine(),
                    "architectures": len(found),
                    "convert": len(converts),
                    "blockers": dict(blockers.most_common()),
                    "unsupported": {
                        name: [str(finding) for finding in problems]
                        for name, problems in found.items()
                        if problems
                    },
                    "equality": checked,
                    "options": {name: options_used(name) for name in checked},
                    "tolerance": TOLERANCE,
                    "seconds": round(seconds, 1),
                },
                indent=1,
            )
            + "\n"
        )
    return 0 if all(d <= TOLERANCE for d in checked.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
