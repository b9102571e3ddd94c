"""The scan: discover → pair → decode once → per-file records → checks → Report."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from . import __version__
from . import baseline as baseline_mod
from .baseline import BaselineEntry, BaselineResult
from .cache import RecordCache, file_key, record_from_json
from .checks.context import (
    CheckContext,
    FullScale,
    LabelSettings,
    SplitFacts,
    full_scales,
)
from .checks.dataset import DatasetView, SplitView
from .checks.registry import CheckSpec, Hit, Pair, all_checks
from .config import Settings
from .discovery import Layout, SplitFiles, discover
from .model import DecodeSettings, FileRecord, Finding, Kind, Severity
from .presets import apply_preset, palette_luma_hint, resolve
from .runner import Task, run_tasks
from .stats import merge_histograms
from .summary import ImageGroup, SplitTraining, image_groups, split_training

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class SplitSummary:
    name: str
    role: str
    labeled: bool
    image_root: str
    mask_root: str | None
    images: int
    masks: int
    pairs: int
    skipped: int
    unreadable: int
    image_groups: tuple[ImageGroup, ...]
    nan: int
    inf: int
    label_histogram: tuple[tuple[int, int], ...]
    mask_pixels: int
    ignore_pixels: int
    implied_classes: int | None
    training: SplitTraining


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a formatter renders. Frozen data; the same for the CLI and the API."""

    root: str
    version: str
    settings: Settings
    layout: str
    layout_reason: str
    notes: tuple[str, ...]
    splits: tuple[SplitSummary, ...]
    findings: tuple[Finding, ...]
    files: tuple[FileRecord, ...]
    skipped: tuple[tuple[str, str], ...]
    preset: str = "generic"
    suppressed: int = 0  # findings dropped by per-file-ignores
    baselined: tuple[Finding, ...] = ()  # findings hidden by --baseline
    baseline: BaselineResult | None = None

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def exit_code(self) -> int:
        fail_on = self.settings.fail_on
        if fail_on is None:
            return 0
        return 1 if any(f.severity >= fail_on for f in self.findings) else 0

    @property
    def implied_classes(self) -> int | None:
        values = [s.implied_classes for s in self.splits if s.implied_classes is not None]
        return max(values) if values else None

    @property
    def label_values(self) -> tuple[int, ...]:
        hist: tuple[tuple[int, int], ...] = ()
        for s in self.splits:
            hist = merge_histograms(hist, s.label_histogram)
        return tuple(v for v, _ in hist)


def display_path(path: Path, root: Path) -> str:
    """Relative to the scan root, POSIX form; undecodable bytes shown as \\xNN escapes."""
    p, r = os.fspath(path), os.fspath(root)
    prefix = r if r.endswith(os.sep) else r + os.sep
    # files found by walking the root start with it: no need for relpath's normalisation
    rel = p[len(prefix) :] if p.startswith(prefix) and r not in ("", ".") else os.path.relpath(p, r)
    text = os.fsencode(rel).decode("utf-8", "backslashreplace")
    return printable(Path(text).as_posix() if os.sep == "\\" else text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Control characters (a newline or ESC in a file name) as \\xNN escapes: no report
    line can be split, no terminal driven, no workflow command injected, no XML broken."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def scan_path(
    root: Path,
    settings: Settings,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    baseline: tuple[str, Sequence[BaselineEntry]] | None = None,
    jobs: int = 1,
    cache_dir: Path | None = None,
) -> Report:
    """Scan ``root``: every file is decoded once (or taken from the cache), then checked."""
    preset, base, why = resolve(root, settings.layout, bool(settings.splits))
    settings = apply_preset(settings, preset)
    if preset.discover is None:
        layout = discover(
            root, settings.splits, settings.pair_key_pattern(), settings.unlabeled_splits
        )
    else:
        layout = preset.discover(root, base, settings)
    if why:
        layout = replace(layout, reason=f"{why}; {layout.reason}")
    tasks: dict[tuple[Path, Kind], Task] = {}
    for split in layout.splits:
        for p in split.pairs:
            for path, kind in ((p.image, Kind.IMAGE), (p.mask, Kind.MASK)):
                if path is not None and (path, kind) not in tasks:
                    tasks[(path, kind)] = Task(path, display_path(path, root), kind, split.name)
    if on_total is not None:
        on_total(len(tasks))
    decode = settings.decode_settings()
    notes = list(layout.notes)
    cache = _open_cache(cache_dir, root, decode, notes)
    records: dict[tuple[Path, Kind], FileRecord] = {}
    try:
        if cache is not None:
            for key, text in cache.lookup(tasks).items():
                t = tasks[key]
                records[key] = record_from_json(text, t.rel, t.kind, t.split)
            if progress is not None and records:
                progress(len(records))
        todo = [t for key, t in tasks.items() if key not in records]
        stamps = {(t.path, t.kind): file_key(t.path) for t in todo} if cache is not None else {}
        for t, rec in zip(todo, run_tasks(todo, decode, jobs, progress), strict=True):
            records[(t.path, t.kind)] = rec
        if cache is not None:
            cache.store(
                (t.path, t.kind, stamp, records[(t.path, t.kind)])
                for t in todo
                if (stamp := stamps[(t.path, t.kind)]) is not None and records[(t.path, t.kind)].ok
            )
            if cache.problem:
                notes.append(cache.problem)
    finally:
        if cache is not None:
            cache.close()
    if settings.label_offset or settings.reduce_zero_label:
        for key, rec in records.items():
            if rec.labels is not None:
                records[key] = relabel(rec, settings)
    split_pairs = [
        [
            Pair(
                split.name,
                records[(p.image, Kind.IMAGE)] if p.image is not None else None,
                records[(p.mask, Kind.MASK)] if p.mask is not None else None,
                split.labeled,
            )
            for p in split.pairs
        ]
        for split in layout.splits
    ]
    report = build_report(
        root,
        settings,
        replace(layout, notes=tuple(notes)),
        split_pairs,
        preset.hint or palette_luma_hint,
        preset.name,
    )
    if baseline is not None:
        report = apply_baseline(report, *baseline)
    return report


