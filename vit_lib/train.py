# Generated from chapters/12_training.md, chapters/14_training_further.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/12_training.md, cell 26 ---
"""Train a VisionTransformer: AdamW, warm-up + cosine schedule, label smoothing, checkpoints, DDP.

One `Trainer` runs in a single process or, unchanged, in each process of
`torchrun --nproc_per_node=2` (DistributedDataParallel, gloo backend on CPU). The command line:
`python -m vit_lib.train --data digits|fashion-mnist --epochs E --seed S --out DIR`.

Shapes: N batch, C/H/W image, K classes.
"""

import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DistributedSampler

from vit_lib.data import (
    Compose,
    DataSplits,
    Normalize,
    RandomHorizontalFlip,
    RandomShift,
    Resize,
    Split,
    Transform,
    shift_images,
)
from vit_lib.model import VisionTransformer, ViTConfig

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = [
    "TrainConfig", "WarmupCosine", "History", "Trainer", "RECIPES", "parameter_groups",
    "train_one_epoch", "batched_logits", "tta_logits", "split_metrics",
]


@dataclass
class TrainConfig:
    """How to train. The defaults are the digits recipe, chosen on the validation split."""

    epochs: int = 100                # passes over the training split
    batch_size: int = 128            # global batch, split evenly over the processes
    lr: float = 2e-3                 # peak learning rate, reached at the end of warm-up
    min_lr_ratio: float = 0.01       # the cosine ends at lr * min_lr_ratio
    warmup_epochs: float = 5.0       # linear warm-up, in epochs (converted to optimizer steps)
    weight_decay: float = 0.05       # AdamW's decoupled decay, on weight matrices only
    betas: tuple[float, float] = (0.9, 0.999)
    label_smoothing: float = 0.1     # 1 - ε + ε/K on the true class, ε/K on the others
    grad_clip: float = 1.0           # max global gradient norm; 0 disables clipping
    resize: int = 0                  # resample images to resize x resize first; 0 keeps them
    max_shift: int = 2               # random-shift augmentation in pixels (after resizing); 0: none
    hflip: bool = False              # random left-right mirroring (clothes: yes; digits: no)
    tta: bool = False                # test-time augmentation: average shifted (and mirrored) views
    eval_batch_size: int = 512
    seed: int = 0                    # data order, augmentation and dropout

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "eval_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.max_shift < 0 or self.resize < 0:
            raise ValueError(f"max_shift and resize must be >= 0, got {self.max_shift} "
                             f"and {self.resize}")


