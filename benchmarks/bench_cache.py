"""A small scan with a cache that holds 200,000 records of another dataset.

    python benchmarks/bench_cache.py
    python benchmarks/bench_cache.py --rows 1000000 --files 3

Two caches: one holding only this dataset's records (the floor), one holding them plus
``--rows`` records of other files under the same settings. A warm scan (every record from
the cache) of a ``--files``-file dataset is timed with each, in alternating rounds, through
the API (no process start-up). Lookups go by the primary key (settings, path, kind), so
the ratio should stay near 1.0.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import nanaudit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import make_pairs  # type: ignore[import-not-found]


def fill(cache: Path, rows: int) -> None:
    """Copy the first stored record under ``rows`` other paths."""
    db = sqlite3.connect(cache / "records.sqlite3")
    settings, kind, record = db.execute("SELECT settings, kind, record FROM records_v6").fetchone()
    db.executemany(
        "INSERT OR REPLACE INTO records_v6 VALUES (?, ?, ?, 1, 1, 1, 1, ?)",
        ((f"/other/dataset/{i:07d}.png".encode(), kind, settings, record) for i in range(rows)),
    )
    db.commit()
    db.close()


def timed(root: Path, cache: Path) -> float:
    t = time.perf_counter()
    nanaudit.scan(root, cache_dir=cache)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--files", type=int, default=3, help="pairs in the small dataset")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nanaudit-cache-") as tmp:
        root = make_pairs(Path(tmp) / "data", args.files, size=(64, 64))
        floor_cache, full_cache = Path(tmp) / "floor", Path(tmp) / "full"
        for cache in (floor_cache, full_cache):
            nanaudit.scan(root, cache_dir=cache)  # cold: stores this dataset's records
        fill(full_cache, args.rows)
        floors, fulls = [], []
        for _ in range(args.rounds):
            floors.append(timed(root, floor_cache))
            fulls.append(timed(root, full_cache))
        floor, full = min(floors), min(fulls)
        print(f"{2 * args.files} files, warm cache, best of {args.rounds}:")
        print(f"  floor (only this dataset in the cache): {floor * 1000:7.1f} ms")
        with_rows = f"  with {args.rows:,} other rows:"
        print(f"{with_rows:<42}{full * 1000:7.1f} ms ({full / floor:.2f}×)")


if __name__ == "__main__":
    main()
