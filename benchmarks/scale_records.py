"""Synthetic records through the stages after decoding: memory that does not grow with them.

    python benchmarks/scale_records.py --records 1000000
    python benchmarks/scale_records.py --records 10000000     # the issue's 10 million

Two real files (a 16×16 RGB PNG image and its mask) are decoded once; every other record is
one of those two with its own path, perceptual hash and channel moments (no decoding). The
records go into a record store (nanaudit/store.py, spilled to disk past its budget) as a
scan's collect stage puts them, paired in one training split, then through the scan's own
stages: the statistics (aggregate), every active check, the report and the JSON report
with every file listed (written to /dev/null). The plan's listing of paths is not made
(a scan holds one, the discovery's; scale_memory.py measures a whole scan).

Prints the wall-clock and CPU time of each stage (the CPU time spent making the synthetic
records is measured apart and left out of the store's) and the peak resident memory of the
process (VmHWM), and the peak after the imports and the two decodes, as the floor. The
issue's target: 10,000,000 records under 1 GB.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

BATCH = 4096  # pairs made at a time


def vm(key: str) -> float:
    """This process's VmHWM or VmRSS in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    pairs = args.records // 2

    from nanaudit import pipeline
    from nanaudit.checks.run import run_checks
    from nanaudit.collect import Collected, CollectedSplit
    from nanaudit.formats import json_report
    from nanaudit.formats.base import RenderOptions
    from nanaudit.layouts import PlannedSplit
    from nanaudit.plan import plan_for_api
    from nanaudit.records import FileKind
    from nanaudit.store import RecordStore, StoredPairs, spill_folder
    from nanaudit.summarise import build_report

    with tempfile.TemporaryDirectory(prefix="nanaudit-records-bench-") as tmp:
        root = Path(tmp, "data")
        for folder in ("images/train", "masks/train"):
            (root / folder).mkdir(parents=True)
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(
            root / "images/train/a.png"
        )
        mask = np.zeros((16, 16), np.uint8)
        mask[4:10, 4:10] = 1 + rng.integers(0, 4)
        Image.fromarray(mask).save(root / "masks/train/a.png")
        plan = plan_for_api(root, None, {"num_classes": 5})
        collected = pipeline.collect(plan)
        image = collected.splits[0].pairs[0].image
        label = collected.splits[0].pairs[0].mask
        assert image is not None and image.pixels is not None and label is not None
        floor = vm("VmHWM")

        t0, c0 = time.perf_counter(), time.process_time()
        store = RecordStore(spill_folder(root))
        shuffle = random.Random(1)
        channels = image.pixels.channels
        making = 0.0  # CPU seconds spent making the synthetic records (not nanaudit's)
        for start in range(0, pairs, BATCH):
            m0 = time.process_time()
            batch = []
            for i in range(start, min(start + BATCH, pairs)):
                name = f"{i:08d}.png"
                moved = tuple(dataclasses.replace(c, mean=c.mean + (i % 97) / 10) for c in channels)
                pixels = dataclasses.replace(
                    image.pixels, channels=moved, phash=shuffle.getrandbits(64)
                )
                batch.append(
                    (
                        (Path("/syn/images/train", name), FileKind.IMAGE),
                        dataclasses.replace(image, path=f"images/train/{name}", pixels=pixels),
                    )
                )
                batch.append(
                    (
                        (Path("/syn/masks/train", name), FileKind.MASK),
                        dataclasses.replace(label, path=f"masks/train/{name}"),
                    )
                )
            making += time.process_time() - m0
            for key, rec in batch:
                store[key] = rec
        store.add_pairs(
            0,
            (
                (
                    (Path("/syn/images/train", f"{i:08d}.png"), FileKind.IMAGE),
                    (Path("/syn/masks/train", f"{i:08d}.png"), FileKind.MASK),
                )
                for i in range(pairs)
            ),
        )
        t1, c1 = time.perf_counter(), time.process_time()
        hwm1 = vm("VmHWM")
        planned = PlannedSplit(
            "train", "train", root / "images/train", root / "masks/train", True, ()
        )
        plan = dataclasses.replace(plan, layout=dataclasses.replace(plan.layout, splits=(planned,)))
        split = CollectedSplit(planned, StoredPairs(store, 0, "train", True, plan.labels.apply))
        collected = Collected((split,), (), None, store)
        dataset = pipeline.aggregate(plan, collected)
        t2, c2 = time.perf_counter(), time.process_time()
        hwm2 = vm("VmHWM")
        checked = run_checks(plan, collected, dataset)
        t3, c3 = time.perf_counter(), time.process_time()
        hwm3 = vm("VmHWM")
        report = build_report(plan, collected, dataset, checked)
        written = 0
        with open(os.devnull, "w") as out:
            for chunk in json_report.render_chunks(report, RenderOptions()):
                out.write(chunk)
                written += len(chunk)
        t4, c4 = time.perf_counter(), time.process_time()
        hwm4 = vm("VmHWM")
        peak = vm("VmHWM")
        store.close()
    n = 2 * pairs
    print(f"{n:,} records ({pairs:,} pairs), spilled: {store.where is not None}")
    print("  stage      wall s   CPU s  CPU µs/record  peak MiB so far")
    stages = (
        ("making", 0.0, making, 0.0, "the synthetic records (the benchmark's, not nanaudit's)"),
        ("store", t1 - t0, c1 - c0 - making, hwm1, "records and pairs into the store"),
        ("aggregate", t2 - t1, c2 - c1, hwm2, ""),
        ("checks", t3 - t2, c3 - c2, hwm3, f"{len(checked.findings):,} findings"),
        ("JSON", t4 - t3, c4 - c3, hwm4, f"{written / 1e6:,.0f} MB"),
    )
    for name, wall, cpu, hwm, note in stages:
        shown = f"{wall:8.1f}" if wall else "       -"
        mem = f"{hwm:8.0f}" if hwm else "       -"
        print(f"  {name:9} {shown} {cpu:7.1f} {cpu / n * 1e6:8.1f}  {mem}  {note}")
    print(f"  total     {t4 - t0:8.1f} {c4 - c0:7.1f} {(c4 - c0) / n * 1e6:8.1f}")
    print(
        f"peak resident memory {peak:.0f} MiB (after imports and two decodes: {floor:.0f} MiB;"
        f" target < 1 GB at 10,000,000 records)"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
