"""The JSON report: one document, the same bytes for the same data.

Its JSON Schema is ``nanaudit/schema/report.schema.json`` (shipped in the package). JSON
escapes every string itself; "##[" is written "#\\u0023[" (the same string to a JSON
parser), so that a CI runner printing the file reads no legacy workflow command.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..records import FileRecord, encode
from ..report import (
    CTClip,
    Finding,
    Report,
    SplitReport,
    Spread,
    TrainingScale,
    TrainingSummary,
)
from ..severity import Severity
from ..stats import ChannelStats
from .base import RenderOptions

SCHEMA_VERSION = 2  # 2: summary.sizes keys are height x width (were width x height)


def _num(x: float) -> float | None:
    """JSON has no NaN or Infinity: undefined statistics are null."""
    return x if math.isfinite(x) else None


def _channel(c: ChannelStats) -> dict[str, Any]:
    return {
        "min": _num(c.min) if c.count else None,
        "max": _num(c.max) if c.count else None,
        "mean": _num(c.mean) if c.count else None,
        "std": _num(c.std) if c.count else None,
        "count": c.count,
        "nan": c.nan,
        "inf": c.inf,
        "zero_fraction": c.zeros / c.pixels if c.pixels else None,
    }


def _training(t: TrainingSummary, names: tuple[str, ...]) -> dict[str, Any]:
    n = t.normalize
    v = t.valid_fraction
    return {
        "sizes": dict(t.sizes),
        "modes": dict(t.modes),
        "dtypes": dict(t.dtypes),
        "image_min": _num(t.image_min),
        "image_max": _num(t.image_max),
        "normalize": None
        if n is None
        else {
            "basis": n.basis,
            "images": n.images,
            "mean": [_num(x) for x in n.mean],
            "std": [_num(x) for x in n.std],
            "full_scale": {"low": n.scale_lo, "span": n.scale_span, "basis": n.scale_basis},
            "mean_scaled": [_num(x) for x in n.mean_scaled],
            "std_scaled": [_num(x) for x in n.std_scaled],
            "nnunet_ct": _ct_clip(n.nnunet_ct),
        },
        "classes": list(t.classes),
        "class_names": {str(k): names[k] for k in t.classes if 0 <= k < len(names)},
        "images_per_class": {str(k): c for k, c in t.images_per_class},
        "valid_fraction": None
        if v is None
        else {
            "masks": v.masks,
            "min": v.min,
            "p5": v.p5,
            "median": v.median,
            "p95": v.p95,
            "max": v.max,
            "mean": v.mean,
            "masks_without_valid_pixels": v.empty,
        },
        "class_weights": {str(k): w for k, w in t.class_weights},
        "zero_weight_classes": list(t.zero_weight_classes),
        "class_weights_method": t.class_weights_method,
        "at_training_scale": _at_scale(t.at_training_scale),
    }


def _ct_clip(c: CTClip | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "scheme": "nnU-Net CTNormalization: clip to [percentile_00_5, percentile_99_5] of the "
        "foreground intensities (label > 0), then (x - mean) / std",
        "cases": c.cases,
        "voxels": c.voxels,
        "percentile_00_5": [_num(x) for x in c.lo],
        "percentile_99_5": [_num(x) for x in c.hi],
        "mean": [_num(x) for x in c.mean],
        "std": [_num(x) for x in c.std],
        "resolution": c.resolution,
    }


def _spread(s: Spread | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"min": s.min, "median": s.median, "p95": s.p95, "max": s.max, "mean": s.mean}


def _at_scale(t: TrainingScale | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "settings": t.settings,
        "smallest": list(t.smallest),
        "largest": list(t.largest),
        "crops_per_image": _spread(t.crops_per_image),
        "ignore_per_crop": _spread(t.ignore_per_crop),
        "ignore_only_crops_per_epoch": t.ignore_only_crops,
        "all_ignore_batch_probability": t.all_ignore_batch,
    }


def _split(s: SplitReport, names: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "role": s.role,
        "labeled": s.labeled,
        "image_root": s.image_root,
        "mask_root": s.mask_root,
        "images": s.images,
        "masks": s.masks,
        "pairs": s.pairs,
        "skipped": s.skipped,
        "unreadable": s.unreadable,
        "image_stats": [
            {
                "mode": g.family,
                "dtype": g.dtype,
                "images": g.images,
                "channels": [_channel(c) for c in g.channels],
            }
            for g in s.image_groups
        ],
        "nan": s.nan,
        "inf": s.inf,
        "labels": {
            "histogram": {str(v): n for v, n in s.label_histogram},
            "pixels": s.mask_pixels,
            "ignore_pixels": s.ignore_pixels,
            "ignore_fraction": s.ignore_pixels / s.mask_pixels if s.mask_pixels else None,
            "implied_num_classes": s.implied_classes,
        },
        "summary": _training(s.training, names),
    }


def _finding(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "check": f.check,
        "name": f.name,
        "severity": f.severity.label,
        "path": f.path,
        "split": f.split,
        "message": f.message,
        "data": clean(f.json_data),
    }
    if f.image is not None or f.mask is not None:
        out["image"] = f.image
        out["mask"] = f.mask
    return out


def clean(value: Any) -> Any:
    """Data as JSON can hold it: NaN and infinities as null, keys as strings."""
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


# Written as JSON escapes (the same strings to a parser): the characters other readers take
# for a line break (NEL, the Unicode line and paragraph separators), and the first "#" of
# the legacy workflow-command prefix "##[".
_JSON_SAFE = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_JSON_UNSAFE = re.compile("[\x85\u2028\u2029]|##\\[")


def _json_safe(m: re.Match[str]) -> str:
    return _JSON_SAFE.get(m.group(), "#\\u0023[")


def json_text(value: Any, **options: Any) -> str:
    """``json.dumps`` (no NaN), every line of it safe for line-based readers."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, **options)
    return _JSON_UNSAFE.sub(_json_safe, text)