# --- chapters/12_training.md, cell 28 ---
def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Decay weight matrices only.

    Biases, LayerNorm gains, class token and positions are not decayed.
    """
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        skip = param.ndim <= 1 or name.endswith(("cls_token", "pos_embed"))
        (no_decay if skip else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


# --- chapters/12_training.md, cell 30 ---
class WarmupCosine:
    """Learning-rate multiplier for `LambdaLR`: linear warm-up to 1, then a cosine to `min_ratio`.

    Step s (optimizer steps taken so far) gets (s + 1) / warmup_steps during warm-up, then
    min_ratio + (1 - min_ratio) * (1 + cos(pi * progress)) / 2, where progress goes from 0 to 1
    between the end of warm-up and `total_steps`, and stays at 1 after it.
    """

    def __init__(self, warmup_steps: int, total_steps: int, min_ratio: float = 0.0) -> None:
        if not 0 <= warmup_steps <= total_steps:
            raise ValueError(f"need 0 <= warmup_steps <= total_steps, got {warmup_steps} "
                             f"and {total_steps}")
        if not 0.0 <= min_ratio <= 1.0:
            raise ValueError(f"min_ratio must be in [0, 1], got {min_ratio}")
        self.warmup_steps, self.total_steps, self.min_ratio = warmup_steps, total_steps, min_ratio

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        decay_steps = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        return self.min_ratio + (1.0 - self.min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


# --- chapters/12_training.md, cell 36 ---
@dataclass
class History:
    """Per-epoch metrics, one dict per epoch.

    The keys: epoch, lr, train_loss, train_acc, val_loss, val_acc, seconds.
    """

    epochs: list[dict] = field(default_factory=list)

    def append(self, row: dict) -> None:
        self.epochs.append(dict(row))

    def column(self, key: str) -> list:
        """One metric over the epochs, e.g. `history.column("val_acc")`."""
        return [row[key] for row in self.epochs]

    def __len__(self) -> int:
        return len(self.epochs)

    def __getitem__(self, index: int) -> dict:
        return self.epochs[index]


def distributed_context() -> tuple[int, int]:
    """(rank, world_size) from torchrun's environment.

    Joins the process group when there are several processes.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return rank, world_size


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of one process's epoch: its shuffle-independent randomness (augmentation, dropout).

    Deriving it from (seed, epoch, rank) instead of carrying a generator from epoch to epoch
    makes a resumed run draw exactly what an uninterrupted one would.
    """
    return (seed * 1_000_003 + epoch * 1_009 + rank) % 2**63


# --- chapters/12_training.md, cell 38 ---
def train_one_epoch(
    net: nn.Module, split: Split, batches: Iterable[list[int]], augment: Transform,
    optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator, label_smoothing: float = 0.0, grad_clip: float = 0.0,
    on_step: Callable[[], None] | None = None,
) -> torch.Tensor:
    """One pass over `batches` of `split`.

    Returns this process's (loss sum, correct, count), float64.
    """
    net.train()
    totals = torch.zeros(3, dtype=torch.float64)             # loss sum, correct, count
    for indices in batches:
        index = torch.tensor(indices)
        x = augment(split.images[index], generator)          # (n, C, H, W)
        y = split.labels[index]                              # (n,)
        logits = net(x)                                      # (n, K)
        loss = F.cross_entropy(logits, y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()                                      # DDP averages the gradients here
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
        optimizer.step()
        scheduler.step()                                     # per step, not per epoch
        correct = (logits.argmax(1) == y).sum().item()
        totals += torch.tensor([loss.item() * len(y), correct, len(y)], dtype=torch.float64)
        if on_step is not None:
            on_step()
    return totals


# --- chapters/12_training.md, cell 40 ---
@torch.no_grad()
def batched_logits(
    model: nn.Module, images: torch.Tensor, transform: Transform | None = None,
    batch_size: int = 512,
) -> torch.Tensor:
    """Logits (N, K) for images (N, C, H, W), in eval mode, `batch_size` images at a time."""
    was_training = model.training
    model.eval()
    outputs = []
    for start in range(0, images.shape[0], batch_size):
        x = images[start:start + batch_size]                                 # (n, C, H, W)
        outputs.append(model(transform(x) if transform is not None else x))   # (n, K)
    model.train(was_training)
    return torch.cat(outputs)                                                 # (N, K)


@torch.no_grad()
def tta_logits(
    model: nn.Module, images: torch.Tensor, transform: Transform | None = None,
    max_shift: int = 0, hflip: bool = False, batch_size: int = 512,
) -> torch.Tensor:
    """Log of the mean probability (N, K) over shifted views, and mirrored ones.

    The views are shifted by dy, dx in {-s, 0, s}, s = `max_shift`.
    """
    offsets = (-max_shift, 0, max_shift) if max_shift else (0,)
    views = [shift_images(images, dy, dx) for dy in offsets for dx in offsets]
    if hflip:
        views += [view.flip(-1) for view in views]                        # mirrored, as in training
    probs = sum(batched_logits(model, v, transform, batch_size).softmax(-1) for v in views)
    return (probs / len(views)).log()                                     # (N, K)


# --- chapters/12_training.md, cell 42 ---
@torch.no_grad()
def split_metrics(
    predict: Callable[[torch.Tensor], torch.Tensor], split: Split,
    rank: int = 0, world_size: int = 1,
) -> dict:
    """Loss (without label smoothing) and accuracy of `predict` (images -> logits) on `split`."""
    index = torch.arange(rank, len(split), world_size)                      # this process's share
    logits = predict(split.images[index])                                   # (n, K)
    y = split.labels[index]                                                 # (n,)
    loss = F.cross_entropy(logits, y, reduction="sum").item()
    correct = (logits.argmax(1) == y).sum().item()
    totals = torch.tensor([loss, correct, len(y)], dtype=torch.float64)
    if world_size > 1:
        dist.all_reduce(totals)
    return {"loss": (totals[0] / totals[2]).item(), "acc": (totals[1] / totals[2]).item()}


# --- chapters/12_training.md, cell 44 ---
CHECKPOINT_KEYS = (
    "model", "optimizer", "scheduler", "epoch", "history",
    "model_config", "train_config", "normalize",
)


def read_checkpoint(path: str | Path, model: nn.Module) -> dict:
    """The checkpoint at `path`, checked: written by `Trainer.save`, for a model like `model`."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception:   # torch.load reports a foreign file in many ways (pickle, zip, EOF, ...)
        raise ValueError(
            f"{path} is not a checkpoint written by Trainer.save (torch.load cannot read it)"
        ) from None
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise ValueError(f"{path} is not a checkpoint written by Trainer.save: "
                         f"it has no {', '.join(missing)}")
    config = getattr(model, "config", None)
    if config is not None and state["model_config"] is not None:
        saved = state["model_config"]
        ours = {key: value for key, value in asdict(config).items()
                if key != "fused_attn"}  # same math
        differ = [f"{key} {saved.get(key)!r} there, {value!r} here"
                  for key, value in ours.items() if saved.get(key) != value]
        if differ:
            raise ValueError(f"{path} is for a model of another configuration "
                             f"({', '.join(differ)}); "
                             "build the model with the options of the run that saved it")
    return state


