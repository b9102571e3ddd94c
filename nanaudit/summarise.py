"""Plan, records, statistics and findings → the frozen :class:`Report`."""

from __future__ import annotations

from .aggregate import DatasetStats, SplitView
from .checks.registry import all_checks
from .checks.run import CheckResult
from .collect import Collected
from .paths import display_path, printable
from .plan import ScanPlan
from .records import FileRecord
from .report import Report, SplitReport
from .rules import LabelRules, TrainingRules
from .store import StoredFiles
from .training import image_groups, training_summary
from .version import __version__


def build_report(
    plan: ScanPlan, collected: Collected, dataset: DatasetStats, checked: CheckResult
) -> Report:
    root, rules = plan.root, plan.labels
    splits = []
    files: dict[str, FileRecord] = {}
    for split, view in zip(collected.splits, dataset.splits, strict=True):
        planned = split.planned
        splits.append(
            split_report(
                view,
                dataset,
                rules,
                image_root=display_path(planned.image_root, root),
                mask_root=display_path(planned.mask_root, root) if planned.mask_root else None,
                skipped=len(planned.skipped),
                training_rules=plan.training,
            )
        )
        if collected.store is None:
            for pair in split.pairs:
                for rec in (pair.image, pair.mask):
                    if rec is not None:
                        files.setdefault(rec.path, rec)
    skipped = sorted(
        (display_path(path, root), reason) for s in plan.layout.splits for path, reason in s.skipped
    )
    layout = plan.layout
    return Report(
        root=plan.shown_root,
        version=__version__,
        layout=layout.name,
        layout_reason=printable(layout.reason),
        preset=plan.preset.name,
        notes=tuple(
            printable(n)
            for n in (
                *layout.notes,
                *collected.notes,
                *(scale.note for _, scale in sorted(dataset.scales.items()) if scale.note),
            )
        ),
        labels=rules,
        fail_on=plan.options.fail_on,
        config=plan.config(),
        config_file=plan.config_file,
        checks=tuple(spec.describe() for spec in all_checks()),
        splits=tuple(splits),
        findings=checked.findings,
        files=(
            tuple(files[k] for k in sorted(files))
            if collected.store is None
            else StoredFiles(collected.store, rules.apply)
        ),
        skipped=tuple(dict.fromkeys(skipped)),
        unaudited=tuple((display_path(folder, root), n) for folder, n in layout.unaudited),
        warnings=tuple(printable(w) for w in plan.warnings),
        suppressed=checked.suppressed,
    )


def split_report(
    view: SplitView,
    dataset: DatasetStats,
    rules: LabelRules,
    *,
    image_root: str,
    mask_root: str | None,
    skipped: int = 0,
    training_rules: TrainingRules | None = None,
) -> SplitReport:
    """What the report says of one split (a scanned one, or the samples drawn from a
    training pipeline): counts, image groups, labels and the training summary."""
    stats = view.stats
    groups = image_groups(stats)
    valid = [v for v, _ in stats.labels if v != rules.ignore_index]
    trains = view.name in {v.name for v in dataset.training}
    return SplitReport(
        name=view.name,
        role=view.role,
        labeled=view.labeled,
        image_root=image_root,
        mask_root=mask_root,
        images=stats.image_files,
        masks=stats.masks,
        pairs=stats.pairs,
        skipped=skipped,
        unreadable=stats.unreadable,
        image_groups=groups,
        nan=sum(c.nan for g in groups for c in g.channels),
        inf=sum(c.inf for g in groups for c in g.channels),
        label_histogram=stats.labels,
        mask_pixels=stats.mask_pixels,
        ignore_pixels=stats.label_count(rules.ignore_index),
        implied_classes=max(valid) + 1 if valid and max(valid) >= 0 else None,
        training=training_summary(
            stats,
            dataset.scales,
            rules,
            view.labeled,
            trains,
            training_rules if trains else None,
        ),
    )
