"""The scan, end to end: plan → collect → aggregate → checks → Report.

plan.py        options + layout preset → ScanPlan (settled before any file is read)
collect.py     ScanPlan → records (cache, process pool, label transform)
aggregate.py   records → SplitStats / DatasetStats (one associative merge)
checks/run.py  records + statistics → findings (thresholds apply here)
summarise.py   all of the above → Report (training.py: Normalize constants, class weights)
gallery.py     for an HTML report: the pictures of the findings, from the stored thumbnails
report.py      the frozen result every format renders; formats/ render it

A shard run (--shard I/N) stops after collection and returns its part (shards.py); the merge
of all parts rejoins the pipeline at the aggregate stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from .aggregate import DatasetStats, SplitView, dataset_stats, details_from, split_stats
from .checks.run import run_checks
from .collect import Collected, assemble, audit_files, collect
from .options import Options
from .paths import display_path, printable
from .plan import ScanPlan
from .pool import Progress
from .records import IMAGE_SUFFIXES
from .report import Report
from .rules import training_names
from .shards import Partial, check_statistics, make_partial, merge_parts, with_fail_on
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

            report = replace(
                report,
                gallery=build_gallery(
                    plan.labels, plan.options.max_pictures, collected, dataset, report
                ),
            )
        return report
    finally:
        if collected.visuals is not None:
            collected.visuals.close()


def aggregate(plan: ScanPlan, collected: Collected) -> DatasetStats:
    train = training_names([(s.planned.name, s.planned.role) for s in collected.splits])
    details = details_from([s.pairs for s in collected.splits])  # NA307's, read when asked
    stats = dataset_stats(
        SplitView(
            s.planned.name,
            s.planned.role,
            s.planned.labeled,
            split_stats(
                s.pairs,
                plan.labels,
                s.planned.labeled,
                plan.training if s.planned.name in train else None,
            )
            if collected.stats is None
            else collected.stats[i],
            tuple(
                (display_path(path, plan.root), printable(reason))
                for path, reason in s.planned.unreadable
            ),
            tuple(
                display_path(path, plan.root)
                for path, reason in s.planned.skipped
                if reason == "hidden file" and path.suffix.lower() in IMAGE_SUFFIXES
            ),
        )
        for i, s in enumerate(collected.splits)
    )
    return replace(stats, details=details)


def run_shard(
    plan: ScanPlan,
    *,
    jobs: int = 1,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Partial:
    """The part of the scan that ``plan.options.shard`` names: its records and statistics."""
    records, notes, visuals = audit_files(
        plan, jobs=jobs, cache_dir=cache_dir, progress=progress, on_total=on_total
    )
    if visuals is not None:  # pictures are for an HTML report, which only merge writes
        visuals.close()
    return make_partial(plan, records, assemble(plan, records, notes), plan.shown_root)


def merge(parts: Sequence[Partial], user: Options | None = None) -> Report:
    """The report of a scan from all its parts: the same as the scan's own. What ``user``
    (merge's flags and variables) gives of fail_on decides over the shards' setting."""
    merged = merge_parts(parts)
    plan = merged.plan
    if user is not None and user.given("fail_on"):
        plan = with_fail_on(plan, user.fail_on)
    collected = assemble(plan, merged.records, merged.notes)
    dataset = aggregate(plan, collected)
    check_statistics(parts, [s.stats for s in dataset.splits])
    report = build_report(plan, collected, dataset, run_checks(plan, collected, dataset))
    return replace(report, root=merged.root)