# --- chapters/12_training.md, cell 46 ---
class Trainer:
    """Train `model` on `data` with `config`.

    `fit()` runs the remaining epochs, `save`/`load` checkpoint.

    Works unchanged under torchrun: each process trains on its share of every global batch and
    DistributedDataParallel averages the gradients.

    Args:
        model: the network: images (N, C, H, W) -> logits (N, K). A VisionTransformer or any module.
        data: train / val / test splits.
        config: the training recipe.
        progress: show a tqdm progress bar (rank 0 only); keep it off in notebooks that must
            replay exactly.
        verbose: print one line of metrics per epoch (rank 0 only).
    """

    def __init__(
        self, model: nn.Module, data: DataSplits, config: TrainConfig,
        progress: bool = True, verbose: bool = False,
    ) -> None:
        self.rank, self.world_size = distributed_context()
        if config.batch_size % self.world_size:
            raise ValueError(f"batch_size {config.batch_size} is not divisible by "
                             f"the {self.world_size} processes")
        self.model, self.data, self.config = model, data, config
        self.progress, self.verbose = progress, verbose
        self.net = DistributedDataParallel(model) if self.world_size > 1 else model
        self.resize = Resize(config.resize) if config.resize else Compose([])
        self.set_normalize(Normalize.fit(data.train.images))
        self.optimizer = torch.optim.AdamW(
            parameter_groups(model, config.weight_decay), lr=config.lr, betas=config.betas,
        )
        self.steps_per_epoch = math.ceil(len(data.train) / config.batch_size)
        total = config.epochs * self.steps_per_epoch
        warmup = min(total, round(config.warmup_epochs * self.steps_per_epoch))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, WarmupCosine(warmup, total, config.min_lr_ratio),
        )
        self.epoch = 0
        self.history = History()
        self._bar = None

    def set_normalize(self, normalize: Normalize) -> None:
        """Use `normalize` for training and prediction.

        The training pipeline is rebuilt around it.
        """
        cfg = self.config
        self.normalize = normalize
        flip = [RandomHorizontalFlip()] if cfg.hflip else []
        self.augment = Compose([self.resize, *flip, RandomShift(cfg.max_shift), normalize])

    def train_epoch(self) -> dict:
        """One pass over the training split; returns the epoch's mean training loss and accuracy."""
        cfg = self.config
        seed = epoch_seed(cfg.seed, self.epoch, self.rank)
        sampler = DistributedSampler(
            range(len(self.data.train)), num_replicas=self.world_size, rank=self.rank,
            shuffle=True, seed=cfg.seed,
        )
        sampler.set_epoch(self.epoch)                   # a new order every epoch
        batches = BatchSampler(sampler, cfg.batch_size // self.world_size, drop_last=False)
        with torch.random.fork_rng(devices=[]):         # the caller's global RNG is restored after
            torch.manual_seed(seed)                     # dropout, if the model has any
            totals = train_one_epoch(
                self.net, self.data.train, batches, self.augment, self.optimizer, self.scheduler,
                torch.Generator().manual_seed(seed), cfg.label_smoothing, cfg.grad_clip,
                on_step=self._bar.update if self._bar is not None else None,
            )
        if self.world_size > 1:
            dist.all_reduce(totals)
        return {"train_loss": (totals[0] / totals[2]).item(),
                "train_acc": (totals[1] / totals[2]).item()}

    def predict(self, images: torch.Tensor, tta: bool | None = None) -> torch.Tensor:
        """Logits (N, K) for raw images (N, C, H, W) in [0, 1]; with `tta` (default `config.tta`),
        the log of the mean probability over shifted (and mirrored) views, as in `tta_logits`."""
        cfg = self.config
        tta = cfg.tta if tta is None else tta
        images = self.resize(images)                                      # (N, C, H', W')
        if not (tta and (cfg.max_shift or cfg.hflip)):                    # one view: plain logits
            return batched_logits(self.model, images, self.normalize, cfg.eval_batch_size)
        return tta_logits(self.model, images, self.normalize, cfg.max_shift, cfg.hflip,
                          cfg.eval_batch_size)

    def evaluate(self, split: Split, tta: bool | None = None) -> dict:
        """Loss (without label smoothing) and accuracy on `split`.

        Each process scores its share.
        """
        return split_metrics(lambda images: self.predict(images, tta), split, self.rank,
                             self.world_size)

    def fit(self, epochs: int | None = None, checkpoint: str | Path | None = None) -> History:
        """Train until `epochs` epochs in total are done (default `config.epochs`).

        Validates after each epoch, with one view per image (no TTA: cheaper; TTA is for the final
        score). With `checkpoint`, save there after every epoch, so a stopped run can `load` and
        go on.
        """
        target = self.config.epochs if epochs is None else epochs
        self._bar = None
        if self.progress and self.rank == 0:
            from tqdm.auto import tqdm  # a widget in Jupyter, a text bar in a terminal
            self._bar = tqdm(total=max(0, target - self.epoch) * self.steps_per_epoch,
                             desc=self.data.name, unit="step")
        try:
            while self.epoch < target:
                start = time.perf_counter()
                lr = self.optimizer.param_groups[0]["lr"]
                row = {"epoch": self.epoch + 1, "lr": lr, **self.train_epoch()}
                val = self.evaluate(self.data.val, tta=False)
                row.update(val_loss=val["loss"], val_acc=val["acc"],
                           seconds=time.perf_counter() - start)
                self.history.append(row)
                self.epoch += 1
                self._report(row, target)
                if checkpoint is not None:
                    self.save(checkpoint)
        finally:
            if self._bar is not None:
                self._bar.close()
        return self.history

    def _report(self, row: dict, target: int) -> None:
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{row['train_loss']:.3f}", val_acc=f"{row['val_acc']:.4f}")
        if self.verbose and self.rank == 0:
            print(f"epoch {row['epoch']:>3}/{target}  lr {row['lr']:.2e}"
                  f"  train loss {row['train_loss']:.4f}  acc {row['train_acc']:.4f}"
                  f"  val loss {row['val_loss']:.4f}  acc {row['val_acc']:.4f}", flush=True)

    @torch.no_grad()
    def rank_weight_spread(self) -> float:
        """The largest difference of any weight between the processes: 0.0 when they agree."""
        flat = torch.cat([p.detach().flatten() for p in self.model.parameters()])
        if self.world_size == 1:
            return 0.0
        high, low = flat.clone(), flat.clone()
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        return (high - low).max().item()

    def state_dict(self) -> dict:
        """Everything a checkpoint holds; only tensors, numbers, strings, lists and dicts."""
        config = getattr(self.model, "config", None)
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "history": self.history.epochs,
            "model_config": asdict(config) if config is not None else None,
            "train_config": asdict(self.config),
            "normalize": [self.normalize.mean, self.normalize.std],
        }

    def save(self, path: str | Path) -> None:
        """Write a checkpoint (process 0 writes, the others wait) that `load` restores exactly."""
        if self.rank == 0:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            torch.save(self.state_dict(), path)
        if self.world_size > 1:
            dist.barrier()

    def load(self, path: str | Path) -> None:
        """Restore a checkpoint written by `save` (checked by `read_checkpoint`).

        `fit()` then goes on.
        """
        state = read_checkpoint(path, self.model)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = state["epoch"]
        self.history = History([dict(row) for row in state["history"]])
        self.set_normalize(Normalize(*state["normalize"]))


