"""Group 64-bit perceptual hashes that lie within a small Hamming distance.

No all-pairs loop: by the pigeonhole principle, two hashes within distance d differ by few
bits in one of B bands, so candidate pairs are those whose band values lie within that
radius (multi-index hashing; the bands are chosen per call, see ``band_plan``).
Candidates are checked with a vectorised popcount, a bounded number at a time, and joined
with a vectorised union-find. Identical hashes are collapsed first, so a thousand copies of
one picture cost nothing.
"""

from __future__ import annotations

import base64
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    if hasattr(np, "bitwise_count"):
        counts: npt.NDArray[np.int64] = np.bitwise_count(x).astype(np.int64)
        return counts
    as_bytes = x.astype(np.uint64).view(np.uint8).reshape(-1, 8)  # pragma: no cover - numpy < 2
    fallback: npt.NDArray[np.int64] = _BYTE_POPCOUNT[as_bytes].sum(axis=1).astype(np.int64)
    return fallback  # pragma: no cover


# --------------------------------------------------------------------------- grouping
# Bands (multi-index hashing, with the pigeonring's uneven radii): cut the 64 bits into B
# bands and give band i a radius r_i with sum(r_i) >= d - B + 1. Two hashes within distance
# d differ by at most r_i bits in some band i (else they would differ by sum(r_i + 1) > d
# bits), so every such pair is met by looking up, for each hash and each band, the band
# values within r_i bits of its own. B is chosen per call from a cost model: few bands
# (wide) keep the buckets small but need many flips, many bands (narrow) the opposite; for
# 10 million hashes and d = 5 it is 3 bands of 21-22 bits with radius 1.

MAX_TABLE_BITS = 22  # a band up to this wide is looked up in a direct table (2**22 int32)
PAIRS_PER_CHUNK = 1 << 21  # candidate pairs compared at once: memory does not grow with n
Index = npt.NDArray[np.signedinteger[Any]]
QUERIES_PER_CHUNK = 1 << 18  # hashes whose neighbours are looked up at once
_SHORT = 32  # runs up to this long are paired by offset
_COST_LOOKUP, _COST_SEARCH, _COST_PAIR, _COST_SORT = 1.0, 15.0, 2.0, 10.0


def _flips(width: int, radius: int) -> list[int]:
    """Every non-zero mask of at most ``radius`` set bits within ``width`` bits."""
    from itertools import combinations

    out: list[int] = []
    for r in range(1, radius + 1):
        for bits in combinations(range(width), r):
            out.append(sum(1 << b for b in bits))
    return out


def _tabled(width: int, m: int) -> bool:
    """Whether a band's values are looked up in a direct table (else by binary search):
    a table of 4 bytes a value, at most 32 bytes a hash."""
    return width <= MAX_TABLE_BITS and 1 << width <= max(8 * m, 1 << 16)


def band_plan(m: int, max_distance: int, bands: int | None = None) -> list[tuple[int, int, int]]:
    """The bands (low bit, width, radius) that cost least for ``m`` distinct hashes (or the
    plan of ``bands`` bands)."""
    best: tuple[float, list[tuple[int, int, int]]] | None = None
    choices = range(1, min(max_distance + 1, 16) + 1) if bands is None else [bands]
    for n_bands in choices:
        edges = [round(64 * b / n_bands) for b in range(n_bands + 1)]
        spare = max_distance - n_bands + 1  # the radii's sum
        plan = []
        cost = 0.0
        for b in range(n_bands):
            lo, width = edges[b], edges[b + 1] - edges[b]
            radius = spare // n_bands + (1 if b < spare % n_bands else 0)
            flips = sum(math.comb(width, k) for k in range(1, radius + 1))
            if flips > 100_000 and len(choices) > 1:
                cost = math.inf
                break
            look = _COST_LOOKUP if _tabled(width, m) else _COST_SEARCH
            per_value = m / 2.0**width  # hashes sharing a band value
            cost += m * (_COST_SORT + flips * look + (flips + 0.5) * per_value * _COST_PAIR)
            plan.append((lo, width, radius))
        if len(plan) == n_bands and (best is None or cost < best[0]):
            best = (cost, plan)
    assert best is not None
    return best[1]


