"""What auditing a training pipeline costs: `audit_samples` against drawing the same samples.

    python benchmarks/bench_samples.py                 # 2,000 samples of 512×512
    python benchmarks/bench_samples.py --samples 500 --rounds 5

The pipeline is a plain numpy Dataset as training scripts write it: a random 512×512 crop
of a 600×600 photo-like image and its mask, a random flip, Normalize with the ImageNet
constants, the image as a float32 CHW array and the mask as int64. The floor draws the
samples and drops them; the audit draws the same number through `nanaudit.audit_samples`
(which reduces each sample as it is drawn, merges, checks and builds the report). The two
alternate round by round in one process; the ratio is audit / floor, target ≤ 1.5. Both
run in this one thread, so the process's CPU time is given too: on a machine shared with
other work it moves far less than the wall-clock time.

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


def draw(pipeline: Pipeline, n: int) -> tuple[float, float]:
    """The floor: draw n samples (passes over the dataset, as the audit makes them).
    Wall-clock and CPU seconds."""
    start, cpu = time.perf_counter(), time.process_time()
    drawn = 0
    while drawn < n:
        for i in range(len(pipeline)):
            pipeline[i]
            drawn += 1
            if drawn == n:
                break
    return time.perf_counter() - start, time.process_time() - cpu


def audit(pipeline: Pipeline, n: int) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    report = nanaudit.audit_samples(pipeline, num_classes=5, max_samples=n)
    elapsed = time.perf_counter() - start, time.process_time() - cpu
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
        (fw, fc), (aw, ac) = floors[-1], audits[-1]
        print(
            f"round {r + 1}: draw {fw:.2f} s (CPU {fc:.2f} s), draw + audit {aw:.2f} s "
            f"(CPU {ac:.2f} s): {aw / fw:.2f}× wall, {ac / fc:.2f}× CPU",
            flush=True,
        )
    per = 1000 / args.samples
    for kind, k in (("wall", 0), ("CPU", 1)):
        best_floor, best_audit = min(f[k] for f in floors), min(a[k] for a in audits)
        ratios = [a[k] / f[k] for a, f in zip(audits, floors, strict=True)]
        print(
            f"{kind}: best draw {best_floor:.2f} s ({best_floor * per:.2f} ms a sample), "
            f"best draw + audit {best_audit:.2f} s ({best_audit * per:.2f} ms a sample): "
            f"{best_audit / best_floor:.2f}× (median of rounds {statistics.median(ratios):.2f}×;"
            " target ≤ 1.5×)"
        )


if __name__ == "__main__":
    main()
