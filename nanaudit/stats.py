"""Mergeable pixel and label statistics.

Everything here is pure data: small, frozen, picklable records whose ``merge`` is
associative, so that one process, a pool of processes, shards and a cache all combine
per-file results the same way.  Moments merge with Chan et al.'s parallel formula.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, overload

import numpy as np
import numpy.typing as npt

# ITU-R BT.601 luma weights, the ones Pillow's ``convert("L")`` uses.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


@dataclass(frozen=True, slots=True)
class ChannelStats:
    """Moments of one channel over its finite values, plus counts of the rest."""

    count: int  # finite values
    mean: float
    m2: float  # sum of squared deviations from the mean
    min: float  # +inf when count == 0
    max: float  # -inf when count == 0
    nan: int = 0
    inf: int = 0
    zeros: int = 0

    REPORTED: ClassVar[tuple[str, ...]] = ("std",)  # shown in the JSON report, derived

    @property
    def pixels(self) -> int:
        return self.count + self.nan + self.inf

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count else math.nan

    @classmethod
    def empty(cls) -> ChannelStats:
        return cls(0, 0.0, 0.0, math.inf, -math.inf)

    def merge(self, other: ChannelStats) -> ChannelStats:
        n = self.count + other.count
        if n == 0:
            mean, m2 = 0.0, 0.0
        elif self.count == 0:
            mean, m2 = other.mean, other.m2
        elif other.count == 0:
            mean, m2 = self.mean, self.m2
        else:
            delta = other.mean - self.mean
            mean = self.mean + delta * other.count / n
            m2 = self.m2 + other.m2 + delta * delta * self.count * other.count / n
        return ChannelStats(
            n,
            mean,
            m2,
            min(self.min, other.min),
            max(self.max, other.max),
            self.nan + other.nan,
            self.inf + other.inf,
            self.zeros + other.zeros,
        )


def merge_channels(
    a: Sequence[ChannelStats], b: Sequence[ChannelStats]
) -> tuple[ChannelStats, ...]:
    if len(a) != len(b):
        raise ValueError(f"cannot merge {len(a)}-channel stats with {len(b)}-channel stats")
    return tuple(x.merge(y) for x, y in zip(a, b, strict=True))


def channel_stats_from_histogram(
    counts: Sequence[int] | npt.NDArray[np.int64], offset: int = 0
) -> ChannelStats:
    """Exact moments from a histogram whose bin ``i`` counts the value ``i + offset``: a
    numpy array (np.bincount's), or a list (a band of Pillow's histogram, summed in
    Python without numpy's per-call cost). See :func:`channel_stats_from_histograms`."""
    if isinstance(counts, list):
        n = sum(counts)
        if n == 0:
            return ChannelStats.empty()
        s1 = sum(map(operator.mul, counts, range(len(counts))))
        s2 = sum(map(operator.mul, counts, _squares(len(counts))))
        first = next(i for i, c in enumerate(counts) if c)
        last = len(counts) - 1 - next(i for i, c in enumerate(reversed(counts)) if c)
        total = s1 + offset * n
        squares = s2 + 2 * offset * s1 + offset * offset * n
        zeros = counts[-offset] if 0 <= -offset < len(counts) else 0
        return _exact_moments(n, total, squares, first + offset, last + offset, zeros)
    return channel_stats_from_histograms(np.asarray(counts, dtype=np.int64)[None, :], offset)[0]


@functools.lru_cache(maxsize=4)
def _squares(bins: int) -> list[int]:
    return [v * v for v in range(bins)]


def _exact_moments(
    count: int, total: int, squares: int, lo: int, hi: int, zeros: int
) -> ChannelStats:
    """Moments from exact integer sums of the values (total) and their squares: the mean
    and m2 = (Q·n - S²)/n are each rounded once (Python's int division is exact)."""
    mean, m2 = total / count, (squares * count - total * total) / count
    return ChannelStats(count, mean, m2, float(lo), float(hi), 0, 0, zeros)


def channel_stats_from_histograms(
    counts: npt.NDArray[np.int64], offset: int = 0
) -> tuple[ChannelStats, ...]:
    """Exact moments of each row of a histogram (bin ``i`` counts the value ``i + offset``),
    in integer arithmetic: the sums of the values and of their squares are exact, and the
    mean S/n and m2 = (Q·n - S²)/n are each rounded once. They do not depend on the order
    of the bins or the pixels, so the same pixels have the same moments whichever decoder
    read them and whichever route summed them (duplicate fingerprints rely on it)."""
    h = np.asarray(counts, dtype=np.int64)
    rows, bins = h.shape
    if bins == 0:
        return tuple(ChannelStats.empty() for _ in range(rows))
    n = h.sum(axis=1)
    top = max(abs(offset), abs(offset + bins - 1), 1)
    if top * top * int(n.max(initial=0)) < 1 << 62:  # int64 sums cannot overflow
        sums = (h @ _moment_basis(bins, offset)).tolist()  # per row: n, Σv, Σv²
    else:
        sums = []
        for row in h:
            nz = np.flatnonzero(row)
            pairs = list(zip((nz + offset).tolist(), row[nz].tolist(), strict=True))
            sums.append(
                [
                    sum(c for _, c in pairs),
                    sum(x * c for x, c in pairs),
                    sum(x * x * c for x, c in pairs),
                ]
            )
    present = h > 0
    first = present.argmax(axis=1).tolist()
    last = (bins - 1 - present[:, ::-1].argmax(axis=1)).tolist()
    zeros = h[:, -offset].tolist() if 0 <= -offset < bins else [0] * rows
    return tuple(
        _exact_moments(count, total, squares, first[r] + offset, last[r] + offset, zeros[r])
        if count
        else ChannelStats.empty()
        for r, (count, total, squares) in enumerate(sums)
    )


@functools.lru_cache(maxsize=8)
def _moment_basis(bins: int, offset: int) -> npt.NDArray[np.int64]:
    """Columns 1, v and v² of the values v = offset … offset + bins - 1."""
    v = np.arange(offset, offset + bins, dtype=np.int64)
    return np.stack([np.ones_like(v), v, v * v], axis=1)


# Values per block of a float or wide-integer channel: the float64 temporaries of the
# moments stay at a few megabytes instead of twice the image (a 13000² float32 TIFF would
# otherwise need 2.7 GB of them). Blocks merge with Chan's formula.
MOMENT_BLOCK = 1 << 20


def channel_stats_from_array(a: npt.NDArray[np.generic]) -> ChannelStats:
    """Moments of one channel by the cheapest exact route for its dtype."""
    flat = a.reshape(-1)
    kind = flat.dtype.kind
    if kind == "b":
        flat = flat.view(np.uint8)
        kind = "u"
    if kind in "ui" and flat.dtype.itemsize <= 2:
        if kind == "i":
            offset = -(1 << (8 * flat.dtype.itemsize - 1))  # the type's minimum
            shifted = (flat.astype(np.int32) - offset).astype(np.uint16)
            return channel_stats_from_histogram(np.bincount(shifted), offset)
        return channel_stats_from_histogram(np.bincount(flat))
    if kind in "ui":
        if flat.size == 0:
            return ChannelStats.empty()
        lo, hi = int(flat.min()), int(flat.max())
        if hi - lo < (1 << 20):
            return channel_stats_from_histogram(np.bincount((flat - lo).astype(np.int64)), lo)
        return _blockwise(flat, _int_moments)
    if kind == "f":
        return _blockwise(flat, _float_moments)
    raise TypeError(f"unsupported pixel type {flat.dtype}")


def _blockwise(
    flat: npt.NDArray[Any], moments: Callable[[npt.NDArray[Any]], ChannelStats]
) -> ChannelStats:
    if flat.size <= MOMENT_BLOCK:
        return moments(flat)
    out = ChannelStats.empty()
    for start in range(0, flat.size, MOMENT_BLOCK):
        out = out.merge(moments(flat[start : start + MOMENT_BLOCK]))
    return out


def _int_moments(flat: npt.NDArray[Any]) -> ChannelStats:
    return _moments(flat.astype(np.float64), 0, 0, int(np.count_nonzero(flat == 0)))


def _float_moments(flat: npt.NDArray[Any]) -> ChannelStats:
    if flat.size == 0:
        return ChannelStats.empty()
    lo, hi = flat.min(), flat.max()  # NaN propagates: finite bounds mean finite data
    if math.isfinite(lo) and math.isfinite(hi):
        zeros = int(np.count_nonzero(flat == 0))
        return _moments(flat.astype(np.float64), 0, 0, zeros, float(lo), float(hi))
    finite = np.isfinite(flat)
    n_finite = int(np.count_nonzero(finite))
    nan = int(np.count_nonzero(np.isnan(flat))) if n_finite != flat.size else 0
    inf = flat.size - n_finite - nan
    values = (flat if n_finite == flat.size else flat[finite]).astype(np.float64)
    return _moments(values, nan, inf, int(np.count_nonzero(values == 0)))


def _moments(
    values: npt.NDArray[np.float64],
    nan: int,
    inf: int,
    zeros: int,
    lo: float | None = None,
    hi: float | None = None,
) -> ChannelStats:
    """Moments of ``values``, a fresh float64 array that is overwritten (the deviations
    take its place: no second array of the channel's size)."""
    n = int(values.size)
    if n == 0:
        return ChannelStats(0, 0.0, 0.0, math.inf, -math.inf, nan, inf, zeros)
    if lo is None or hi is None:
        lo, hi = float(values.min()), float(values.max())
    mean = float(values.mean())
    values -= mean
    return ChannelStats(n, mean, float(np.einsum("i,i->", values, values)), lo, hi, nan, inf, zeros)


def channels_last(a: npt.NDArray[np.generic]) -> list[npt.NDArray[np.generic]]:
    """The channels of an H×W or H×W×C array, as views."""
    if a.ndim == 2:
        return [a]
    return [a[..., c] for c in range(a.shape[2])]


def luminance(a: npt.NDArray[np.generic]) -> npt.NDArray[Any]:
    """Luma of an H×W(×C) array: BT.601 for 3/4 channels, the first for 1/2, else the mean.
    One channel is returned as it is (a view, no copy)."""
    if a.ndim == 2:
        return a
    c = a.shape[2]
    if c in (1, 2):
        return a[..., 0]
    if c in (3, 4):
        r, g, b = (a[..., i].astype(np.float64) for i in range(3))
        luma: npt.NDArray[np.float64] = (
            LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b
        )
        return luma
    mean: npt.NDArray[np.float64] = a.astype(np.float64).mean(axis=2)
    return mean


def percentile_from_histogram(
    counts: Sequence[int] | npt.NDArray[np.integer[Any]], q: float, offset: int = 0
) -> float:
    """The inverted-CDF percentile (numpy's ``method="inverted_cdf"``) of a histogram."""
    return percentiles_from_histogram(counts, (q,), offset)[0]


def percentiles_from_histogram(
    counts: Sequence[int] | npt.NDArray[np.integer[Any]], qs: Sequence[float], offset: int = 0
) -> tuple[float, ...]:
    """Inverted-CDF percentiles of a histogram, from one cumulative sum for all of them
    (in Python for a list, such as Pillow's 256 bins)."""
    if isinstance(counts, list):
        cum: Any = list(itertools.accumulate(counts))
        idx = [bisect.bisect_left(cum, q / 100.0 * cum[-1]) for q in qs] if cum else []
    else:
        cum = np.cumsum(np.asarray(counts, dtype=np.int64))
        targets = [q / 100.0 * int(cum[-1]) for q in qs] if cum.size else []
        idx = np.searchsorted(cum, targets, side="left").tolist()
    n = int(cum[-1]) if len(cum) else 0
    if n == 0:
        return tuple(math.nan for _ in qs)
    return tuple(float(min(i, len(cum) - 1) + offset) for i in idx)


def percentiles(values: npt.NDArray[np.generic], qs: Iterable[float]) -> tuple[float, ...]:
    """Inverted-CDF percentiles of the finite values (NaN when there are none), as numpy's
    ``percentile(method="inverted_cdf")`` gives them, from one partition for all of them."""
    qs = list(qs)
    v = values.reshape(-1)
    finite = np.isfinite(v)
    if not finite.all():
        v = v[finite]
    n = int(v.size)
    if n == 0:
        return tuple(math.nan for _ in qs)
    # the smallest value whose cumulative share reaches q: sorted index ceil(q·n) - 1
    ks = [min(max(math.ceil(q / 100 * n - 1e-9) - 1, 0), n - 1) for q in qs]
    part = np.partition(v, sorted(set(ks)))
    return tuple(float(part[k]) for k in ks)


def merge_histograms(
    a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    """Sum two sparse histograms given as sorted ``(value, count)`` pairs."""
    out: dict[int, int] = dict(a)
    for value, count in b:
        out[value] = out.get(value, 0) + count
    return tuple(sorted(out.items()))


def sparse_histogram(
    counts: Sequence[int] | npt.NDArray[np.int64], offset: int = 0
) -> tuple[tuple[int, int], ...]:
    h = np.asarray(counts, dtype=np.int64)
    nz = np.flatnonzero(h)
    return tuple((int(i) + offset, int(h[i])) for i in nz)


def blurred_binary_share(counts: Mapping[int, int]) -> float | None:
    """The share of the mask pixels at 0 or 255, when masks hold both and values in
    between, some of them near 255, and 0 and 255 cover at least 90% of the pixels
    (binary masks whose edges a lossy codec or a smooth resize spread); else None."""
    total = sum(counts.values())
    ends = counts.get(0, 0) + counts.get(255, 0)
    if not total or not counts.get(0) or not counts.get(255) or len(counts) < 3:
        return None
    if min(counts) < 0 or max(counts) > 255 or ends < 0.9 * total:
        return None
    if not any(127 < v < 255 for v in counts):  # labels 0-20 and a 255 border (VOC)
        return None
    return ends / total


FLOAT_ROWS = 1 << 16  # values a Floats hands to Python at a time when iterated


@dataclass(frozen=True, slots=True, eq=False)
class Floats(Sequence[float]):
    """A sorted multiset of floats in one column: little-endian float64, 8 bytes a value
    (a split's per-file values: ten million masks' valid shares take 80 MB, where a tuple
    of Python floats took 320 MB). NaN sorts last. Reads as the sorted tuple it replaces:
    its length, items, slices (lists) and iteration give Python floats; ``in`` and
    :meth:`bisect_left` search it; equal multisets are equal. Built by :meth:`of`."""

    data: bytes = b""

    def __post_init__(self) -> None:
        # decoded from a partial file: untrusted until the column is whole and sorted
        if len(self.data) % 8:
            raise ValueError("floats: not a whole number of float64 values")
        a = self.array()
        nan = np.isnan(a)
        finite = a.size - int(np.count_nonzero(nan))
        if nan[:finite].any() or bool(np.any(a[1:finite] < a[: finite - 1])):
            raise ValueError("floats: values not sorted")

    @classmethod
    def of(cls, values: Iterable[float] | npt.NDArray[np.floating[Any]]) -> Floats:
        """The multiset of ``values``, sorted (stably: -0.0 and 0.0 stay in the order
        they came, as ``sorted`` keeps them)."""
        a = np.asarray(values if isinstance(values, np.ndarray) else list(values), np.float64)
        return cls(np.sort(a.reshape(-1), kind="stable").astype("<f8", copy=False).tobytes())

    def array(self) -> npt.NDArray[np.float64]:
        """The values, read-only (no copy on a little-endian machine)."""
        return np.frombuffer(self.data, "<f8").astype(np.float64, copy=False)

    def __array__(self, dtype: Any = None, copy: Any = None) -> npt.NDArray[Any]:
        a = self.array()
        return a if dtype is None else a.astype(dtype)

    def __len__(self) -> int:
        return len(self.data) // 8

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> list[float]: ...

    def __getitem__(self, index: int | slice) -> float | list[float]:
        if isinstance(index, slice):
            values: list[float] = self.array()[index].tolist()
            return values
        n = len(self)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError(index)
        value: float = np.frombuffer(self.data, "<f8", 1, 8 * i).item()
        return value

    def __iter__(self) -> Iterator[float]:
        a = self.array()
        for start in range(0, a.size, FLOAT_ROWS):
            yield from a[start : start + FLOAT_ROWS].tolist()

    def __reversed__(self) -> Iterator[float]:
        a = self.array()[::-1]
        for start in range(0, a.size, FLOAT_ROWS):
            yield from a[start : start + FLOAT_ROWS].tolist()

    def bisect_left(self, value: float) -> int:
        """Where ``value`` would go, before any equal value (``bisect.bisect_left``)."""
        return int(np.searchsorted(self.array(), value, side="left"))

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, float | int) or math.isnan(value):
            return False
        i = self.bisect_left(value)
        return i < len(self) and self[i] == value

    def count(self, value: Any) -> int:
        if not isinstance(value, float | int) or math.isnan(value):
            return 0
        a = self.array()
        return int(np.searchsorted(a, value, "right") - np.searchsorted(a, value, "left"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Floats):
            return NotImplemented
        if self.data == other.data:
            return True
        # -0.0 equals 0.0 wherever each came in; NaN equals NaN, as in a tuple of the same
        return len(self) == len(other) and np.array_equal(
            self.array(), other.array(), equal_nan=True
        )

    def __hash__(self) -> int:
        return hash(len(self))

    def __repr__(self) -> str:
        return f"Floats({len(self)} values)"