def _roots(parent: Index, x: Index) -> Index:
    """The roots of ``x``, compressing the paths walked."""
    start = x
    while True:
        up = parent[x]
        if np.array_equal(up, x):
            break
        x = up
    parent[start] = x
    return x


def _link(parent: Index, a: Index, b: Index) -> None:
    """Union of each pair (a[k], b[k]), vectorised: the larger root points to the smaller,
    until every pair shares its root."""
    while a.size:
        ra, rb = _roots(parent, a), _roots(parent, b)
        apart = ra != rb
        a, b, ra, rb = a[apart], b[apart], ra[apart], rb[apart]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))


def _expand(
    rows: Index,
    first: Index,
    count: Index,
) -> Iterator[tuple[Index, Index]]:
    """The pairs (rows[k], first[k] + o) for o < count[k], at most PAIRS_PER_CHUNK at a
    time (a long run is cut across chunks)."""
    keep = count > 0
    rows, first, count = rows[keep], first[keep], count[keep]
    if rows.size == 0:
        return
    most = int(count.max())
    if most <= _SHORT:  # nearly always: one step per offset, no search
        for o in range(most):
            at = np.flatnonzero(count > o) if o else slice(None)
            yield rows[at], first[at] + o
        return
    ends = np.cumsum(count, dtype=np.int64)
    total = int(ends[-1])
    for lo in range(0, total, PAIRS_PER_CHUNK):
        k = np.arange(lo, min(lo + PAIRS_PER_CHUNK, total), dtype=np.int64)
        q = np.searchsorted(ends, k, side="right")
        yield rows[q], first[q] + (k - (ends[q] - count[q]))


