"""What it costs to build the family's model, against chapter 10's, and to convert on `meta`.

    python benchmarks/family_build.py                 # ViT-B/16, 5 rounds (about a minute)
    python benchmarks/family_build.py --rounds 1      # a smoke run
    python benchmarks/family_build.py --output benchmarks/results/family_build.json

Three measurements, in one process:
- build: `VisionTransformer(ViTConfig())` (chapter 10) and `FamilyViT(FamilyConfig())` at ViT-B/16
  size, construction and timm's initialisation, interleaved round by round; the median of each
  and their ratio. Target (issue 25): the family at most 1.2x chapter 10.
- modules: how many modules each constructor makes (counted in `nn.Module.__init__`) and how
  many the model keeps. Target: equal, nothing built to be thrown away.
- meta conversion: `from_timm` on timm's `deit3_large_patch16_224` built on the `meta` device
  (a family model: layer scale, positions without the class token); the median time, and the
  largest tensor the conversion makes on the CPU (timm's own stochastic-depth schedule, one
  number per block, is the only CPU tensor allowed).
And one equality: with one seed, the default family model draws chapter 10's weights.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import cpu_name, import_timm  # noqa: E402  (benchmarks/machine.py)

from vit_lib import FamilyConfig, FamilyViT, VisionTransformer, ViTConfig, from_timm  # noqa: E402

TARGET_RATIO = 1.2


class CpuTensors(TorchDispatchMode):
    """Records the shape of every tensor an operation makes on the CPU while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(tensor, torch.Tensor) and tensor.device.type == "cpu":
                self.shapes.append(tuple(tensor.shape))
        return out

    @property
    def largest(self) -> int:
        """The number of elements of the largest of them (0: none)."""
        return max(map(math.prod, self.shapes), default=0)


def timed(make) -> float:
    start = time.perf_counter()
    make()
    return time.perf_counter() - start


def modules_built(make) -> tuple[int, int, list[str]]:
    """(modules constructed while `make()` runs, modules of the model it returns, the classes
    of those constructed that the model does not keep)."""
    built, init = [], nn.Module.__init__

    def counting(module, *args, **kwargs):
        built.append(module)
        init(module, *args, **kwargs)

    nn.Module.__init__ = counting
    try:
        model = make()
    finally:
        nn.Module.__init__ = init
    kept = {id(module) for module in model.modules()}
    thrown_away = [type(module).__name__ for module in built if id(module) not in kept]
    return len(built), len(kept), thrown_away


def same_weights() -> bool:
    config = dict(img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4)
    torch.manual_seed(0)
    plain = VisionTransformer(ViTConfig(**config)).state_dict()
    torch.manual_seed(0)
    family = FamilyViT(FamilyConfig(**config)).state_dict()
    return list(plain) == list(family) and all(torch.equal(plain[k], family[k]) for k in plain)


def positive(text: str) -> int:
    """An argparse type: an integer >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=positive, default=5, help="interleaved rounds")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    timm = import_timm()
    if timm is None:
        return 2
    torch.set_num_threads(1)
    chapter_10, family = [], []
    for _ in range(args.rounds):
        chapter_10.append(timed(lambda: VisionTransformer(ViTConfig())))
        family.append(timed(lambda: FamilyViT(FamilyConfig())))
    ratio = statistics.median(family) / statistics.median(chapter_10)
    counts = {
        "chapter 10": modules_built(lambda: VisionTransformer(ViTConfig())),
        "family": modules_built(lambda: FamilyViT(FamilyConfig())),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.device("meta"):
            large = timm.create_model("deit3_large_patch16_224", pretrained=False)
    conversions, largest = [], 0
    for _ in range(args.rounds):
        with CpuTensors() as cpu:
            conversions.append(timed(lambda: from_timm(large)))
        largest = max(largest, cpu.largest)
    equal = same_weights()
    print(f"build at ViT-B/16 size, median of {args.rounds} (1 thread, {cpu_name()}):")
    print(f"  chapter 10 VisionTransformer  {statistics.median(chapter_10):6.2f} s")
    print(f"  FamilyViT                     {statistics.median(family):6.2f} s")
    print(f"  ratio                         {ratio:6.2f}x (target <= {TARGET_RATIO}x)")
    for name, (built, kept, _) in counts.items():
        print(f"  modules {name:<12} built {built}, kept {kept}")
    print(
        f"from_timm(deit3_large on meta): {statistics.median(conversions):.2f} s, largest CPU "
        f"tensor {largest} elements (depth {len(large.blocks)})"
    )
    print(f"one seed, default options: the family draws chapter 10's weights: {equal}")
    ok = (
        ratio <= TARGET_RATIO
        and all(built == kept and not lost for built, kept, lost in counts.values())
        and largest <= len(large.blocks)
        and equal
    )
    if args.output is not None:
        args.output.write_text(
            json.dumps(
                {
                    "torch": torch.__version__,
                    "timm": timm.__version__,
                    "machine": cpu_name(),
                    "rounds": args.rounds,
                    "build_seconds": {
                        "chapter 10": statistics.median(chapter_10),
                        "family": statistics.median(family),
                    },
                    "ratio": round(ratio, 3),
                    "target_ratio": TARGET_RATIO,
                    "modules": {name: dict(built=b, kept=k) for name, (b, k, _) in counts.items()},
                    "meta_conversion_seconds": statistics.median(conversions),
                    "largest_cpu_tensor": largest,
                    "same_weights": equal,
                },
                indent=1,
            )
            + "\n"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
