"""Tests for vit_lib.data and vit_lib.train (chapter 12): loaders, schedule, checkpoints, resume, "
"DDP."""

import gzip
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import requires_fashion_mnist
from vit_lib.data import (
    DataSplits,
    Normalize,
    RandomHorizontalFlip,
    RandomShift,
    Resize,
    Split,
    load_digits,
    shift_images,
    stratified_split,
)
from vit_lib.fashion_mnist import (
    FASHION_MNIST_FILES,
    find_fashion_mnist,
    load_dataset,
    load_fashion_mnist,
    read_idx,
)
from vit_lib.model import VisionTransformer, ViTConfig
from vit_lib.train import RECIPES, History, TrainConfig, Trainer, WarmupCosine, main

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- helpers


def tiny_vit(seed: int = 0, **overrides) -> VisionTransformer:
    torch.manual_seed(seed)
    kw = dict(
        img_size=8,
        patch_size=2,
        in_chans=1,
        num_classes=10,
        embed_dim=32,
        depth=1,
        num_heads=2,
        mlp_ratio=2.0,
    )
    kw.update(overrides)
    return VisionTransformer(ViTConfig(**kw))


@pytest.fixture(scope="module")
def digits() -> DataSplits:
    return load_digits()


@pytest.fixture(scope="module")
def small_digits(digits) -> DataSplits:
    """96 training images: enough for a few steps, fast enough for a unit test."""
    return DataSplits(
        "digits",
        digits.train.subset(range(96)),
        digits.val.subset(range(64)),
        digits.test,
        digits.classes,
    )


def write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    codes = {np.dtype("uint8"): 0x08, np.dtype(">i4"): 0x0C}
    header = (
        bytes([0, 0, codes[array.dtype], array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    )
    raw = header + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


# ----------------------------------------------------------------------------- data


def test_digits_split_is_stratified_disjoint_and_fixed(digits):
    assert digits.sizes() == {"train": 1259, "val": 179, "test": 359}
    assert digits.image_shape == (1, 8, 8)
    total = torch.cat([digits.train.images, digits.val.images, digits.test.images])
    assert total.shape[0] == 1797
    assert 0.0 <= digits.train.images.min() and digits.train.images.max() <= 1.0
    # every class in every split in the same proportion (within one image of rounding)
    all_counts = np.bincount(
        np.concatenate([s.labels.numpy() for s in (digits.train, digits.val, digits.test)])
    )
    for split, fraction in ((digits.val, 0.1), (digits.test, 0.2)):
        counts = np.bincount(split.labels.numpy(), minlength=10)
        assert np.all(np.abs(counts - fraction * all_counts) <= 1), counts
    # no image is in two splits: compare the images themselves (the bundled set has no duplicates)
    keys = [
        {tuple(img.flatten().tolist()) for img in s.images}
        for s in (digits.train, digits.val, digits.test)
    ]
    assert sum(map(len, keys)) == len(set().union(*keys)) == 1797
    # the split never changes
    again = load_digits()
    assert torch.equal(again.test.images, digits.test.images)


def test_stratified_split_indices():
    labels = np.repeat(np.arange(3), [10, 20, 30])
    train, val, test = stratified_split(labels, (0.1, 0.2), seed=1)
    assert [len(train), len(val), len(test)] == [42, 6, 12]
    assert np.bincount(labels[test]).tolist() == [2, 4, 6]
    assert np.array_equal(np.sort(np.concatenate([train, val, test])), np.arange(60))
    assert not np.array_equal(stratified_split(labels, (0.1, 0.2), seed=2)[2], test)


def test_stratified_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match=r"sum to less than 1, got \(0.5, 0.5\)"):
        stratified_split(np.zeros(10), (0.5, 0.5))


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_parses_a_file_it_wrote(tmp_path, compress):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "images", images, compress)
    out = read_idx(tmp_path / "images")
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    assert np.array_equal(out, images)
    labels = np.array([7, -1, 300], dtype=">i4")
    write_idx(tmp_path / "labels", labels, compress)
    assert read_idx(tmp_path / "labels").tolist() == [7, -1, 300]


