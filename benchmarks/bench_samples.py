"""What auditing a training pipeline costs: `audit_samples` against drawing the same samples.

    python benchmarks/bench_samples.py                 # 2,000 samples of 512×512
    python benchmarks/bench_samples.py --samples 500 --rounds 5

The pipeline is a plain numpy Dataset as training scripts write it: a random 512×512 crop
of a 600×600 photo-like image and its mask, a random flip, Normalize with the ImageNet
constants, the image as a float32 CHW array and the mask as int64. The floor draws the
samples and drops them; the audit draws the same number through `nanaudit.audit_samples`
(which reduces each sample as it is drawn, merges, checks and builds the report). The two
alternate round by round in one process; the ratio is audit / floor, target ≤ 1.5.

The process keeps image-sized buffers on the heap as `nanaudit samples` does (glibc's mmap
threshold raised: pool.tune_allocator), which speeds the pipeline and the audit alike;
`--library` leaves the allocator as a host process of `nanaudit.audit_samples` has it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import nanaudit

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


class Pipeline:
    """Random crop, flip, Normalize, CHW float32 image and int64 mask."""

    def __init__(self, n: int = 32, size: int = 600, crop: int = 512, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.rng = np.random.default_rng(seed + 1)
        self.crop = crop
        y, x = np.mgrid[0:size, 0:size]
        self.items = []
        for i in range(n):
            angle = rng.uniform(0, 2 * np.pi)
            ramp = (np.cos(angle) * x + np.sin(angle) * y) / size
            base = (ramp - ramp.min()) / np.ptp(ramp) * 200 + 20
            image = np.stack([base, base[::-1], base[:, ::-1]], axis=-1)
            image += rng.normal(0, 12, image.shape)
            mask = (np.floor(ramp * 5) % 5).astype(np.uint8)
            mask[:8] = 255
            self.items.append((np.clip(image, 0, 255).astype(np.uint8), mask))
            del i

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        image, mask = self.items[i]
        c = self.crop
        y, x = self.rng.integers(0, image.shape[0] - c + 1, 2)
        image, mask = image[y : y + c, x : x + c], mask[y : y + c, x : x + c]
        if self.rng.random() < 0.5:
            image, mask = image[:, ::-1], mask[:, ::-1]
        normalized = (image.astype(np.float32) / 255 - MEAN) / STD
        return np.ascontiguousarray(normalized.transpose(2, 0, 1)), mask.astype(np.int64)


def draw(pipeline: Pipeline, n: int) -> float:
    """The floor: draw n samples (passes over the dataset, as the audit makes them)."""
    start = time.perf_counter()
    drawn = 0
    while drawn < n:
        for i in range(len(pipeline)):
            pipeline[i]
            drawn += 1
            if drawn == n:
                break
    return time.perf_counter() - start


def audit(pipeline: Pipeline, n: int) -> float:
    start = time.perf_counter()
    report = nanaudit.audit_samples(pipeline, num_classes=5, max_samples=n)
    elapsed = time.perf_counter() - start
    assert report.splits[0].images == n, report.splits[0].images
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--library", action="store_true", help="leave the allocator alone")
    args = parser.parse_args()
    if not args.library:
        from nanaudit.pool import tune_allocator

        tune_allocator()
    pipeline = Pipeline()
    audit(pipeline, 8)  # warm up: imports, first allocations
    floors, audits = [], []
    for r in range(args.rounds):
        floors.append(draw(pipeline, args.samples))
        audits.append(audit(pipeline, args.samples))
        print(
            f"round {r + 1}: draw {floors[-1]:.2f} s, draw + audit {audits[-1]:.2f} s "
            f"({audits[-1] / floors[-1]:.2f}×)",
            flush=True,
        )
    ratios = [a / f for a, f in zip(audits, floors, strict=True)]
    per = 1000 / args.samples
    print(
        f"best: draw {min(floors):.2f} s ({min(floors) * per:.2f} ms a sample), "
        f"draw + audit {min(audits):.2f} s ({min(audits) * per:.2f} ms a sample): "
        f"{min(audits) / min(floors):.2f}× (median of rounds {statistics.median(ratios):.2f}×; "
        "target ≤ 1.5×)"
    )


if __name__ == "__main__":
    main()
