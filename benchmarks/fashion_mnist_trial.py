"""One trial of a Fashion-MNIST recipe, scored on the validation split: how the recipe was chosen.

    python benchmarks/fashion_mnist_trial.py \
        '{"name": "gap", "vit": {"global_pool": "avg"}, "train": {"epochs": 10}}'

The JSON overrides fields of the starting point below (ViTConfig fields under "vit", TrainConfig
fields under "train"). Each epoch prints a line with its training and validation accuracy; the
last line, "RESULT …", gives the validation accuracy without and with test-time augmentation,
and the test accuracy for the record (the choice between trials looks at validation only).
The trials behind `RECIPES["fashion-mnist"]` and their output are in
`benchmarks/results/fashion_mnist_trials.log`; they ran two at a time, one thread each.
"""

import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vit_lib.fashion_mnist import load_dataset  # noqa: E402
from vit_lib.model import VisionTransformer, ViTConfig  # noqa: E402
from vit_lib.train import TrainConfig, Trainer  # noqa: E402

START_VIT = dict(
    img_size=28,
    patch_size=4,
    in_chans=1,
    num_classes=10,
    embed_dim=64,
    depth=4,
    num_heads=4,
    mlp_ratio=2.0,
    fused_attn=False,
)
START_TRAIN = dict(epochs=12, batch_size=128, lr=2e-3, warmup_epochs=1, max_shift=0, hflip=True)


def main(spec: dict, threads: int = 1) -> None:
    torch.set_num_threads(threads)
    vit, train = {**START_VIT, **spec.get("vit", {})}, {**START_TRAIN, **spec.get("train", {})}
    print(f"TRIAL {json.dumps(spec, separators=(',', ':'))}", flush=True)
    data = load_dataset("fashion-mnist")
    torch.manual_seed(0)
    model = VisionTransformer(ViTConfig(**vit))
    trainer = Trainer(model, data, TrainConfig(**train, seed=0), progress=False)
    start = time.perf_counter()
    for epoch in range(1, train["epochs"] + 1):
        trainer.fit(epoch)
        row = trainer.history[-1]
        print(
            f"{spec['name']} ep {epoch} train {row['train_acc']:.4f} val {row['val_acc']:.4f} "
            f"t {time.perf_counter() - start:.0f}",
            flush=True,
        )
    val, val_tta = trainer.evaluate(data.val, tta=False), trainer.evaluate(data.val, tta=True)
    test, test_tta = trainer.evaluate(data.test, tta=False), trainer.evaluate(data.test, tta=True)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"RESULT {spec['name']} val {val['acc']:.4f} test {test['acc']:.4f} TTA val "
        f"{val_tta['acc']:.4f} "
        f"test {test_tta['acc']:.4f} wall {time.perf_counter() - start:.0f} params {params}",
        flush=True,
    )


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1)
