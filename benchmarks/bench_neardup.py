"""Benchmark: group 100,000 random 64-bit perceptual hashes (best of 3), print the seconds.

python benchmarks/bench_neardup.py
python benchmarks/bench_neardup.py --n 1000000 --distance 5
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nanaudit.neardup import group_near_duplicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of hashes")
    parser.add_argument(
        "--distance", type=int, default=5, help="max Hamming distance (NA307 default)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, np.iinfo(np.uint64).max, size=args.n, dtype=np.uint64, endpoint=True)
    best = float("inf")
    groups: list[list[int]] = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        groups = group_near_duplicates(hashes, args.distance)
        best = min(best, time.perf_counter() - start)
    print(
        f"group_near_duplicates: {args.n:,} hashes, distance {args.distance}: "
        f"{best:.3f} s (best of {args.repeat}), {len(groups)} groups"
    )


if __name__ == "__main__":
    main()
