"""Throughput of --executor dask with 1, 2 and 4 workers, against the local pool measured in
the same run.

    python benchmarks/bench_cluster.py                     # 600 pairs, 512×512 JPEG + PNG
    python benchmarks/bench_cluster.py --pairs 200 --rounds 2 --data /tmp/bench-data

Needs nanaudit[dask]. The dataset is generated once (bench.py's generator). A LocalCluster
of W single-threaded worker processes on loopback is started for each W (outside the timed
part, as a cluster that already runs), and each round times, one after the other so that
machine noise hits all of them alike, whole processes, start-up included:

  (a) floor    nanaudit scan --jobs 2 --no-cache            the local process pool
  (b) dask W   nanaudit scan --executor dask --scheduler ADDRESS --no-cache, W = 1, 2, 4

The table gives the best round of each: seconds, files a second, and the ratio to the
floor. The reports of every mode are compared byte for byte. On a machine of C cores the
figures can show the cost of going through a scheduler (serialisation, one round trip a
batch, the records sent back) and scaling up to C workers; they cannot show scaling past C
(4 workers on 2 cores share the cores) nor the network of a real cluster.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import generate


def timed(args: list[str], out: Path) -> float:
    start = time.perf_counter()
    with open(out, "wb") as fh:
        code = subprocess.run(
            [sys.executable, "-m", "nanaudit", *args],
            stdout=fh,
            stderr=subprocess.DEVNULL,
            check=False,
        ).returncode
    if code not in (0, 1):
        raise SystemExit(f"nanaudit {' '.join(args)} exited {code}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()

    import dask
    import distributed

    logging.getLogger("distributed").setLevel(logging.ERROR)

    tmp = tempfile.TemporaryDirectory()
    data = args.data or Path(tmp.name) / "data"
    if not (data / "images").is_dir():
        generate(data, args.pairs, args.size, "jpeg")
    files = sum(1 for p in data.rglob("*") if p.is_file())
    out = Path(tmp.name)
    scan = ["scan", str(data), "--no-cache", "--no-progress", "--format", "json"]

    clusters = {}
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        for w in (int(x) for x in args.workers.split(",")):
            clusters[w] = distributed.LocalCluster(
                n_workers=w,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
    try:
        modes = {"floor (local pool, --jobs 2)": [*scan, "--jobs", "2"]}
        for w, c in clusters.items():
            modes[f"dask, {w} worker{'s' if w > 1 else ''}"] = [
                *scan,
                "--executor",
                "dask",
                "--scheduler",
                c.scheduler_address,
            ]
        best: dict[str, float] = {}
        reports: dict[str, bytes] = {}
        for r in range(args.rounds + 1):  # round 0 warms the workers' imports, not counted
            for name, cmd in modes.items():
                report = out / f"{abs(hash(name))}.json"
                seconds = timed(cmd, report)
                reports[name] = report.read_bytes()
                if r:
                    best[name] = min(best.get(name, seconds), seconds)
    finally:
        for c in clusters.values():
            c.close()
    same = len(set(reports.values())) == 1
    floor = best[next(iter(modes))]
    print(f"{files} files ({args.pairs} pairs, {args.size}×{args.size}), {os.cpu_count()} CPUs")
    print(f"{'mode':<32} {'seconds':>8} {'files/s':>8} {'÷ floor':>8}")
    for name, seconds in best.items():
        print(f"{name:<32} {seconds:8.2f} {files / seconds:8.0f} {seconds / floor:8.2f}")
    print(f"reports identical in every mode: {'yes' if same else 'NO'}")
    tmp.cleanup()


if __name__ == "__main__":
    main()