def group_near_duplicates(
    hashes: Sequence[int] | npt.NDArray[np.uint64], max_distance: int, bands: int | None = None
) -> list[list[int]]:
    """Groups (of two or more indices into ``hashes``) linked by distance ≤ max_distance,
    each in increasing order, the groups by their first index. ``bands`` forces the number
    of bands (1 to max_distance + 1; the same groups, at another cost)."""
    h = np.asarray(hashes, dtype=np.uint64).reshape(-1)
    if h.size < 2:
        return []
    uniq, copies = np.unique(h, return_counts=True)  # identical hashes: one node
    copies = copies.astype(np.int32)
    m = int(uniq.size)
    # node numbers: 4 bytes when they fit
    index_type: type[np.signedinteger[Any]] = np.int32 if m < 1 << 31 else np.int64
    parent: Index = np.arange(m, dtype=index_type)
    # the hashes in the current band's order (a bucket's pairs read nearby memory) and the
    # node at each place: each band reorders the last band's order, no copy of uniq kept
    su, order = uniq, parent.copy()
    del uniq
    for lo, width, radius in band_plan(m, max_distance, bands):
        keys = (su >> np.uint64(lo)) & np.uint64((1 << width) - 1)
        by = np.argsort(keys, kind="stable")
        # band values: 4 bytes when they fit, else as unsigned as the hashes
        sk: npt.NDArray[np.integer[Any]] = keys[by].astype(np.uint64 if width > 31 else np.int32)
        del keys
        su, order = su[by], order[by]
        del by
        _same_value_pairs(parent, su, order, sk, max_distance)
        flips = _flips(width, radius)
        table: npt.NDArray[np.int32] | None = None
        if flips and _tabled(width, m):
            # where each band value's run starts in sk (and the next one's: its end)
            table = np.zeros((1 << width) + 1, np.int32)
            np.cumsum(np.bincount(sk, minlength=1 << width), out=table[1:])
        for p0 in range(0, m, QUERIES_PER_CHUNK):
            pos = np.arange(p0, min(p0 + QUERIES_PER_CHUNK, m), dtype=np.int64)
            here = sk[pos]
            for bits in flips:
                # a pair differing by ``flip`` is met from the hash whose value is lower
                flip = sk.dtype.type(bits)
                ask = np.flatnonzero((here ^ flip) > here)
                target = here[ask] ^ flip
                if table is not None:
                    first = table[target]
                    count = table[target + 1] - first
                else:
                    first = np.searchsorted(sk, target, side="left")
                    count = np.searchsorted(sk, target, side="right") - first
                for i_pos, j_pos in _expand(pos[ask], first, count):
                    _close(parent, su, order, i_pos, j_pos, max_distance)
        del sk, table
    uniq = np.empty_like(su)
    uniq[order] = su  # back in node order (sorted)
    del su, order
    roots = _roots(parent, np.arange(m, dtype=index_type))
    size = np.bincount(roots, weights=copies, minlength=m)
    grouped = size[roots] > 1
    if not grouped.any():
        return []
    # the indices of the grouped hashes (a few, found a chunk of hashes at a time), by
    # their node's root
    nodes = np.flatnonzero(grouped)
    values = uniq[nodes]
    found = []
    for c in range(0, h.size, QUERIES_PER_CHUNK):
        part = h[c : c + QUERIES_PER_CHUNK]
        at = np.minimum(np.searchsorted(values, part), values.size - 1)
        hit = np.flatnonzero(values[at] == part)
        found.append((hit + c, nodes[at[hit]]))
    member = np.concatenate([f[0] for f in found])
    root_of = roots[np.concatenate([f[1] for f in found])]
    by = np.lexsort((member, root_of))
    member, root_of = member[by], root_of[by]
    cuts = np.flatnonzero(root_of[1:] != root_of[:-1]) + 1
    groups = [g.tolist() for g in np.split(member, cuts)]
    return sorted(groups, key=lambda g: g[0])


def _same_value_pairs(
    parent: Index,
    su: npt.NDArray[np.uint64],
    order: Index,
    sk: npt.NDArray[np.integer[Any]],
    max_distance: int,
) -> None:
    """The pairs sharing a band value: runs of sorted values up to _SHORT long by offset
    (over the whole band at once), longer runs each member against those after it."""
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    lengths = np.diff(np.r_[starts, sk.size])
    longest = int(lengths.max(initial=1))
    if longest > 1:
        short = np.repeat(lengths <= _SHORT, lengths)
        for off in range(1, min(_SHORT, longest)):
            at = np.flatnonzero((sk[off:] == sk[:-off]) & short[off:])
            if at.size:
                _close(parent, su, order, at, at + off, max_distance)
        del short
    long_runs = lengths > _SHORT
    if long_runs.any():
        first, count = starts[long_runs], lengths[long_runs]
        rows = np.concatenate([np.arange(a, a + n - 1) for a, n in zip(first, count, strict=True)])
        ends = np.repeat(first + count, count - 1)
        for i_pos, j_pos in _expand(rows, rows + 1, ends - rows - 1):
            _close(parent, su, order, i_pos, j_pos, max_distance)


def _close(
    parent: Index,
    su: npt.NDArray[np.uint64],
    order: Index,
    i: Index,
    j: Index,
    max_distance: int,
) -> None:
    """Link the candidate pairs (i, j) of band-sorted positions that lie within
    max_distance: ``su`` holds the hashes in band order, so the pairs of one band value read
    neighbouring memory; only the pairs found near are mapped to their nodes."""
    x = su[i] ^ su[j]
    near = (np.bitwise_count(x) if hasattr(np, "bitwise_count") else popcount64(x)) <= max_distance
    if near.any():
        _link(parent, order[i[near]], order[j[near]])


# --------------------------------------------------------------------------- frames


