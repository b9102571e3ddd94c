"""Plan, records, statistics and findings → the frozen :class:`Report`."""

from __future__ import annotations

from . import __version__
from .aggregate import DatasetStats
from .checks.registry import all_checks
from .checks.run import CheckResult
from .collect import Collected
from .paths import display_path, printable
from .plan import ScanPlan
from .records import FileRecord
from .report import Report, SplitReport
from .training import image_groups, training_summary


def build_report(
    plan: ScanPlan, collected: Collected, dataset: DatasetStats, checked: CheckResult
) -> Report:
    root, rules = plan.root, plan.labels
    splits = []
    files: dict[str, FileRecord] = {}
    training = {v.name for v in dataset.training}
    for split, view in zip(collected.splits, dataset.splits, strict=True):
        planned, stats = split.planned, view.stats
        groups = image_groups(stats)
        ignore = stats.label_count(rules.ignore_index)
        valid = [v for v, _ in stats.labels if v != rules.ignore_index]
        splits.append(
            SplitReport(
                name=planned.name,
                role=planned.role,
                labeled=planned.labeled,
                image_root=display_path(planned.image_root, root),
                mask_root=display_path(planned.mask_root, root) if planned.mask_root else None,
                images=stats.image_files,
                masks=stats.masks,
                pairs=stats.pairs,
                skipped=len(planned.skipped),
                unreadable=stats.unreadable,
                image_groups=groups,
                nan=sum(c.nan for g in groups for c in g.channels),
                inf=sum(c.inf for g in groups for c in g.channels),
                label_histogram=stats.labels,
                mask_pixels=stats.mask_pixels,
                ignore_pixels=ignore,
                implied_classes=max(valid) + 1 if valid and max(valid) >= 0 else None,
                training=training_summary(
                    stats,
                    dataset.scales,
                    rules,
                    planned.labeled,
                    view.name in training,
                    plan.training if view.name in training else None,
                ),
            )
        )
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
        labels=rules.info,
        fail_on=plan.options.fail_on,
        config=plan.config(),
        config_file=plan.config_file,
        checks=tuple(spec.describe() for spec in all_checks()),
        splits=tuple(splits),
        findings=checked.findings,
        files=tuple(files[k] for k in sorted(files)),
        skipped=tuple(dict.fromkeys(skipped)),
        unaudited=tuple((display_path(folder, root), n) for folder, n in layout.unaudited),
        warnings=tuple(printable(w) for w in plan.warnings),
        suppressed=checked.suppressed,
    )
