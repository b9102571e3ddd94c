"""The check stage: records and merged statistics → findings.

Each active check runs on what its scope names: an unreadable file, an image, a mask, a
pair, a split's statistics or the dataset's.  Thresholds come from the plan; findings are
sorted by (path, ID) and per-file-ignores are applied last.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..aggregate import DatasetStats, SplitView
from ..collect import Collected, CollectedSplit
from ..paths import display_path, printable
from ..plan import ActiveCheck, ScanPlan
from ..records import Pair
from ..report import Finding, Severity
from .context import CheckContext
from .registry import Hit


@dataclass(frozen=True, slots=True)
class CheckResult:
    findings: tuple[Finding, ...]
    suppressed: int  # dropped by per-file-ignores


def run_checks(plan: ScanPlan, collected: Collected, dataset: DatasetStats) -> CheckResult:
    findings: list[Finding] = []
    for split, view in zip(collected.splits, dataset.splits, strict=True):
        for active in plan.checks:
            if active.spec.scope != "dataset":
                findings += _split_findings(plan, active, split, view, dataset)
    for active in plan.checks:
        if active.spec.scope == "dataset":
            ctx = _context(plan, active, dataset, None)
            for hit in active.spec.func(ctx, dataset):
                findings.append(to_finding(active, hit, hit.path or ".", hit.split))
    kept = [f for f in findings if not plan.ignored_for_path(f.check, f.path)]
    kept.sort(key=Finding.sort_key)
    return CheckResult(tuple(kept), len(findings) - len(kept))


def _context(
    plan: ScanPlan, active: ActiveCheck, dataset: DatasetStats, split: SplitView | None
) -> CheckContext[Any]:
    return CheckContext(
        active.options, plan.labels, dataset, split, plan.preset.hint, plan.training
    )


def to_finding(
    active: ActiveCheck,
    hit: Hit,
    path: str,
    split: str | None,
    image: str | None = None,
    mask: str | None = None,
) -> Finding:
    severity: Severity = active.severity or hit.severity or active.spec.severity
    return Finding(
        active.spec.id,
        active.spec.name,
        severity,
        path,
        split,
        printable(hit.message),
        dict(hit.data),
        image,
        mask,
    )


def _split_findings(
    plan: ScanPlan,
    active: ActiveCheck,
    split: CollectedSplit,
    view: SplitView,
    dataset: DatasetStats,
) -> Iterator[Finding]:
    spec = active.spec
    ctx = _context(plan, active, dataset, view)
    name = split.planned.name
    if spec.scope == "split":
        where = display_path(split.planned.image_root, plan.root)
        for hit in spec.func(ctx, view):
            yield to_finding(active, hit, hit.path or where, name)
        return
    for pair in split.pairs:
        yield from pair_findings(active, ctx, pair, name)


def pair_findings(
    active: ActiveCheck, ctx: CheckContext[Any], pair: Pair, split: str
) -> Iterator[Finding]:
    """The findings of one check of scope file, image, mask or pair on one pair (a scanned
    image and mask, or a sample drawn from a training pipeline)."""
    spec = active.spec
    image, mask = pair.image, pair.mask
    img = image.path if image is not None else None
    msk = mask.path if mask is not None else None
    subjects: Sequence[Any] = ()
    if spec.scope == "image":
        subjects = (image,) if image is not None and image.pixels is not None else ()
    elif spec.scope == "mask":
        # a colour mask has no labels: only NA205 speaks about it
        usable = (
            mask is not None
            and mask.ok
            and pair.labeled
            and (mask.labels is not None or spec.id == "NA205")
        )
        subjects = (mask,) if usable else ()
    elif spec.scope == "pair":
        subjects = (pair,)
    elif spec.scope == "file":
        subjects = tuple(r for r in (image, mask) if r is not None and r.error is not None)
    for subject in subjects:
        default = img or msk or "" if spec.scope == "pair" else subject.path
        for hit in spec.func(ctx, subject):
            yield to_finding(active, hit, hit.path or default, split, img, msk)
