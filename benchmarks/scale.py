"""Scale run: 100,000 small files (50,000 pairs of 64×64 PNG images and masks).

    python benchmarks/scale.py                       # generate under a temporary folder
    python benchmarks/scale.py --data /tmp/scale100k --pairs 50000 --jobs 2

Times one `nanaudit scan --no-cache --format json` over the whole set and reports the peak
resident memory of the process tree (the scan and its workers, sampled every 10 ms).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench import timed  # type: ignore[import-not-found]
from PIL import Image


def generate(root: Path, pairs: int, size: int) -> None:
    rng = np.random.default_rng(1)
    per_dir = 1000  # as datasets of this size are usually sharded
    made: set[Path] = set()
    for i in range(pairs):
        split = "val" if i % 10 == 0 else "train"
        shard = f"{i // per_dir:03d}"
        img_dir = root / "images" / split / shard
        mask_dir = root / "masks" / split / shard
        if img_dir not in made:
            img_dir.mkdir(parents=True, exist_ok=True)
            mask_dir.mkdir(parents=True, exist_ok=True)
            made.add(img_dir)
        rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), np.uint8)
        y0, x0 = rng.integers(0, size // 2, 2)
        mask[y0 : y0 + size // 3, x0 : x0 + size // 3] = 1 + i % 4
        Image.fromarray(rgb).save(img_dir / f"{i:06d}.png", compress_level=1)
        Image.fromarray(mask).save(mask_dir / f"{i:06d}.png")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="nanaudit-scale-"))
    try:
        if not (root / "images").is_dir():
            t = time.perf_counter()
            generate(root, args.pairs, args.size)
            print(f"generated {2 * args.pairs:,} files in {time.perf_counter() - t:.0f} s")
        cmd = [
            sys.executable,
            "-m",
            "nanaudit",
            "scan",
            str(root),
            "--no-cache",
            "--format",
            "json",
            "--no-progress",
            "--jobs",
            str(args.jobs),
            "-C",
            "5",
        ]
        elapsed, peak_kib, code, _cpu = timed(cmd, dict(os.environ))
        print(
            f"{2 * args.pairs:,} files, --jobs {args.jobs}: {elapsed:.1f} s, exit code {code}, "
            f"peak RSS of the process tree {peak_kib / 1024:.0f} MiB (target < 400 MB)"
        )
    finally:
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
