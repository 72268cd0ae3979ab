# Generated from chapters/01_patches.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it and CI rejects hand edits.

# --- chapters/01_patches.md, cell 30 ---
"""Shape recording: modules report the shape of each stage; `recording()` collects the rows.

Outside a `with recording():` block `record` does nothing but return its input.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

import torch


# --- chapters/01_patches.md, cell 31 ---
@dataclass(frozen=True)
class ShapeRow:
    """One stage of the shape map: its number in SHAPES.md, its name, where it ran, its shape."""

    step: int
    stage: str
    shape: tuple[int, ...]
    where: str = ""


_rows: ContextVar[list[ShapeRow] | None] = ContextVar("vit_lib_shape_rows", default=None)
_scope: ContextVar[str] = ContextVar("vit_lib_shape_scope", default="")


# --- chapters/01_patches.md, cell 32 ---
def record(step: int, stage: str, x: torch.Tensor) -> torch.Tensor:
    """Note `x`'s shape as stage `step` when a recording is active; return `x` unchanged."""
    rows = _rows.get()
    if rows is not None:
        rows.append(ShapeRow(step, stage, tuple(x.shape), _scope.get()))
    return x


# --- chapters/01_patches.md, cell 33 ---
@contextmanager
def recording() -> Iterator[list[ShapeRow]]:
    """Collect the `ShapeRow`s recorded inside the block into the list it yields."""
    rows: list[ShapeRow] = []
    token = _rows.set(rows)
    try:
        yield rows
    finally:
        _rows.reset(token)


# --- chapters/01_patches.md, cell 34 ---
@contextmanager
def scope(where: str) -> Iterator[None]:
    """Label the rows recorded inside the block (e.g. "block 0")."""
    token = _scope.set(where)
    try:
        yield
    finally:
        _scope.reset(token)


# --- chapters/01_patches.md, cell 35 ---
def format_rows(rows: list[ShapeRow]) -> str:
    """The rows as a plain-text table, one line per stage."""
    lines = [f"{'#':>3}  {'stage':<30} {'where':<9} shape"]
    lines += [f"{r.step:>3}  {r.stage:<30} {r.where:<9} {r.shape}" for r in rows]
    return "\n".join(lines)