FRAME_SHARE = (0.1, 0.85)  # a frame covers this share of the picture (else: no frame)


def frame_of(a: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_] | None:
    """The pixels of a large constant frame around a thumbnail's content (the black field
    of view around a fundus photograph, letterboxing), or None. The border holds the
    frame's level for at least half its length; the frame is every pixel nearer that level
    than the content's median."""
    ring = a.reshape(-1)[_ring(a.shape)]
    level = _median(ring)
    spread = float(np.ptp(a))
    # most pictures stop here: fewer than half the border's pixels at the border's level
    if spread <= 0 or 2 * np.count_nonzero(np.abs(ring - level) <= 0.02 * spread) < ring.size:
        return None
    content = a[np.abs(a - level) > 0.1 * spread]
    if content.size == 0:
        return None
    frame: npt.NDArray[np.bool_] = np.abs(a - level) <= abs(float(np.median(content)) - level) / 2
    return frame if FRAME_SHARE[0] <= frame.mean() <= FRAME_SHARE[1] else None


@functools.cache
def _ring(shape: tuple[int, ...]) -> npt.NDArray[np.intp]:
    """The flat indices of a 2-D array's border: first row, last row, then the first and
    last columns between them."""
    h, w = shape
    index = np.arange(h * w).reshape(h, w)
    return np.concatenate([index[0], index[-1], index[1:-1, 0], index[1:-1, -1]])


def _median(values: npt.NDArray[np.float64]) -> float:
    """np.median of a 1-D array (the middle value, or the mean of the middle two), by one
    partition: the same number at a fraction of its per-call cost."""
    k = values.size // 2
    if values.size % 2:
        return float(np.partition(values, k)[k])
    part = np.partition(values, (k - 1, k))
    return float((part[k - 1] + part[k]) / 2)


# --------------------------------------------------------------------------- confirmation
# Two pictures of one layout (fundus photographs in their black disc, slides, CT slices)
# share their 64-bit hashes' low frequencies while their details (the vessel tree, the
# cells) differ. A candidate pair is compared again on a 64×64 thumbnail of each (taken on
# the second read): the correlation of their high-pass details, with the frame left out,
# after the crop of either that best aligns them (a small crop moves the details).

DETAIL_SIDE = 64
_FINE_SIGMA, _COARSE_SIGMAS = 1.5, (2.0, 8.0)  # thumbnail pixels
_CROP_COARSE, _CROP_FINE = 16, 20  # the most cropped off one side, in hundredths
_SIDES = 4  # left, top, right, bottom


def thumbnail_of(detail: str) -> npt.NDArray[np.float64] | None:
    """A detail (reduce.detail_thumbnail) as an array, or None when it is not one (a
    damaged cache row, a partial file from elsewhere)."""
    try:
        data = base64.b64decode(detail, validate=True)
    except ValueError:
        return None
    if len(data) != DETAIL_SIDE * DETAIL_SIDE:
        return None
    return np.frombuffer(data, np.uint8).reshape(DETAIL_SIDE, DETAIL_SIDE).astype(np.float64)


@functools.cache
def _blur(sigma: float) -> npt.NDArray[np.float64]:
    """A Gaussian blur of DETAIL_SIDE samples as a matrix (rows renormalised at the edges)."""
    i = np.arange(DETAIL_SIDE, dtype=np.float64)
    g = np.exp(-((i[:, None] - i[None, :]) ** 2) / (2 * sigma * sigma))
    out: npt.NDArray[np.float64] = g / g.sum(axis=1, keepdims=True)
    return out


