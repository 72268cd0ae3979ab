# Generated from chapters/01_patches.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/01_patches.md, cell 30 ---
"""The stages of the shape map, and a recorder that modules report each stage's shape to.

Outside a `with recording():` block `record` does nothing but return its input, and under
`torch.compile` it is not even traced.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum

import torch

# what `import vit_lib` offers from this module; the rest is importable from it by name
__all__ = ["Stage", "ShapeRow"]


# --- chapters/01_patches.md, cell 31 ---
class Stage(Enum):
    """The 16 stages of the shape map, in the order the model computes them.

    Each member holds the stage's number (its row in the shape map), its name, and the chapter
    that builds it; that chapter labels the section as `stage-<number>` (`anchor`). Stage 12
    happens twice per block (`norm1` before attention, `norm2` before the feed-forward network);
    `record` tells them apart by its `part` argument.
    """

    INPUT = (1, "input", "01_patches")
    PATCH_EMBED = (2, "patch embedding", "01_patches")
    CLASS_TOKEN = (3, "class token", "02_tokens")
    POS_EMBED = (4, "positional embedding", "02_tokens")
    QKV = (5, "q, k, v (each)", "03_qkv_heads")
    SPLIT_HEADS = (6, "split heads", "03_qkv_heads")
    SCORES = (7, "scores", "04_attention_scores")
    SOFTMAX = (8, "softmax", "04_attention_scores")
    WEIGHTED_VALUES = (9, "weighted values", "04_attention_scores")
    MERGE_HEADS = (10, "merge heads", "05_merge_heads")
    PROJ_RESIDUAL = (11, "output projection + residual", "05_merge_heads")
    NORM = (12, "LayerNorm", "06_layernorm")
    FFN_RESIDUAL = (13, "feed-forward + residual", "07_ffn")
    ENCODER = (14, "encoder (+ final norm)", "08_encoder")
    POOL = (15, "pooling", "09_pool_head")
    HEAD = (16, "classification head", "09_pool_head")

    def __init__(self, number: int, label: str, chapter: str) -> None:
        self.number, self.label, self.chapter = number, label, chapter

    @property
    def anchor(self) -> str:
        """The section of `chapter` that builds the stage: "stage-7" links to `04_...#stage-7`."""
        return f"stage-{self.number}"


# --- chapters/01_patches.md, cell 33 ---
@dataclass(frozen=True)
class ShapeRow:
    """One recorded stage: which stage, the tensor's shape, where it ran (e.g. "block 0")."""

    stage: Stage
    shape: tuple[int, ...]
    where: str = ""
    part: str = ""       # which site of a stage that occurs twice, e.g. "norm1"

    @property
    def step(self) -> int:
        """The stage's number in the shape map."""
        return self.stage.number

    @property
    def label(self) -> str:
        return f"{self.stage.label} ({self.part})" if self.part else self.stage.label


_rows: ContextVar[list[ShapeRow] | None] = ContextVar("vit_lib_shape_rows", default=None)
_scope: ContextVar[str] = ContextVar("vit_lib_shape_scope", default="")


# --- chapters/01_patches.md, cell 35 ---
def record(stage: Stage, x: torch.Tensor, part: str = "") -> torch.Tensor:
    """Note `x`'s shape as `stage` when a recording is active; return `x` unchanged."""
    if torch.compiler.is_compiling():
        return x
    rows = _rows.get()
    if rows is not None:
        rows.append(ShapeRow(stage, tuple(x.shape), _scope.get(), part))
    return x


# --- chapters/01_patches.md, cell 36 ---
@contextmanager
def recording() -> Iterator[list[ShapeRow]]:
    """Collect the `ShapeRow`s recorded inside the block into the list it yields."""
    rows: list[ShapeRow] = []
    token = _rows.set(rows)
    try:
        yield rows
    finally:
        _rows.reset(token)


# --- chapters/01_patches.md, cell 37 ---
@contextmanager
def scope(where: str) -> Iterator[None]:
    """Label the rows recorded inside the block (e.g. "block 0"); under `torch.compile`, nothing."""
    if torch.compiler.is_compiling():
        yield
        return
    token = _scope.set(where)
    try:
        yield
    finally:
        _scope.reset(token)


# --- chapters/01_patches.md, cell 38 ---
def format_rows(rows: list[ShapeRow]) -> str:
    """The rows as a plain-text table, one line per stage."""
    lines = [f"{'#':>3}  {'stage':<30} {'where':<9} shape"]
    lines += [f"{r.step:>3}  {r.label:<30} {r.where:<9} {r.shape}" for r in rows]
    return "\n".join(lines)
