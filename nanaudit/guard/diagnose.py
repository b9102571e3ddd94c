"""From a failing step to its cause: the batch audited with the sample checks, the weights
and gradients scanned, the batch replayed once with hooks, the history read; then the
training-time checks (NA6xx) judge what was measured, and the findings become a Report.

Runs once, at the failure; nothing here is on the healthy path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..checks.guard import (
    EXPLAINS_EXCEPTION,
    EXPLAINS_NON_FINITE,
    NOT_FOR_ONE_BATCH,
    PRIORITY,
)
from ..report import Finding, Report
from ..severity import Severity
from .errors import NonFiniteLoss, StepFailed, Verdict
from .facts import FirstNonFinite, Kind, SampleShape, StepFacts, Tensorish
from .history import StepRecord

if TYPE_CHECKING:
    from ..options import Options
    from ..rules import LabelRules

BATCH_OF_ONE = "Expected more than 1 value per channel"
MAX_LISTED = 8


@dataclass(frozen=True, slots=True)
class BatchSamples:
    """The failing batch, one (image, mask, name) per sample, and where each came from."""

    samples: list[tuple[Any, ...]]
    indices: list[int] | None  # dataset indices, when the loader's sampler gave them
    names: list[str | None]
    error: str | None = None  # a sample that could not be fetched again


def split_batch(
    batch: Any, indices: Sequence[int] | None, names: Sequence[str | None]
) -> BatchSamples | None:
    """The samples of a batch as the loader yielded it (a tuple, a list or a dict of
    stacked arrays): None when it is no batch of images and masks."""
    from ..samples.draw import _parts, as_array, looks_batched

    try:
        image, mask, own = _parts(batch, None, None)
        images, masks = as_array(image), as_array(mask)
    except Exception:
        return None
    if not looks_batched(images, masks) and images.ndim != 4:
        images, masks = images[None], masks[None]
    n = len(images)
    if len(masks) != n:
        return None
    listed: list[str | None] = list(own) if isinstance(own, list) and len(own) == n else []
    if not listed:
        listed = list(names) if len(names) == n else [None] * n
    idx = list(indices) if indices is not None and len(indices) == n else None
    samples = [
        (images[k], masks[k], listed[k]) if listed[k] else (images[k], masks[k]) for k in range(n)
    ]
    return BatchSamples(samples, idx, listed)


def fetch_batch(dataset: Any, indices: Sequence[int], names: Sequence[str | None]) -> BatchSamples:
    """The samples of a batch the loader could not form, read again from the dataset one
    by one (a map-style dataset)."""
    from ..samples.draw import _parts, as_array, describe

    samples: list[tuple[Any, ...]] = []
    error = None
    for k, i in enumerate(indices):
        try:
            image, mask, own = _parts(dataset[i], None, None)
            name = own if isinstance(own, str) else names[k] if k < len(names) else None
            item = (as_array(image), as_array(mask))
            samples.append((*item, name) if name else item)
        except Exception as exc:
            error = f"dataset[{i}] raised {describe(exc)}"
            break
    return BatchSamples(samples, list(indices)[: len(samples)], list(names)[: len(samples)], error)


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    return tuple(int(d) for d in shape) if shape is not None else None


def shapes_of(batch: BatchSamples) -> tuple[SampleShape, ...]:
    out = []
    for k, s in enumerate(batch.samples):
        index = batch.indices[k] if batch.indices is not None else k
        name = s[2] if len(s) > 2 else None
        out.append(SampleShape(index, name, _shape(s[0]), _shape(s[1])))
    return tuple(out)


def _label(index: int, name: str | None) -> str:
    from ..paths import printable

    return f"sample {index}" + (f" ({printable(name)})" if name else "")


def audit_batch(batch: BatchSamples, options: Options, step: int) -> Report:
    """The batch audited with the sample checks; samples named by their dataset index."""
    from ..samples.audit import audit

    # an iterator: one pass over the one batch (a list would be drawn again up to max_samples)
    report = audit(iter([batch.samples]), options, source=f"the batch of step {step}")
    old = {}
    for f in report.files:
        draw_index = int(f.path.split()[1]) if f.path.startswith("sample ") else None
        if draw_index is not None and draw_index < len(batch.samples):
            index = batch.indices[draw_index] if batch.indices is not None else draw_index
            old[f.path] = (draw_index, index, batch.names[draw_index])
    to_index = {d: i for d, i, _ in old.values()}

    def moved(f: Finding) -> Finding:
        data = f.data
        listed = getattr(data, "samples", None)  # a batch's samples (NA504)
        if isinstance(listed, tuple) and all(isinstance(v, int) for v in listed):
            data = replace(data, samples=tuple(to_index.get(v, v) for v in listed))  # type: ignore[call-arg]
        sample = to_index.get(f.sample, f.sample) if f.sample is not None else None
        batch = step if f.batch is not None else None
        path = f.path
        if path in old:
            _, index, name = old[path]
            path = _label(index, name)
        elif path.startswith("batch "):
            path = f"the batch of step {step}"
        return replace(f, path=path, data=data, sample=sample, batch=batch)

    files = tuple(
        replace(r, path=_label(old[r.path][1], old[r.path][2])) if r.path in old else r
        for r in report.files
    )
    kept = tuple(moved(f) for f in report.findings if f.check not in NOT_FOR_ONE_BATCH)
    return replace(report, findings=kept, files=files)


def step_findings(facts: StepFacts, options: Options, labels: LabelRules) -> list[Finding]:
    """The training-time checks (scope ``STEP``) on what the guard measured."""
    from ..aggregate import dataset_stats
    from ..checks.context import CheckContext
    from ..checks.run import run_one
    from ..checks.scopes import STEP, Target
    from ..plan import active_checks

    nothing = dataset_stats([])
    out: list[Finding] = []
    for active in active_checks(options, lambda spec: spec.scope is STEP):
        ctx = CheckContext(active.options, labels, nothing)
        out.extend(run_one(active, ctx, [Target(facts, ".")], "samples"))
    return out


def _first(replay: Any) -> FirstNonFinite | None:
    op, module = replay.first_op, replay.first_module
    if op is not None:
        return FirstNonFinite(
            op.op,
            op.module,
            op.module_type,
            op.module is not None,
            op.out_dtype,
            op.zeros,
            op.negatives,
            op.input_max,
            replay.autocast,
        )
    if module is not None and module.inputs_finite:
        return FirstNonFinite(
            None,
            module.name,
            module.type,
            True,
            module.out_dtype,
            0,
            0,
            module.input_max,
            replay.autocast,
        )
    return None


@dataclass
class Failure:
    """Everything the guard hands to the diagnosis."""

    kind: Kind
    step: int
    batch_index: int | None
    loss: float | None
    grad_norm: float | None
    error: str | None
    history: tuple[StepRecord, ...]
    batch: BatchSamples | None
    model: Any
    run: Callable[[], Any] | None  # the replay: the batch through the model (and the loss)
    criterion: bool
    scaler: bool
    amp: bool  # try a float16 autocast replay when the plain one is finite
    params: Sequence[Any] = ()
    loader_note: str | None = None


def diagnose(failure: Failure, options: Options) -> NonFiniteLoss:
    from ..samples.audit import label_rules

    labels = label_rules(options)
    report = None
    data_checks: tuple[str, ...] = ()
    audit_error = None
    if failure.batch is not None and failure.batch.samples:
        try:
            report = audit_batch(failure.batch, options, failure.step)
        except Exception as exc:  # the diagnosis must never hide the failure
            audit_error = f"{type(exc).__name__}: {exc}"
    if report is not None:
        explains = (
            EXPLAINS_EXCEPTION if failure.kind in ("exception", "loader") else EXPLAINS_NON_FINITE
        )
        data_checks = tuple(
            sorted(
                {
                    f.check
                    for f in report.findings
                    if f.check in explains and f.severity >= Severity.ERROR
                }
            )
        )
    weights: tuple[Tensorish, ...] = ()
    grads: tuple[Tensorish, ...] = ()
    replayed = False
    rep = None
    backward = None
    if failure.model is not None and failure.kind in ("loss", "gradient"):
        from . import replay as rp

        weights = tuple(
            Tensorish(t.name, t.nan, t.inf, t.size) for t in rp.nonfinite_weights(failure.model)
        )
        grads = tuple(
            Tensorish(t.name, t.nan, t.inf, t.size) for t in rp.nonfinite_grads(failure.model)
        )
        if failure.run is not None and not data_checks:
            replayed = True
            rep = rp.replay(failure.model, failure.run)
            plain_finite = rep.first_op is None and rep.first_module is None and rep.error is None
            if plain_finite and not weights and failure.amp:
                amp = rp.replay(failure.model, failure.run, autocast=rp.FLOAT16)
                if amp.first_op is not None or amp.first_module is not None:
                    rep = amp
            if failure.kind == "gradient" and failure.criterion and not weights:
                backward = rp.anomaly(failure.model, failure.run, failure.params)
    facts = StepFacts(
        step=failure.step,
        batch=failure.batch_index,
        kind=failure.kind,
        loss=failure.loss,
        grad_norm=failure.grad_norm,
        error=failure.error,
        history=failure.history,
        indices=tuple(failure.batch.indices) if failure.batch and failure.batch.indices else None,
        names=tuple(failure.batch.names) if failure.batch else (),
        batch_audited=report is not None,
        data_checks=data_checks,
        weights=weights,
        grads=grads,
        replayed=replayed,
        replay_error=rep.error if rep is not None else None,
        output_finite=rep.output_finite if rep is not None else None,
        output_max=rep.output_max if rep is not None else 0.0,
        result_finite=rep.result_finite if rep is not None else None,
        first=_first(rep) if rep is not None else None,
        backward_node=backward,
        shapes=shapes_of(failure.batch)
        if failure.batch is not None and failure.kind == "loader"
        else (),
        scaler=failure.scaler,
        criterion=failure.criterion,
    )
    found = step_findings(facts, options, labels)
    batch_findings = list(report.findings) if report is not None else []
    findings = sorted([*batch_findings, *found], key=Finding.sort_key)
    batch_of_one = (
        failure.kind == "exception"
        and BATCH_OF_ONE in (failure.error or "")
        and failure.batch is not None
        and len(failure.batch.samples) == 1
    )
    verdict: Verdict = "data" if data_checks or batch_of_one else "not data"
    lead = _lead(findings, data_checks)
    message = _message(failure, facts, verdict, lead, report, batch_of_one, audit_error)
    full = _report(report, findings, failure, facts, message, options, labels)
    if failure.kind in ("exception", "loader"):
        return StepFailed(
            message, report=full, verdict=verdict, step=failure.step, error=failure.error or ""
        )
    return NonFiniteLoss(message, report=full, verdict=verdict, step=failure.step)


def _lead(findings: Sequence[Finding], data_checks: tuple[str, ...]) -> list[Finding]:
    """The findings the message leads with: the data's when the data explains the failure,
    else the first training-time cause in priority order."""
    rank = {c: i for i, c in enumerate(PRIORITY)}
    pool = (
        [f for f in findings if f.check in data_checks]
        if data_checks
        else [f for f in findings if f.check.startswith("NA6")]
    )
    pool.sort(key=lambda f: (rank.get(f.check, len(rank)), f.path))
    if not pool:
        return []
    top = pool[0].check
    return [f for f in pool if f.check == top]


def _what(failure: Failure) -> str:
    where = f"step {failure.step}" + (
        f" (batch {failure.batch_index})" if failure.batch_index is not None else ""
    )
    if failure.kind == "loss":
        return f"the loss of {where} is {failure.loss}"
    if failure.kind == "gradient":
        return f"the loss of {where} is finite but its gradient norm is {failure.grad_norm}"
    if failure.kind == "loader":
        return f"the loader failed to form the batch of {where}: {failure.error}"
    return f"{where} raised {failure.error}"


def _message(
    failure: Failure,
    facts: StepFacts,
    verdict: Verdict,
    lead: list[Finding],
    report: Report | None,
    batch_of_one: bool,
    audit_error: str | None,
) -> str:
    from ..checks.registry import get_check

    lines = [f"nanaudit: {_what(failure)}."]
    n = len(failure.batch.samples) if failure.batch is not None else 0
    if batch_of_one:
        lines.append(
            "Verdict: data. The batch holds one sample, and BatchNorm in training mode needs "
            "two: the last, incomplete batch of the epoch."
        )
        lines.append(
            "What to do: DataLoader(..., drop_last=True), or a dataset size that is not "
            "1 more than a multiple of the batch size."
        )
        return "\n".join(lines)
    if failure.kind == "loader" and facts.shapes:
        sizes = "; ".join(
            f"{_label(sh.index if sh.index is not None else k, sh.name)}: image "
            f"{'×'.join(map(str, sh.image or ()))}, mask {'×'.join(map(str, sh.mask or ()))}"
            for k, sh in enumerate(facts.shapes[:MAX_LISTED])
        )
        lines.append(f"The samples of that batch: {sizes}.")
    if verdict == "data":
        shown = "; ".join(f"{f.path}: {f.message} ({f.check})" for f in lead[:MAX_LISTED])
        more = f"; and {len(lead) - MAX_LISTED} more" if len(lead) > MAX_LISTED else ""
        lines.append(f"Verdict: data. {shown}{more}.")
    else:
        if report is not None:
            lines.append(
                f"The batch is clean: its {n} sample{'s' if n != 1 else ''} pass the sample "
                "checks (no NaN/Inf pixel, no all-ignore batch, no label out of range)."
            )
        elif audit_error:
            lines.append(f"The batch could not be audited ({audit_error}).")
        else:
            lines.append("The batch was not seen (iterate the loader through guard.watch).")
        if lead:
            lines.append(f"Verdict: not data. {lead[0].message} ({lead[0].check}).")
        else:
            lines.append("Verdict: not data; the cause was not found (see the report).")
    if lead:
        spec = get_check(lead[0].check)
        if spec is not None and spec.fix:
            lines.append(f"What to do: {spec.fix}")
    if failure.batch is not None and failure.batch.indices is not None and verdict != "data":
        listed = ", ".join(
            _label(i, nm) for i, nm in zip(failure.batch.indices, failure.batch.names, strict=False)
        )
        lines.append(f"The batch: {listed}.")
    lines.append("The full report: err.report (err.render('html') for a page).")
    return "\n".join(lines)


def _report(
    batch: Report | None,
    findings: list[Finding],
    failure: Failure,
    facts: StepFacts,
    message: str,
    options: Options,
    labels: LabelRules,
) -> Report:
    from ..checks.registry import all_checks
    from ..paths import printable
    from ..plan import active_checks, effective_config
    from ..version import __version__

    notes = [*(batch.notes if batch is not None else ())]
    notes.append(printable(message.splitlines()[0].removeprefix("nanaudit: ")))
    if failure.loader_note:
        notes.append(failure.loader_note)
    for r in failure.history[-5:]:
        parts = [f"step {r.step}: loss {r.loss:.4g}"]
        if r.grad_norm is not None:
            parts.append(f"gradient norm {r.grad_norm:.4g}")
        if r.lr is not None:
            parts.append(f"lr {r.lr:.3g}")
        if r.scale is not None:
            parts.append(f"scale {r.scale:g}")
        notes.append(", ".join(parts))
    reason = (
        f"the batch of step {failure.step} ({len(failure.batch.samples) if failure.batch else 0} "
        f"samples) and the training guard's diagnosis"
    )
    if batch is not None:
        return replace(
            batch,
            root=f"training step {failure.step}",
            layout_reason=reason,
            notes=tuple(notes),
            findings=tuple(findings),
        )
    from ..checks.scopes import STEP

    checks = active_checks(options, lambda spec: spec.scope is STEP)
    return Report(
        root=f"training step {failure.step}",
        version=__version__,
        layout="samples",
        layout_reason=reason,
        preset="none",
        notes=tuple(notes),
        labels=labels,
        fail_on=options.fail_on,
        config=effective_config(options, labels, checks, None, "samples"),
        config_file=None,
        checks=tuple(spec.describe() for spec in all_checks()),
        splits=(),
        findings=tuple(findings),
        files=(),
        skipped=(),
    )


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
