"""Benchmark: nanaudit's scan against a decode-only floor measured in the same run.

    python benchmarks/bench.py                 # 1,000 pairs of 512×512 JPEG images + PNG masks
    python benchmarks/bench.py --pairs 200 --size 256 --keep /tmp/bench-data

The dataset is generated once (in a temporary folder unless --keep names one). Then, pair by
pair in alternation so that machine noise hits both alike, it times (a) the floor: open and
fully decode every file with Pillow, nothing else; (b) ``nanaudit scan`` in this process
(the API, no progress bar). It prints each as a ratio to the floor, and the peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import nanaudit


def generate(root: Path, pairs: int, size: int) -> None:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    for split, n in (("train", pairs - pairs // 5), ("val", pairs // 5)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "masks" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            base = (x * (0.3 + (i % 7) / 10) + y * 0.2 + i) % 256
            rgb = np.stack([base, np.roll(base, i, 0), base[::-1]], -1)
            rgb = np.clip(rgb + rng.normal(0, 8, rgb.shape), 0, 255).astype(np.uint8)
            Image.fromarray(rgb).save(root / "images" / split / f"{i:05d}.jpg", quality=90)
            mask = ((x // (size // 4) + y // (size // 4) + i) % 5).astype(np.uint8)
            Image.fromarray(mask).save(root / "masks" / split / f"{i:05d}.png")


def decode_floor(root: Path) -> float:
    start = time.perf_counter()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".jpg", ".png"):
            with Image.open(path) as im:
                im.load()
    return time.perf_counter() - start


def nanaudit_scan(root: Path) -> float:
    start = time.perf_counter()
    report = nanaudit.scan(root, num_classes=5)
    elapsed = time.perf_counter() - start
    assert report.exit_code == 0, [f.message for f in report.findings[:5]]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this folder")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="nanaudit-bench-"))
    try:
        if not (root / "images").is_dir():
            t = time.perf_counter()
            generate(root, args.pairs, args.size)
            print(f"generated {args.pairs} pairs of {args.size}×{args.size} in {time.perf_counter() - t:.1f} s")
        floor, scan = [], []
        for _ in range(args.rounds):
            floor.append(decode_floor(root))
            scan.append(nanaudit_scan(root))
        a, b = min(floor), min(scan)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"(a) decode-only floor      {a:7.2f} s   1.00")
        print(f"(b) nanaudit scan (API)    {b:7.2f} s   {b / a:.2f} × floor")
        print(f"best of {args.rounds} rounds; peak RSS of this process {peak:.0f} MiB")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
