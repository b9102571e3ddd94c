"""The audit of a draw: samples → records → statistics → checks → Report.

The same stages as a scan, fed by a pipeline instead of a folder: each sample's image and
mask become records by the reductions a file gets (``decode.record_of``, without the file
identity that only duplicates need), the records merge into one split's statistics
(``aggregate``), the checks run on them by the scan's dispatcher (``checks.run.findings_of``):
the file checks that declare ``samples=True`` on each sample's records, beside the NA5xx
checks of samples, batches and the draw, and the result is the ``Report`` every format renders.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..aggregate import SplitView, dataset_stats, split_stats
from ..checks.registry import all_checks
from ..checks.run import findings_of
from ..checks.scopes import Unit
from ..decode import audit_file, record_of
from ..decode.readers import DecodeFailure, from_array
from ..decode.reduce import MAX_BOUNDARY_LABELS, touching_two_others
from ..drawn import SPLIT, Draw, PipelineFailure, Sample, SampleBatch
from ..options import Options
from ..paths import printable
from ..plan import active_checks, decode_limits, effective_config, read_class_names
from ..records import IMAGE_SUFFIXES, DecodeError, DecodeLimits, FileKind, FileRecord, image_suffix
from ..report import Finding, Report
from ..rules import LabelRules, TrainingRules
from ..summarise import split_report
from ..version import __version__
from .draw import Drawer, Yielded

NOT_A_PROOF = "random transforms make this a sample of what training sees, not a proof"

Progress = Callable[[int], None]


def label_rules(options: Options) -> LabelRules:
    """The labels as the pipeline yields them: its own remapping is already applied, so
    label_offset and reduce_zero_label (scan options) do not apply here."""
    return LabelRules(
        num_classes=options.num_classes,
        ignore_index=options.ignore_index,
        background=options.background,
        class_names=read_class_names(options),
    )


def audit(
    samples: object,
    options: Options,
    *,
    source: str,
    progress: Progress | None = None,
    config_file: str | None = None,
) -> Report:
    """Draw from ``samples`` as the options say and audit what was drawn."""
    rules = label_rules(options)
    checks = active_checks(options, lambda spec: spec.applies_to_samples)
    drawer = Drawer(
        samples,
        options.max_samples,
        image_key=options.image_key,
        mask_key=options.mask_key,
        batched=options.batched,
    )
    drawn = draw_records(drawer, progress)
    draw = finish_draw(drawer, drawn, source, options.batch_size)
    draw = replace(draw, sources=source_records(drawn, decode_limits(options)))
    pairs = [s.pair for s in draw.samples]
    view = SplitView(SPLIT, "train", True, split_stats(pairs, rules, True))
    dataset = dataset_stats([view])
    unit = Unit(SPLIT, ".", pairs, view, draw.samples, draw.batches, draw)
    training = TrainingRules(options.batch_size)
    found = findings_of(checks, [unit], dataset, rules, training, dataset_split=SPLIT)
    findings = sorted(found, key=Finding.sort_key)
    records = [r for s in draw.samples for r in (s.image, s.mask)]
    summary = split_report(view, dataset, rules, image_root=printable(source), mask_root=None)
    if summary.training is not None and _normalised(view):
        # constants taken of normalised samples would invite a second Normalize (NA509)
        summary = replace(summary, training=replace(summary.training, normalize=None))
    return Report(
        root=printable(source),
        version=__version__,
        layout="samples",
        layout_reason=_reason(draw),
        preset="none",
        notes=tuple(printable(n) for n in draw.notes),
        labels=rules,
        fail_on=options.fail_on,
        config=effective_config(options, rules, checks, config_file, "samples"),
        config_file=config_file,
        checks=tuple(spec.describe() for spec in all_checks()),
        splits=(summary,),
        findings=tuple(findings),
        files=tuple(sorted(records, key=lambda r: (r.path, r.kind.value))),
        skipped=(),
    )


def _normalised(view: SplitView) -> bool:
    """Float samples holding negative values: drawn after a Normalize (pixel values of the
    files are not negative), whatever the spread."""
    return any(
        dtype.startswith("float") and any(c.count and c.min < 0 for c in group.channels)
        for _, dtype, group in view.stats.image_groups
    )


# NA509 compares the draw with the files behind it: the first few the dataset names are
# decoded as a scan decodes them (only names that are image files; nothing is written).
SOURCES = 8


def source_records(drawn: Sequence[Sample], limits: DecodeLimits) -> tuple[FileRecord, ...]:
    """The records of the first SOURCES distinct image files the dataset names."""
    out: list[FileRecord] = []
    seen: set[str] = set()
    for s in drawn:
        if len(out) >= SOURCES:
            break
        if not s.name or s.name in seen:
            continue
        seen.add(s.name)
        path = Path(s.name)
        try:
            if image_suffix(path.name) not in IMAGE_SUFFIXES or not path.is_file():
                continue
        except (OSError, ValueError):  # a name no file system takes (a NUL in it)
            continue
        record = audit_file(path, printable(s.name), FileKind.IMAGE, SPLIT, limits)
        if record.ok and record.pixels is not None:
            out.append(record)
    return tuple(out)


# --------------------------------------------------------------------------- drawing


def draw_records(drawer: Drawer, progress: Progress | None = None) -> list[Sample]:
    """Every sample the drawer yields, reduced as it comes: no array outlives its sample.
    (A DataLoader with workers keeps preparing the next batches meanwhile; a worker thread
    here would only compete with the pipeline for the same cores.)"""
    out: list[Sample] = []
    for y in drawer:
        out.append(reduce_sample(y, len(out)))
        if progress is not None:
            progress(1)
    return out


def reduce_sample(y: Yielded, index: int) -> Sample:
    """A yielded sample as records (its path is set when the draw is labelled)."""
    here = f"#{index}"
    image = _record(y.image, FileRecord(path=here, kind=FileKind.IMAGE, split=SPLIT), y.image_type)
    mask = _record(y.mask, FileRecord(path=here, kind=FileKind.MASK, split=SPLIT), y.mask_type)
    thin = _thin_labels(y.mask, mask) if index < THIN_TESTED else None
    return Sample(index, y.batch, y.name, image, mask, _value_range(y.mask, mask), thin)


# NA508: a mask resized with a smooth filter holds, along every edge between two labels,
# thin lines of the values in between. The test costs a few passes over the mask, so it
# runs on the first samples only: a transform's filter is the same for every sample.
THIN_TESTED = 64
THIN_SCOPE = 0.05  # labels below this share of a mask's pixels get the test


def _thin_labels(value: Any, mask: FileRecord) -> tuple[int, ...] | None:
    """The labels of a mask (each below THIN_SCOPE of it) that have no pixel whose four
    neighbours share its label and every pixel of which touches two other labels; None
    when the mask is not a 2-D array of small non-negative integer labels."""
    labels = mask.labels
    if not mask.ok or labels is None or labels.non_integer or not isinstance(value, np.ndarray):
        return None
    arr = np.squeeze(value)
    if arr.ndim != 2 or min(arr.shape) < 3 or not labels.histogram:
        return None
    if labels.histogram[0][0] < 0 or labels.histogram[-1][0] >= 1 << 16:
        return None
    arr = arr.astype(np.int64, copy=False) if arr.dtype.kind == "f" else arr
    core = arr[1:-1, 1:-1]
    inner = (core == arr[:-2, 1:-1]) & (core == arr[2:, 1:-1])
    inner &= (core == arr[1:-1, :-2]) & (core == arr[1:-1, 2:])
    with_inner = np.bincount(core[inner].astype(np.int64), minlength=labels.histogram[-1][0] + 1)
    limit = THIN_SCOPE * labels.pixels
    rare = [v for v, n in labels.histogram if n < limit and not with_inner[v]]
    return touching_two_others(arr, rare[:MAX_BOUNDARY_LABELS])


def _record(value: Any, base: FileRecord, kind: str) -> FileRecord:
    """The record of one array, as a file holding it would get. Never raises for a bad
    value: what cannot be read is NA001, as an unreadable file is."""
    try:
        if not isinstance(value, np.ndarray):
            raise DecodeFailure("NA001", f"a {kind} cannot be read as an array")
        if value.dtype.kind not in "biuf":
            raise DecodeFailure("NA001", f"a {kind} of dtype {value.dtype} is not an image")
        with np.errstate(all="ignore"):  # NaN/Inf in the data are findings, not warnings
            return record_of(from_array(value, kind), base, identity=False)
    except DecodeFailure as exc:
        return replace(base, format=kind, error=DecodeError(exc.check, exc.reason))
    except MemoryError:
        return replace(base, format=kind, error=DecodeError("NA001", "out of memory"))
    except Exception as exc:  # a reduction's failure on a strange value is a finding
        reason = f"{type(exc).__name__}: {exc}"
        return replace(base, format=kind, error=DecodeError("NA001", reason))


def _value_range(value: Any, mask: FileRecord) -> tuple[float, float] | None:
    """The finite min and max of a mask's values: from its histogram when every value is
    an integer, else from the array (a float mask with fractional values)."""
    labels = mask.labels
    if not mask.ok or not isinstance(value, np.ndarray) or not value.size:
        return None
    if labels is not None and not labels.non_integer and labels.histogram:
        return float(labels.histogram[0][0]), float(labels.histogram[-1][0])
    arr: npt.NDArray[Any] = value
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        if not finite.all():
            arr = arr[finite]
    if not arr.size:
        return None
    return float(arr.min()), float(arr.max())


def finish_draw(drawer: Drawer, drawn: list[Sample], source: str, batch_size: int | None) -> Draw:
    """The draw with every sample labelled and the batches formed: the pipeline's own, or
    groups of batch_size when it yields samples one at a time."""
    if batch_size is not None and not any(s.batch is not None for s in drawn):
        drawn = [replace(s, batch=s.index // batch_size) for s in drawn]
    batch_count = max((s.batch for s in drawn if s.batch is not None), default=-1) + 1
    width = len(str(max(len(drawn) - 1, 0)))
    batch_width = len(str(max(batch_count - 1, 0)))

    def batch_label(b: int) -> str:
        return f"batch {b:0{batch_width}d}"

    samples = []
    for s in drawn:
        name = printable(s.name) if s.name is not None else None  # a name came from the data
        where = [batch_label(s.batch)] if s.batch is not None else []
        where += [name] if name is not None else []
        label = f"sample {s.index:0{width}d}" + (f" ({', '.join(where)})" if where else "")
        samples.append(
            replace(
                s,
                name=name,
                image=replace(s.image, path=label),
                mask=replace(s.mask, path=label),
            )
        )
    groups: dict[int, list[Sample]] = {}
    for s in samples:
        if s.batch is not None:
            groups.setdefault(s.batch, []).append(s)
    batches = tuple(SampleBatch(b, batch_label(b), tuple(g)) for b, g in sorted(groups.items()))
    failure = None
    if drawer.failure is not None:
        index, batch, error = drawer.failure
        label = f"sample {index:0{width}d}"
        if batch is not None:
            label += f" ({batch_label(batch)})"
        failure = PipelineFailure(index, label, error)
    return Draw(
        source=source,
        samples=tuple(samples),
        batches=batches,
        failure=failure,
        passes=drawer.passes,
        limit=drawer.limit,
        exhausted=drawer.exhausted,
        notes=_notes(drawer, samples, batch_size),
    )


def _notes(drawer: Drawer, samples: list[Sample], batch_size: int | None) -> tuple[str, ...]:
    notes = [f"drawn from {drawer.source.kind}"]
    kinds = sorted({r.format or "?" for s in samples for r in (s.image, s.mask)})
    if kinds:
        notes.append("values yielded as " + ", ".join(kinds))
    if any(k.startswith("torch.") for k in kinds):
        notes.append("torch tensors were detached and moved to the CPU")
    if drawer.batches:
        notes.append(f"the pipeline yielded {drawer.batches:,} batches")
    if drawer.cut_batches:
        notes.append(
            f"{drawer.cut_batches:,} batch{'es' if drawer.cut_batches > 1 else ''} larger than "
            f"what was left of --samples {drawer.limit:,} cut at it: {drawer.cut_samples:,} of "
            "its samples not drawn"
        )
    elif batch_size is not None and samples:
        notes.append(f"samples grouped in batches of {batch_size} for NA504 and NA505")
    if any(s.name is not None for s in samples):
        notes.append("file names as the dataset gives them")
    return tuple(notes)


def _reason(draw: Draw) -> str:
    n = len(draw.samples)
    passes = f"{draw.passes} pass{'es' if draw.passes != 1 else ''} over {draw.source}"
    if draw.failure is not None:
        end = "the pipeline raised an error (NA506)"
    elif draw.exhausted:
        end = "the pipeline ended before --samples"
    else:
        end = f"--samples {draw.limit:,}"
    return f"{n:,} sample{'s' if n != 1 else ''} drawn in {passes} ({end}); {NOT_A_PROOF}"