def listed_files(report: Report, which: str = "all") -> Iterator[FileRecord]:
    """The files the report lists (``--report-files``): all of them, those a finding
    names (its path, image or mask), or none."""
    if which == "none":
        return
    named = {p for f in report.findings for p in (f.path, f.image, f.mask) if p is not None}
    for rec in report.files:
        if which == "all" or rec.path in named:
            yield rec


def report_to_dict(report: Report, lazy: bool = False, files: str = "all") -> dict[str, Any]:
    """The JSON document as Python data. With ``lazy``, the long lists (findings, skipped,
    files) are generators, so that rendering never holds them all at once; ``files`` says
    which files it lists (``--report-files``)."""

    def seq(items: Iterable[Any]) -> Any:
        return items if lazy else list(items)

    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "nanaudit", "version": report.version},
        "root": report.root,
        "config": report.config,
        "layout": {
            "name": report.layout,
            "preset": report.preset,
            "reason": report.layout_reason,
            "notes": list(report.notes),
        },
        "warnings": list(report.warnings),
        "summary": {
            "errors": report.count(Severity.ERROR),
            "warnings": report.count(Severity.WARNING),
            "infos": report.count(Severity.INFO),
            "images": sum(s.images for s in report.splits),
            "masks": sum(s.masks for s in report.splits),
            "pairs": sum(s.pairs for s in report.splits),
            "skipped": len(report.skipped),
            "not_audited": sum(n for _, n in report.unaudited),
            "label_values": list(report.label_values),
            "implied_num_classes": report.implied_classes,
            "exit_code": report.exit_code,
        },
        "splits": {s.name: _split(s, report.labels.class_names) for s in report.splits},
        "findings": seq(_finding(f) for f in report.findings),
        "suppressed": report.suppressed,
        "baseline": None
        if report.baseline is None
        else {
            "file": report.baseline.file,
            "hidden": report.baseline.hidden,
            "stale": [
                {
                    "check": e.check,
                    "path": e.path,
                    "fingerprint": e.fingerprint,
                    "message": e.message,
                }
                for e in report.baseline.stale
            ],
        },
        "skipped": seq({"path": p, "reason": r} for p, r in report.skipped),
        "not_audited": [{"folder": f, "images": n} for f, n in report.unaudited],
        "files": seq(encode(r, report=True) for r in listed_files(report, files)),
    }


LONG_LISTS = ("findings", "skipped", "files")


def _dump(value: Any) -> str:
    # Without indent the json module uses its C encoder, several times faster.
    return json_text(value, separators=(", ", ": "))


def render_chunks(report: Report, options: RenderOptions) -> Iterator[str]:
    """The document line by line: one line per top-level key, per split, per finding and
    per file. Streamed, so a report of 100,000 files never exists whole in memory."""
    doc = report_to_dict(report, lazy=True, files=options.files)
    yield "{\n"
    keys = list(doc)
    for i, key in enumerate(keys):
        value = doc[key]
        end = ",\n" if i < len(keys) - 1 else "\n"
        if key in LONG_LISTS:
            first = True
            for item in value:
                yield (f"  {_dump(key)}: [\n    " if first else ",\n    ") + _dump(item)
                first = False
            yield f"  {_dump(key)}: []{end}" if first else f"\n  ]{end}"
        elif isinstance(value, dict) and value and key in ("splits", "config"):
            sub = list(value)
            body = ",\n".join(f"    {_dump(k)}: {_dump(value[k])}" for k in sub)
            yield f"  {_dump(key)}: {{\n{body}\n  }}{end}"
        else:
            yield f"  {_dump(key)}: {_dump(value)}{end}"
    yield "}\n"


def render(report: Report, options: RenderOptions) -> str:
    return "".join(render_chunks(report, options))
