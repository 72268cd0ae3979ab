"""Shared code of the training benchmarks (train_digits.py, train_fashion_mnist.py).

Each run trains `vit_lib.train.RECIPES[dataset]` from scratch with one seed, in this process,
and records the test accuracy, the wall time and the CPU time of training plus scoring the test
split. CPU time is reported beside wall time because the machines these numbers come from are
often shared: on a busy machine the wall time grows, the CPU time much less. With several
threads the CPU time counts each of them, so the targets compare CPU time divided by the thread
count.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)

from vit_lib.fashion_mnist import load_dataset  # noqa: E402
from vit_lib.model import VisionTransformer, ViTConfig  # noqa: E402
from vit_lib.train import RECIPES, TrainConfig, Trainer  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def machine(threads: int) -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__.split('+')[0]}, "
        f"{threads} thread(s); load average {load:.1f} at the start"
    )


def parser(
    name: str, default_seeds: list[int], default_output: str, default_threads: int
) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=f"Train the {name} recipe and record accuracy and time.")
    p.add_argument("--seeds", type=int, nargs="+", default=default_seeds)
    p.add_argument("--epochs", type=int, default=None, help="override the recipe (for a quick try)")
    p.add_argument("--train-subset", type=int, default=None, help="first N training images (for a quick try)")
    p.add_argument(
        "--eval-subset",
        type=int,
        default=None,
        help="score only the first N validation and test images (for a quick try)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=default_threads,
        help=f"torch threads (default {default_threads}; the result depends on the thread count)",
    )
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--output", type=Path, default=RESULTS / default_output)
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    return p


def run(
    name: str,
    argv: list[str],
    targets: dict,
    default_seeds: list[int],
    default_output: str,
    default_threads: int = 1,
) -> dict:
    args = parser(name, default_seeds, default_output, default_threads).parse_args(argv)
    torch.set_num_threads(args.threads)
    machine_line = machine(args.threads)
    data = load_dataset(name, args.data_dir)
    if args.train_subset:
        data.train = data.train.subset(range(args.train_subset))
    if args.eval_subset:
        data.val = data.val.subset(range(min(args.eval_subset, len(data.val))))
        data.test = data.test.subset(range(min(args.eval_subset, len(data.test))))
    vit_fields, train_fields = RECIPES[name]
    runs = []
    for seed in args.seeds:
        config = TrainConfig(**train_fields, seed=seed)
        if args.epochs:
            config = replace(config, epochs=args.epochs)
        torch.manual_seed(seed)
        model = VisionTransformer(ViTConfig(**vit_fields))
        trainer = Trainer(model, data, config, progress=args.progress)
        wall, cpu = time.perf_counter(), time.process_time()
        trainer.fit()
        test = trainer.evaluate(data.test)  # with the recipe's test-time augmentation, if any: timed too
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        val = trainer.evaluate(data.val)
        runs.append(
            {
                "seed": seed,
                "epochs": config.epochs,
                "test_acc": test["acc"],
                "test_loss": test["loss"],
                "val_acc": val["acc"],
                "wall_seconds": round(wall, 1),
                "cpu_seconds": round(cpu, 1),
                "history": [{k: round(v, 5) for k, v in row.items()} for row in trainer.history],
            }
        )
        print(
            f"seed {seed}: test accuracy {test['acc']:.4f}, val {runs[-1]['val_acc']:.4f}, "
            f"{wall:.1f} s wall, {cpu:.1f} s CPU",
            flush=True,
        )
    accs = [r["test_acc"] for r in runs]
    mean_acc = statistics.mean(accs)
    std_acc = statistics.stdev(accs) if len(accs) > 1 else 0.0
    max_wall = max(r["wall_seconds"] for r in runs)
    # CPU time counts every thread; divided by the threads it approximates an idle machine's wall time
    max_cpu = max(r["cpu_seconds"] for r in runs) / args.threads
    result = {
        "benchmark": name,
        "command": "python " + " ".join([f"benchmarks/{Path(sys.argv[0]).name}", *argv]).strip(),
        "machine": machine_line,
        "load_average_end": round(os.getloadavg()[0], 1) if hasattr(os, "getloadavg") else None,
        "recipe": {
            "vit": vit_fields,
            "train": {**train_fields, **({"epochs": args.epochs} if args.epochs else {})},
        },
        "test_images": len(data.test),
        "runs": runs,
        "mean_test_acc": mean_acc,
        "std_test_acc": std_acc,
        "targets": targets,
        "met_accuracy": mean_acc >= targets["mean_test_acc"],
        "met_time_wall": max_wall <= targets["seconds_per_run"],
        "threads": args.threads,
        "met_time_cpu": max_cpu <= targets["seconds_per_run"],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"summary: {name} mean test accuracy {mean_acc:.4f} ± {std_acc:.4f} over {len(runs)} "
        "seed(s), "
        f"max {max_wall:.1f} s wall / {max_cpu:.1f} s CPU per thread per run; targets >= "
        f"{targets['mean_test_acc']:.3f} "
        f"({'met' if result['met_accuracy'] else 'NOT met'}), <= {targets['seconds_per_run']} s per "
        "run "
        f"(wall {'met' if result['met_time_wall'] else 'NOT met'}, CPU "
        f"{'met' if result['met_time_cpu'] else 'NOT met'})"
    )
    return result
