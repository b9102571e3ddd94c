"""The short history the guard keeps: one small record per step, plain floats.

The loss, the gradient norm and the GradScaler's scale reach the host in one transfer per
step (the guard's only synchronisation); the learning rate is a Python float already.
Reading the history (did the gradient norm leave its range, and where; a clipping value
from the norms observed) happens once, at the failure.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

HISTORY = 512  # steps kept


@dataclass(frozen=True, slots=True)
class StepRecord:
    step: int
    loss: float
    grad_norm: float | None  # None: no model given
    lr: float | None
    scale: float | None  # the GradScaler's scale, when one is given

    @property
    def finite(self) -> bool:
        values = [self.loss] + ([self.grad_norm] if self.grad_norm is not None else [])
        return all(math.isfinite(v) for v in values)


class History:
    def __init__(self, size: int = HISTORY) -> None:
        self.records: deque[StepRecord] = deque(maxlen=size)

    def add(self, record: StepRecord) -> None:
        self.records.append(record)

    def __len__(self) -> int:
        return len(self.records)

    def last(self, n: int) -> list[StepRecord]:
        return list(self.records)[-n:]


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def _quantile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass(frozen=True, slots=True)
class Explosion:
    """The gradient norm left the range of the first steps and kept growing."""

    baseline: float  # median norm of the reference steps
    reference_steps: int
    left_at: int  # the first step whose norm left the range
    left_norm: float
    factor: float  # the largest finite norm after it / the baseline
    clip: float  # a max_norm for clip_grad_norm_, from the norms observed in range


def _round_up(x: float) -> float:
    """Two significant digits, rounded up (1.234 → 1.3)."""
    if x <= 0 or not math.isfinite(x):
        return x
    e = math.floor(math.log10(x)) - 1
    return math.ceil(x / 10**e) * 10**e if e < 0 else float(math.ceil(x / 10**e) * 10**e)


def find_explosion(
    records: Sequence[StepRecord], factor: float = 10.0, reference: int = 20
) -> Explosion | None:
    """Where the gradient norm left its range: the first step whose norm exceeds ``factor``
    times the median of the steps before it (the first ``reference`` of them at most), if
    most norms from there up to the failure (two thirds, two steps at least) stayed out of
    range: a lone spike long before the failure is no explosion, while a net that saturated
    at the end of an explosion (its norm back to normal for a step) still is one. A
    non-finite norm counts as out of range."""
    norms = [(r.step, r.grad_norm) for r in records if r.grad_norm is not None]
    for i in range(1, len(norms)):
        ref = [n for _, n in norms[: min(i, reference)] if math.isfinite(n) and n > 0]
        if not ref:
            continue
        base = _median(ref)
        step, n = norms[i]
        if math.isfinite(n) and n <= factor * base:
            continue
        after = [m for _, m in norms[i:]]
        out = [m for m in after if not math.isfinite(m) or m > factor * base]
        if len(out) < 2 or 3 * len(out) < 2 * len(after):
            continue
        in_range = [m for _, m in norms[:i] if math.isfinite(m) and m <= factor * base]
        finite_after = [m for m in after if math.isfinite(m)]
        top = max(finite_after) if finite_after else math.inf
        clip = _round_up(_quantile(in_range, 0.95)) if in_range else _round_up(base)
        return Explosion(base, len(ref), step, n, top / base if base else math.inf, clip)
    return None


def loss_jump(records: Sequence[StepRecord], factor: float = 100.0) -> int | None:
    """The step where the loss left the range of the steps before it by ``factor``, if it
    stayed out of range up to the failure."""
    losses = [(r.step, r.loss) for r in records]
    for i in range(1, len(losses)):
        ref = [abs(v) for _, v in losses[:i] if math.isfinite(v)]
        if not ref:
            continue
        base = max(_median(ref), 1e-12)
        if all(not math.isfinite(v) or abs(v) > factor * base for _, v in losses[i:]):
            return losses[i][0]
    return None
