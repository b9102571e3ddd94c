"""Formatters: one function per output format, each ``Report -> str``."""

from __future__ import annotations

import enum
import io
import json
import math
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from .checks.registry import all_checks
from .engine import Report, SplitSummary
from .model import FileRecord, Finding, Severity
from .stats import ChannelStats

SCHEMA_VERSION = 1
SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


class Format(enum.StrEnum):
    RICH = "rich"
    JSON = "json"


# --------------------------------------------------------------------------- JSON


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


def _file(rec: FileRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": rec.path,
        "kind": rec.kind.value,
        "split": rec.split,
        "bytes": rec.size_bytes,
    }
    if rec.error is not None:
        out["error"] = {"check": rec.error.check, "reason": rec.error.reason}
        return out
    out.update(
        format=rec.format, mode=rec.mode, dtype=rec.dtype, width=rec.width,
        height=rec.height, channels=rec.channels,
    )
    if rec.frames > 1:
        out["frames"] = rec.frames
    if rec.exif_orientation is not None:
        out["exif_orientation"] = rec.exif_orientation
    if rec.nodata is not None:
        out["nodata"] = _num(rec.nodata)
    if rec.lossy:
        out["lossy"] = rec.lossy
    if rec.notes:
        out["notes"] = list(rec.notes)
    if rec.pixels is not None:
        p = rec.pixels
        out["pixels"] = {
            "channels": [_channel(c) for c in p.channels],
            "luminance_p5": _num(p.luma_p5),
            "luminance_p99": _num(p.luma_p99),
        }
        if p.fp16_overflow:
            out["pixels"]["fp16_overflow"] = p.fp16_overflow
        if p.sentinels:
            out["pixels"]["sentinels"] = [[v, n] for v, n in p.sentinels]
    if rec.channels_differ:
        out["colours"] = rec.colours
    if rec.labels is not None:
        lab = rec.labels
        out["labels"] = {
            "histogram": {str(v): n for v, n in lab.histogram},
            "pixels": lab.pixels,
        }
        for key, value in (("non_integer", lab.non_integer), ("nan", lab.nan), ("inf", lab.inf)):
            if value:
                out["labels"][key] = value
        if lab.boundary_labels:
            out["labels"]["boundary_labels"] = list(lab.boundary_labels)
    return out


def _split(s: SplitSummary) -> dict[str, Any]:
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
            {"mode": g.family, "dtype": g.dtype, "images": g.images,
             "channels": [_channel(c) for c in g.channels]}
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
    }


def _finding(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "check": f.check,
        "name": f.name,
        "severity": f.severity.label,
        "path": f.path,
        "split": f.split,
        "message": f.message,
        "data": _clean(f.data),
    }
    if f.image is not None or f.mask is not None:
        out["image"] = f.image
        out["mask"] = f.mask
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def report_to_dict(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "nanaudit", "version": report.version},
        "root": report.root,
        "config": report.settings.to_dict(),
        "layout": {"name": report.layout, "reason": report.layout_reason,
                   "notes": list(report.notes)},
        "summary": {
            "errors": report.count(Severity.ERROR),
            "warnings": report.count(Severity.WARNING),
            "infos": report.count(Severity.INFO),
            "images": sum(s.images for s in report.splits),
            "masks": sum(s.masks for s in report.splits),
            "pairs": sum(s.pairs for s in report.splits),
            "skipped": len(report.skipped),
            "label_values": list(report.label_values),
            "implied_num_classes": report.implied_classes,
            "exit_code": report.exit_code,
        },
        "splits": {s.name: _split(s) for s in report.splits},
        "findings": [_finding(f) for f in report.findings],
        "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
        "files": [_file(r) for r in report.files],
    }


def render_json(report: Report, verbose: bool = False) -> str:
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# --------------------------------------------------------------------------- terminal


def summary_line(report: Report) -> str:
    e, w, i = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    fail_on = report.settings.fail_on
    gate = f"--fail-on {fail_on.label}" if fail_on else "--fail-on never"

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return (f"{plural(e, 'error')}, {plural(w, 'warning')}, {plural(i, 'info')}: "
            f"exit code {report.exit_code} ({gate})")


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    if x == int(x) and abs(x) < 1e7:
        return str(int(x))
    return f"{x:.4g}" if abs(x) < 1e5 else f"{x:.2e}"


def render_rich(report: Report, verbose: bool = False, width: int | None = None,
                color: bool = False) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width or 80, force_terminal=color, no_color=not color,
                      highlight=False, emoji=False, soft_wrap=False)
    _render(console, report, verbose)
    text = buf.getvalue()
    if not color:  # trailing padding only makes diffs and golden files noisy
        text = "\n".join(line.rstrip() for line in text.split("\n"))
    return text