def _open_cache(
    cache_dir: Path | None, root: Path, decode: DecodeSettings, notes: list[str]
) -> RecordCache | None:
    if cache_dir is None:
        return None
    try:
        inside = cache_dir.resolve().is_relative_to(root.resolve())
    except OSError:
        inside = True
    if inside:
        notes.append("the cache folder lies inside the scanned folder: cache not used")
        return None
    cache = RecordCache(cache_dir, decode)
    if not cache.usable:
        notes.append(cache.problem or "cache not usable")
        return None
    return cache


def apply_baseline(report: Report, file: str, entries: Sequence[BaselineEntry]) -> Report:
    new, hidden, stale = baseline_mod.apply(report.findings, entries)
    return replace(
        report,
        findings=tuple(new),
        baselined=tuple(hidden),
        baseline=BaselineResult(file, len(hidden), tuple(stale)),
    )


def relabel(rec: FileRecord, settings: Settings) -> FileRecord:
    """A mask record with the declared label transform applied (cached records stay raw)."""
    assert rec.labels is not None
    ignore = settings.ignore_index if settings.ignore_index is not None else 255

    def new(v: int) -> int:
        if v == settings.ignore_index:
            return v
        if settings.reduce_zero_label:
            v = ignore if v == 0 else v - 1
            return v if v == ignore else v + settings.label_offset
        return v + settings.label_offset

    hist: dict[int, int] = {}
    for v, n in rec.labels.histogram:
        hist[new(v)] = hist.get(new(v), 0) + n
    labels = replace(
        rec.labels,
        histogram=tuple(sorted(hist.items())),
        boundary_labels=tuple(new(v) for v in rec.labels.boundary_labels),
    )
    return replace(rec, labels=labels)


def build_report(
    root: Path,
    settings: Settings,
    layout: Layout,
    split_pairs: list[list[Pair]],
    hint: Callable[[Sequence[int], int | None], str | None] | None = None,
    preset: str = "generic",
) -> Report:
    specs = [s for s in all_checks() if settings.selected(s.id)]
    labels = LabelSettings(
        settings.num_classes,
        settings.ignore_index,
        settings.background,
        settings.unused_ids,
        bool(settings.label_offset or settings.reduce_zero_label),
    )
    all_images = [p.image for pairs in split_pairs for p in pairs if p.image is not None]
    scales = full_scales(all_images)
    iqr = float(settings.options_for(_spec("NA111"))["iqr_factor"])
    findings: list[Finding] = []
    summaries: list[SplitSummary] = []
    files: dict[str, FileRecord] = {}
    for split, pairs in zip(layout.splits, split_pairs, strict=True):
        images = [p.image for p in pairs if p.image is not None]
        facts = SplitFacts.from_images(split.name, split.labeled, images, iqr)
        findings += _run_split(specs, settings, labels, facts, scales, pairs, split, root, hint)
        summaries.append(_summarise(split, pairs, root, labels, scales))
        for p in pairs:
            for rec in (p.image, p.mask):
                if rec is not None:
                    files.setdefault(rec.path, rec)
    view = DatasetView(
        tuple(
            SplitView(s.name, s.role, s.labeled, tuple(pairs), summary.label_histogram)
            for s, pairs, summary in zip(layout.splits, split_pairs, summaries, strict=True)
        ),
        settings.batch_size,
        settings.drop_last,
    )
    findings += _run_dataset(specs, settings, labels, scales, view)
    kept = [f for f in findings if not settings.ignored_for_path(f.check, f.path)]
    suppressed = len(findings) - len(kept)
    kept.sort(key=Finding.sort_key)
    skipped = sorted(
        (display_path(path, root), reason) for s in layout.splits for path, reason in s.skipped
    )
    return Report(
        root=display_path(root, Path.cwd())
        if not root.is_absolute()
        else printable(os.fsencode(root.as_posix()).decode("utf-8", "backslashreplace")),
        version=__version__,
        settings=settings,
        layout=layout.name,
        layout_reason=printable(layout.reason),
        preset=preset,
        notes=tuple(printable(n) for n in layout.notes),
        splits=tuple(summaries),
        findings=tuple(kept),
        files=tuple(files[k] for k in sorted(files)),
        skipped=tuple(dict.fromkeys(skipped)),
        suppressed=suppressed,
    )