def test_read_idx_rejects_a_truncated_file(tmp_path):
    images = np.zeros((2, 3, 4), dtype=np.uint8)
    write_idx(tmp_path / "images", images, compress=False)
    (tmp_path / "short").write_bytes((tmp_path / "images").read_bytes()[:-5])
    with pytest.raises(
        ValueError,
        match=r"header says shape \(2, 3, 4\) \(24 bytes of data\), but the file holds 19",
    ):
        read_idx(tmp_path / "short")


def test_read_idx_rejects_a_non_idx_file(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "notes.txt")


def test_read_idx_rejects_an_unknown_type_code(tmp_path):
    (tmp_path / "odd").write_bytes(bytes([0, 0, 0x0A, 1, 0, 0, 0, 0]))
    with pytest.raises(ValueError, match="odd: unknown IDX type code 0x0a; expected one of 0x08"):
        read_idx(tmp_path / "odd")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Normalize(0.5, 0.0), "std must be positive, got 0.0"),
        (lambda: RandomShift(-1), "max_shift must be >= 0, got -1"),
        (lambda: Resize(0), "size must be at least 1, got 0"),
        (lambda: RandomHorizontalFlip(1.5), r"p must be in \[0, 1\], got 1.5"),
        (
            lambda: load_dataset("mnist"),
            "unknown dataset 'mnist'; expected 'digits' or 'fashion-mnist'",
        ),
        (
            lambda: Split(torch.zeros(3, 1, 8, 8), torch.zeros(4)),
            r"3 images but labels of shape \(4,\)",
        ),
        (
            lambda: Split(torch.zeros(3, 8, 8), torch.zeros(3)),
            r"images must be \(N, C, H, W\), got shape \(3, 8, 8\)",
        ),
    ],
)
def test_data_objects_reject_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_fashion_mnist_loader_reads_a_small_fake_copy(tmp_path):
    rng = np.random.default_rng(0)
    for part, n in (("train", 40), ("t10k", 20)):
        write_idx(
            tmp_path / f"{part}-images-idx3-ubyte.gz",
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            True,
        )
        write_idx(
            tmp_path / f"{part}-labels-idx1-ubyte",
            np.tile(np.arange(10, dtype=np.uint8), n // 10),
            False,
        )
    with pytest.raises(ValueError, match="val_size must be between 1 and 39, got 40"):
        load_fashion_mnist(tmp_path, val_size=40)
    data = load_fashion_mnist(tmp_path, val_size=10)
    assert data.sizes() == {"train": 30, "val": 10, "test": 20}
    assert np.bincount(data.val.labels.numpy()).tolist() == [1] * 10
    assert data.train.images.shape == (30, 1, 28, 28) and data.train.images.max() <= 1.0


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        find_fashion_mnist(tmp_path)
    message = str(info.value)
    assert str(tmp_path) in message
    assert "apt-get install dataset-fashion-mnist" in message
    for stem in FASHION_MNIST_FILES.values():
        assert f"{stem}.gz" in message


@requires_fashion_mnist
def test_fashion_mnist_smoke_one_training_step():
    data = load_fashion_mnist()
    assert data.sizes() == {"train": 55000, "val": 5000, "test": 10000}
    assert data.image_shape == (1, 28, 28)
    small = DataSplits(
        "fashion-mnist",
        data.train.subset(range(64)),
        data.val.subset(range(64)),
        data.test.subset(range(64)),
        data.classes,
    )
    model = tiny_vit(img_size=28, patch_size=7)
    config = TrainConfig(epochs=3, batch_size=64, warmup_epochs=0, max_shift=2, hflip=True)
    trainer = Trainer(model, small, config, progress=False)
    before = trainer.evaluate(small.train)["loss"]
    trainer.fit()
    assert trainer.evaluate(small.train)["loss"] < before


def loop_shift(image: torch.Tensor, dy: int, dx: int, fill: float = 0.0) -> torch.Tensor:
    """The documented convention, pixel by pixel: out[i, j] = image[i - dy, j - dx], else `fill`."""
    channels, height, width = image.shape
    out = torch.full_like(image, fill)
    for i in range(height):
        for j in range(width):
            if 0 <= i - dy < height and 0 <= j - dx < width:
                out[:, i, j] = image[:, i - dy, j - dx]
    return out


@pytest.mark.parametrize("dy, dx", [(0, 0), (1, 0), (0, 1), (-2, 1), (3, -3), (5, 0), (-7, 7)])
def test_shift_images_moves_down_and_right(dy, dx):
    images = torch.arange(2 * 2 * 5 * 6, dtype=torch.float32).reshape(2, 2, 5, 6) + 1  # no zeros
    got = shift_images(images, dy, dx, fill=-1.0)
    for n in range(2):
        assert torch.equal(got[n], loop_shift(images[n], dy, dx, fill=-1.0)), (dy, dx)
    if (dy, dx) == (1, 0):  # down by one: the first row is new, the rest is the image's top
        assert torch.equal(got[..., 1:, :], images[..., :-1, :]) and (got[..., 0, :] == -1).all()


def test_shift_images_takes_one_shift_per_image():
    images = torch.rand(4, 1, 6, 6)
    dy, dx = torch.tensor([0, 1, -2, 2]), torch.tensor([2, -1, 0, 2])
    got = shift_images(images, dy, dx)
    for n in range(4):
        assert torch.equal(got[n], loop_shift(images[n], int(dy[n]), int(dx[n])))
    assert shift_images(images[:0], 1, 1).shape == (0, 1, 6, 6)


def test_random_shift_draws_shifts_in_range_with_the_same_convention():
    images = torch.rand(64, 1, 7, 7) + 0.5  # distinct values, none equal to the fill
    got = RandomShift(2)(images, torch.Generator().manual_seed(0))
    used = set()
    for n in range(64):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(got[n], loop_shift(images[n], dy, dx))
        ]
        assert len(matches) == 1, n
        used.add(matches[0])
    assert len(used) >= 15  # of 25: the draws cover the range


