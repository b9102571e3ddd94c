"""What the training settings cost: the scan with them against the same scan without.

    python benchmarks/bench_training.py                       # 1,000 pairs, 512×512
    python benchmarks/bench_training.py --variant ignore      # masks with ignore regions
    python benchmarks/bench_training.py --baseline-ref 8054a14 --jobs 2

The dataset is bench.py's (JPEG images, PNG masks of 5 classes); ``--variant ignore``
rewrites every mask with ignore (255) regions over 20-70% of it, so that every mask needs
the full NA402 estimate instead of its shortcuts. Each round times, in an order that
rotates from round to round so that machine noise hits all of them alike:

  (a) floor     a process that decodes every file (bench.py's floor)
  (b) without   nanaudit scan --no-cache --format json
  (c) with      the same with --crop-size 256x256 --scale-range 0.5,2.0 --pad
                --loss ce,dice --batch-size 8 (NA401-NA407 and the summary at scale)
  (d) base      optional: (b) run on the source of another commit (--baseline-ref), to
                see what the records' cell grid adds to the decode itself

Then, in this process, the part the training settings change: the records are collected
once, and the stages after them (statistics, checks, report, JSON) run on them with and
without the settings, alternating, in CPU time. The records themselves do not depend on
the settings (they are not part of the cache key), so this difference is the whole cost of
the settings, measured without the decode's noise; it is given as a share of the scan.

The machine may be shared and noisy: the table gives, per ratio, the median and the range
over the rounds of the ratio measured within each round, not a ratio of bests, for the wall
time and for the CPU time (user + system) of each process, which other people's load
disturbs less than the wall time. With --jobs 1 the CPU time is the whole scan's; with
more jobs the workers are children of multiprocessing's fork server, not of the scan, so it
is the main process's alone: the records, the checks and the report, where the training
settings do their work.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench import FLOOR, generate, timed  # type: ignore[import-not-found]
from PIL import Image

SETTINGS = {
    "crop_size": "256x256",
    "scale_range": "0.5,2.0",
    "pad": True,
    "loss": "ce,dice",
    "batch_size": "8",
}
TRAINING = [
    part
    for key, value in SETTINGS.items()
    for part in (
        ["--" + key.replace("_", "-")]
        if value is True
        else ["--" + key.replace("_", "-"), str(value)]
    )
]


def add_ignore(root: Path) -> None:
    """Every mask gets ignore regions: an ellipse and a band, 20-70% of its pixels."""
    rng = np.random.default_rng(1)
    for path in sorted((root / "masks").rglob("*.png")):
        with Image.open(path) as im:
            m = np.array(im)
        h, w = m.shape
        yy, xx = np.mgrid[0:h, 0:w]
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(0.2, 0.5) * h, rng.uniform(0.2, 0.5) * w
        m[((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1] = 255
        m[: int(rng.uniform(0.05, 0.3) * h)] = 255
        Image.fromarray(m).save(path)


def timed_cpu(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system of the process and its waited-for children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = timed(cmd, env)[0]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def stages(root: Path, rounds: int) -> None:
    """The stages after the records, with and without the training settings."""
    from nanaudit.checks.run import run_checks
    from nanaudit.collect import collect
    from nanaudit.formats import Format, render
    from nanaudit.options import Layer
    from nanaudit.pipeline import aggregate
    from nanaudit.plan import make_plan, option_layers
    from nanaudit.summarise import build_report

    plans = {}
    for name, extra in (("without", {}), ("with", SETTINGS)):
        layers, config = option_layers(root, Layer("option", {"num_classes": 5, **extra}))
        plans[name] = make_plan(root, layers, config)
    start = time.process_time()
    collected = collect(plans["without"], jobs=1)
    decode = time.process_time() - start
    used: dict[str, list[float]] = {"without": [], "with": []}
    for r in range(rounds):
        for name in ("without", "with") if r % 2 else ("with", "without"):
            start = time.process_time()
            dataset = aggregate(plans[name], collected)
            checked = run_checks(plans[name], collected, dataset)
            render(build_report(plans[name], collected, dataset, checked), Format.JSON)
            used[name].append(time.process_time() - start)
    without, with_ = statistics.median(used["without"]), statistics.median(used["with"])
    ratios = [a / b for a, b in zip(used["with"], used["without"], strict=True)]
    pairs = sum(len(s.pairs) for s in collected.splits)
    print(
        f"\n(e) in process, {pairs} pairs: decode {decode:.2f} s CPU (--jobs 1); the stages after "
        f"the records {without:.3f} s without, {with_:.3f} s with the settings (median of "
        f"{rounds}; with/without per round {min(ratios):.2f}-{max(ratios):.2f})"
    )
    print(
        f"    the settings add {1000 * (with_ - without) / pairs:.3f} ms a pair: "
        f"{100 * (with_ - without) / (decode + without):+.2f}% of the scan's CPU time"
    )


def baseline_source(ref: str) -> Path:
    """The package as of ``ref``, exported from git into a temporary folder."""
    repo = Path(__file__).resolve().parent.parent
    out = Path(tempfile.mkdtemp(prefix="nanaudit-base-"))
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", ref, "nanaudit"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="generate into (or reuse) this folder")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--variant", choices=["clean", "ignore"], default="clean")
    parser.add_argument("--baseline-ref", help="also time (b) on this commit's source")
    args = parser.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="nanaudit-bench-"))
    base_src = baseline_source(args.baseline_ref) if args.baseline_ref else None
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        if not (root / "images").is_dir():
            generate(root, args.pairs, 512, "jpeg")
            if args.variant == "ignore":
                add_ignore(root)
        scan = [
            sys.executable,
            "-m",
            "nanaudit",
            "scan",
            str(root),
            "--jobs",
            str(args.jobs),
            "--no-cache",
            "--format",
            "json",
            "--no-progress",
            "-C",
            "5",
        ]
        runs = {
            "a": ([sys.executable, "-c", FLOOR, str(root)], env),
            "b": (scan, env),
            "c": ([*scan, *TRAINING], env),
        }
        if base_src is not None:
            runs["d"] = (scan, {**env, "PYTHONPATH": str(base_src)})
        times: dict[str, list[float]] = {k: [] for k in runs}
        cpu: dict[str, list[float]] = {k: [] for k in runs}
        keys = list(runs)
        for r in range(args.rounds):
            order = keys[r % len(keys) :] + keys[: r % len(keys)]
            for key in order:
                cmd, run_env = runs[key]
                wall, used = timed_cpu(cmd, run_env)
                times[key].append(wall)
                cpu[key].append(used)
            print(
                f"round {r + 1}: "
                + "  ".join(f"{k}={times[k][-1]:.2f}s ({cpu[k][-1]:.2f}s cpu)" for k in keys)
            )

        def ratio(x: str, y: str) -> str:
            out = []
            for series in (times, cpu):
                per_round = [a / b for a, b in zip(series[x], series[y], strict=True)]
                med = statistics.median(per_round)
                out.append(f"{med:6.3f} [{min(per_round):.3f}, {max(per_round):.3f}]")
            return "   ".join(out)

        print(f"\n{args.pairs} pairs, variant {args.variant}, --jobs {args.jobs}")
        print(f"{'':34} {'median s':>9} {'cpu s':>9}")
        labels = {
            "a": "(a) decode-only floor",
            "b": "(b) scan without training settings",
            "c": "(c) scan with training settings",
            "d": f"(d) scan at {args.baseline_ref}",
        }
        for k in keys:
            wall, used = statistics.median(times[k]), statistics.median(cpu[k])
            print(f"{labels[k]:34} {wall:9.2f} {used:9.2f}")
        print("\nratios within each round: median [min, max], wall time then CPU time")
        print(f"(c)/(b) with / without   {ratio('c', 'b')}   (target ≤ 1.05)")
        print(f"(b)/(a) without / floor  {ratio('b', 'a')}")
        print(f"(c)/(a) with / floor     {ratio('c', 'a')}")
        if "d" in runs:
            print(f"(b)/(d) this / {args.baseline_ref}   {ratio('b', 'd')}   (the cell grid)")
        stages(root, max(args.rounds, 7))
    finally:
        if base_src is not None:
            shutil.rmtree(base_src, ignore_errors=True)
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