@functools.cache
def _resample(start: int, stop: int) -> npt.NDArray[np.float64]:
    """Bilinear resampling of the span [start, 100 - stop] hundredths of a side to the whole
    side, as a matrix."""
    n = DETAIL_SIDE
    lo, length = start * n / 100, (100 - start - stop) * n / 100
    src = np.clip(lo + (np.arange(n) + 0.5) * length / n - 0.5, 0, n - 1)
    left = np.minimum(np.floor(src).astype(np.intp), n - 2)
    t = src - left
    m = np.zeros((n, n))
    m[np.arange(n), left] = 1 - t
    m[np.arange(n), left + 1] += t
    return m


def _normalised(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    v = v.reshape(-1) - v.mean()
    norm = float(np.linalg.norm(v))
    out: npt.NDArray[np.float64] = v / norm if norm > 0 else v
    return out


def _fine(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The details: the thumbnail less its blur, zero on a frame (and a pixel beyond it)."""
    g = _blur(_FINE_SIGMA)
    high = t - g @ t @ g.T
    frame = frame_of(t)
    if frame is not None:
        grown = frame.copy()
        for _ in range(2):
            edge = grown.copy()
            edge[1:] |= grown[:-1]
            edge[:-1] |= grown[1:]
            edge[:, 1:] |= grown[:, :-1]
            edge[:, :-1] |= grown[:, 1:]
            grown = edge
        high[grown] = 0.0
    return _normalised(high)


def _coarse(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A band of middle frequencies: smooth enough that a search for the crop climbs to it."""
    a, b = (_blur(s) for s in _COARSE_SIGMAS)
    return _normalised(a @ t @ a.T - b @ t @ b.T)


def _cropped(t: npt.NDArray[np.float64], box: tuple[int, ...]) -> npt.NDArray[np.float64]:
    left, top, right, bottom = box
    out: npt.NDArray[np.float64] = _resample(top, bottom) @ t @ _resample(left, right).T
    return out


def _climb(
    t: npt.NDArray[np.float64],
    target: npt.NDArray[np.float64],
    box: tuple[int, ...],
    step: int,
    limit: int,
    feature: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
) -> tuple[float, tuple[int, ...]]:
    """Hill-climb the crop of ``t`` (hundredths off each side) whose feature best matches
    ``target``; a few dozen steps from a start."""
    best = float(feature(_cropped(t, box)) @ target)
    while True:
        moved = False
        for side in range(_SIDES):
            for d in (step, -step):
                trial = list(box)
                trial[side] += d
                if not 0 <= trial[side] <= limit:
                    continue
                score = float(feature(_cropped(t, tuple(trial))) @ target)
                if score > best + 1e-4:
                    best, box, moved = score, tuple(trial), True
        if not moved:
            return best, box


@functools.lru_cache(maxsize=4096)
def _features(
    detail: str,
) -> tuple[npt.NDArray[np.float64] | None, npt.NDArray[np.float64] | None]:
    """A detail's thumbnail and its details (computed once per image of a group)."""
    t = thumbnail_of(detail)
    return (t, _fine(t)) if t is not None else (None, None)


def same_picture(a: str, b: str, *, search: bool = True, enough: float = 1.0) -> float | None:
    """How alike two candidates' details are (reduce.detail_thumbnail), from -1 to 1: the
    correlation of their high-pass details, frames left out. Re-encodes and resizes score
    about 0.99, different subjects of one layout below 0.4. With ``search``, also under the
    crop of either image that best aligns them (a hill climb on middle frequencies, then
    on the details): small crops score 0.75 and more. None when a detail is missing or
    damaged. The search is skipped when the direct score reaches ``enough``."""
    ta, fa = _features(a)
    tb, fb = _features(b)
    if ta is None or tb is None or fa is None or fb is None:
        return None
    best = float(fa @ fb)
    if not search or best >= enough:
        return best
    for t, other, fine_other in ((ta, tb, fb), (tb, ta, fa)):
        _, box = _climb(t, _coarse(other), (0,) * _SIDES, 2, _CROP_COARSE, _coarse)
        score, _ = _climb(t, fine_other, box, 1, _CROP_FINE, _fine)
        best = max(best, score)
    return best