def test_random_shift_moves_whole_images_and_is_seeded():
    images = torch.rand(64, 1, 8, 8)
    images[:, :, 0] = images[:, :, -1] = images[:, :, :, 0] = images[:, :, :, -1] = (
        0  # a blank border
    )
    shift = RandomShift(1)
    a = shift(images, torch.Generator().manual_seed(3))
    b = shift(images, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, images)
    # with a blank border, a shift of at most one pixel keeps every ink value: same sum, same sorted
    # values
    assert torch.allclose(a.sum((1, 2, 3)), images.sum((1, 2, 3)))
    assert torch.equal(a.flatten(1).sort(1).values, images.flatten(1).sort(1).values)


def test_normalize_fits_training_statistics():
    images = torch.rand(100, 1, 8, 8) * 3 + 2
    out = Normalize.fit(images)(images)
    assert abs(out.mean().item()) < 1e-5 and abs(out.std().item() - 1) < 1e-5


# ----------------------------------------------------------------------------- schedule


def test_warmup_cosine_values():
    schedule = WarmupCosine(warmup_steps=10, total_steps=110, min_ratio=0.01)
    assert schedule(0) == pytest.approx(0.1)  # first step already moves
    assert schedule(4) == pytest.approx(0.5)
    assert schedule(9) == pytest.approx(1.0)  # end of warm-up: the peak
    assert schedule(10) == pytest.approx(1.0)  # cosine starts at the peak
    assert schedule(60) == pytest.approx(0.01 + 0.99 * 0.5)  # half-way down
    assert schedule(110) == pytest.approx(0.01)  # the end
    assert schedule(500) == pytest.approx(0.01)  # and it stays there


