"""The scan, end to end: plan → collect → aggregate → checks → Report.

plan.py        options + layout preset → ScanPlan (settled before any file is read)
collect.py     ScanPlan → records (cache, process pool, label transform)
aggregate.py   records → SplitStats / DatasetStats (one associative merge)
checks/run.py  records + statistics → findings (thresholds apply here)
summarise.py   all of the above → Report (training.py: Normalize constants, class weights)
gallery.py     for an HTML report: the pictures of the findings, from the stored thumbnails
report.py      the frozen result every format renders; formats/ render it
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .aggregate import DatasetStats, SplitView, dataset_stats, split_stats
from .checks.run import run_checks
from .collect import Collected, collect
from .paths import display_path, printable
from .plan import ScanPlan
from .pool import Progress
from .report import Report
from .summarise import build_report


def run(
    plan: ScanPlan,
    *,
    jobs: int = 1,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Report:
    collected = collect(plan, jobs=jobs, cache_dir=cache_dir, progress=progress, on_total=on_total)
    try:
        dataset = aggregate(plan, collected)
        report = build_report(plan, collected, dataset, run_checks(plan, collected, dataset))
        if collected.visuals is not None:
            from .gallery import build_gallery

            report = replace(report, gallery=build_gallery(plan, collected, dataset, report))
        return report
    finally:
        if collected.visuals is not None:
            collected.visuals.close()


def aggregate(plan: ScanPlan, collected: Collected) -> DatasetStats:
    return dataset_stats(
        SplitView(
            s.planned.name,
            s.planned.role,
            s.planned.labeled,
            split_stats(s.pairs, plan.labels, s.planned.labeled),
            tuple(
                (display_path(path, plan.root), printable(reason))
                for path, reason in s.planned.unreadable
            ),
        )
        for s in collected.splits
    )
