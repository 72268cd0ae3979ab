"""Fashion-MNIST benchmark: the ViT recipe of vit_lib.train.RECIPES["fashion-mnist"], one seed.

    apt-get install dataset-fashion-mnist            # the data, once (or pass --data-dir)
    python benchmarks/train_fashion_mnist.py         # writes benchmarks/results/fashion_mnist.json

Target: >= 91 % test accuracy on the official 10,000 test images in <= 15 minutes on 2 cores
(two torch threads by default; the time includes scoring the test images).
Not part of the test suite; it takes about a quarter of an hour.
"""

import sys

from training_bench import run

if __name__ == "__main__":
    run(
        "fashion-mnist",
        sys.argv[1:],
        targets={"mean_test_acc": 0.91, "seconds_per_run": 900},
        default_seeds=[0],
        default_output="fashion_mnist.json",
        default_threads=2,
    )
