"""What a stated reader costs: a scan with each reader profile against the default.

    python benchmarks/bench_readers.py
    python benchmarks/bench_readers.py --files 60 --size 512 --rounds 5

A dataset of ``--files`` pairs (RGB PNG images, palette PNG masks of ``--size`` pixels a
side) is scanned without a cache through the API in one process, once with the default
reader (``pillow``: the floor) and once with each other image and mask reader, in
alternating rounds; the report gives each reader's median time as a ratio of the floor's
median. The emulation runs in the one decode (decode/profiles.py): a converted copy of the
pixels, and for cv2-gray's colour input a fixed-point luma.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import nanaudit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import natural_image  # type: ignore[import-not-found]

PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128, 128, 0, 128]
READERS = ("cv2", "cv2-gray", "cv2-unchanged", "pillow-L", "pillow-RGB", "tifffile")


def build(root: Path, files: int, size: int) -> None:
    for i in range(files):
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(natural_image(i, (size, size))).save(root / "images" / f"{i}.png")
        labels = np.zeros((size, size), np.uint8)
        labels[size // 4 : size // 2, :] = 1 + i % 5
        mask = Image.fromarray(labels, "P")
        mask.putpalette(PALETTE)
        mask.save(root / "masks" / f"{i}.png")


def timed(root: Path, reader: str | None) -> float:
    options = {} if reader is None else {"image_reader": reader, "mask_reader": reader}
    t = time.perf_counter()
    nanaudit.scan(root, **options)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nanaudit-readers-") as tmp:
        root = Path(tmp) / "data"
        build(root, args.files, args.size)
        timed(root, None)  # warm the imports
        times: dict[str | None, list[float]] = {None: [], **{r: [] for r in READERS}}
        for _ in range(args.rounds):
            for reader in times:
                times[reader].append(timed(root, reader))
        floor = statistics.median(times[None])
        print(f"{args.files} pairs of {args.size}x{args.size}, {args.rounds} rounds")
        print(f"  pillow (floor)   {floor:.3f} s")
        for reader in READERS:
            median = statistics.median(times[reader])
            print(f"  {reader:<16} {median:.3f} s   {median / floor:.2f}x")


if __name__ == "__main__":
    main()
