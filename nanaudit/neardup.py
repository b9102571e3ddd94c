"""Group 64-bit perceptual hashes that lie within a small Hamming distance.

No all-pairs loop: by the pigeonhole principle, two hashes within distance d differ by at
most d // B bits in one of B bands, so candidate pairs are those whose band values lie
within that radius (multi-index hashing).
Candidates are checked with a vectorised popcount and joined with union-find.  Identical
hashes are collapsed first, so a thousand copies of one picture cost nothing.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable, Sequence

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


def _find(parent: npt.NDArray[np.int64], i: int) -> int:
    root = i
    while parent[root] != root:
        root = int(parent[root])
    while parent[i] != root:
        parent[i], i = root, int(parent[i])
    return root


_SHORT = 32  # runs up to this length are compared by offset


def _union(parent: npt.NDArray[np.int64], a: int, b: int) -> None:
    ra, rb = _find(parent, a), _find(parent, b)
    if ra != rb:
        parent[max(ra, rb)] = min(ra, rb)


def _flips(width: int, radius: int) -> list[int]:
    """Every non-zero mask of at most ``radius`` set bits within ``width`` bits."""
    from itertools import combinations

    out: list[int] = []
    for r in range(1, radius + 1):
        for bits in combinations(range(width), r):
            out.append(sum(1 << b for b in bits))
    return out


def _same_key_pairs(
    parent: npt.NDArray[np.int64],
    uniq: npt.NDArray[np.uint64],
    order: npt.NDArray[np.intp],
    sk: npt.NDArray[np.uint64],
    max_distance: int,
) -> None:
    """Candidates sharing a band value exactly. Short runs (nearly all of them) are compared
    by offset, vectorised over the whole band; long runs one member at a time."""
    starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
    lengths = np.diff(np.r_[starts, sk.size])
    run_len = np.repeat(lengths, lengths)
    for off in range(1, min(_SHORT, int(lengths.max(initial=1)))):
        same = (sk[off:] == sk[:-off]) & (run_len[off:] <= _SHORT)
        at = np.flatnonzero(same)
        if at.size == 0:
            continue
        a_idx, b_idx = order[at], order[at + off]
        close = popcount64(uniq[a_idx] ^ uniq[b_idx]) <= max_distance
        for x, y in zip(a_idx[close].tolist(), b_idx[close].tolist(), strict=True):
            _union(parent, x, y)
    for s, k in zip(starts.tolist(), lengths.tolist(), strict=True):
        if k <= _SHORT:
            continue
        members = order[s : s + k]
        vals = uniq[members]
        for i in range(len(members) - 1):
            d = popcount64(vals[i] ^ vals[i + 1 :])
            for j in np.flatnonzero(d <= max_distance).tolist():
                _union(parent, int(members[i]), int(members[i + 1 + j]))


def group_near_duplicates(
    hashes: Sequence[int] | npt.NDArray[np.uint64], max_distance: int
) -> list[list[int]]:
    """Groups (of two or more indices into ``hashes``) linked by distance ≤ max_distance."""
    h = np.asarray(hashes, dtype=np.uint64)
    n = int(h.size)
    if n < 2:
        return []
    uniq, inverse = np.unique(h, return_inverse=True)
    m = int(uniq.size)
    parent = np.arange(m, dtype=np.int64)
    # Multi-index hashing: with B bands, two hashes within distance d differ by at most
    # d // B bits in some band. Up to 4 bands of 16+ bits keep buckets small; within a band
    # the neighbours at radius r are found by flipping up to r bits of the band value.
    bands = min(max_distance + 1, 4)  # bands of 16 bits or more: direct tables of 2**16
    radius = max_distance // bands
    edges = [0, *[round(64 * (b + 1) / bands) for b in range(bands)]]
    for b in range(bands):
        lo, hi = edges[b], edges[b + 1]
        width = hi - lo
        mask = np.uint64((1 << width) - 1)
        keys = (uniq >> np.uint64(lo)) & mask
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        _same_key_pairs(parent, uniq, order, sk, max_distance)
        flips = _flips(width, radius)
        if not flips:
            continue
        # where each band value's run starts in sk, and how long it is: a direct table
        cnt = np.bincount(sk.astype(np.int64), minlength=1 << width)
        first = np.cumsum(cnt) - cnt
        sk64 = sk.astype(np.int64)
        for flip in flips:
            target = sk64 ^ flip
            start = first[target]
            count = cnt[target]
            has = np.flatnonzero(count)
            if has.size == 0:
                continue
            # every (i, j) with sk[j] == sk[i] ^ flip; each pair is met from both sides, keep one
            reps = count[has]
            i_idx = np.repeat(has, reps)
            offsets = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps)
            j_idx = start[i_idx] + offsets
            a_idx, b_idx = order[i_idx], order[j_idx]
            keep = a_idx < b_idx
            a_idx, b_idx = a_idx[keep], b_idx[keep]
            close = popcount64(uniq[a_idx] ^ uniq[b_idx]) <= max_distance
            for x, y in zip(a_idx[close].tolist(), b_idx[close].tolist(), strict=True):
                _union(parent, x, y)
    roots = parent.copy()
    for k in np.flatnonzero(parent != np.arange(m)).tolist():
        roots[k] = _find(parent, k)
    node = roots[inverse.reshape(-1)]
    counts = np.bincount(node, minlength=m)
    groups: dict[int, list[int]] = {}
    for idx in np.flatnonzero(counts[node] > 1).tolist():
        groups.setdefault(int(node[idx]), []).append(idx)
    return sorted(groups.values(), key=lambda g: g[0])


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