def test_warmup_cosine_rejects_bad_steps():
    with pytest.raises(ValueError, match="need 0 <= warmup_steps <= total_steps, got 20 and 10"):
        WarmupCosine(20, 10)


def test_trainer_steps_the_schedule_every_batch(small_digits):
    config = TrainConfig(epochs=4, batch_size=32, warmup_epochs=2, lr=1e-3, max_shift=0)
    trainer = Trainer(tiny_vit(), small_digits, config, progress=False)
    trainer.fit(epochs=1)
    steps = 96 // 32
    assert trainer.scheduler.last_epoch == steps
    expected = config.lr * WarmupCosine(2 * steps, 4 * steps, config.min_lr_ratio)(steps)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(expected)


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"label_smoothing": 1.5}, r"label_smoothing must be in \[0, 1\), got 1.5"),
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"lr": 0.0}, "lr must be positive, got 0.0"),
        ({"max_shift": -2}, "max_shift and resize must be >= 0, got -2 and 0"),
    ],
)
def test_train_config_checks_values(fields, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields)


# ----------------------------------------------------------------------------- training


def test_a_few_steps_reduce_the_loss(small_digits):
    config = TrainConfig(
        epochs=15, batch_size=32, warmup_epochs=0, lr=3e-3, min_lr_ratio=1.0, max_shift=0
    )
    trainer = Trainer(tiny_vit(), small_digits, config, progress=False)
    before = trainer.evaluate(small_digits.train)["loss"]
    history = trainer.fit()  # 15 epochs of 3 steps at a constant lr
    after = trainer.evaluate(small_digits.train)["loss"]
    assert isinstance(history, History) and len(history) == 15
    assert history.column("epoch") == list(range(1, 16))
    assert before == pytest.approx(math.log(10), abs=0.05)  # an untrained model knows nothing
    assert after < before - 0.3, (before, after)


def test_checkpoint_round_trip_and_exact_resume(small_digits, tmp_path):
    config = TrainConfig(epochs=3, batch_size=32, warmup_epochs=1, max_shift=1)
    straight = Trainer(tiny_vit(drop_rate=0.1), small_digits, config, progress=False)
    straight.fit()

    first = Trainer(tiny_vit(drop_rate=0.1), small_digits, config, progress=False)
    first.fit(epochs=1)
    first.save(tmp_path / "ckpt.pt")
    # a fresh model with other initial weights, a fresh optimizer: everything comes from the file
    resumed = Trainer(tiny_vit(seed=99, drop_rate=0.1), small_digits, config, progress=False)
    resumed.load(tmp_path / "ckpt.pt")
    for key, value in first.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), key
    assert (
        resumed.optimizer.state_dict()["state"].keys()
        == first.optimizer.state_dict()["state"].keys()
    )
    assert resumed.scheduler.state_dict() == first.scheduler.state_dict()
    assert resumed.epoch == 1 and resumed.history.epochs == first.history.epochs
    resumed.fit()
    for key, value in straight.model.state_dict().items():
        assert torch.equal(resumed.model.state_dict()[key], value), f"resume is not exact at {key}"
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]


# ----------------------------------------------------------------------------- command line and DDP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLI_ARGS = [
    "--data",
    "digits",
    "--epochs",
    "2",
    "--seed",
    "3",
    "--batch-size",
    "32",
    "--train-subset",
    "64",
    "--max-shift",
    "0",
    "--embed-dim",
    "32",
    "--depth",
    "1",
    "--num-heads",
    "2",
    "--no-progress",
]


