"""Train the digits ViT that vit_lib ships, once: `make model` (about a minute on one core).

Trains `RECIPES["digits"]` with seed 0 on one thread (as chapter 12 does), scores it, and writes

    vit_lib/weights/digits.safetensors   the weights, with config, preprocessing and classes in the header
    vit_lib/weights/digits.json          how it was made, what it scored, and the file's SHA-256

Chapter 12 trains the same model and compares; chapter 13 and `load_pretrained("digits")` use the file.
Re-run it only when the recipe or the model's code changes (the numbers depend on the CPU).
"""

import json
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import cpu_name  # noqa: E402

from vit_lib.data import Compose, load_digits  # noqa: E402
from vit_lib.model import VisionTransformer, ViTConfig  # noqa: E402
from vit_lib.pretrained import save_pretrained  # noqa: E402
from vit_lib.train import RECIPES, TrainConfig, Trainer  # noqa: E402

OUT = ROOT / "vit_lib" / "weights"
SEED = 0


def main() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    vit_fields, train_fields = RECIPES["digits"]
    digits = load_digits()
    torch.manual_seed(SEED)
    trainer = Trainer(
        VisionTransformer(ViTConfig(**vit_fields)),
        digits,
        TrainConfig(**train_fields, seed=SEED),
        progress=False,
    )
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    metrics = {
        "test_acc_tta": trainer.evaluate(digits.test)["acc"],
        "test_acc": trainer.evaluate(digits.test, tta=False)["acc"],
        "val_acc_tta": trainer.evaluate(digits.val)["acc"],
        "val_acc": trainer.evaluate(digits.val, tta=False)["acc"],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    weights = OUT / "digits.safetensors"
    recipe = {"vit": vit_fields, "train": train_fields, "seed": SEED}
    sha256 = save_pretrained(
        weights,
        trainer.model,
        Compose([trainer.resize, trainer.normalize]),
        digits.classes,
        info={"recipe": recipe, "made_by": "tools/train_digits_model.py"},
    )
    card = {
        "command": "python tools/train_digits_model.py",
        "machine": cpu_name(),
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": 1,
        "train_seconds": round(seconds, 1),
        "recipe": recipe,
        "metrics": metrics,
        "file": weights.name,
        "bytes": weights.stat().st_size,
        "sha256": sha256,
    }
    (OUT / "digits.json").write_text(json.dumps(card, indent=2) + "\n")
    print(
        f"wrote {weights.relative_to(ROOT)} ({card['bytes']:,} bytes, sha256 {sha256[:12]}...) in "
        f"{seconds:.0f} s;"
        f" test {metrics['test_acc_tta']:.4f} with TTA, {metrics['test_acc']:.4f} one view"
    )


if __name__ == "__main__":
    main()