# --- chapters/12_training.md, cell 48 ---
RECIPES: dict[str, tuple[dict, dict]] = {
    # dataset: (ViTConfig fields, TrainConfig fields), chosen on the validation split (chapter 12)
    "digits": (
        dict(img_size=16, patch_size=4, in_chans=1, num_classes=10,
             embed_dim=64, depth=4, num_heads=4, mlp_ratio=2.0, fused_attn=False),
        dict(epochs=100, batch_size=128, lr=2e-3, warmup_epochs=5,
             resize=16, max_shift=2, tta=True),
    ),
    "fashion-mnist": (
        dict(img_size=28, patch_size=4, in_chans=1, num_classes=10,
             embed_dim=64, depth=4, num_heads=2, mlp_ratio=2.0,
             class_token=False, global_pool="avg", patch_drop_rate=0.5, fused_attn=False),
        dict(epochs=38, batch_size=128, lr=2e-3, warmup_epochs=1,
             max_shift=1, hflip=True, tta=True),
    ),
}


# --- chapters/14_training_further.md, cell 12 ---
# the command line's own imports (the rest of vit_lib.train's are in chapter 12)
import argparse
import json
import sys

from vit_lib.fashion_mnist import load_dataset


class CommandLineError(Exception):
    """A bad option or input file.

    `main` prints it as one `error: ...` line and exits with status 2.
    """


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):   # argparse's own complaints (unknown option, bad number) too
        raise CommandLineError(f"{message} (see --help)")


