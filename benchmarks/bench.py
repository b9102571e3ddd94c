"""Benchmark nanaudit against a decode-only floor measured in the same run.

    python benchmarks/bench.py                         # 1,000 pairs, 512×512 JPEG + PNG
    python benchmarks/bench.py --variant png2k         # 60 pairs, 2048×1024 RGB PNG + PNG
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

Each is a whole process, start-up included, run as an installed package runs: with its
bytecode compiled (PYTHONDONTWRITEBYTECODE is dropped and the bytecode goes to a temporary
PYTHONPYCACHEPREFIX, so the source tree stays clean; a first untimed run compiles it).
A ratio is taken within each round (b/a, b/c, d/b), so that a busy moment of a shared
machine slows both sides of it; the table gives the median and the range over the rounds
of the wall times, the CPU times (user + system, of the process and the workers it waited
for) and the ratios, and the peak resident memory of each process tree (the scan and its
workers, sampled every 10 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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

# variant: (pairs, width, height) by default
VARIANTS = {"jpeg": (1000, 512, 512), "tiff": (1000, 512, 512), "png2k": (60, 2048, 1024)}


def generate(root: Path, pairs: int, size: int, variant: str, height: int | None = None) -> None:
    """Distinct pictures (random blocks over a random gradient) and 5-class masks, of
    size × size pixels (or size wide and ``height`` high)."""
    rng = np.random.default_rng(0)
    w, h = size, height or size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    n_val = pairs // 5
    for i in range(pairs):
        split = "val" if i < n_val else "train"
        img_dir, mask_dir = root / "images" / split, root / "masks" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        mask_dir.mkdir(parents=True, exist_ok=True)
        a, b = rng.uniform(-1, 1, 2)
        base = 40 + 80 * (1 + (a * x + b * y) / max(w, h))
        mask = np.zeros((h, w), np.uint8)
        for _ in range(6):
            y0, x0 = rng.integers(0, h * 3 // 4), rng.integers(0, w * 3 // 4)
            bh, bw = rng.integers(h // 10, h // 3), rng.integers(w // 10, w // 3)
            base[y0 : y0 + bh, x0 : x0 + bw] = rng.uniform(20, 235)
            mask[y0 : y0 + bh, x0 : x0 + bw] = rng.integers(1, 5)
        noise = rng.normal(0, 6, (h, w, 3)).astype(np.float32)
        rgb = np.clip(base[..., None] + noise, 0, 255)
        if variant == "tiff":
            Image.fromarray((rgb.mean(axis=2) / 255).astype(np.float32)).save(
                img_dir / f"{i:05d}.tif"
            )
        elif variant == "png2k":
            Image.fromarray(rgb.astype(np.uint8)).save(img_dir / f"{i:05d}.png")
        else:
            Image.fromarray(rgb.astype(np.uint8)).save(img_dir / f"{i:05d}.jpg", quality=90)
        Image.fromarray(mask).save(mask_dir / f"{i:05d}.png")


TICK = os.sysconf("SC_CLK_TCK")


def _tree_rss_kib(pid: int, cpu: dict[int, float] | None = None) -> int:
    """Resident memory of a process and all its descendants (Linux /proc); ``cpu`` gets
    each one's CPU time so far (user + system, seconds)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
            if cpu is not None:
                with open(f"/proc/{p}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                cpu[p] = max(cpu.get(p, 0.0), (int(fields[11]) + int(fields[12])) / TICK)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def timed(
    cmd: list[str], env: dict[str, str], stderr: Any = subprocess.DEVNULL
) -> tuple[float, int, int, float, float]:
    """Wall time, peak tree RSS in KiB, exit code, CPU time (user + system) of a command
    and its descendants, and of the command's own process alone. The whole is what the
    process reaped (rusage), or the sum sampled from /proc every 10 ms when that is more (a
    forkserver's workers are never reaped by it); the process's own is what it reaped less
    what was sampled of its descendants, which is all of it when they were not reaped.
    ``stderr``: where the command's goes (discarded by default)."""
    peak = 0
    cpu: dict[int, float] = {}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kib(proc.pid, cpu))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    reaped = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    descendants = sum(v for p, v in cpu.items() if p != proc.pid)
    whole = max(reaped, sum(cpu.values()))
    return elapsed, peak, code, whole, max(0.0, whole - descendants)


