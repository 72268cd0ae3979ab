"""Class token or mean pooling? The digits ViT with each, three matched seeds (chapter 13).

    python benchmarks/pooling_digits.py     # about 3 minutes; writes benchmarks/results/pooling_digits.json

Both poolings train the chapter-12 model on a quicker schedule (20 epochs in batches of 32, peak
learning rate 1e-3, shifts of one pixel) with seeds 0, 1, 2; the same seed gives both the same
data order and augmentation. Each run is scored on validation and test with the recipe's TTA.
Chapter 13 shows the stored table; the numbers depend on the CPU (training amplifies its rounding),
which is why the book reads them from this file instead of training six models on every build.
"""

import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from machine import cpu_name

from vit_lib.data import load_digits
from vit_lib.model import VisionTransformer, ViTConfig
from vit_lib.train import RECIPES, TrainConfig, Trainer

RESULTS = Path(__file__).resolve().parent / "results" / "pooling_digits.json"
SEEDS = (0, 1, 2)
POOLS = ("token", "avg")
QUICK = dict(epochs=20, batch_size=32, lr=1e-3, warmup_epochs=2, max_shift=1)


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    digits = load_digits()
    vit_fields, train_fields = RECIPES["digits"]
    schedule = replace(TrainConfig(**train_fields), **QUICK)
    runs = []
    for pool in POOLS:
        for seed in SEEDS:
            torch.manual_seed(seed)
            model = VisionTransformer(ViTConfig(**vit_fields, global_pool=pool))
            trainer = Trainer(model, digits, replace(schedule, seed=seed), progress=False)
            start = time.perf_counter()
            trainer.fit()
            run = {
                "global_pool": pool,
                "seed": seed,
                "val_acc": trainer.evaluate(digits.val)["acc"],
                "test_acc": trainer.evaluate(digits.test)["acc"],
                "seconds": round(time.perf_counter() - start, 1),
            }
            runs.append(run)
            print(
                f"{pool:>5} seed {seed}: val {run['val_acc']:.4f} test {run['test_acc']:.4f} "
                f"({run['seconds']} s)",
                flush=True,
            )
    result = {
        "command": "python benchmarks/pooling_digits.py",
        "machine": cpu_name(),
        "torch": torch.__version__,
        "threads": 1,
        "vit": vit_fields,
        "train": {key: value for key, value in asdict(schedule).items() if key != "seed"},
        "runs": runs,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    sys.exit(main())