def _number(kind: type, low: float, high: float | None = None, low_open: bool = False):
    """An argparse `type` that converts to `kind` and checks its bounds.

    The check is low <= value (< low if low_open) <= high.
    """
    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None
        below = value <= low if low_open else value < low
        if below or (high is not None and value >= high):
            bounds = (f"{'>' if low_open else '>='} {low:g}"
                      + (f" and < {high:g}" if high is not None else ""))
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
        return value
    return convert


def build_parser() -> argparse.ArgumentParser:
    """The options of `python -m vit_lib.train`; unset ones come from `RECIPES[--data]`."""
    count, positive = _number(int, 1), _number(float, 0, low_open=True)
    parser = _Parser(
        prog="python -m vit_lib.train", allow_abbrev=False,   # --epoch is a typo, not --epochs
        description="Train a ViT on digits or Fashion-MNIST. "
                    "Runs unchanged under torchrun (DDP, gloo).",
    )
    parser.add_argument("--data", choices=sorted(RECIPES), default="digits")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder of the Fashion-MNIST IDX files")
    parser.add_argument("--epochs", type=count, default=None)
    parser.add_argument("--seed", type=_number(int, 0), default=0,
                        help="seeds the weights, data order and augmentation")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for checkpoint.pt and metrics.json")
    parser.add_argument("--resume", type=Path, default=None, help="continue from this checkpoint")
    parser.add_argument("--batch-size", type=count, default=None,
                        help="the global batch, over all processes")
    parser.add_argument("--lr", type=positive, default=None, help="peak learning rate")
    parser.add_argument("--max-shift", type=_number(int, 0), default=None,
                        help="random-shift augmentation; 0: none")
    parser.add_argument("--embed-dim", type=count, default=None)
    parser.add_argument("--depth", type=count, default=None)
    parser.add_argument("--num-heads", type=count, default=None)
    parser.add_argument("--patch-drop-rate", type=_number(float, 0, 1), default=None,
                        help="share of patch tokens dropped in training, in [0, 1)")
    parser.add_argument("--train-subset", type=count, default=None,
                        help="train on the first N training images")
    parser.add_argument("--threads", type=count, default=None, help="torch threads per process")
    parser.add_argument("--no-progress", action="store_true",
                        help="one line per epoch instead of a bar")
    return parser