def installed_env(base: dict[str, str], pycache: Path) -> dict[str, str]:
    """The environment of an installed package: bytecode compiled once and reused."""
    env = {k: v for k, v in base.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """Median and range, e.g. '2.41 (2.30–2.77)'."""
    med = statistics.median(values)
    return f"{fmt.format(med)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="jpeg")
    parser.add_argument("--pairs", type=int, help="default: 1,000 (png2k: 60)")
    parser.add_argument("--size", type=int, help="image width (default 512; png2k 2048)")
    parser.add_argument("--height", type=int, help="image height (default: the width; png2k 1024)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--data", type=Path, help="generate into (or reuse) this folder")
    parser.add_argument("--only", default="abcd", help="which runs, e.g. 'ab' (default abcd)")
    args = parser.parse_args()
    pairs, width, height = VARIANTS[args.variant]
    pairs, width = args.pairs or pairs, args.size or width
    height = args.height or (height if args.size is None else width)
    root = args.data or Path(tempfile.mkdtemp(prefix="nanaudit-bench-"))
    cache = Path(tempfile.mkdtemp(prefix="nanaudit-bench-cache-"))
    pycache = Path(tempfile.mkdtemp(prefix="nanaudit-bench-pyc-"))
    env = {**installed_env(dict(os.environ), pycache), "NANAUDIT_CACHE_DIR": str(cache)}
    try:
        if not (root / "images").is_dir():
            t = time.perf_counter()
            generate(root, pairs, width, args.variant, height)
            print(
                f"generated {pairs} {args.variant} pairs of {width}×{height} "
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
        every = {
            "a": [sys.executable, "-c", FLOOR, str(root)],
            "b": [*nanaudit, "--jobs", "1", "--no-cache"],
            "c": [*nanaudit, "--jobs", str(args.jobs), "--no-cache"],
            "d": [*nanaudit, "--jobs", str(args.jobs)],
        }
        runs = {k: v for k, v in every.items() if k in args.only or k == "a"}
        timed(every["d"], env)  # compile the bytecode, fill the cache
        results: dict[str, list[tuple[float, int, int, float, float]]] = {k: [] for k in runs}
        for r in range(args.rounds):
            for key, cmd in runs.items():
                results[key].append(timed(cmd, env))
            print(
                f"round {r + 1}: "
                + "  ".join(
                    f"{k}={results[k][-1][0]:.2f}s/{results[k][-1][3]:.2f}cpu" for k in runs
                ),
                flush=True,
            )
        wall = {k: [v[0] for v in results[k]] for k in runs}
        cpu = {k: [v[3] for v in results[k]] for k in runs}
        peak = {k: max(v[1] for v in results[k]) for k in runs}
        codes = {k: sorted({v[2] for v in results[k]}) for k in runs}
        labels = {
            "a": "(a) decode-only floor",
            "b": "(b) scan --jobs 1 --no-cache",
            "c": f"(c) scan --jobs {args.jobs} --no-cache",
            "d": f"(d) warm cache --jobs {args.jobs}",
        }
        print(
            f"\n{args.variant}: {pairs} pairs of {width}×{height}, {args.rounds} alternating "
            "rounds; median (range)"
        )
        print(f"{'':32} {'wall s':>18} {'cpu s':>18} {'× floor (wall)':>20} {'MiB':>6}  exit")
        for k in runs:
            ratios = [w / f for w, f in zip(wall[k], wall["a"], strict=True)]
            print(
                f"{labels[k]:32} {spread(wall[k]):>18} {spread(cpu[k]):>18} "
                f"{spread(ratios):>20} {peak[k] / 1024:6.0f}  {codes[k]}"
            )

        def ratio(x: str, y: str) -> list[float]:
            return [p / q for p, q in zip(wall[x], wall[y], strict=True)]

        print()
        if "b" in runs:
            cpu_ratio = [p / q for p, q in zip(cpu["b"], cpu["a"], strict=True)]
            print(f"(b)/(a) wall = {spread(ratio('b', 'a'))}   cpu = {spread(cpu_ratio)}")
        if "b" in runs and "c" in runs:
            print(f"(b)/(c) wall = {spread(ratio('b', 'c'))}   (--jobs {args.jobs} speed-up)")
            # what load does not distort: where the CPU of (c) goes, and the speed-up that
            # its CPU alone allows (all of (c)'s CPU spread over --jobs cores with no wait);
            # bench_stages.py splits this process's CPU by stage (with several jobs it
            # decodes a share of the files too)
            own = [v[4] for v in results["c"]]
            pool = [w - o for w, o in zip(cpu["c"], own, strict=True)]
            overhead = [p / q for p, q in zip(cpu["c"], cpu["b"], strict=True)]
            ceiling = [args.jobs / o for o in overhead]
            print(
                f"(c) cpu: this process {spread(own)} s, pool (server + workers) "
                f"{spread(pool)} s; (c)/(b) cpu = {spread(overhead)}"
            )
            print(
                f"speed-up ceiling from cpu: all of (c) spread over {args.jobs} cores "
                f"{spread(ceiling)}"
            )
        if "b" in runs and "d" in runs:
            print(f"(d)/(b) wall = {spread(ratio('d', 'b'), '{:.3f}')}")
        if "b" in runs and "c" in runs:
            out1 = subprocess.run(every["b"], capture_output=True, text=True, env=env)
            out2 = subprocess.run(every["c"], capture_output=True, text=True, env=env)
            same = json.loads(out1.stdout)["findings"] == json.loads(out2.stdout)["findings"]
            print(
                f"findings identical for --jobs 1 and --jobs {args.jobs}: {same}; "
                f"identical documents: {out1.stdout == out2.stdout}"
            )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        shutil.rmtree(pycache, ignore_errors=True)
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