def run_cli(prefix: list[str], out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, *prefix, "-m", "vit_lib.train", *CLI_ARGS, "--out", str(out)]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_ddp_two_processes_match_one_process_full_batch(tmp_path):
    """2 gloo processes with 16 images each == 1 process with the same 32-image batch."""
    ddp = run_cli(
        [
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_addr=127.0.0.1",
            f"--master_port={free_port()}",
        ],
        tmp_path / "ddp",
    )
    single = run_cli([], tmp_path / "single")
    assert "test accuracy" in single.stdout and "test accuracy" in ddp.stdout
    assert "2 processes" in ddp.stdout and "1 process " in single.stdout
    a = torch.load(tmp_path / "ddp" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "single" / "checkpoint.pt", weights_only=True)
    assert a["epoch"] == b["epoch"] == 2
    # One exception: the key bias. Adding a constant to every key shifts all scores of a query
    # equally, which the softmax ignores, so its true gradient is exactly zero; what autograd
    # returns
    # is rounding noise, which depends on how the batch was summed, and Adam divides it by its own
    # tiny size. Those entries move by noise in both runs; everything else must agree.
    dim = 32
    key_bias = slice(dim, 2 * dim)  # qkv.bias is [q | k | v]
    worst, where = 0.0, ""
    for name in b["model"]:
        delta = (a["model"][name] - b["model"][name]).abs()
        if name.endswith("attn.qkv.bias"):
            assert delta[key_bias].max() < 1e-4, name
            delta[key_bias] = 0
        if delta.max().item() > worst:
            worst, where = delta.max().item(), name
    assert worst < 1e-6, f"DDP and full-batch weights differ by {worst:.2e} at {where}"
    assert b["history"][-1]["train_loss"] < b["history"][0]["train_loss"]  # it did train
    # the two ranks hold identical weights: the command compares them across processes
    assert "weights on the 2 processes agree: max |Δ| = 0.0e+00" in ddp.stdout


def test_command_line_overrides_reach_the_model_and_recipe(tmp_path):
    result = main(
        [
            *CLI_ARGS,
            "--epochs",
            "1",
            "--patch-drop-rate",
            "0.25",
            "--lr",
            "1e-3",
            "--out",
            str(tmp_path),
        ]
    )
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    model, train = saved["model_config"], saved["train_config"]
    assert (model["embed_dim"], model["depth"], model["num_heads"], model["patch_drop_rate"]) == (
        32,
        1,
        2,
        0.25,
    )
    assert (train["epochs"], train["batch_size"], train["lr"], train["max_shift"]) == (
        1,
        32,
        1e-3,
        0,
    )
    assert (
        result["epochs"] == 1 and json.loads((tmp_path / "metrics.json").read_text())["seed"] == 3
    )


def test_command_line_starts_without_warnings():
    """`import vit_lib` must not import vit_lib.train, or `python -m vit_lib.train` warns "
    "(runpy)."""
    env = {**os.environ, "PYTHONWARNINGS": "default"}
    result = subprocess.run(
        [sys.executable, "-m", "vit_lib.train", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and "--data" in result.stdout
    assert result.stderr == "", result.stderr
    probe = "import sys, vit_lib; print('vit_lib.train' in sys.modules, vit_lib.Trainer.__module__)"
    lazy = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert lazy.stdout.split() == ["False", "vit_lib.train"], lazy.stdout + lazy.stderr


@pytest.mark.parametrize(
    "max_shift, hflip, views", [(0, False, 1), (0, True, 2), (1, False, 9), (1, True, 18)]
)
def test_tta_averages_the_probabilities_of_the_training_views(
    small_digits, max_shift, hflip, views
):
    model = tiny_vit().eval()
    trainer = Trainer(
        model,
        small_digits,
        TrainConfig(epochs=1, max_shift=max_shift, hflip=hflip, tta=True),
        progress=False,
    )
    x = small_digits.val.images[:8]  # (8, 1, 8, 8)
    offsets = (-max_shift, 0, max_shift) if max_shift else (0,)
    shifted = [
        torch.stack([loop_shift(image, dy, dx) for image in x]) for dy in offsets for dx in offsets
    ]
    expected_views = shifted + ([v.flip(-1) for v in shifted] if hflip else [])
    assert len(expected_views) == views
    with torch.no_grad():
        probs = torch.stack([model(trainer.normalize(v)).softmax(-1) for v in expected_views]).mean(
            0
        )
    got = trainer.predict(x)  # (8, 10) log-probabilities
    if views == 1:  # no TTA: the plain logits
        torch.testing.assert_close(got, model(trainer.normalize(x)).detach())
    else:
        torch.testing.assert_close(got, probs.log())
    torch.testing.assert_close(trainer.predict(x, tta=False), model(trainer.normalize(x)).detach())


# ------------------------------------------------------------- the command line's error messages


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory, small_digits) -> Path:
    """A real checkpoint of the digits recipe's model with embed_dim 32, depth 1, 2 heads, before "
    "training."""
    path = tmp_path_factory.mktemp("checkpoint") / "checkpoint.pt"
    fields = {**RECIPES["digits"][0], "embed_dim": 32, "depth": 1, "num_heads": 2}
    Trainer(
        VisionTransformer(ViTConfig(**fields)), small_digits, TrainConfig(epochs=1), progress=False
    ).save(path)
    return path


def not_a_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(3)}, path)  # a PyTorch file, but not a Trainer checkpoint
    return path