def prepare(args: argparse.Namespace) -> tuple[DataSplits, Trainer]:
    """The data and a ready trainer for parsed `args`.

    Bad values and files raise CommandLineError.
    """
    vit_fields, train_fields = (dict(fields) for fields in RECIPES[args.data])
    for name in ("embed_dim", "depth", "num_heads", "patch_drop_rate"):
        if getattr(args, name) is not None:
            vit_fields[name] = getattr(args, name)
    for name in ("epochs", "batch_size", "lr", "max_shift"):
        if getattr(args, name) is not None:
            train_fields[name] = getattr(args, name)
    if args.out.exists() and not args.out.is_dir():
        raise CommandLineError(f"--out {args.out} is a file; it must be a folder "
                               "(it is created if missing)")
    if args.data_dir is not None and not args.data_dir.is_dir():
        raise CommandLineError(f"--data-dir {args.data_dir}: no such folder")
    if args.resume is not None and not args.resume.is_file():
        raise CommandLineError(f"--resume {args.resume}: no such file")
    try:
        config = TrainConfig(**train_fields, seed=args.seed)
        model_config = ViTConfig(**vit_fields)
        data = load_dataset(args.data, args.data_dir)
    except (ValueError, FileNotFoundError) as err:
        raise CommandLineError(str(err)) from None
    if args.train_subset:
        data.train = data.train.subset(range(min(args.train_subset, len(data.train))))
    torch.manual_seed(args.seed)
    model = VisionTransformer(model_config)
    try:
        trainer = Trainer(model, data, config, progress=not args.no_progress,
                          verbose=args.no_progress)
        if args.resume is not None:
            trainer.load(args.resume)
    except ValueError as err:
        raise CommandLineError(f"--resume {err}" if args.resume is not None else str(err)) from None
    return data, trainer


def main(argv: list[str] | None = None) -> dict:
    """The command line: train, save `--out`/checkpoint.pt and metrics.json, print test accuracy.

    Bad options and files end the program with one `error: ...` line on stderr and exit status 2.
    """
    try:
        args = build_parser().parse_args(argv)
        if args.threads:
            torch.set_num_threads(args.threads)
        rank, world_size = distributed_context()
        data, trainer = prepare(args)
    except CommandLineError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    model, config = trainer.model, trainer.config
    if rank == 0:
        params = sum(p.numel() for p in model.parameters())
        print(f"{args.data} {data.sizes()} | ViT with {params:,} parameters | {world_size} process"
              f"{'es' if world_size > 1 else ''} x {torch.get_num_threads()} thread(s)", flush=True)
    start = time.perf_counter()
    trainer.fit(checkpoint=args.out / "checkpoint.pt")
    seconds = time.perf_counter() - start
    # with the recipe's TTA, if any
    test, val = trainer.evaluate(data.test), trainer.evaluate(data.val)
    result = {"data": args.data, "seed": args.seed, "epochs": config.epochs,
              "world_size": world_size,
              "test_acc": test["acc"], "test_loss": test["loss"], "val_acc": val["acc"],
              "train_seconds": seconds}
    if world_size > 1:
        result["rank_weight_spread"] = spread = trainer.rank_weight_spread()
        if rank == 0:
            print(f"weights on the {world_size} processes agree: max |Δ| = {spread:.1e}")
    if rank == 0:
        (args.out / "metrics.json").write_text(json.dumps(result, indent=2))
        print(f"test accuracy {test['acc']:.4f} on {len(data.test)} images "
              f"(val {result['val_acc']:.4f}, {seconds:.1f} s of training)", flush=True)
    if world_size > 1:
        dist.destroy_process_group()
    return result


if __name__ == "__main__" and "__file__" in globals():   # run as a script, not as a notebook cell
    main()