def _spec(check_id: str) -> CheckSpec:
    return next(s for s in all_checks() if s.id == check_id)


def _run_split(
    specs: list[CheckSpec],
    settings: Settings,
    labels: LabelSettings,
    facts: SplitFacts,
    scales: dict[str, FullScale],
    pairs: list[Pair],
    split: SplitFiles,
    root: Path,
    hint: Callable[[Sequence[int], int | None], str | None] | None = None,
) -> Iterator[Finding]:
    for spec in specs:
        ctx = CheckContext(
            labels, settings.options_for(spec), facts, scales, settings.class_names, hint
        )
        severity = settings.severity_for(spec)
        func, scope = spec.func, spec.scope

        def emit(
            hit: Hit,
            path: str,
            image: str | None,
            mask: str | None,
            spec: CheckSpec = spec,
            severity: Severity | None = severity,
        ) -> Finding:
            return Finding(
                spec.id,
                spec.name,
                severity or hit.severity or spec.severity,
                hit.path or path,
                split.name,
                printable(hit.message),
                dict(hit.data),
                image,
                mask,
            )

        if scope == "split":
            where = display_path(split.image_root, root)
            yield from (emit(h, where, None, None) for h in func(ctx, split))
            continue
        for pair in pairs:
            image, mask = pair.image, pair.mask
            img = image.path if image is not None else None
            msk = mask.path if mask is not None else None
            if scope == "image":
                if image is not None and image.pixels is not None:
                    for h in func(ctx, image):
                        yield emit(h, image.path, img, msk)
            elif scope == "mask":
                # a colour mask has no labels: only NA205 speaks about it
                if (
                    mask is not None
                    and mask.ok
                    and pair.labeled
                    and (mask.labels is not None or spec.id == "NA205")
                ):
                    for h in func(ctx, mask):
                        yield emit(h, mask.path, img, msk)
            elif scope == "pair":
                for h in func(ctx, pair):
                    yield emit(h, img or msk or "", img, msk)
            elif scope == "file":
                for rec in (image, mask):
                    if rec is not None and rec.error is not None:
                        for h in func(ctx, rec):
                            yield emit(h, rec.path, img, msk)


def _run_dataset(
    specs: list[CheckSpec],
    settings: Settings,
    labels: LabelSettings,
    scales: dict[str, FullScale],
    view: DatasetView,
) -> Iterator[Finding]:
    facts = SplitFacts("*")
    for spec in specs:
        if spec.scope != "dataset":
            continue
        ctx = CheckContext(labels, settings.options_for(spec), facts, scales, settings.class_names)
        configured = settings.severity_for(spec)
        for hit in spec.func(ctx, view):
            severity = configured or hit.severity or spec.severity
            yield Finding(
                spec.id,
                spec.name,
                severity,
                hit.path or ".",
                hit.split,
                printable(hit.message),
                dict(hit.data),
            )


def _summarise(
    split: SplitFiles,
    pairs: list[Pair],
    root: Path,
    labels: LabelSettings,
    scales: dict[str, FullScale],
) -> SplitSummary:
    images = [p.image for p in pairs if p.image is not None]
    masks = {p.mask.path: p.mask for p in pairs if p.mask is not None}
    groups = image_groups(images)
    nan = sum(c.nan for g in groups for c in g.channels)
    inf = sum(c.inf for g in groups for c in g.channels)
    hist: tuple[tuple[int, int], ...] = ()
    mask_pixels = 0
    for rec in masks.values():
        if rec.labels is not None:
            hist = merge_histograms(hist, rec.labels.histogram)
            mask_pixels += rec.labels.pixels
    ignore_pixels = dict(hist).get(labels.ignore_index, 0) if labels.ignore_index is not None else 0
    valid = [v for v, _ in hist if v != labels.ignore_index]
    implied = max(valid) + 1 if valid and max(valid) >= 0 else None
    counts = Counter((p.image is not None, p.mask is not None) for p in pairs)
    unreadable = sum(1 for r in [*images, *masks.values()] if not r.ok)
    return SplitSummary(
        name=split.name,
        role=split.role,
        labeled=split.labeled,
        image_root=display_path(split.image_root, root),
        mask_root=display_path(split.mask_root, root) if split.mask_root else None,
        images=len(images),
        masks=len(masks),
        pairs=counts[(True, True)],
        skipped=len(split.skipped),
        unreadable=unreadable,
        image_groups=groups,
        nan=nan,
        inf=inf,
        label_histogram=hist,
        mask_pixels=mask_pixels,
        ignore_pixels=ignore_pixels,
        implied_classes=implied,
        training=split_training(pairs, groups, scales, labels, split.labeled),
    )
