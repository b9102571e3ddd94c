"""What the client of a Dask scan spends a file, with the workers folding each batch's split
statistics (partial statistics, the default) and without (the client folds every record,
as before), in alternating rounds on one LocalCluster.

    python benchmarks/bench_partials.py                       # 2,000 pairs of 64×64 PNG
    python benchmarks/bench_partials.py --pairs 12000 --size 32 --rounds 3   # a spilled store

The scan runs in this process, stage by stage, against a LocalCluster of 2 single-threaded
workers started once (outside the measures). Per file, for each mode (the median of the
rounds): the bytes the workers sent back (compressed batches), the CPU seconds of this
process's main thread (``time.thread_time``) in collect (the records back, the store, the
duplicates' second read, the partial statistics merged), aggregate (the split
statistics), checks + report, and the JSON report, and their sum (``main``); the process's
total (``client``: Dask's own threads too, its messages and its polling, which load makes
vary most), and the CPU of the workers. The JSON reports of both modes are compared byte
for byte. CPU seconds are what load distorts least; they still are not free of it.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import generate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--report-files", default="all", choices=("all", "findings", "none"))
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()

    import dask
    import distributed

    from nanaudit import cluster, collect, pipeline
    from nanaudit.checks.run import run_checks
    from nanaudit.formats import Format, RenderOptions, render_chunks
    from nanaudit.plan import plan_for_api
    from nanaudit.summarise import build_report

    logging.getLogger("distributed").setLevel(logging.ERROR)
    data = args.data or Path(f"/tmp/nanaudit-bench-partials-{args.pairs}-{args.size}")
    if not (data / "images").is_dir():
        generate(data, args.pairs, args.size, "png2k")

    sent: list[int] = []
    inflate = cluster._inflate

    def counted(blob: bytes, limit: int) -> object:
        sent.append(len(blob))
        return inflate(blob, limit)

    cluster._inflate = counted  # type: ignore[assignment]
    folding = collect.split_folding
    modes: dict[str, Any] = {"records": lambda plan, cached=True: None, "partials": folding}
    rows: dict[str, list[tuple[float, ...]]] = {}
    texts: dict[str, str] = {}
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        lc = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
    client = distributed.Client(lc, set_as_default=False)
    try:
        for r in range(args.rounds + 1):  # round 0 warms the workers' imports
            for name, fold in modes.items():
                collect.split_folding = fold
                options = {"executor": "dask", "scheduler": lc.scheduler_address}
                plan = plan_for_api(data, None, {**options, "report_files": args.report_files})
                files = len(collect.plan_tasks(plan))
                sent.clear()
                workers0 = sum(client.run(time.process_time).values())
                p0, t0 = time.process_time(), time.thread_time()
                collected = collect.collect(plan, jobs=2)
                t1 = time.thread_time()
                dataset = pipeline.aggregate(plan, collected)
                t2 = time.thread_time()
                report = build_report(
                    plan, collected, dataset, run_checks(plan, collected, dataset)
                )
                t3 = time.thread_time()
                options = RenderOptions(files=args.report_files)
                texts[name] = "".join(render_chunks(report, Format("json"), options))
                t4, p4 = time.thread_time(), time.process_time()
                workers = sum(client.run(time.process_time).values()) - workers0
                if collected.store is not None:
                    collected.store.close()
                stages = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0, p4 - p0)
                row = (sum(sent) / files, *(1e6 * d / files for d in stages), 1e6 * workers / files)
                if r:
                    rows.setdefault(name, []).append(row)
    finally:
        collect.split_folding = folding
        client.close()
        lc.close()
    load = os.getloadavg()[0]
    print(
        f"{files:,} files ({args.pairs:,} pairs, {args.size}×{args.size} PNG), 2 Dask workers,"
        f" --report-files {args.report_files}, load average {load:.1f}, {args.rounds} rounds"
    )
    print("µs of CPU a file, median of the rounds (bytes a file for 'sent')")
    head = ("mode", "sent", "collect", "aggregate", "checks", "json", "main", "client", "workers")
    print(f"{head[0]:<10}" + "".join(f"{h:>10}" for h in head[1:]))
    for name, measured in rows.items():
        median = [statistics.median(column) for column in zip(*measured, strict=True)]
        print(f"{name:<10}" + "".join(f"{v:10.1f}" for v in median))
    same = texts["records"] == texts["partials"]
    print(f"JSON reports identical: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
