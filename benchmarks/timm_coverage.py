"""How many of timm's ViT architectures vit_lib converts, and what blocks the rest.

    python benchmarks/timm_coverage.py                     # table on stdout (about a minute)
    python benchmarks/timm_coverage.py --sample 2          # and real-weight equality, 2 per option
    python benchmarks/timm_coverage.py --output benchmarks/results/timm_coverage.json

Every architecture that `timm.list_models(["vit_*", "deit_*"])` registers is built with
`pretrained=False` on the `meta` device (no weights, no memory, no download) and asked
`vit_lib.unsupported_timm_options`. An architecture *converts* when nothing is reported. The
blocking options are counted by name (an architecture with two blockers counts under both), and
for each architecture that does not convert, the list is kept in the JSON output.

With `--sample K`, the K smallest convertible architectures (by parameter count) are built for
real on the CPU, with random weights at a trained-like scale, converted with `from_timm`, and
compared with timm on a batch of 2 images in float32 (eval mode): the largest absolute
difference of the logits must be at most 1e-5. The sample is the check that "converts" means
"computes the same thing".
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

from vit_lib import from_timm, unsupported_timm_options  # noqa: E402

PATTERNS = ["vit_*", "deit_*"]
TOLERANCE = 1e-5  # float32 logits, eval mode


def build(name: str, device: str):
    import timm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.device(device):
            return timm.create_model(name, pretrained=False)


def option_name(problem: str) -> str:
    """'init_values (layer scale)' -> 'init_values'; the counts group by the option's name."""
    return problem.split(" (")[0].split(":")[0]


def survey() -> dict[str, list[str]]:
    """{architecture: the options that block it}, empty for those that convert."""
    import timm

    found = {}
    for name in timm.list_models(PATTERNS):
        try:
            found[name] = list(unsupported_timm_options(build(name, "meta")))
        except Exception as err:  # an architecture timm itself cannot build here
            found[name] = [f"build error: {type(err).__name__}"]
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
    x = torch.randn(2, reference.patch_embed.proj.in_channels, *size)
    return (ours(x) - reference(x)).abs().max().item()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=0, help="real-weight checks per option")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    try:
        import timm
    except ImportError:
        print("error: timm is not installed (pip install -e '.[dev]')", file=sys.stderr)
        return 2
    start = time.perf_counter()
    found = survey()
    converts = sorted(name for name, problems in found.items() if not problems)
    blockers = collections.Counter(option_name(p) for problems in found.values() for p in problems)
    print(
        f"timm {timm.__version__}: {len(converts)} of {len(found)} architectures convert "
        f"({100 * len(converts) / len(found):.0f} %)"
    )
    print("\nblocking option                                            architectures")
    for option, count in blockers.most_common():
        print(f"  {option[:56]:<56} {count:5d}")
    checked = {}
    if args.sample:
        sizes = {}
        for name in converts:
            model = build(name, "meta")
            sizes[name] = sum(p.numel() for p in model.parameters())
        for name in sorted(converts, key=sizes.get)[: args.sample]:
            checked[name] = equality(name)
            print(f"  {name:<40} {sizes[name] / 1e6:7.1f} M params  max |Δ| = {checked[name]:.1e}")
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
                    "unsupported": {name: problems for name, problems in found.items() if problems},
                    "equality": checked,
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