def _render(console: Console, report: Report, verbose: bool) -> None:
    console.print(Text(f"nanaudit {report.version}: {report.root}", style="bold"))
    console.print(f"layout: {report.layout}: {report.layout_reason}")
    for note in report.notes:
        console.print(f"  note: {note}", style="dim")
    s = report.settings
    classes = str(s.num_classes) if s.num_classes is not None else "not given"
    implied = report.implied_classes
    if s.num_classes is None and implied is not None:
        classes += f" (labels found: {_values(report.label_values)}; they imply C = {implied})"
    console.print(f"classes: {classes}; ignore index: {s.ignore_index if s.ignore_index is not None else 'none'}; "
                  f"background: {s.background if s.background is not None else 'none'}")
    if s.config_file:
        console.print(f"config: {s.config_file}")

    table = Table(title="Splits", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("split", "images", "masks", "pairs", "skipped", "unreadable", "labeled"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for sp in report.splits:
        table.add_row(sp.name, str(sp.images), str(sp.masks), str(sp.pairs), str(sp.skipped),
                      str(sp.unreadable), "yes" if sp.labeled else "no")
    console.print(table)

    for sp in report.splits:
        _render_split_stats(console, report, sp, verbose)

    _render_findings(console, report, verbose)
    console.print(Text(summary_line(report), style="bold red" if report.exit_code else "bold green"))


def _values(values: tuple[int, ...], limit: int = 12) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return shown + (f", … ({len(values)} values)" if len(values) > limit else "")


def _render_split_stats(console: Console, report: Report, sp: SplitSummary, verbose: bool) -> None:
    if sp.image_groups:
        t = Table(title=f"{sp.name}: image pixels", box=box.SIMPLE_HEAD, title_justify="left",
                  padding=(0, 1), pad_edge=False)
        for col in ("mode", "dtype", "files", "ch", "min", "max", "mean", "std", "NaN", "Inf"):
            t.add_column(col, justify="left" if col in ("mode", "dtype") else "right", no_wrap=True)
        for g in sp.image_groups:
            for i, c in enumerate(g.channels):
                first = i == 0
                t.add_row(g.family if first else "", g.dtype if first else "",
                          str(g.images) if first else "", str(i), _fmt(c.min), _fmt(c.max),
                          _fmt(c.mean), _fmt(c.std), str(c.nan), str(c.inf))
        console.print(t)
    if sp.label_histogram and sp.mask_pixels:
        t = Table(title=f"{sp.name}: labels ({sp.mask_pixels:,} mask pixels, "
                        f"ignore {sp.ignore_pixels / sp.mask_pixels:.1%})",
                  box=box.SIMPLE_HEAD, title_justify="left")
        t.add_column("label", justify="right")
        t.add_column("pixels", justify="right")
        t.add_column("share", justify="right")
        t.add_column("", justify="left", no_wrap=True)
        names = report.settings.class_names
        ignore = report.settings.ignore_index
        hist = sp.label_histogram
        limit = len(hist) if verbose else 16
        top = max(n for _, n in hist)
        for v, n in hist[:limit]:
            name = str(v)
            if v == ignore:
                name += " (ignore)"
            elif 0 <= v < len(names):
                name += f" {names[v]}"
            bar = "█" * max(1, round(24 * n / top))
            t.add_row(name, f"{n:,}", f"{n / sp.mask_pixels:.2%}", bar)
        if len(hist) > limit:
            t.add_row(f"… {len(hist) - limit} more", "", "", "")
        console.print(t)


def _render_findings(console: Console, report: Report, verbose: bool) -> None:
    if not report.findings:
        console.print("No findings.", style="green")
        return
    groups: dict[tuple[str, Severity], list[Finding]] = defaultdict(list)
    for f in report.findings:
        groups[(f.check, f.severity)].append(f)
    specs = {c.id: c for c in all_checks()}
    console.print(Text("Findings", style="bold"))
    order = sorted(groups, key=lambda k: (-k[1], k[0]))
    for check_id, severity in order:
        items = groups[(check_id, severity)]
        spec = specs[check_id]
        head = Text()
        head.append(f"{check_id} {spec.name}", style="bold")
        head.append(f"  {severity.label}", style=SEVERITY_STYLE[severity])
        head.append(f"  {len(items)} finding{'s' if len(items) != 1 else ''}")
        console.print(head)
        console.print(Padding(Text(spec.why, style="dim"), (0, 0, 0, 2)))
        shown = items if verbose else items[:5]
        for f in shown:
            console.print(Padding(Text(f"- {f.path}: {f.message}"), (0, 0, 0, 2)))
        if len(items) > len(shown):
            console.print(Padding(Text(f"… and {len(items) - len(shown)} more (--verbose lists all)",
                                       style="dim"), (0, 0, 0, 2)))


FORMATTERS: dict[Format, Callable[..., str]] = {
    Format.RICH: render_rich,
    Format.JSON: render_json,
}
