"""nanaudit side by side with CleanVision on the same images: wall and CPU time.

CleanVision (cleanlab's image auditor: dark, light, blurry, low-information, odd-size,
grayscale, exact and near duplicates) is not a dependency of nanaudit: install it in a
throwaway virtual environment and point this script at that interpreter; the script itself
never imports it, it runs it in a child process:

    python3 -m venv /tmp/cv-venv && /tmp/cv-venv/bin/pip install cleanvision
    python benchmarks/bench.py --data /tmp/bench1000 --rounds 1       # makes the dataset
    python benchmarks/bench_cleanvision.py --data /tmp/bench1000 \
        --cleanvision-python /tmp/cv-venv/bin/python

Each round runs, one after the other (alternating, so that noise on a shared machine hits
all alike):

  cleanvision    Imagelab(data_path=<images>).find_issues(n_jobs=J): the images alone
  images         nanaudit scan, the images alone (each split declared unlabeled)
  images+masks   nanaudit scan, the images and their masks

each as a whole process, with --jobs J (default: the usable CPUs; CleanVision's own
default is the physical cores). CPU time is user + system of the process and of the
workers it waited for (both tools run process pools). The table gives the median and range
over the rounds, and nanaudit's CPU time as a share of CleanVision's, per round.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench import generate, installed_env, spread, timed  # type: ignore[import-not-found]

CLEANVISION = r"""
import sys
from cleanvision import Imagelab
lab = Imagelab(data_path=sys.argv[1], verbose=False)
lab.find_issues(n_jobs=int(sys.argv[2]), verbose=False)
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="a bench.py dataset (made when missing)")
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--cleanvision-python", default=sys.executable)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="nanaudit-bench-"))
    pycache = Path(tempfile.mkdtemp(prefix="nanaudit-bench-pyc-"))
    env = installed_env(dict(os.environ), pycache)
    env["MPLBACKEND"] = "Agg"  # CleanVision imports matplotlib
    try:
        if not (root / "images").is_dir():
            generate(root, args.pairs, 512, "jpeg")
        images = root / "images"
        splits = sorted(p.name for p in images.iterdir() if p.is_dir())
        scan = [sys.executable, "-m", "nanaudit", "scan", str(root), "--format", "json"]
        scan += ["--no-progress", "--no-cache", "--jobs", str(args.jobs), "-C", "5"]
        runs = {
            "cleanvision": [
                *(args.cleanvision_python, "-c", CLEANVISION, str(images), str(args.jobs))
            ],
            "images": [*scan, *(f"--split={s}:{images / s}" for s in splits)],
            "images+masks": scan,
        }
        for cmd in runs.values():  # compile the bytecode; fail early if a tool is missing
            _, _, code, _ = timed(cmd, env)
            if code not in (0, 1):
                sys.exit(f"failed (exit code {code}): {' '.join(cmd[:4])} …")
        wall: dict[str, list[float]] = {k: [] for k in runs}
        cpu: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.rounds):
            for key, cmd in runs.items():
                w, _, _, c = timed(cmd, env)
                wall[key].append(w)
                cpu[key].append(c)
            print(
                f"round {r + 1}: "
                + "  ".join(f"{k} {wall[k][-1]:.2f} s / {cpu[k][-1]:.2f} cpu" for k in runs),
                flush=True,
            )
        n_images = sum(1 for _ in images.rglob("*.jpg"))
        print(
            f"\n{n_images} JPEG images (+ as many PNG masks), --jobs {args.jobs}, "
            f"{args.rounds} alternating rounds; median (range)"
        )
        print(f"{'':14} {'wall s':>20} {'cpu s':>20} {'cpu / CleanVision':>20}")
        for k in runs:
            share = [c / v for c, v in zip(cpu[k], cpu["cleanvision"], strict=True)]
            print(f"{k:14} {spread(wall[k]):>20} {spread(cpu[k]):>20} {spread(share):>20}")
        per_image = statistics.median(cpu["cleanvision"]) / n_images * 1e3
        print(f"CleanVision: {per_image:.1f} ms of CPU per image")
    finally:
        shutil.rmtree(pycache, ignore_errors=True)
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
