# Generated from chapters/90_checkers.md, chapters/91_checkers_more.md by tools/literate.py.
# Edit the chapter, not this file: `make export` rewrites it, and `make check` (run by
# `make test` and CI) fails on any difference between this file and what the chapter exports.

# --- chapters/90_checkers.md, cell 4 ---
"""Exercise checkers: run a learner's function on small cases and explain what went wrong.

Each `check_*` function takes your function (or, for the MLP, a module factory), runs it on
several small cases including edge cases, compares the result with a reference, prints a
verdict and returns a `CheckResult`. When the answer is wrong it recomputes the known wrong
variants of the stage (the common mistakes) and, if your answer equals one, names the mistake.

Shapes: N batch, C/H/W image, P patch, T tokens, D width, h heads, d_h head width.
"""

import math
import numbers
import re
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

# what `import vit_lib.course` offers
__all__ = [
    "CheckResult", "check_patchify", "check_prepend_cls", "check_pos_embed_shape",
    "check_split_heads", "check_attention", "check_merge_heads", "check_layer_norm",
    "check_mlp_dropout", "check_pool", "check_num_tokens", "check_param_count",
    "check_split_qkv", "check_lr_schedule", "check_rollout", "check_glu",
    "check_block_counts", "check_rotate_pairs", "check_rope_angles", "check_repeat_kv",
]


@dataclass(frozen=True, repr=False)
class CheckResult:
    """A checker's verdict: `passed`, and the `message` it printed (with a hint on failure)."""

    check: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(check={self.check!r}, passed={self.passed})"


# --- chapters/90_checkers.md, cell 6 ---
@dataclass
class _Case:
    """One input for the learner's function: a label, positional and keyword arguments."""

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)


# (hint, variant): the variant computes a known wrong answer from a case's arguments,
# or returns None when the mistake does not apply to that case.
_Variant = tuple[str, Callable[..., Any]]

_RTOL, _ATOL = 1e-4, 1e-5


def _counts(*shape: int) -> torch.Tensor:
    """0, 1, 2, ... in float64, in the given shape: every entry different and easy to trace."""
    return torch.arange(math.prod(shape), dtype=torch.float64).reshape(shape)


