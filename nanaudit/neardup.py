"""Group 64-bit perceptual hashes that lie within a small Hamming distance.

No all-pairs loop: by the pigeonhole principle, two hashes within distance d agree exactly
on at least one of d + 1 bands of bits, so candidate pairs are those sharing a band value.
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
    bands = max_distance + 1
    edges = [0, *[round(64 * (b + 1) / bands) for b in range(bands)]]
    for b in range(bands):
        lo, hi = edges[b], edges[b + 1]
        if hi <= lo:
            continue
        mask = np.uint64((1 << (hi - lo)) - 1)
        keys = (uniq >> np.uint64(lo)) & mask
        order = np.argsort(keys, kind="stable")
        sk = keys[order]
        # Runs of equal band values hold the candidates. Short runs (nearly all of them)
        # are compared by offset, vectorised over the whole band; long runs one by one.
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        lengths = np.diff(np.r_[starts, sk.size])
        run_len = np.repeat(lengths, lengths)
        long_runs = [
            (int(s), int(s + k)) for s, k in zip(starts, lengths, strict=True) if k > _SHORT
        ]
        for off in range(1, min(_SHORT, int(lengths.max(initial=1)))):
            same = (sk[off:] == sk[:-off]) & (run_len[off:] <= _SHORT)
            at = np.flatnonzero(same)
            if at.size == 0:
                continue
            a_idx, b_idx = order[at], order[at + off]
            close = popcount64(uniq[a_idx] ^ uniq[b_idx]) <= max_distance
            for x, y in zip(a_idx[close].tolist(), b_idx[close].tolist(), strict=True):
                _union(parent, x, y)
        for s, e in long_runs:
            members = order[s:e]
            vals = uniq[members]
            for i in range(len(members) - 1):
                d = popcount64(vals[i] ^ vals[i + 1 :])
                for j in np.flatnonzero(d <= max_distance).tolist():
                    _union(parent, int(members[i]), int(members[i + 1 + j]))
    roots = parent.copy()
    for k in np.flatnonzero(parent != np.arange(m)).tolist():
        roots[k] = _find(parent, k)
    node = roots[inverse.reshape(-1)]
    counts = np.bincount(node, minlength=m)
    groups: dict[int, list[int]] = {}
    for idx in np.flatnonzero(counts[node] > 1).tolist():
        groups.setdefault(int(node[idx]), []).append(idx)
    return sorted(groups.values(), key=lambda g: g[0])