def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("not a checkpoint\n")
    return path


BAD_COMMAND_LINES = {
    # case: (extra arguments, given tmp_path and the saved checkpoint; what the error line must say)
    "epochs zero": (lambda tmp, ckpt: ["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    "epochs not a number": (
        lambda tmp, ckpt: ["--epochs", "ten"],
        "argument --epochs: expected an integer, got 'ten'",
    ),
    "negative learning rate": (
        lambda tmp, ckpt: ["--lr", "-0.1"],
        "argument --lr: must be > 0, got -0.1",
    ),
    "patch drop rate of 1": (
        lambda tmp, ckpt: ["--patch-drop-rate", "1"],
        "argument --patch-drop-rate: must be >= 0 and < 1, got 1",
    ),
    "negative shift": (
        lambda tmp, ckpt: ["--max-shift", "-1"],
        "argument --max-shift: must be >= 0, got -1",
    ),
    "zero threads": (
        lambda tmp, ckpt: ["--threads", "0"],
        "argument --threads: must be >= 1, got 0",
    ),
    "width not divisible by heads": (
        lambda tmp, ckpt: ["--embed-dim", "30"],
        "embed_dim 30 is not divisible by num_heads 4",
    ),
    "unknown option": (lambda tmp, ckpt: ["--epoch", "3"], "unrecognized arguments: --epoch 3"),
    "missing data folder": (
        lambda tmp, ckpt: ["--data", "fashion-mnist", "--data-dir", str(tmp / "nowhere")],
        "--data-dir {tmp}/nowhere: no such folder",
    ),
    "data folder without the files": (
        lambda tmp, ckpt: ["--data", "fashion-mnist", "--data-dir", str(tmp)],
        "Fashion-MNIST not found in {tmp}: missing train-images-idx3-ubyte.gz",
    ),
    "out is a file": (
        lambda tmp, ckpt: ["--out", str(text_file(tmp))],
        "--out {tmp}/notes.txt is a file",
    ),
    "resume from a missing file": (
        lambda tmp, ckpt: ["--resume", str(tmp / "gone.pt")],
        "--resume {tmp}/gone.pt: no such file",
    ),
    "resume from a text file": (
        lambda tmp, ckpt: ["--resume", str(text_file(tmp))],
        "--resume {tmp}/notes.txt is not a checkpoint written by Trainer.save (torch.load cannot "
        "read it)",
    ),
    "resume from other weights": (
        lambda tmp, ckpt: ["--resume", str(not_a_checkpoint(tmp))],
        "--resume {tmp}/weights.pt is not a checkpoint written by Trainer.save: "
        "it has no model, optimizer, scheduler",
    ),
    "resume with another model": (
        lambda tmp, ckpt: [
            "--embed-dim",
            "48",
            "--depth",
            "1",
            "--num-heads",
            "2",
            "--resume",
            str(ckpt),
        ],
        "is for a model of another configuration (embed_dim 32 there, 48 here)",
    ),
}


@pytest.mark.parametrize("case", BAD_COMMAND_LINES)
def test_command_line_rejects_bad_input_in_one_error_line(case, tmp_path, saved_checkpoint, capsys):
    make_args, expected = BAD_COMMAND_LINES[case]
    argv = ["--out", str(tmp_path / "run"), "--no-progress", *make_args(tmp_path, saved_checkpoint)]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    out, err = capsys.readouterr()
    assert stop.value.code == 2
    assert out == "", "nothing may be trained or printed before the error"
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected.format(tmp=tmp_path) in lines[0]
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_command_line_error_is_one_line_without_traceback(tmp_path):
    """The real command, in its own process: a text file as --resume ends in one line and exit "
    "code 2."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vit_lib.train",
            "--out",
            str(tmp_path),
            "--resume",
            str(text_file(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: --resume ") and "Traceback" not in result.stderr


def test_trainer_load_checks_the_model_configuration(saved_checkpoint, small_digits):
    fields = {
        **RECIPES["digits"][0],
        "embed_dim": 32,
        "depth": 2,
        "num_heads": 2,
        "fused_attn": True,
    }
    other = Trainer(
        VisionTransformer(ViTConfig(**fields)), small_digits, TrainConfig(epochs=1), progress=False
    )
    with pytest.raises(ValueError, match=r"another configuration \(depth 1 there, 2 here\);"):
        other.load(saved_checkpoint)


def test_training_and_loading_leave_the_global_rng_as_they_found_it(small_digits, tmp_path):
    """Dropout draws from the global RNG; the library forks it instead of reseeding the caller's."""
    from vit_lib import load_pretrained

    model, fresh = (
        tiny_vit(drop_rate=0.2, patch_drop_rate=0.25),
        tiny_vit(seed=1, drop_rate=0.2, patch_drop_rate=0.25),
    )
    config = TrainConfig(epochs=2, batch_size=32, warmup_epochs=1, max_shift=1, tta=True)
    before = torch.get_rng_state()  # the models above were built by the caller: its choice
    trainer = Trainer(model, small_digits, config, progress=False)
    trainer.fit(checkpoint=tmp_path / "ckpt.pt")
    trainer.evaluate(small_digits.val)
    Trainer(fresh, small_digits, config, progress=False).load(tmp_path / "ckpt.pt")
    load_pretrained("digits").logits(small_digits.val.images[:4])
    assert torch.equal(torch.get_rng_state(), before)


def test_load_rebuilds_the_pipeline_around_the_saved_normalisation(small_digits, tmp_path):
    config = TrainConfig(epochs=1, batch_size=32, warmup_epochs=1, max_shift=1, hflip=True)
    first = Trainer(tiny_vit(), small_digits, config, progress=False)
    first.fit()
    first.save(tmp_path / "ckpt.pt")
    shifted = DataSplits(
        "digits",
        Split(small_digits.train.images * 0.5, small_digits.train.labels),
        small_digits.val,
        small_digits.test,
        small_digits.classes,
    )
    other = Trainer(tiny_vit(), shifted, config, progress=False)  # fits another Normalize
    assert other.normalize.mean != first.normalize.mean
    other.load(tmp_path / "ckpt.pt")
    normalizers = [t for t in other.augment.transforms if isinstance(t, Normalize)]
    assert normalizers == [other.normalize] and other.normalize.mean == first.normalize.mean
    assert [type(t) for t in other.augment.transforms] == [
        type(t) for t in first.augment.transforms
    ]
    x = small_digits.val.images[:8]
    torch.testing.assert_close(
        other.predict(x, tta=False), first.predict(x, tta=False), rtol=0, atol=0
    )
