"""Pairing cost as the dataset grows: images in per-sequence folders whose masks live in
differently named folders (``images/seq_0001/000003.png`` with
``masks/seq_0001_gt/000003.png``), so that no mask lies in its image's relative folder
and every frame name repeats in every sequence. No pair is unique by name: the second
pass must decide that for every image without comparing it with every sequence.

    python benchmarks/bench_pairing.py                  # 2,000 to 16,000 images
    python benchmarks/bench_pairing.py --sizes 4000 8000 16000 32000

Only ``pair_files`` is timed (paths are built in memory; no file is written). The floor,
measured in the same run, pairs the same number of images whose masks do lie in the same
relative folders (the first pass pairs them all). The ratio per doubling of the dataset is
2.0 for linear cost, 4.0 for quadratic.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nanaudit.layouts.pairing import pair_files

FRAMES = 8  # frames per sequence: the number of sequences grows with the dataset


def layout(n: int, same_folders: bool) -> tuple[list[Path], Path, list[Path], Path]:
    image_root, mask_root = Path("/d/images"), Path("/d/masks")
    images, masks = [], []
    for i in range(n):
        seq, frame = f"seq_{i // FRAMES:05d}", f"{i % FRAMES:06d}.png"
        images.append(image_root / seq / frame)
        masks.append(mask_root / (seq if same_folders else f"{seq}_gt") / frame)
    return images, image_root, masks, mask_root


def best(n: int, same_folders: bool, rounds: int) -> float:
    images, image_root, masks, mask_root = layout(n, same_folders)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        pairs = pair_files(images, image_root, masks, mask_root)
        times.append(time.perf_counter() - t)
    assert len(pairs) == (n if same_folders else 2 * n)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 4000, 8000, 16000])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{'images':>8} {'floor (s)':>10} {'sequences (s)':>14} {'× floor':>8} {'× prev':>7}")
    prev = None
    for n in args.sizes:
        floor = best(n, True, args.rounds)
        seq = best(n, False, args.rounds)
        growth = f"{seq / prev:7.2f}" if prev else f"{'':>7}"
        print(f"{n:>8,} {floor:>10.3f} {seq:>14.3f} {seq / floor:>8.2f} {growth}")
        prev = seq


if __name__ == "__main__":
    main()
