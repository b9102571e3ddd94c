"""Group 64-bit perceptual hashes that lie within a small Hamming distance.

No all-pairs loop: by the pigeonhole principle, two hashes within distance d differ by at
most d // B bits in one of B bands, so candidate pairs are those whose band values lie
within that radius (multi-index hashing).
Candidates are checked with a vectorised popcount and joined with union-find.  Identical
hashes are collapsed first, so a thousand copies of one picture cost nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

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
