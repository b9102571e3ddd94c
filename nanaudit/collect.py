"""Plan → records: one task per file, the cache, the process pool, the label transform.

Every file of the plan is decoded once (or taken from the cache) into a record; mask
records then get the plan's label transform, which the cache never sees.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .cache import RecordCache, Stamp, file_stamp, record_from_json
from .layouts import PlannedSplit
from .paths import display_path
from .plan import ScanPlan
from .pool import Progress, Task, run_tasks
from .records import CodecError, FileKind, FileRecord, Pair, Visual
from .visuals import VisualStore

VISUAL_BATCH = 1024  # thumbnails written to the store at a time


@dataclass(frozen=True, slots=True)
class CollectedSplit:
    planned: PlannedSplit
    pairs: tuple[Pair, ...]


@dataclass(frozen=True, slots=True)
class Collected:
    splits: tuple[CollectedSplit, ...]
    notes: tuple[str, ...]  # what the cache had to say
    # the files' thumbnails (an HTML report was asked for), open until the report is built
    visuals: VisualStore | None = None


def plan_tasks(plan: ScanPlan) -> dict[tuple[Path, FileKind], Task]:
    """One task per file, in the plan's order."""
    tasks: dict[tuple[Path, FileKind], Task] = {}
    for split in plan.layout.splits:
        for p in split.pairs:
            for path, kind in ((p.image, FileKind.IMAGE), (p.mask, FileKind.MASK)):
                if path is not None and (path, kind) not in tasks:
                    tasks[(path, kind)] = Task(
                        path, display_path(path, plan.root), kind, split.name
                    )
    return tasks


def collect(
    plan: ScanPlan,
    *,
    jobs: int = 1,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Collected:
    tasks = plan_tasks(plan)
    if on_total is not None:
        on_total(len(tasks))
    notes: list[str] = []
    cache = _open_cache(cache_dir, plan, notes)
    records: dict[tuple[Path, FileKind], FileRecord] = {}
    visuals: VisualStore | None = None
    if plan.visuals:
        tasks = {key: replace(t, visual=True) for key, t in tasks.items()}
        visuals = VisualStore(cache.directory if cache is not None else None, plan.limits)
    try:
        if cache is not None:
            damaged = []
            for key, text in cache.lookup(tasks).items():
                t = tasks[key]
                try:
                    records[key] = record_from_json(text, t.rel, t.kind, t.split)
                except CodecError:
                    damaged.append(key)
            cache.drop(damaged)
            if visuals is not None:  # a record cached without its thumbnails is read again
                kept = visuals.available(records)
                records = {key: rec for key, rec in records.items() if key in kept}
            if progress is not None and records:
                progress(len(records))
        todo = [t for key, t in tasks.items() if key not in records]
        stamps = {(t.path, t.kind): file_stamp(t.path) for t in todo} if cache else {}
        made: list[tuple[Path, FileKind, Stamp | None, Visual]] = []
        for t, rec in zip(todo, run_tasks(todo, plan.limits, jobs, progress), strict=True):
            if visuals is not None and rec.visual is not None:
                # streamed to disk as they come: thumbnails are never all in memory
                made.append((t.path, t.kind, stamps.get((t.path, t.kind)), rec.visual))
                rec = replace(rec, visual=None)
                if len(made) >= VISUAL_BATCH:
                    visuals.put(made)
                    made.clear()
            records[(t.path, t.kind)] = rec
        if visuals is not None:
            visuals.put(made)
            if visuals.problem:
                notes.append(visuals.problem)
        if cache is not None:
            cache.store(
                (t.path, t.kind, stamp, records[(t.path, t.kind)])
                for t in todo
                if (stamp := stamps[(t.path, t.kind)]) is not None and records[(t.path, t.kind)].ok
            )
            if cache.problem:
                notes.append(cache.problem)
    except BaseException:
        if visuals is not None:
            visuals.close()
        raise
    finally:
        if cache is not None:
            cache.close()
    rules = plan.labels
    splits = []
    for split in plan.layout.splits:
        pairs = []
        for p in split.pairs:
            image = records[(p.image, FileKind.IMAGE)] if p.image is not None else None
            mask = records[(p.mask, FileKind.MASK)] if p.mask is not None else None
            pairs.append(
                Pair(split.name, image, rules.apply(mask) if mask else None, split.labeled)
            )
        splits.append(CollectedSplit(split, tuple(pairs)))
    return Collected(tuple(splits), tuple(notes), visuals)


def _open_cache(cache_dir: Path | None, plan: ScanPlan, notes: list[str]) -> RecordCache | None:
    if cache_dir is None:
        return None
    try:
        inside = cache_dir.resolve().is_relative_to(plan.root.resolve())
    except OSError:
        inside = True
    if inside:
        notes.append("the cache folder lies inside the scanned folder: cache not used")
        return None
    cache = RecordCache(cache_dir, plan.limits)
    if not cache.usable:
        notes.append(cache.problem or "cache not usable")
        return None
    return cache
