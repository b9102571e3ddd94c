"""Benchmark: the duplicate checks' grouping at scale, on synthetic signatures (no images).

For each size it builds the columns a scan's statistics hold (nanaudit/signatures.py) for
three splits (80/10/10 %): every image hashed, as in a merge of shards (the most content
digests a scan holds); 1 % exact copies of another image, some in another split; 1 % near
copies (1 to 5 bits flipped); 0.1 % flat images. Then, in alternating rounds:

  floor   np.sort of as many uint64 (a sorted copy): the least a grouping by sorting costs
  exact   signatures.exact_groups: NA305/NA306's groups
  near    signatures.near_groups at distance 5: NA307's candidate groups

Times are CPU seconds of this process (other processes on the machine distort them less
than wall-clock time), the best of the rounds; the peak is what numpy and Python allocate
during one call above what was held before it (tracemalloc, one extra call each), per image
and against the floor's (8 bytes an image).

python benchmarks/bench_neardup.py                       # 100,000, 1,000,000, 10,000,000
python benchmarks/bench_neardup.py --sizes 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from nanaudit.signatures import (
    BLOCK_ROWS,
    FLAT,
    HASHED,
    Signatures,
    exact_groups,
    near_groups,
    path_block,
)

SPLITS = (("train", 0.8), ("val", 0.1), ("test", 0.1))


def synthetic(n: int, seed: int = 0) -> tuple[list[Signatures], int, int]:
    """Three splits' columns of ``n`` images, and the exact and near copies planted."""
    rng = np.random.default_rng(seed)
    phash = rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)
    digest = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    copies = max(1, n // 100)
    src, dst = rng.integers(0, n, copies), rng.integers(0, n, copies)
    digest[dst], phash[dst] = digest[src], phash[src]
    near_src, near_dst = rng.integers(0, n, copies), rng.integers(0, n, copies)
    masks = np.zeros(copies, np.uint64)
    for k in range(5):  # 1 to 5 bits
        bit = rng.integers(0, 64, copies).astype(np.uint64)
        masks |= np.where(rng.integers(0, 5, copies) >= k, np.uint64(1) << bit, np.uint64(0))
    phash[near_dst] = phash[near_src] ^ masks
    flags = np.full(n, HASHED, np.uint8)
    flags[rng.integers(0, n, max(1, n // 1000))] |= FLAT
    parts, start = [], 0
    for k, (name, share) in enumerate(SPLITS):
        stop = n if k == len(SPLITS) - 1 else start + int(n * share)
        rows = stop - start
        blocks, block_rows = [], []
        for b in range(start, stop, BLOCK_ROWS):
            e = min(b + BLOCK_ROWS, stop)
            blocks.append(path_block([f"{name}/images/{i:09d}.png" for i in range(b, e)]))
            block_rows.append(e - b)
        parts.append(
            Signatures(
                rows,
                (name,),
                phash[start:stop].astype("<u8").tobytes(),
                flags[start:stop].tobytes(),
                np.zeros(rows, "<u2").tobytes(),
                digest[start:stop].tobytes(),
                tuple(blocks),
                np.array(block_rows, "<u4").tobytes(),
            )
        )
        start = stop
    return parts, copies, copies


def held(parts: list[Signatures]) -> int:
    return sum(
        len(p.phash)
        + len(p.flags)
        + len(p.split)
        + len(p.content)
        + sum(len(b) for b in p.blocks)
        + len(p.block_rows)
        for p in parts
    )


def cpu(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    out = call()
    return time.process_time() - start, out


def peak(call: Callable[[], Any]) -> int:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    call()
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return top - base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (best of)")
    parser.add_argument("--distance", type=int, default=5, help="NA307's max_distance")
    args = parser.parse_args()
    print(
        f"{'images':>11} {'held B/img':>10} {'build s':>8} | {'floor s':>7} {'exact s':>7} "
        f"{'x':>5} {'near s':>7} {'x':>5} | {'floor B':>7} {'exact B':>7} {'x':>5} "
        f"{'near B':>7} {'x':>5} | groups exact/near"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        measure(n, args.rounds, args.distance)


def measure(n: int, rounds: int, distance: int) -> None:
    t0 = time.process_time()
    parts, _, _ = synthetic(n)
    build = time.process_time() - t0
    hashes = np.concatenate([p.phashes() for p in parts])
    calls: dict[str, Callable[[], Any]] = {
        "floor": lambda: np.sort(hashes),
        "exact": lambda: exact_groups(parts),
        "near": lambda: near_groups(parts, distance),
    }
    best = dict.fromkeys(calls, float("inf"))
    found: dict[str, int] = {}
    for _ in range(rounds):
        for name, call in calls.items():
            seconds, out = cpu(call)
            best[name] = min(best[name], seconds)
            found[name] = len(out)
    mem = {name: peak(call) / n for name, call in calls.items()}
    f, fm = best["floor"], mem["floor"]
    print(
        f"{n:>11,} {held(parts) / n:>10.1f} {build:>8.1f} | {f:>7.2f} "
        f"{best['exact']:>7.2f} {best['exact'] / f:>5.1f} {best['near']:>7.2f} "
        f"{best['near'] / f:>5.1f} | {fm:>7.1f} {mem['exact']:>7.1f} "
        f"{mem['exact'] / fm:>5.1f} {mem['near']:>7.1f} {mem['near'] / fm:>5.1f} | "
        f"{found['exact']:,}/{found['near']:,}",
        flush=True,
    )


if __name__ == "__main__":
    main()
