"""Where a scan's time goes, stage by stage, with one job and with several.

    python benchmarks/bench_stages.py                     # 1,000 JPEG pairs of 512×512
    python benchmarks/bench_stages.py --data /tmp/bench-data --rounds 5 --jobs 2

Each round runs ``nanaudit scan --no-cache --format json`` once with ``--jobs 1`` and once
with ``--jobs N`` (alternating, whole processes, bytecode compiled as bench.py does), in a
wrapper that notes the wall time and this process's CPU time (``time.process_time``: all its
threads) at each stage's end:

  start-up   the interpreter and nanaudit's imports
  listing    the options, the listing and pairing of the files (make_plan)
  tasks      up to the first task handed to the executor
  decoding   the executor's run (pool.run_tasks), until its last record is taken
  after      second reads, aggregation, checks, the report, the exit

and the CPU time of the whole process tree (bench.timed: the pool's server and workers).
What load distorts least is the CPU: the speed-up that ``--jobs N`` can reach at most is
given by Amdahl's law from the CPU of ``--jobs 1``: its start-up, listing, tasks and after
stages run in one process whatever N (S), the decoding is shared by N processes:
(b) / (S + (b - S) / N), and, with what ``--jobs N`` costs more in CPU (its decoding
stage's CPU in all processes against that of ``--jobs 1``), lower still.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import VARIANTS, generate, installed_env, spread, timed

STAGES = ("start-up", "listing", "tasks", "decoding", "after")

WRAPPER = r"""
import json, os, sys, time

T0 = float(os.environ["BENCH_T0"])
marks = {}


def mark(name):
    marks.setdefault(name, (time.time() - T0, time.process_time()))


def main():
    import nanaudit.cli as cli
    import nanaudit.collect as collect
    import nanaudit.plan as plan

    mark("start-up")
    make_plan, run_tasks = plan.make_plan, collect.run_tasks

    def timed_plan(*a, **k):
        try:
            return make_plan(*a, **k)
        finally:
            mark("listing")

    def timed_run(*a, **k):
        mark("tasks")
        yield from run_tasks(*a, **k)
        mark("decoding")

    plan.make_plan, collect.run_tasks = timed_plan, timed_run
    try:
        cli.main(sys.argv[1:])
    except SystemExit:
        pass
    mark("after")
    with open(os.environ["BENCH_MARKS"], "w") as fh:
        json.dump(marks, fh)


if __name__ == "__main__":
    main()
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="jpeg")
    parser.add_argument("--pairs", type=int)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--data", type=Path, help="generate into (or reuse) this folder")
    args = parser.parse_args()
    pairs, width, height = VARIANTS[args.variant]
    pairs = args.pairs or pairs
    root = args.data or Path(tempfile.mkdtemp(prefix="nanaudit-bench-"))
    scratch = Path(tempfile.mkdtemp(prefix="nanaudit-bench-stages-"))
    env = installed_env(dict(os.environ), scratch / "pyc")
    wrapper = scratch / "staged.py"
    wrapper.write_text(WRAPPER)
    try:
        if not (root / "images").is_dir():
            generate(root, pairs, width, args.variant, height)
        base = [sys.executable, str(wrapper), "scan", str(root), "--no-cache", "--no-progress"]
        base += ["--format", "json", "-C", "5"]
        runs = {1: [*base, "--jobs", "1"], args.jobs: [*base, "--jobs", str(args.jobs)]}
        timed(runs[args.jobs], {**env, "BENCH_T0": "0", "BENCH_MARKS": str(scratch / "m")})
        rows: dict[int, list[dict[str, float]]] = {j: [] for j in runs}
        for r in range(args.rounds):
            line = []
            for jobs, cmd in runs.items():
                marks_file = scratch / f"marks{jobs}.json"
                run_env = {**env, "BENCH_T0": repr(time.time()), "BENCH_MARKS": str(marks_file)}
                wall, _, code, tree, own = timed(cmd, run_env)
                if code not in (0, 1):
                    sys.exit(f"the scan with --jobs {jobs} exited {code}")
                marks = json.loads(marks_file.read_text())
                row = {"wall": wall, "tree": tree, "own": own}
                before = 0.0
                for stage in STAGES:
                    row[stage] = marks[stage][1] - before
                    before = marks[stage][1]
                row["decoding wall"] = marks["decoding"][0] - marks["tasks"][0]
                rows[jobs].append(row)
                line.append(f"jobs {jobs}: {wall:.2f} s, cpu {tree:.2f} s")
            print(f"round {r + 1} (load {os.getloadavg()[0]:.1f}): " + "; ".join(line), flush=True)
        print(f"\n{pairs} {args.variant} pairs, {args.rounds} alternating rounds; median (range)")
        print(f"{'this process, CPU s':24}" + "".join(f"{f'--jobs {j}':>22}" for j in runs))
        for key in (*STAGES, "own", "tree", "wall", "decoding wall"):
            label = {
                "own": "all of this process",
                "tree": "all processes",
                "wall": "wall s",
                "decoding wall": "decoding, wall s",
            }.get(key, key)
            cells = "".join(f"{spread([x[key] for x in rows[j]]):>22}" for j in runs)
            print(f"{label:24}{cells}")
        one, many = rows[1], rows[args.jobs]
        serial = [x["own"] - x["decoding"] for x in one]
        amdahl = [
            x["tree"] / (s + (x["tree"] - s) / args.jobs) for x, s in zip(one, serial, strict=True)
        ]
        # the decoding's CPU in all processes with N jobs: the tree's less this process's
        # other stages
        shared = [y["tree"] - (y["own"] - y["decoding"]) for y in many]
        cost = [
            s / (x["tree"] - x["own"] + x["decoding"]) for s, x in zip(shared, one, strict=True)
        ]
        with_cost = [
            x["tree"] / (s + c * (x["tree"] - s) / args.jobs)
            for x, s, c in zip(one, serial, cost, strict=True)
        ]
        speed = [x["wall"] / y["wall"] for x, y in zip(one, many, strict=True)]
        print(f"\nserial CPU of --jobs 1 (all but the decoding): {spread(serial)} s")
        print(f"decoding CPU with --jobs {args.jobs} / with --jobs 1: {spread(cost)}")
        print(
            f"speed-up ceilings of --jobs {args.jobs}: Amdahl {spread(amdahl)}, "
            f"with that cost {spread(with_cost)}; measured (wall) {spread(speed)}"
        )
        print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
