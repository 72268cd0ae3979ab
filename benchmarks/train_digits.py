"""Digits benchmark: the chapter-12 ViT recipe, 3 seeds, test accuracy and seconds per run.

    python benchmarks/train_digits.py                # writes benchmarks/results/digits.json

Target: mean test accuracy >= 99.0 % on the fixed 359-image test split, <= 60 s per run on
2 cores. Not part of the test suite (timings depend on the machine and its load).
"""

import sys

from training_bench import run

if __name__ == "__main__":
    run(
        "digits",
        sys.argv[1:],
        targets={"mean_test_acc": 0.99, "seconds_per_run": 60},
        default_seeds=[0, 1, 2],
        default_output="digits.json",
    )
