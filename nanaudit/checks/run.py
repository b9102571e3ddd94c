"""The check stage: records and merged statistics → findings.

One dispatcher serves a scan and a draw from a training pipeline (``nanaudit samples``):
each active check runs on what its scope names in each :class:`Unit` (a split of a scan, or
the one split of a draw): an unreadable file, an image, a mask, a pair, the split's
statistics, a drawn sample, a batch, the draw; dataset checks run once, on the dataset's
statistics. Findings are sorted by (path, ID); per-file-ignores are applied last.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..aggregate import DatasetStats
from ..collect import Collected
from ..paths import display_path, printable
from ..plan import ActiveCheck, ScanPlan
from ..report import Finding
from ..rules import LabelRules, TrainingRules
from ..severity import Severity
from ..store import StoredPairs
from .context import CheckContext, Hint
from .registry import Hit
from .scopes import DATASET, Scope, Target, Unit


@dataclass(frozen=True, slots=True)
class CheckResult:
    findings: tuple[Finding, ...]
    suppressed: int  # dropped by per-file-ignores


def run_checks(plan: ScanPlan, collected: Collected, dataset: DatasetStats) -> CheckResult:
    units = [
        Unit(
            split.planned.name,
            display_path(split.planned.image_root, plan.root),
            split.pairs,
            view,
        )
        for split, view in zip(collected.splits, dataset.splits, strict=True)
    ]
    findings = list(
        findings_of(
            plan.checks, _parts(units), dataset, plan.labels, plan.training, plan.preset.hint
        )
    )
    kept = [f for f in findings if not plan.ignored_for_path(f.check, f.path)]
    kept.sort(key=Finding.sort_key)
    return CheckResult(tuple(kept), len(findings) - len(kept))


def _parts(units: Sequence[Unit]) -> Iterator[Unit]:
    """Each unit, or, for the pairs of a spilled store, the unit a chunk of pairs at a
    time (and then once more without pairs, for its split checks): a check's findings come
    in the same order, and only a chunk of records is in memory."""
    for unit in units:
        if not isinstance(unit.pairs, StoredPairs):
            yield unit
            continue
        for pairs, firsts in unit.pairs.chunks():
            yield replace(unit, pairs=pairs, firsts=firsts, part=True)
        yield replace(unit, pairs=())


def findings_of(
    checks: Sequence[ActiveCheck],
    units: Iterable[Unit],
    dataset: DatasetStats,
    labels: LabelRules,
    training: TrainingRules,
    hint: Hint | None = None,
    dataset_split: str | None = None,
) -> Iterator[Finding]:
    """Every check on what its scope names: per unit, then the dataset checks once (their
    findings carry ``dataset_split``, or the split the check names)."""
    for unit in units:
        # a scope's targets are made once per unit for all its checks (17 image checks
        # took 17 Target objects an image)
        targets: dict[Scope[Any], list[Target[Any]]] = {}
        for active in checks:
            scope = active.spec.scope
            if scope is not DATASET:
                if scope not in targets:
                    targets[scope] = list(scope.targets(unit))
                ctx = CheckContext(active.options, labels, dataset, unit.view, hint, training)
                yield from run_one(active, ctx, targets[scope], unit.name)
    for active in checks:
        if active.spec.scope is DATASET:
            ctx = CheckContext(active.options, labels, dataset, None, hint, training)
            yield from run_one(active, ctx, [Target(dataset, ".")], dataset_split)


def run_one(
    active: ActiveCheck,
    ctx: CheckContext[Any],
    targets: Iterable[Target[Any]],
    split: str | None,
) -> Iterator[Finding]:
    """One check on each of its targets; its findings carry ``split`` (None: the split the
    check names, as dataset checks do)."""
    for target in targets:
        for hit in active.spec.func(ctx, target.subject):
            yield to_finding(active, hit, target, split if split is not None else hit.split)


def to_finding(active: ActiveCheck, hit: Hit, target: Target[Any], split: str | None) -> Finding:
    severity: Severity = active.severity or hit.severity or active.spec.severity
    return Finding(
        active.spec.id,
        active.spec.name,
        severity,
        hit.path or target.where,
        split,
        printable(hit.message),
        hit.data,
        target.image,
        target.mask,
        target.sample.index if target.sample is not None else None,
        target.batch,
    )
