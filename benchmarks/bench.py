"""Benchmark nanaudit against a decode-only floor measured in the same run.

    python benchmarks/bench.py                         # 1,000 pairs, 512×512 JPEG + PNG
    python benchmarks/bench.py --variant tiff          # float32 TIFF images + PNG masks
    python benchmarks/bench.py --pairs 200 --rounds 5 --data /tmp/bench-data

The dataset is generated once (under --data, reused when it is already there, else in a
temporary folder). Then each round times, one after the other so that machine noise hits
all of them alike:

  (a) floor   a Python process that opens and fully decodes every file (Pillow, or numpy
              for .npy), nothing else
  (b) jobs=1  nanaudit scan --jobs 1 --no-cache --format json
  (c) jobs=N  nanaudit scan --jobs N --no-cache --format json   (N = usable CPUs)
  (d) warm    nanaudit scan --jobs N --format json, with a cache filled by a previous run

Each is a whole process, start-up included. The table gives the best round of each and its
ratio to the floor, the ratios the performance issue asks about, and the peak resident
memory of each process tree (the scan and its workers, sampled every 10 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

FLOOR = r"""
import sys
from pathlib import Path
import numpy as np
from PIL import Image
for p in sorted(Path(sys.argv[1]).rglob("*")):
    if p.suffix == ".npy":
        np.load(p)
    elif p.suffix in (".jpg", ".png", ".tif"):
        with Image.open(p) as im:
            im.load()
"""


def generate(root: Path, pairs: int, size: int, variant: str) -> None:
    """Distinct pictures (random blocks over a random gradient) and 5-class masks."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    n_val = pairs // 5
    for i in range(pairs):
        split = "val" if i < n_val else "train"
        img_dir, mask_dir = root / "images" / split, root / "masks" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        mask_dir.mkdir(parents=True, exist_ok=True)
        a, b = rng.uniform(-1, 1, 2)
        base = 40 + 80 * (1 + (a * x + b * y) / size)
        mask = np.zeros((size, size), np.uint8)
        for _ in range(6):
            y0, x0 = rng.integers(0, size * 3 // 4, 2)
            h, w = rng.integers(size // 10, size // 3, 2)
            base[y0 : y0 + h, x0 : x0 + w] = rng.uniform(20, 235)
            mask[y0 : y0 + h, x0 : x0 + w] = rng.integers(1, 5)
        noise = rng.normal(0, 6, (size, size, 3)).astype(np.float32)
        rgb = np.clip(base[..., None] + noise, 0, 255)
        if variant == "tiff":
            Image.fromarray((rgb.mean(axis=2) / 255).astype(np.float32)).save(
                img_dir / f"{i:05d}.tif"
            )
        else:
            Image.fromarray(rgb.astype(np.uint8)).save(img_dir / f"{i:05d}.jpg", quality=90)
        Image.fromarray(mask).save(mask_dir / f"{i:05d}.png")


def _tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants (Linux /proc)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
    return total


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """Wall time, peak tree RSS in KiB, and exit code of a command."""
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    return elapsed, peak, code


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--variant", choices=["jpeg", "tiff"], default="jpeg")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--data", type=Path, help="generate into (or reuse) this folder")
    args = parser.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="nanaudit-bench-"))
    cache = Path(tempfile.mkdtemp(prefix="nanaudit-bench-cache-"))
    env = {**os.environ, "NANAUDIT_CACHE_DIR": str(cache)}
    try:
        if not (root / "images").is_dir():
            t = time.perf_counter()
            generate(root, args.pairs, args.size, args.variant)
            print(
                f"generated {args.pairs} {args.variant} pairs of {args.size}×{args.size} "
                f"in {time.perf_counter() - t:.1f} s under {root}"
            )
        nanaudit = [
            sys.executable,
            "-m",
            "nanaudit",
            "scan",
            str(root),
            "--format",
            "json",
            "--no-progress",
            "-C",
            "5",
        ]
        runs = {
            "a": [sys.executable, "-c", FLOOR, str(root)],
            "b": [*nanaudit, "--jobs", "1", "--no-cache"],
            "c": [*nanaudit, "--jobs", str(args.jobs), "--no-cache"],
            "d": [*nanaudit, "--jobs", str(args.jobs)],
        }
        timed(runs["d"], env)  # fill the cache
        results: dict[str, list[tuple[float, int, int]]] = {k: [] for k in runs}
        for r in range(args.rounds):
            for key, cmd in runs.items():
                results[key].append(timed(cmd, env))
            print(f"round {r + 1}: " + "  ".join(f"{k}={results[k][-1][0]:.2f}s" for k in runs))
        best = {k: min(v[0] for v in results[k]) for k in runs}
        peak = {k: max(v[1] for v in results[k]) for k in runs}
        codes = {k: sorted({v[2] for v in results[k]}) for k in runs}
        labels = {
            "a": "(a) decode-only floor",
            "b": "(b) scan --jobs 1 --no-cache",
            "c": f"(c) scan --jobs {args.jobs} --no-cache",
            "d": f"(d) warm cache --jobs {args.jobs}",
        }
        print(f"\n{'':34} {'best s':>8} {'× floor':>8} {'peak MiB':>9}  exit")
        for k in runs:
            ratio = best[k] / best["a"]
            print(f"{labels[k]:34} {best[k]:8.2f} {ratio:8.2f} {peak[k] / 1024:9.0f}  {codes[k]}")
        print(f"\n(b)/(a) = {best['b'] / best['a']:.2f}   (target ≤ 1.25)")
        print(f"(b)/(c) = {best['b'] / best['c']:.2f}   (target ≥ 1.7 on 2 CPUs)")
        print(f"(d)/(b) = {best['d'] / best['b']:.3f}  (target ≤ 0.05)")
        out1 = subprocess.run(runs["b"], capture_output=True, text=True, env=env)
        out2 = subprocess.run(runs["c"], capture_output=True, text=True, env=env)
        same = json.loads(out1.stdout)["findings"] == json.loads(out2.stdout)["findings"]
        print(
            f"findings identical for --jobs 1 and --jobs {args.jobs}: {same}; "
            f"identical documents: {out1.stdout == out2.stdout}"
        )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