def _randn(*shape: int, seed: int = 0, scale: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    """Seeded float64 normal noise that leaves the global random state alone."""
    generator = torch.Generator().manual_seed(seed)
    return shift + scale * torch.randn(*shape, generator=generator, dtype=torch.float64)


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (tuple, list)):
        return type(value)(_clone(v) for v in value)
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _unchanged(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, (tuple, list)):
        return all(_unchanged(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return all(_unchanged(a[k], b[k]) for k in a)
    return True


def _same(got: Any, want: Any) -> bool:
    """Equal within the tolerance (tensors) or exactly (integers, shapes)."""
    if want is None or got is None:
        return False
    if _is_parts(want):   # a tuple of tensors, where None stands for a missing part (a bias)
        return (
            isinstance(got, (tuple, list))
            and len(got) == len(want)
            and all(g is None if w is None else _same(g, w) for g, w in zip(got, want))
        )
    if isinstance(want, torch.Tensor):
        return (
            isinstance(got, torch.Tensor)
            and tuple(got.shape) == tuple(want.shape)
            and bool(torch.allclose(got.detach().double(), want.double(), rtol=_RTOL, atol=_ATOL))
        )
    if isinstance(want, numbers.Integral):
        return isinstance(got, numbers.Integral) and not isinstance(got, bool) and got == want
    return got == want


def _is_parts(value: Any) -> bool:
    """A tuple or list that holds tensors: several results, compared part by part."""
    return isinstance(value, (tuple, list)) and any(isinstance(v, torch.Tensor) for v in value)


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if _is_parts(value):
        shapes = [str(tuple(v.shape)) if isinstance(v, torch.Tensor) else repr(v) for v in value]
        return f"a {type(value).__name__} of {len(value)}: {', '.join(shapes)}"
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return f"shape {value}"
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return f"{type(value).__name__} {value:,}"   # 15,944,168: big counts stay readable
    return f"{type(value).__name__} {value!r}"


# --- chapters/90_checkers.md, cell 8 ---
def _wrap(message: str, width: int = 88) -> str:
    """Fold long lines under their label, so a hint stays readable in a notebook or a web page."""
    lines = []
    for line in message.split("\n"):
        label = re.match(r"\s*(\w+:\s+)?", line).end()
        lines.append(textwrap.fill(line, width, subsequent_indent=" " * label,
                                   break_long_words=False, break_on_hyphens=False))
    return "\n".join(lines)


def _finish(check: str, passed: bool, message: str, strict: bool) -> CheckResult:
    print(_wrap(message))
    if strict and not passed:
        raise AssertionError(message)
    return CheckResult(check, passed, message)


def _passed(check: str, cases: list[str], strict: bool) -> CheckResult:
    lines = [f"{check}: PASS ({len(cases)} cases)"] + [f"  ✓ {label}" for label in cases]
    return _finish(check, True, "\n".join(lines), strict)


def _failed(check: str, case: str, expected: str, got: str, hint: str, strict: bool) -> CheckResult:
    message = (
        f"{check}: FAIL on case: {case}\n"
        f"  expected: {expected}\n"
        f"  got:      {got}\n"
        f"  hint:     {hint}"
    )
    return _finish(check, False, message, strict)


def _diagnose(
    got: Any, want: Any, case: _Case, wrong: list[_Variant], parts: tuple[str, ...] = ()
) -> tuple[str, str]:
    """(what came back, hint) for a wrong answer: a known mistake's hint when one matches.

    `parts` names the items of a tuple result, so that the message can say which ones are wrong.
    """
    got_text = _describe(got)
    if (
        parts and _is_parts(want) and isinstance(got, (tuple, list))
        and len(got) == len(want) == len(parts)
    ):
        bad = [name for name, g, w in zip(parts, got, want)
               if not (g is None if w is None else _same(g, w))]
        got_text += "; wrong: " + ", ".join(bad)
    if isinstance(got, torch.Tensor) and isinstance(want, torch.Tensor) and got.shape == want.shape:
        if not torch.isfinite(got).all():
            return got_text + " containing NaN or inf", (
                "your result is not finite here; large scores overflow exp() — subtract each "
                "row's maximum before exponentiating, or use torch.softmax, which does"
            )
        delta = (got.detach().double() - want.double()).abs().max().item()
        got_text += f", max |Δ| = {delta:.1e}"
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in (got, want)):
        got_text += f", {abs(got - want):,} too {'many' if got > want else 'few'}"
    for hint, variant in wrong:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                candidate = variant(*_clone(case.args), **_clone(case.kwargs))
        except Exception:
            continue
        if _same(got, candidate):
            return got_text, hint
    if isinstance(want, numbers.Integral) and isinstance(got, float) and got == want:
        return got_text, "the number is right but it is a float: use // (integer division), not /"
    if isinstance(want, torch.Tensor) and not isinstance(got, torch.Tensor):
        return got_text, "return a torch.Tensor"
    if _is_parts(want) and not (isinstance(got, (tuple, list)) and len(got) == len(want)):
        return got_text, (f"return a tuple of {len(want)}"
                          + (f": ({', '.join(parts)})" if parts else ""))
    if isinstance(want, torch.Tensor) and tuple(got.shape) != tuple(want.shape):
        return got_text, (f"the shape should be {tuple(want.shape)}; "
                          "print the shape after each step of your function")
    return got_text, ("not one of the usual mistakes; "
                      "compare your steps with the chapter on this small case")


def _run(
    check: str,
    fn: Callable[..., Any],
    cases: list[_Case],
    reference: Callable[..., Any],
    expected: str,
    wrong: list[_Variant],
    raised: list[tuple[str, str]],
    strict: bool,
    parts: tuple[str, ...] = (),
) -> CheckResult:
    """Run `fn` on every case; fail on the first wrong one, with the best hint we have.

    `parts` names the items when the result is a tuple of tensors (see `_diagnose`).
    """
    for case in cases:
        want = reference(*_clone(case.args), **_clone(case.kwargs))
        expected_text = _describe(want) + (f" — {expected}" if expected else "")
        args, kwargs = _clone(case.args), _clone(case.kwargs)
        try:
            got = fn(*args, **kwargs)
        except Exception as err:  # the learner's bug, reported rather than raised
            text = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            hint = next((h for pattern, h in raised if re.search(pattern, str(err))), None)
            return _failed(check, case.label, expected_text, f"your function raised {text}",
                           hint or "read the error: it names the operation and the shapes involved",
                           strict)
        if not (_unchanged(args, case.args) and _unchanged(kwargs, case.kwargs)):
            return _failed(check, case.label, expected_text, "an input changed in place",
                           "don't modify the inputs (e.g. x -= m, x.transpose_()); "
                           "write x = x - m instead",
                           strict)
        if not _same(got, want):
            got_text, hint = _diagnose(got, want, case, wrong, parts)
            return _failed(check, case.label, expected_text, got_text, hint, strict)
    return _passed(check, [c.label for c in cases], strict)


# --- chapters/90_checkers.md, cell 10 ---
def _patchify_reference(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    n, c, h, w = images.shape
    p = patch_size
    x = images.reshape(n, c, h // p, p, w // p, p)            # (N, C, H/P, P, W/P, P)
    x = x.permute(0, 2, 4, 1, 3, 5)                           # (N, H/P, W/P, C, P, P)
    return x.reshape(n, (h // p) * (w // p), c * p * p)       # (N, T-1, C*P*P)


def _patchify_order(order: tuple[int, ...]) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """A patchify that permutes the (N, C, H/P, P, W/P, P) axes into `order` (a wrong one)."""

    def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
        n, c, h, w = images.shape
        p = patch_size
        x = images.reshape(n, c, h // p, p, w // p, p).permute(*order)
        return x.reshape(n, (h // p) * (w // p), c * p * p)

    return patchify


def check_patchify(
    fn: Callable[[torch.Tensor, int], torch.Tensor], *, strict: bool = False
) -> CheckResult:
    """Check `fn(images, patch_size)`: (N, C, H, W) -> (N, T-1, C*P*P), row-major patches.

    Args:
        fn: your patchify function.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("N=2, C=3, 8×8 images, P=4", (_counts(2, 3, 8, 8), 4)),
        _Case("non-square 8×12 images, C=2, P=4", (_counts(1, 2, 8, 12), 4)),
        _Case("P equals the image size: one patch", (_counts(2, 3, 4, 4), 4)),
        _Case("P=1: every pixel is a patch", (_counts(1, 2, 3, 3), 1)),
    ]
    wrong = [
        ("a plain reshape mixes pixels of different patches: split H into (H/P, P) and W into "
         "(W/P, P), permute the two grid axes to the front, then flatten",
         lambda x, p: x.reshape(x.shape[0], (x.shape[2] // p) * (x.shape[3] // p), -1)),
        ("inside a patch the order is (channel, row, column), like a Conv2d kernel (C, P, P); "
         "yours is (row, column, channel): permute to (N, H/P, W/P, C, P, P)",
         _patchify_order((0, 2, 4, 3, 5, 1))),
        ("patches are numbered row by row (patch t is at grid row t // (W/P)); yours go column "
         "by column: the grid axes must come in the order (H/P, W/P)",
         _patchify_order((0, 4, 2, 1, 3, 5))),
        ("inside a patch, rows come before columns: (channel, row, column)",
         _patchify_order((0, 2, 4, 1, 5, 3))),
        ("F.unfold puts the patch axis last, (N, C*P*P, T-1): add .transpose(1, 2)",
         lambda x, p: F.unfold(x, kernel_size=p, stride=p)),
    ]
    raised = [(r"shape '\[.*\]' is invalid for input of size",
               "a reshape got the wrong sizes; compute H/P and W/P from images.shape "
               "(are you assuming square images?)")]
    return _run("check_patchify", fn, cases, _patchify_reference,
                "(N, T-1, C*P*P), patches row by row, (channel, row, column) inside",
                wrong, raised, strict)


# --- chapters/90_checkers.md, cell 15 ---
def _prepend_reference(tokens: torch.Tensor, cls_token: torch.Tensor) -> torch.Tensor:
    return torch.cat([cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)  # (N, T, D)


def check_prepend_cls(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], *, strict: bool = False
) -> CheckResult:
    """Check `fn(tokens, cls_token)`: (N, T-1, D) and (1, 1, D) -> (N, T, D), class token first.

    Args:
        fn: your function.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("N=2, T-1=4 patches, D=3", (_counts(2, 4, 3), -1.0 - _counts(1, 1, 3))),
        _Case("one image, one patch, D=5", (_counts(1, 1, 5), -1.0 - _counts(1, 1, 5))),
        _Case("N=3, D=1", (_counts(3, 2, 1), -torch.ones(1, 1, 1, dtype=torch.float64))),
    ]
    wrong = [
        ("the class token goes in front, at position 0: torch.cat([cls, tokens], dim=1), "
         "not after the patches",
         lambda t, c: torch.cat([t, c.expand(t.shape[0], -1, -1)], dim=1)),
        ("prepend the class token as a new token (torch.cat along dim=1); adding it to the patch "
         "tokens keeps T-1 tokens",
         lambda t, c: t + c),
        ("the class token is an extra token: keep all T-1 patch tokens and put it in front of them",
         lambda t, c: torch.cat([c.expand(t.shape[0], -1, -1), t[:, 1:]], dim=1)),
    ]
    raised = [
        (r"Sizes of tensors must match|Tensors must have same number of dimensions|Expected size",
         "the class token is (1, 1, D): expand it to the batch first, cls_token.expand(N, -1, -1), "
         "then torch.cat([cls, tokens], dim=1)"),
    ]
    return _run("check_prepend_cls", fn, cases, _prepend_reference,
                "(N, T, D), the class token at position 0", wrong, raised, strict)


# --- chapters/90_checkers.md, cell 18 ---
def _shape_or_value(value: Any) -> Any:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else value


def check_pos_embed_shape(
    fn: Callable[[int, int], torch.Tensor], *, strict: bool = False
) -> CheckResult:
    """Check `fn(num_patches, embed_dim)` returns a (1, num_patches + 1, embed_dim) position table.

    Args:
        fn: your function that creates the (learned) position embedding.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("16 patches, D=8", (16, 8)),
        _Case("one patch, D=4", (1, 4)),
        _Case("196 patches (ViT-B/16), D=12", (196, 12)),
    ]
    wrong = [
        ("the class token needs a position too: the table has num_patches + 1 rows, one per token",
         lambda n, d: (1, n, d)),
        ("keep the leading batch axis of size 1, (1, T, D), so the table broadcasts over the batch",
         lambda n, d: (n + 1, d)),
        ("the axes are (1, T, D): tokens first, then the width",
         lambda n, d: (1, d, n + 1)),
    ]
    return _run("check_pos_embed_shape", lambda n, d: _shape_or_value(fn(n, d)), cases,
                lambda n, d: (1, n + 1, d), "(1, T, D) with T = num_patches + 1", wrong, [], strict)


# --- chapters/90_checkers.md, cell 21 ---
def _split_reference(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    n, t, inner = x.shape
    return x.reshape(n, t, num_heads, inner // num_heads).transpose(1, 2)   # (N, h, T, d_h)


def check_split_heads(
    fn: Callable[[torch.Tensor, int], torch.Tensor], *, strict: bool = False
) -> CheckResult:
    """Check `fn(x, num_heads)`: (N, T, h*d_h) -> (N, h, T, d_h).

    Head i holds the features i*d_h ... (i+1)*d_h - 1.

    Args:
        fn: your split_heads function.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("N=2, T=5, h=3, d_h=4", (_counts(2, 5, 12), 3)),
        _Case("one token: T=1, h=2, d_h=4", (_counts(1, 1, 8), 2)),
        _Case("one head: h=1, d_h=6", (_counts(2, 3, 6), 1)),
        _Case("d_h=1: as many heads as features", (_counts(1, 4, 4), 4)),
    ]
    wrong = [
        ("a view straight to (N, h, T, d_h) cuts the token sequence, not the features: view as "
         "(N, T, h, d_h) first, then .transpose(1, 2)",
         lambda x, h: x.reshape(x.shape[0], h, x.shape[1], x.shape[2] // h)),
        ("each head's d_h features are contiguous: view the last axis as (h, d_h), not (d_h, h)",
         lambda x, h: x.reshape(x.shape[0], x.shape[1], x.shape[2] // h, h).permute(0, 3, 1, 2)),
        ("you stopped at (N, T, h, d_h): swap the token and head axes with .transpose(1, 2)",
         lambda x, h: x.reshape(x.shape[0], x.shape[1], h, x.shape[2] // h)),
    ]
    raised = [(r"shape '\[.*\]' is invalid for input of size",
               "compute d_h = x.shape[-1] // num_heads from the input instead of a fixed number")]
    return _run("check_split_heads", fn, cases, _split_reference, "(N, h, T, d_h)",
                wrong, raised, strict)


# --- chapters/90_checkers.md, cell 24 ---
def _attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float, dim: int = -1
) -> torch.Tensor:
    weights = torch.softmax((q @ k.transpose(-2, -1)) * scale, dim=dim)   # (N, h, T, T)
    return weights @ v                                                    # (N, h, T, d_h)


def _attention_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return _attend(q, k, v, q.shape[-1] ** -0.5)


def check_attention(fn: Callable[..., Any], *, strict: bool = False) -> CheckResult:
    """Check `fn(q, k, v)` = softmax(q kᵀ / sqrt(d_h)) v for (N, h, T, d_h) inputs.

    Args:
        fn: your attention; it may return the output or a tuple (output, weights).
        strict: raise AssertionError on failure instead of only printing it.
    """

    def output_of(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> Any:
        out = fn(q, k, v)
        return out[0] if isinstance(out, (tuple, list)) else out

    def qkv(n: int, h: int, t: int, d: int, seed: int, scale: float = 1.0) -> tuple:
        return tuple(_randn(n, h, t, d, seed=seed + i, scale=scale) for i in range(3))

    cases = [
        _Case("N=2, h=3, T=5, d_h=4", qkv(2, 3, 5, 4, seed=0)),
        _Case("d_h=16, T=7", qkv(1, 2, 7, 16, seed=10)),
        _Case("one token: T=1, the output is v", qkv(1, 2, 1, 4, seed=20)),
        _Case("large scores (inputs × 30): the softmax must be stable",
              qkv(1, 1, 4, 4, seed=30, scale=30.0)),
    ]
    wrong = [
        ("the scale is d_h ** -0.5 = 1/√d_h; you wrote d_h * -0.5 (a multiplication: the `**` is "
         "missing), which flips the sign of the scores and attends to the least similar keys",
         lambda q, k, v: _attend(q, k, v, q.shape[-1] * -0.5)),
        ("divide the scores by √d_h (multiply by d_h ** -0.5); without it the softmax saturates",
         lambda q, k, v: _attend(q, k, v, 1.0)),
        ("the scale is 1/√d_h, not 1/d_h: use d_h ** -0.5",
         lambda q, k, v: _attend(q, k, v, 1.0 / q.shape[-1])),
        ("divide by √d_h, don't multiply: the scale is d_h ** -0.5, not d_h ** 0.5",
         lambda q, k, v: _attend(q, k, v, q.shape[-1] ** 0.5)),
        ("softmax over the last axis (the keys), so that each query's weights sum to 1; you "
         "normalised over the queries (dim=-2)",
         lambda q, k, v: _attend(q, k, v, q.shape[-1] ** -0.5, dim=-2)),
        ("softmax over the last axis (the keys); you normalised over the heads (dim=1)",
         lambda q, k, v: _attend(q, k, v, q.shape[-1] ** -0.5, dim=1)),
        ("apply a softmax to the scaled scores before weighting the values",
         lambda q, k, v: ((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5) @ v),
        ("you returned the attention weights (N, h, T, T); "
         "return weights @ v, shape (N, h, T, d_h)",
         lambda q, k, v: torch.softmax((q @ k.transpose(-2, -1)) * q.shape[-1] ** -0.5, dim=-1)),
    ]
    raised = [(r"size of tensor a .* must match|cannot be multiplied|mat1 and mat2|batch2 tensor",
               "the scores are q @ k.transpose(-2, -1): transpose the last two axes of k")]
    return _run("check_attention", output_of, cases, _attention_reference,
                "softmax(q kᵀ / √d_h) v", wrong, raised, strict)


# --- chapters/90_checkers.md, cell 30 ---
def _merge_reference(x: torch.Tensor) -> torch.Tensor:
    n, h, t, d = x.shape
    return x.transpose(1, 2).reshape(n, t, h * d)   # (N, T, h*d_h)


def check_merge_heads(
    fn: Callable[[torch.Tensor], torch.Tensor], *, strict: bool = False
) -> CheckResult:
    """Check `fn(x)`: (N, h, T, d_h) -> (N, T, h*d_h), head i in features i*d_h ... (i+1)*d_h - 1.

    Args:
        fn: your merge_heads function.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("N=2, h=3, T=5, d_h=4", (_counts(2, 3, 5, 4),)),
        _Case("one head: h=1", (_counts(1, 1, 3, 4),)),
        _Case("one token: T=1", (_counts(2, 2, 1, 3),)),
    ]
    wrong = [
        ("a view/reshape straight from (N, h, T, d_h) to (N, T, h*d_h) scrambles tokens across "
         "heads (and raises no error): .transpose(1, 2) back to (N, T, h, d_h) first",
         lambda x: x.reshape(x.shape[0], x.shape[2], -1)),
        ("the heads go one after another: (N, T, h, d_h) -> (N, T, h*d_h); yours interleave "
         "them (the axes were (N, T, d_h, h))",
         lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1)),
        ("you stopped at (N, T, h, d_h): flatten the last two axes, .reshape(N, T, h * d_h)",
         lambda x: x.transpose(1, 2)),
    ]
    raised = [(r"view size is not compatible|contiguous",
               "after .transpose the tensor is not contiguous, so .view fails: "
               "use .reshape(N, T, h * d_h) or .contiguous().view(...)")]
    return _run("check_merge_heads", fn, cases, _merge_reference,
                "(N, T, h*d_h), the heads one after another", wrong, raised, strict)


# --- chapters/90_checkers.md, cell 33 ---
def _layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-6,
    correction: int = 0, dims: tuple[int, ...] = (-1,), eps_inside: bool = True,
) -> torch.Tensor:
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, keepdim=True, correction=correction)
    std = (var + eps).sqrt() if eps_inside else var.sqrt() + eps
    return (x - mean) / std * weight + bias


def check_layer_norm(
    fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], *, strict: bool = False
) -> CheckResult:
    """Check `fn(x, weight, bias)`: LayerNorm over the last axis, biased variance, eps = 1e-6.

    Args:
        fn: your layer_norm function; x is (N, T, D), weight and bias are (D,).
        strict: raise AssertionError on failure instead of only printing it.
    """

    def affine(d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        return _randn(d, seed=seed, scale=0.2, shift=1.0), _randn(d, seed=seed + 1, scale=0.2)

    cases = [
        _Case("N=2, T=5, D=8, a fresh LayerNorm (weight 1, bias 0)",
              (_randn(2, 5, 8, seed=0, scale=2.0), torch.ones(8, dtype=torch.float64),
               torch.zeros(8, dtype=torch.float64))),
        _Case("tiny tokens: values ≈ 1e-3, variance ≈ 1e-6, as small as eps",
              (_randn(1, 3, 8, seed=3, scale=1e-3), *affine(8, 4))),
        _Case("one token, D=16, learned weight and bias",
              (_randn(1, 1, 16, seed=6, scale=10.0), *affine(16, 7))),
    ]
    wrong = [
        ("eps is 1e-6 in ViT and timm; you used 1e-5 (PyTorch's nn.LayerNorm default). It only "
         "shows on tokens whose variance is near eps, like these",
         lambda x, w, b: _layer_norm(x, w, b, eps=1e-5)),
        ("use the biased variance (divide by D, not D - 1): x.var(-1, unbiased=False), or "
         "((x - mean) ** 2).mean(-1)",
         lambda x, w, b: _layer_norm(x, w, b, correction=1)),
        ("eps goes inside the square root: (x - mean) / sqrt(var + eps)",
         lambda x, w, b: _layer_norm(x, w, b, eps_inside=False)),
        ("normalise each token over its D features (the last axis); "
         "you normalised over the tokens (dim=1)",
         lambda x, w, b: _layer_norm(x, w, b, dims=(1,))),
        ("normalise each token on its own, over the last axis only; "
         "you used the whole (T, D) slice",
         lambda x, w, b: _layer_norm(x, w, b, dims=(1, 2))),
        ("after normalising, scale by weight and shift by bias: y = x_hat * weight + bias",
         lambda x, w, b: _layer_norm(x, torch.ones_like(w), torch.zeros_like(b))),
    ]
    return _run("check_layer_norm", fn, cases, _layer_norm,
                "(x - mean) / sqrt(var + 1e-6) * weight + bias over the last axis",
                wrong, [], strict)


# --- chapters/90_checkers.md, cell 37 ---
def _zero_fraction(x: torch.Tensor) -> float:
    return (x == 0).double().mean().item()


def check_mlp_dropout(make_mlp: Callable[..., nn.Module], *, strict: bool = False) -> CheckResult:
    """Check an MLP factory `make_mlp(in_features, hidden_features, drop=p)` and its dropout.

    Args:
        make_mlp: a function or class that builds the feed-forward module.
        strict: raise AssertionError on failure instead of only printing it.
    """
    check, dim, hidden, p = "check_mlp_dropout", 8, 16, 0.25
    labels = [
        "two Linear layers, D=8 -> D_ff=16 -> D=8",
        "eval mode: fc2(GELU(fc1(x)))",
        "drop=0.0 in training mode: nothing dropped",
        "drop=0.5 in eval mode: nothing dropped",
        "drop=0.25 in training mode: dropout after GELU and after fc2, kept values scaled",
    ]

    def fail(step: int, expected: str, got: str, hint: str) -> CheckResult:
        return _failed(check, labels[step], expected, got, hint, strict)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        x = _randn(4, 64, dim, seed=0)                                # (N, T, D)
        modules = {}
        for drop in (0.0, 0.5, p):
            try:
                modules[drop] = make_mlp(dim, hidden, drop=drop).double()
            except Exception as err:
                return fail(0, "an nn.Module", f"make_mlp raised {type(err).__name__}: {err}",
                            "make_mlp(in_features, hidden_features, drop=p) must build the module, "
                            "e.g. a class whose __init__ takes "
                            "(in_features, hidden_features, *, drop)")
        linears = [m for m in modules[0.0].modules() if isinstance(m, nn.Linear)]
        widths = [(m.in_features, m.out_features) for m in linears]
        if widths != [(dim, hidden), (hidden, dim)]:
            return fail(0, f"Linear layers {[(dim, hidden), (hidden, dim)]} (in, out)",
                        f"Linear layers {widths}",
                        "fc1 widens each token from D to D_ff, fc2 brings it back to D; "
                        "define fc1 before fc2")
        fc1, fc2 = linears

        mlp = modules[0.0].eval()
        want = fc2(F.gelu(fc1(x))).detach()                           # (N, T, D)
        variants = [
            ("ViT uses GELU, not ReLU: nn.GELU()", lambda: fc2(F.relu(fc1(x)))),
            ("ViT and timm use the exact GELU (nn.GELU(), approximate='none'), "
             "not the tanh approximation",
             lambda: fc2(F.gelu(fc1(x), approximate="tanh"))),
            ("apply the GELU between fc1 and fc2", lambda: fc2(fc1(x))),
        ]
        with torch.no_grad():
            got = mlp(x)
        if not _same(got, want):
            hint = next((h for h, v in variants if _same(got, v().detach())),
                        "compute fc2(GELU(fc1(x))) and apply dropout only in training mode")
            return fail(1, f"{_describe(want)}, fc2(GELU(fc1(x)))", _describe(got), hint)

        with torch.no_grad():
            got = modules[0.0].train()(x)
        if not _same(got, want):
            return fail(2, "the eval-mode output (dropout with p = 0 keeps everything)",
                        f"{_zero_fraction(got):.0%} of the outputs are zero",
                        "nn.Dropout() without an argument has p = 0.5: "
                        "pass the probability, nn.Dropout(drop)")

        mlp = modules[0.5].eval()
        lin1, lin2 = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
        with torch.no_grad():
            got, want_half = mlp(x), lin2(F.gelu(lin1(x)))
        if not _same(got, want_half):
            return fail(3, "fc2(GELU(fc1(x))): no dropout in eval mode",
                        f"{_zero_fraction(got):.0%} of the outputs are zero",
                        "dropout must switch off in eval mode: use nn.Dropout modules, or "
                        "F.dropout(x, p, training=self.training)")

        mlp = modules[p].train()
        lin1, lin2 = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
        seen = {}
        handle = lin2.register_forward_pre_hook(
            lambda module, args: seen.setdefault("hidden", args[0].detach()))
        try:
            with torch.no_grad():
                torch.manual_seed(1)
                out = mlp(x)
        finally:
            handle.remove()
        hidden_act = seen["hidden"]                                   # (N, T, D_ff), after dropout
        with torch.no_grad():
            clean = F.gelu(lin1(x))                                   # (N, T, D_ff), before dropout
            pre_drop2 = lin2(hidden_act)                              # (N, T, D)
        f_hidden, f_out = _zero_fraction(hidden_act), _zero_fraction(out)
        expected = f"about {p:.0%} zeros after GELU and after fc2"
        got_text = f"{f_hidden:.0%} zeros after GELU, {f_out:.0%} after fc2"
        if abs(f_hidden - 0.5) < 0.05 or abs(f_out - 0.5) < 0.05:
            return fail(4, expected, got_text,
                        "nn.Dropout() without an argument has p = 0.5: "
                        "pass the probability, nn.Dropout(drop)")
        if f_hidden < 0.05:
            return fail(4, expected, got_text,
                        "add dropout after the GELU (timm's drop1), before fc2")
        if f_out < 0.05:
            return fail(4, expected, got_text, "add dropout after fc2 as well (timm's drop2)")
        if abs(f_hidden - p) > 0.05 or abs(f_out - p) > 0.05:
            return fail(4, expected, got_text,
                        "use the probability the factory was given: nn.Dropout(drop)")
        kept = hidden_act != 0
        if not torch.allclose(hidden_act[kept], clean[kept] / (1 - p), rtol=_RTOL, atol=_ATOL):
            return fail(4, "kept activations = GELU(fc1(x)) / (1 - p)", "other values",
                        "dropout goes after the activation, and nn.Dropout scales the kept values "
                        "by 1/(1 - p); don't rescale them yourself")
        kept = out != 0
        if not torch.allclose(out[kept], pre_drop2[kept] / (1 - p), rtol=_RTOL, atol=_ATOL):
            return fail(4, "kept outputs = fc2(...) / (1 - p)", "other values",
                        "the last dropout acts on fc2's output, and nn.Dropout scales the kept "
                        "values by 1/(1 - p)")
    return _passed(check, labels, strict)


# --- chapters/90_checkers.md, cell 41 ---
def _pool_reference(x: torch.Tensor, global_pool: str) -> torch.Tensor:
    return x[:, 0] if global_pool == "token" else x[:, 1:].mean(dim=1)   # (N, D)


def check_pool(
    fn: Callable[[torch.Tensor, str], torch.Tensor], *, strict: bool = False
) -> CheckResult:
    """Check `fn(x, global_pool)`: (N, T, D) -> (N, D) for global_pool 'token' and 'avg'.

    Args:
        fn: your pooling function; the class token is at position 0.
        strict: raise AssertionError on failure instead of only printing it.
    """
    x = _randn(2, 5, 3, seed=0)
    short = _randn(3, 2, 4, seed=1)
    cases = [
        _Case("'token', N=2, T=5, D=3", (x, "token")),
        _Case("'avg', N=2, T=5, D=3", (x, "avg")),
        _Case("'avg' with one patch: T=2", (short, "avg")),
        _Case("'token' with one patch: T=2", (short, "token")),
    ]
    wrong = [
        ("'avg' averages the patch tokens only: x[:, 1:].mean(dim=1); you included the class token",
         lambda x, g: x.mean(dim=1) if g == "avg" else None),
        ("the class token is the first token, x[:, 0], not the last",
         lambda x, g: x[:, -1] if g == "token" else None),
        ("'token' takes the class token x[:, 0]; averaging is what 'avg' does",
         lambda x, g: x[:, 1:].mean(dim=1) if g == "token" else None),
        ("'avg' is a mean, not a sum: divide by the number of patch tokens, or use .mean(dim=1)",
         lambda x, g: x[:, 1:].sum(dim=1) if g == "avg" else None),
        ("average over the tokens (dim=1), not over the width",
         lambda x, g: x[:, 1:].mean(dim=-1) if g == "avg" else x.mean(dim=-1)),
        ("drop the token axis: x[:, 0] gives (N, D), x[:, :1] keeps (N, 1, D)",
         lambda x, g: x[:, :1] if g == "token" else x[:, 1:].mean(dim=1, keepdim=True)),
    ]
    return _run("check_pool", fn, cases, _pool_reference, "(N, D): x[:, 0] or the mean of x[:, 1:]",
                wrong, [], strict)


# --- chapters/90_checkers.md, cell 44 ---
def check_num_tokens(fn: Callable[..., int], *, strict: bool = False) -> CheckResult:
    """Check `fn(img_size, patch_size, class_token=True)` returns T = (img_size/patch_size)² (+ 1).

    Args:
        fn: your function; square images of side img_size, square patches of side patch_size.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("32×32 images, P=8 (the seed configuration)", (32, 8)),
        _Case("224×224, P=16 (ViT-B/16)", (224, 16)),
        _Case("224×224, P=14", (224, 14)),
        _Case("P equals the image size: one patch", (32, 32)),
        _Case("224×224, P=16, no class token", (224, 16), {"class_token": False}),
    ]

    def reference(img: int, patch: int, class_token: bool = True) -> int:
        return (img // patch) ** 2 + int(class_token)

    wrong = [
        ("add 1 for the class token: T = (H/P)(W/P) + 1",
         lambda img, patch, class_token=True: (img // patch) ** 2 if class_token else None),
        ("the patches form a 2-D grid: (H/P) · (W/P) of them, not H/P",
         lambda img, patch, class_token=True: img // patch + int(class_token)),
        ("count patches, not pixels: (H/P) · (W/P); H·W/P is off by a factor P",
         lambda img, patch, class_token=True: img * img // patch + int(class_token)),
        ("without a class token there is no extra token: T = (H/P)(W/P)",
         lambda img, patch, class_token=True: (img // patch) ** 2 + 1),
    ]
    raised = [(r"unexpected keyword argument 'class_token'",
               "add a parameter class_token: bool = True to your function")]
    return _run("check_num_tokens", fn, cases, reference, "", wrong, raised, strict)


# --- chapters/90_checkers.md, cell 46 ---
def _vit_params(
    *, img_size: int, patch_size: int, in_chans: int, embed_dim: int, depth: int, num_heads: int,
    head_dim: int, mlp_hidden: int, num_classes: int,
    bias: bool = True, cls_position: bool = True, cls_token: bool = True, inner: int | None = None,
    block_norms: bool = True, final_norm: bool = True,
) -> int:
    """Parameters of a timm-style ViT; the keyword switches build the known wrong counts."""
    d, b = embed_dim, int(bias)
    inner = num_heads * head_dim if inner is None else inner
    tokens = (img_size // patch_size) ** 2 + int(cls_position)
    patch = d * in_chans * patch_size**2 + b * d
    block = (
        (4 * d if block_norms else 0)
        + d * 3 * inner + b * 3 * inner                  # qkv: D -> 3 h d_h
        + inner * d + b * d                              # proj: h d_h -> D
        + d * mlp_hidden + b * mlp_hidden                # fc1
        + mlp_hidden * d + b * d                         # fc2
    )
    head = d * num_classes + b * num_classes
    return (patch + d * int(cls_token) + tokens * d + depth * block
            + (2 * d if final_norm else 0) + head)


def check_param_count(fn: Callable[..., int], *, strict: bool = False) -> CheckResult:
    """Check `fn(**sizes)` counts the parameters of a ViT.

    It is called as `fn(img_size=..., patch_size=..., in_chans=..., embed_dim=..., depth=...,
    num_heads=..., head_dim=..., mlp_hidden=..., num_classes=...)`.

    Args:
        fn: your function, called with keyword arguments only.
        strict: raise AssertionError on failure instead of only printing it.
    """
    seed = dict(img_size=32, patch_size=8, in_chans=3, embed_dim=1024, depth=2, num_heads=12,
                head_dim=64, mlp_hidden=2048, num_classes=1000)
    vit_b16 = dict(img_size=224, patch_size=16, in_chans=3, embed_dim=768, depth=12, num_heads=12,
                   head_dim=64, mlp_hidden=3072, num_classes=1000)
    tiny = dict(img_size=8, patch_size=4, in_chans=1, embed_dim=4, depth=1, num_heads=1,
                head_dim=4, mlp_hidden=8, num_classes=0)
    cases = [
        _Case("the seed configuration, depth 2 (h·d_h = 768 ≠ D = 1024)", (), seed),
        _Case("ViT-B/16 (timm: 86,567,656)", (), vit_b16),
        _Case("a tiny ViT without a head (K=0)", (), tiny),
    ]
    wrong = [
        ("with h·d_h ≠ D, qkv is Linear(D → 3·h·d_h) and proj is Linear(h·d_h → D); "
         "you counted them as D-wide",
         lambda **c: _vit_params(**c, inner=c["embed_dim"])),
        ("the class token needs a position too: the position table has T = patches + 1 rows",
         lambda **c: _vit_params(**c, cls_position=False)),
        ("count the class token itself: one learned D-vector",
         lambda **c: _vit_params(**c, cls_token=False)),
        ("every Linear (and the patch projection) has a bias: add out_features for each",
         lambda **c: _vit_params(**c, bias=False)),
        ("each LayerNorm has a weight and a bias of D numbers: two per block, "
         "and one after the last block",
         lambda **c: _vit_params(**c, block_norms=False, final_norm=False)),
        ("don't forget the final LayerNorm after the last block (2·D parameters)",
         lambda **c: _vit_params(**c, final_norm=False)),
        ("each block has two LayerNorms (norm1 and norm2), 2·D parameters each",
         lambda **c: _vit_params(**c, block_norms=False)),
    ]
    return _run("check_param_count", fn, cases, _vit_params, "", wrong, [], strict)


# --- chapters/90_checkers.md, cell 50 ---
_QKV_PARTS = ("w_q", "w_k", "w_v", "b_q", "b_k", "b_v")


def _split_qkv_reference(weight: torch.Tensor, bias: torch.Tensor | None, num_heads: int) -> tuple:
    w_q, w_k, w_v = weight.chunk(3, dim=0)                     # 3 × (h*d_h, D): rows [q | k | v]
    b_q, b_k, b_v = bias.chunk(3) if bias is not None else (None, None, None)   # 3 × (h*d_h,)
    return w_q, w_k, w_v, b_q, b_k, b_v


def _split_qkv_interleaved(
    weight: torch.Tensor, bias: torch.Tensor | None, num_heads: int
) -> tuple:
    """The per-head layout (h, 3, d_h): rows q_0 k_0 v_0 q_1 k_1 v_1 ... (not timm's)."""
    h, d = num_heads, weight.shape[1]
    w = weight.reshape(h, 3, -1, d)                            # (h, 3, d_h, D)
    ws = [w[:, i].reshape(-1, d) for i in range(3)]            # 3 × (h*d_h, D)
    bs = ([bias.reshape(h, 3, -1)[:, i].reshape(-1) for i in range(3)]
          if bias is not None else [None] * 3)
    return (*ws, *bs)


def _split_qkv_order(order: tuple[int, int, int]) -> Callable[..., tuple]:
    """A split that returns the three thirds in a wrong `order` (indices into q, k, v)."""

    def split(weight: torch.Tensor, bias: torch.Tensor | None, num_heads: int) -> tuple:
        parts = _split_qkv_reference(weight, bias, num_heads)
        return tuple(parts[i] for i in order) + tuple(parts[3 + i] for i in order)

    return split


def check_split_qkv(
    fn: Callable[[torch.Tensor, torch.Tensor | None, int], tuple], *, strict: bool = False
) -> CheckResult:
    """Check `fn(weight, bias, num_heads)` cuts timm's fused qkv into q, k and v.

    `weight` is (3*h*d_h, D) with rows [q | k | v], each head by head; `bias` is (3*h*d_h,) or
    None. `fn` returns (w_q, w_k, w_v, b_q, b_k, b_v): weights (h*d_h, D), biases (h*d_h,) or None.

    Args:
        fn: your split_qkv function.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("h=2, d_h=2, D=6 (h·d_h = 4 ≠ D), with a bias",
              (_counts(12, 6), 1000 + _counts(12), 2)),
        _Case("no bias (qkv_bias=False): h=3, d_h=2, D=4", (_counts(18, 4), None, 3)),
        _Case("one head: h=1, d_h=4, D=4", (_counts(12, 4), 1000 + _counts(12), 1)),
        _Case("d_h=1: h=4, D=3", (_counts(12, 3), 1000 + _counts(12), 4)),
    ]
    names = "qkv"
    wrong = [
        ("the q, k, v thirds are the rows of the weight (its output features), so chunk along "
         "dim=0; dim=-1 cuts the input features. (For the activations qkv(x), (N, T, 3·h·d_h), "
         "the last axis is the right one; for the weight, (3·h·d_h, D), it is the first.)",
         lambda w, b, h: (*w.chunk(3, dim=-1), *(b.chunk(3) if b is not None else (None,) * 3))),
        ("timm's rows are (3, h, d_h): all of q, then all of k, then all of v, each head by head; "
         "yours assume a per-head layout (h, 3, d_h), q₀ k₀ v₀ q₁ k₁ v₁ … — num_heads is not even "
         "needed: weight.chunk(3, dim=0)",
         _split_qkv_interleaved),
        *[("the thirds come in the order q, k, v "
           "(indices 0, 1, 2 of timm's reshape(N, T, 3, h, d_h)); "
           f"yours returns them as {', '.join(names[i] for i in order)}", _split_qkv_order(order))
          for order in [(0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]],
        ("split the bias too: its 3·h·d_h entries are in the same [q | k | v] order as the rows, "
         "bias.chunk(3); return None only when the bias is None",
         lambda w, b, h: (*w.chunk(3), None, None, None) if b is not None else None),
        ("each part gets its own third of the bias, (h·d_h,), in the same [q | k | v] order: "
         "bias.chunk(3)",
         lambda w, b, h: (*w.chunk(3), b, b, b) if b is not None else None),
        ("nn.Linear stores its weight as (out_features, in_features): keep each part (h·d_h, D), "
         "don't transpose it",
         lambda w, b, h: (*(p.t() for p in w.chunk(3)),
                          *(b.chunk(3) if b is not None else (None,) * 3))),
    ]
    raised = [
        (r"NoneType", "with qkv_bias=False the bias is None: return None for b_q, b_k and b_v"),
        (r"Dimension out of range",
         "the bias is 1-D, (3·h·d_h,): its thirds are bias.chunk(3), along dim=0 — "
         "like the weight's, which are its rows"),
        (r"not enough values to unpack \(expected 3",
         "chunk(3) gave fewer than 3 pieces, so that axis is not "
         "3·h·d_h long: the q, k, v thirds are the rows, dim=0"),
    ]
    return _run("check_split_qkv", fn, cases, _split_qkv_reference,
                "(w_q, w_k, w_v, b_q, b_k, b_v), rows [q | k | v]",
                wrong, raised, strict, _QKV_PARTS)


# --- chapters/91_checkers_more.md, cell 4 ---
def _lr_schedule(
    step: int, total_steps: int, warmup_steps: int, peak_lr: float, min_lr: float = 0.0, *,
    warmup: str = "from_step_1", decay_shift: int = 0, clamp: bool = True, angle: float = math.pi,
    shape: str = "cosine", from_zero: bool = False, floor: bool = True,
) -> float:
    """Warm-up + cosine as in `vit_lib.train.WarmupCosine`.

    The keywords build the known wrong ones.
    """
    w, s = warmup_steps, step
    if warmup == "from_step_1" and s < w:
        return peak_lr * (s + 1) / w
    if warmup == "from_zero" and s < w:
        return peak_lr * s / w
    if warmup == "to_step_w" and s <= w:                           # `<=`: one step too many
        return peak_lr * (s + 1) / w
    start = 0 if warmup == "none" or from_zero else w
    progress = (s - start) / max(1, total_steps - start + decay_shift)
    progress = min(1.0, progress) if clamp else progress
    low = min_lr if floor else 0.0
    if shape == "linear":
        return low + (peak_lr - low) * (1.0 - progress)
    if shape == "unscaled":                                        # min_lr added, not blended
        return min_lr + peak_lr * 0.5 * (1.0 + math.cos(angle * progress))
    return low + (peak_lr - low) * 0.5 * (1.0 + math.cos(angle * progress))


def _lr_curve(fn: Callable[..., float]) -> Callable[..., torch.Tensor]:
    """The rates fn gives at steps 0, 1, ..., total_steps, as one float64 tensor (S+1,)."""

    def curve(total_steps: int, warmup_steps: int, peak_lr: float, **kwargs: float) -> torch.Tensor:
        rates = [float(fn(s, total_steps, warmup_steps, peak_lr, **kwargs))
                 for s in range(total_steps + 1)]
        return torch.tensor(rates, dtype=torch.float64)           # (S+1,)

    return curve


def check_lr_schedule(fn: Callable[..., float], *, strict: bool = False) -> CheckResult:
    """Check `fn(step, total_steps, warmup_steps, peak_lr, min_lr=0.0)`: linear warm-up then cosine.

    The convention is `vit_lib.train.WarmupCosine`'s: step s < w gets (s + 1) / w * peak_lr, then
    min_lr + (peak_lr - min_lr) * (1 + cos(pi * p)) / 2 with p = (s - w) / (total_steps - w), so
    the rate is min_lr exactly at step total_steps.

    Args:
        fn: your function, called at every step 0, ..., total_steps of each case.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("warm-up 3 of 10 steps, peak 1.0, min_lr 0.1", (10, 3, 1.0), {"min_lr": 0.1}),
        _Case("no warm-up (warmup_steps = 0), 8 steps, peak 2.0, min_lr left at its default 0.0",
              (8, 0, 2.0)),
        _Case("a single warm-up step of 12, peak 0.5, min_lr 0.05", (12, 1, 0.5), {"min_lr": 0.05}),
    ]
    early = ("the cosine must reach min_lr exactly at step total_steps: "
             "progress = (step − warmup_steps) / (total_steps − warmup_steps); "
             "yours gets there one step early")
    wrong = [
        ("the rate should first rise linearly over warmup_steps steps; "
         "yours starts the cosine at step 0 at the peak (no warm-up)",
         lambda *a, **k: _lr_schedule(*a, **k, warmup="none")),
        ("warm-up counts from 1 here: step s < warmup_steps gets (s + 1) / warmup_steps · peak_lr, "
         "so step 0 already trains and step warmup_steps − 1 reaches the peak; "
         "yours starts at 0 and peaks one step late",
         lambda *a, **k: _lr_schedule(*a, **k, warmup="from_zero")),
        ("your warm-up overshoots: with step <= warmup_steps, step warmup_steps gets "
         "(warmup_steps + 1) / warmup_steps · peak_lr, above the peak; "
         "the warm-up is the steps with step < warmup_steps",
         lambda *a, **k: _lr_schedule(*a, **k, warmup="to_step_w")),
        ("math.cos works in radians: half a cosine is cos(π · progress), not cos(180 · progress)",
         lambda *a, **k: _lr_schedule(*a, **k, angle=180.0)),
        ("the decay is half a cosine, min_lr + (peak_lr − min_lr) · (1 + cos(π · progress)) / 2; "
         "yours falls on a straight line",
         lambda *a, **k: _lr_schedule(*a, **k, shape="linear")),
        (early, lambda *a, **k: _lr_schedule(*a, **k, decay_shift=-1)),
        (early, lambda *a, **k: _lr_schedule(*a, **k, decay_shift=-1, clamp=False)),
        ("your cosine never reaches min_lr: at step total_steps progress must be 1, so divide by "
         "total_steps − warmup_steps, not total_steps − warmup_steps + 1",
         lambda *a, **k: _lr_schedule(*a, **k, decay_shift=1)),
        ("the cosine starts where the warm-up ends: "
         "progress = (step − warmup_steps) / (total_steps − warmup_steps); "
         "yours measures it from step 0",
         lambda *a, **k: _lr_schedule(*a, **k, from_zero=True)),
        ("the cosine ends at min_lr, not at 0: "
         "min_lr + (peak_lr − min_lr) · (1 + cos(π · progress)) / 2",
         lambda *a, **k: _lr_schedule(*a, **k, floor=False)),
        ("scale the cosine by (peak_lr − min_lr): "
         "adding min_lr to peak_lr · (1 + cos) / 2 starts the decay above the peak",
         lambda *a, **k: _lr_schedule(*a, **k, shape="unscaled")),
    ]
    raised = [
        (r"unexpected keyword argument 'min_lr'",
         "add a parameter min_lr: float = 0.0 to your function"),
        (r"division by zero",
         "with warmup_steps = 0 there is no warm-up: skip it (step < 0 never holds) "
         "instead of dividing by warmup_steps"),
    ]
    return _run("check_lr_schedule", _lr_curve(fn), cases, _lr_curve(_lr_schedule),
                "the rate at steps 0, 1, …, total_steps", [(h, _lr_curve(v)) for h, v in wrong],
                raised, strict)


# --- chapters/91_checkers_more.md, cell 10 ---
def _attention_maps(
    n: int, layers: int, heads: int, tokens: int, seed: int, sharpness: float = 1.0
) -> list:
    """L random attention maps (N, h, T, T) whose rows are probability distributions."""
    return [_randn(n, heads, tokens, tokens, seed=seed + i,
                   scale=sharpness).softmax(dim=-1)   # (N, h, T, T)
            for i in range(layers)]


def _rollout(
    maps: list[torch.Tensor], *, heads: str = "mean", identity: bool = True,
    renormalise: bool = True, order: str = "first_on_right",
) -> torch.Tensor:
    """Attention rollout, R = Â_L ... Â_1; the keywords build the known wrong variants."""
    attn = torch.stack(list(maps), dim=1)                          # (N, L, h, T, T)
    attn = attn.mean(dim=2) if heads == "mean" else attn.amax(dim=2)   # (N, L, T, T)
    if identity:
        attn = attn + torch.eye(attn.shape[-1], dtype=attn.dtype)  # (N, L, T, T)
    if renormalise:
        attn = attn / attn.sum(dim=-1, keepdim=True)
    if order == "average":
        return attn.mean(dim=1)                                    # (N, T, T)
    rollout = attn[:, 0]                                           # (N, T, T)
    for layer in range(1, attn.shape[1]):
        step = attn[:, layer]                                      # (N, T, T)
        rollout = step @ rollout if order == "first_on_right" else rollout @ step
    return rollout


def check_rollout(fn: Callable[[list], torch.Tensor], *, strict: bool = False) -> CheckResult:
    """Check `fn(maps)`: L attention maps (N, h, T, T), first block first -> the rollout (N, T, T).

    Args:
        fn: your rollout function.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("N=2, L=3 layers, h=2 heads, T=4 tokens", (_attention_maps(2, 3, 2, 4, seed=0),)),
        _Case("one head: N=1, L=4, h=1, T=5", (_attention_maps(1, 4, 1, 5, seed=10),)),
        _Case("one layer (L=1): the rollout is that layer's Â",
              (_attention_maps(2, 1, 3, 3, seed=20),)),
        _Case("sharp, nearly one-hot rows: N=1, L=2, h=4, T=6",
              (_attention_maps(1, 2, 4, 6, seed=30, sharpness=6.0),)),
    ]
    wrong = [
        ("add the identity for the residual path, Â = rownorm(Ā + I): "
         "without it the product mixes the tokens far too fast and forgets which token is which",
         lambda maps: _rollout(maps, identity=False)),
        ("renormalise the rows after adding the identity: the rows of Ā + I sum to 2, "
         "so the product grows like 2^L (or use ½·Ā + ½·I directly)",
         lambda maps: _rollout(maps, renormalise=False)),
        ("the first layer goes on the right: R = Â_L ⋯ Â_2 Â_1, i.e. rollout = Â_ℓ @ rollout; "
         "yours multiplies rollout @ Â_ℓ, which chains the layers backwards",
         lambda maps: _rollout(maps, order="first_on_left")),
        ("average the heads (mean over dim=1 of each (N, h, T, T) map); yours takes their maximum",
         lambda maps: _rollout(maps, heads="max")),
        ("average the heads, not the maximum, and renormalise the rows: "
         "yours takes the maximum and skips the renormalisation",
         lambda maps: _rollout(maps, heads="max", renormalise=False)),
        ("multiply the layers, R = Â_L ⋯ Â_1; yours averages them",
         lambda maps: _rollout(maps, order="average")),
    ]
    raised = [(r"must match the size|size of tensor a",
               "average the heads first: each map (N, h, T, T) becomes (N, T, T), "
               "then add the (T, T) identity")]
    return _run("check_rollout", fn, cases, _rollout, "R = Â_L ⋯ Â_1, rows sum to 1",
                wrong, raised, strict)


# --- chapters/91_checkers_more.md, cell 14 ---
def _glu(x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor,
         b2: torch.Tensor, *, act: Callable = F.silu, gate_last: bool = False,
         split: str = "halves") -> torch.Tensor:
    """A gated MLP; the keywords build the known wrong variants."""
    h = F.linear(x, w1, b1)                                        # (..., 2H)
    gate, value = h.chunk(2, dim=-1) if split == "halves" else (h[..., ::2], h[..., 1::2])
    if gate_last:
        gate, value = value, gate
    return F.linear(act(gate) * value, w2, b2)                     # (..., D)


def check_glu(fn: Callable[..., torch.Tensor], *, strict: bool = False) -> CheckResult:
    """Check `fn(x, w1, b1, w2, b2)`: SwiGLU, silu(first half of fc1) * second half, then fc2.

    Args:
        fn: your gated MLP.
        strict: raise AssertionError on failure instead of only printing it.
    """

    def weights(d: int, hidden: int, seed: int) -> tuple:
        return (_randn(2 * hidden, d, seed=seed, scale=0.5), _randn(2 * hidden, seed=seed + 1),
                _randn(d, hidden, seed=seed + 2, scale=0.5), _randn(d, seed=seed + 3))

    cases = [
        _Case("N=2 images, T=3 tokens, D=4, H=6", (_randn(2, 3, 4, seed=0), *weights(4, 6, 1))),
        _Case("one token: (1, 1, D=8), H=4", (_randn(1, 1, 8, seed=10), *weights(8, 4, 11))),
        _Case("a hidden width of one: D=3, H=1", (_randn(5, 3, seed=20), *weights(3, 1, 21))),
    ]
    wrong = [
        ("the gate is the first half: silu(first) * second; yours gates with the second half "
         "(timm's default gate_last=True, which SwiGLUPacked and this chapter do not use)",
         lambda *a: _glu(*a, gate_last=True)),
        ("SwiGLU uses SiLU, x · sigmoid(x); yours uses GELU (that is GeGLU)",
         lambda *a: _glu(*a, act=F.gelu)),
        ("SwiGLU uses SiLU, x · sigmoid(x); yours uses the sigmoid alone (the original GLU)",
         lambda *a: _glu(*a, act=torch.sigmoid)),
        ("split fc1's output into two halves with chunk(2, dim=-1); yours takes every other "
         "feature", lambda *a: _glu(*a, split="alternate")),
    ]
    raised = [(r"shapes cannot be multiplied|size of tensor a",
               "fc1 makes 2·H features: split them into two halves of H, gate one with the "
               "other, and give the H-wide product to fc2")]
    return _run("check_glu", fn, cases, _glu, "silu(first half) * second half, then fc2",
                wrong, raised, strict)


# --- chapters/91_checkers_more.md, cell 18 ---
def _block_counts(bitmap: torch.Tensor, *, order: str = "blocks", reduce: str = "sum",
                  transpose: bool = False) -> torch.Tensor:
    """Ink per 4 x 4 block of an (H, W) bitmap; the keywords build the known wrong variants."""
    h, w = bitmap.shape
    if order == "rows":                        # 16 consecutive pixels of the flat bitmap
        blocks = bitmap.reshape(h // 4, w // 4, 16)
    elif order == "sample":                    # one pixel per block
        return bitmap[::4, ::4] * (16 if reduce == "sum" else 1)
    else:
        blocks = bitmap.reshape(h // 4, 4, w // 4, 4).permute(0, 2, 1, 3)      # (H/4, W/4, 4, 4)
        blocks = blocks.reshape(h // 4, w // 4, 16)
    out = blocks.sum(-1) if reduce == "sum" else blocks.mean(-1)     # (H/4, W/4)
    return out.T if transpose else out


def check_block_counts(fn: Callable[..., torch.Tensor], *, strict: bool = False) -> CheckResult:
    """Check `fn(bitmap)`: an (H, W) bitmap of 0s and 1s -> the ink in each 4 x 4 block,
    (H / 4, W / 4).

    Args:
        fn: your counting function.
        strict: raise AssertionError on failure instead of only printing it.
    """
    generator = torch.Generator().manual_seed(0)
    drawing = (torch.rand(32, 32, generator=generator) < 0.3).double()
    one_pixel = torch.zeros(32, 32, dtype=torch.float64)
    one_pixel[5, 30] = 1.0                             # block (1, 7)
    wide = (torch.rand(8, 12, generator=generator) < 0.5).double()
    cases = [
        _Case("a 32 × 32 drawing, about 30 % ink", (drawing,)),
        _Case("one inked pixel at row 5, column 30: block (1, 7) holds 1", (one_pixel,)),
        _Case("all ink: every block holds 16", (torch.ones(32, 32, dtype=torch.float64),)),
        _Case("a wide bitmap, 8 × 12 -> 2 × 3", (wide,)),
    ]
    wrong = [
        ("a block is 4 rows of 4 pixels: reshape to (H/4, 4, W/4, 4) and sum over axes 1 and 3; "
         "reshaping the flat bitmap into groups of 16 takes 16 pixels of one row instead",
         lambda b: _block_counts(b, order="rows")),
        ("count the inked pixels (sum, 0 to 16), as the digits were made; yours averages them",
         lambda b: _block_counts(b, reduce="mean")),
        ("rows of blocks first: block (i, j) covers rows 4i to 4i + 3 and columns 4j to 4j + 3; "
         "yours is transposed",
         lambda b: _block_counts(b, transpose=True)),
        ("count every pixel of a block, not only its top-left one",
         lambda b: _block_counts(b, order="sample", reduce="mean")),
    ]
    raised = [(r"shape '\[.*\]' is invalid",
               "the bitmap's height and width are multiples of 4: H // 4 blocks of 4 rows, "
               "W // 4 blocks of 4 columns")]
    return _run("check_block_counts", fn, cases, _block_counts, "ink per 4 × 4 block, 0 to 16",
                wrong, raised, strict)


# --- chapters/91_checkers_more.md, cell 22 ---
def _turn(x: torch.Tensor, angles: torch.Tensor, *, sign: float = 1.0, half: bool = False,
          layout: str = "interleave") -> torch.Tensor:
    """Pairs of x turned by angles; the keywords build the known wrong variants."""
    cos, sin = angles.cos(), sign * angles.sin()                   # (..., L, d_h/2)
    if layout == "interleave":
        cos, sin = cos.repeat_interleave(2, -1), sin.repeat_interleave(2, -1)
    else:                                                          # [f0, f1, ..., f0, f1, ...]
        cos, sin = torch.cat([cos, cos], -1), torch.cat([sin, sin], -1)
    if half:
        first, second = x.chunk(2, dim=-1)
        partner = torch.cat([-second, first], dim=-1)
    else:
        partner = torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)
    return x * cos + partner * sin                                 # (..., L, d_h)


def check_rotate_pairs(fn: Callable[..., torch.Tensor], *, strict: bool = False) -> CheckResult:
    """Check `fn(x, angles)`: x (..., L, d_h), angles (..., L, d_h / 2) -> x with each pair of
    neighbouring features turned by its angle, (..., L, d_h).

    Args:
        fn: your rotation.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("L=6 patches, d_h=8", (_randn(6, 8, seed=0), _randn(6, 4, seed=1, scale=2.0))),
        _Case("a batch of heads: (N=2, h=3, L=4, d_h=4)",
              (_randn(2, 3, 4, 4, seed=2), _randn(4, 2, seed=3, scale=2.0))),
        _Case("one patch, d_h=12", (_randn(1, 12, seed=4), _randn(1, 6, seed=5, scale=2.0))),
        _Case("angles of zero leave x as it is", (_randn(3, 8, seed=6), torch.zeros(3, 4,
                                                                            dtype=torch.float64))),
    ]
    wrong = [
        ("each pair turns the wrong way round: (a, b) turned by θ is (a cos θ − b sin θ, "
         "a sin θ + b cos θ), so the partner of a is −b and the partner of b is +a",
         lambda x, angles: _turn(x, angles, sign=-1.0)),
        ("pair neighbouring features, (x0, x1), (x2, x3), ...; yours pairs each feature with the "
         "one d_h / 2 further on (timm's rotate_half layout, which DINOv3 uses)",
         lambda x, angles: _turn(x, angles, half=True, layout="halves")),
        ("repeat each angle for the two features of its pair (repeat_interleave(2, -1)); "
         "torch.cat([angles, angles]) gives feature 1 the angle of pair 1, not of pair 0",
         lambda x, angles: _turn(x, angles, layout="halves")),
    ]
    raised = [(r"size of tensor a \(\d+\) must match the size of tensor b",
               "angles has d_h / 2 columns, x has d_h: give each pair's angle to both of its "
               "features with repeat_interleave(2, -1)")]
    return _run("check_rotate_pairs", fn, cases, _turn, "each pair of neighbours turned",
                wrong, raised, strict)


def _axial_angles(grid: tuple[int, int], head_dim: int, temperature: float = 10000.0, *,
                  indexing: str = "ij", step: int = 4, interleave: bool = False) -> torch.Tensor:
    """The axial RoPE angle table (gh * gw, head_dim / 2); keywords build the wrong variants."""
    quarter = head_dim // 4
    frequencies = temperature ** (-torch.arange(quarter, dtype=torch.float64) * step / head_dim)
    sizes = grid if indexing == "ij" else (grid[1], grid[0])
    a, b = torch.meshgrid(torch.arange(sizes[0], dtype=torch.float64),
                          torch.arange(sizes[1], dtype=torch.float64), indexing=indexing)
    first, second = a.reshape(-1, 1) * frequencies, b.reshape(-1, 1) * frequencies
    if interleave:
        return torch.stack([first, second], -1).reshape(first.shape[0], -1)
    return torch.cat([first, second], dim=-1)                          # (L, head_dim/2)


def check_rope_angles(fn: Callable[..., torch.Tensor], *, strict: bool = False) -> CheckResult:
    """Check `fn(grid, head_dim, temperature)` -> the axial RoPE angle table
    (gh * gw, head_dim / 2): row angles first, then column angles, patches in row-major order.

    Args:
        fn: your angle table.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("the seed: a 4 × 4 grid, d_h=64", ((4, 4), 64, 10000.0)),
        _Case("a non-square grid: 2 × 3, d_h=8", ((2, 3), 8, 10000.0)),
        _Case("one patch: 1 × 1, d_h=16", ((1, 1), 16, 10000.0)),
        _Case("temperature 100 (DINOv3's base): 3 × 2, d_h=8", ((3, 2), 8, 100.0)),
    ]
    wrong = [
        ("the first half of the angles turns with the row, the second with the column; "
         "yours has them the other way round (a grid in 'xy' order)",
         lambda grid, d, t: _axial_angles(grid, d, t, indexing="xy")),
        ("each axis has head_dim / 4 frequencies, temperature ** (-k / (head_dim / 4)); "
         "yours divides by head_dim / 2, the spacing of a 1-D RoPE, and turns too slowly",
         lambda grid, d, t: _axial_angles(grid, d, t, step=2)),
        ("give each axis one half of the angles: [row angles, column angles], not row and "
         "column angles alternating pair by pair",
         lambda grid, d, t: _axial_angles(grid, d, t, interleave=True)),
    ]
    return _run("check_rope_angles", fn, cases, _axial_angles,
                "rows then columns, head_dim / 4 frequencies each", wrong, [], strict)


# --- chapters/91_checkers_more.md, cell 26 ---
def _repeat_kv(x: torch.Tensor, num_heads: int, *, tile: bool = False,
               axis: int = 1) -> torch.Tensor:
    """Key heads (N, h_kv, T, d_h) repeated to h; the keywords build the known wrong variants."""
    groups = num_heads // x.shape[1]
    if tile:
        return x.repeat(*[groups if i == axis else 1 for i in range(x.ndim)])
    return x.repeat_interleave(groups, dim=axis)


def check_repeat_kv(fn: Callable[..., torch.Tensor], *, strict: bool = False) -> CheckResult:
    """Check `fn(x, num_heads)`: keys or values (N, h_kv, T, d_h) -> (N, h, T, d_h), query head
    i reading key/value head i // (h / h_kv).

    Args:
        fn: your repetition.
        strict: raise AssertionError on failure instead of only printing it.
    """
    cases = [
        _Case("the seed: 4 key heads for 12 query heads", (_randn(4, 4, 17, 64, seed=0), 12)),
        _Case("2 key heads for 6 query heads, 3 tokens", (_randn(1, 2, 3, 4, seed=1), 6)),
        _Case("one key head for all 4 (multi-query)", (_randn(2, 1, 5, 8, seed=2), 4)),
        _Case("as many key heads as query heads: nothing to do", (_randn(2, 3, 5, 8, seed=3), 3)),
    ]
    wrong = [
        ("repeat each key head in place, [k0, k0, k0, k1, k1, k1, ...] (repeat_interleave); "
         "yours tiles them, [k0, k1, ..., k0, k1, ...], so neighbouring query heads read "
         "different key heads",
         lambda x, h: _repeat_kv(x, h, tile=True)),
        ("repeat along the heads axis (dim 1 of (N, h_kv, T, d_h)); yours repeats the tokens",
         lambda x, h: _repeat_kv(x, h, axis=2)),
    ]
    raised = []
    return _run("check_repeat_kv", fn, cases, _repeat_kv, "each key head repeated in place",
                wrong, raised, strict)
