"""HTML: one self-contained page (inline CSS and SVG, thumbnails as data URIs, a few lines of
script for the copy buttons, nothing fetched from the network) that opens offline.

Built with Jinja2 templates shipped in the package (``formats/templates``), autoescaped:
every value, above all every file and class name that came from a dataset, is escaped for
the HTML it lands in. Charts are inline SVG drawn by the template from the geometry this
module computes. Pictures come from ``report.gallery`` (made at decode time when an HTML
report is asked for); without one (a report from the API without thumbnails, or from a
loader's samples) the page has the same cards and charts, without pictures.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

from ..report import (
    Finding,
    Gallery,
    Histogram,
    Picture,
    Report,
    ShownGroup,
    SplitReport,
    check_groups,
)
from ..severity import Severity
from .base import LEGACY_COMMAND, RenderOptions, summary_line

INSTALL_HINT = "pip install 'nanaudit[html]'"
LISTED_MAX = 100  # findings of a check listed by name after the pictures
CHART_ROWS = 40  # classes in a bar chart
SCATTER_POINTS = 400  # distinct image sizes in the scatter
CHANNEL_COLOURS = ("#d62728", "#2ca02c", "#1f77b4", "#7f7f7f")
BAND_COLOURS = (  # the bands of a multi-band raster (matplotlib's tab10)
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def missing_extra() -> str | None:
    """Why the html format cannot run here (Jinja2 is an optional extra), or None."""
    try:
        import jinja2  # noqa: F401
    except ImportError:
        return f"the html format needs Jinja2, which is not installed: {INSTALL_HINT}"
    return None


def data_uri(picture: Picture) -> str:
    return f"data:{picture.media_type};base64,{base64.b64encode(picture.data).decode('ascii')}"


# --------------------------------------------------------------------------- chart geometry


def _fmt_share(x: float) -> str:
    if x == 0:
        return "0%"
    if x < 0.000001:
        return "< 0.0001%"
    if x < 0.0001:  # 0.0082%, beside 0.02%: one unit for every share
        return f"{x:.4%}"
    return f"{x:.2%}"


def class_rows(s: SplitReport, report: Report, colour_of: dict[int, str]) -> dict[str, Any]:
    """Per class: its share of the split's mask pixels and the masks it occurs in."""
    info = report.labels
    hist = dict(s.label_histogram)
    classes = list(s.training.classes) or sorted(hist)
    extra = sorted(v for v in hist if v not in classes)
    labels = [*classes, *extra][:CHART_ROWS]
    total = s.mask_pixels or 1
    per_image = dict(s.training.images_per_class)
    masks = max(s.masks, 1)
    top_share = max((hist.get(v, 0) / total for v in labels), default=0.0) or 1.0
    rows = []
    for v in labels:
        share = hist.get(v, 0) / total
        n = per_image.get(v)
        rows.append(
            {
                "name": info.name(v),
                "colour": colour_of.get(v, "#7f7f7f"),
                "share": share / top_share,
                "share_text": _fmt_share(share),
                "images": (n or 0) / masks,
                "images_text": "" if n is None else f"{n:,}",
                "absent": hist.get(v, 0) == 0,
            }
        )
    more = len(classes) + len(extra) - len(labels)
    return {"rows": rows, "more": more}


def size_points(s: SplitReport) -> dict[str, Any] | None:
    sizes = []
    for text, n in s.training.sizes[:SCATTER_POINTS]:
        h, _, w = text.partition("x")  # height x width, as --crop-size takes them
        if w.isdigit() and h.isdigit():
            sizes.append((int(w), int(h), n))
    if not sizes:
        return None
    wmax = max(w for w, _, _ in sizes)
    hmax = max(h for _, h, _ in sizes)
    nmax = max(n for _, _, n in sizes)
    span = max(wmax, hmax, 1)
    points = [
        {
            "x": w / span,
            "y": h / span,
            "r": 2.5 + 9.5 * math.sqrt(n / nmax),
            "text": f"{h}×{w} (H×W): {n:,} image{'s' if n != 1 else ''}",
        }
        for w, h, n in sizes
    ]
    return {"points": points, "max": span, "more": max(0, len(s.training.sizes) - len(sizes))}


def histogram_lines(hists: Sequence[Histogram], channels: int) -> dict[str, Any] | None:
    if not hists:
        return None
    top = max((max(h.counts) for h in hists if h.counts), default=0) or 1
    names: Sequence[str] = ("R", "G", "B", "A") if channels >= 3 else ("gray", "alpha")
    if channels > len(CHANNEL_COLOURS):  # a multi-band raster: its bands by number
        names = [f"band {i + 1}" for i in range(len(hists))]
    lines = []
    for i, h in enumerate(hists):
        n = len(h.counts)
        pts = []
        for j, c in enumerate(h.counts):  # a step line in the chart's 240×110 px area
            y = 10 + 110 * (1 - c / top)
            pts.append(f"{10 + 240 * j / n:.1f},{y:.1f}")
            pts.append(f"{10 + 240 * (j + 1) / n:.1f},{y:.1f}")
        if channels > len(CHANNEL_COLOURS):
            colour = BAND_COLOURS[i % len(BAND_COLOURS)]
        else:
            colour = CHANNEL_COLOURS[i] if channels >= 3 else ("#444444", "#999999")[min(i, 1)]
        lines.append(
            {"points": " ".join(pts), "colour": colour, "name": names[min(i, len(names) - 1)]}
        )
    lo, hi = hists[0].lo, hists[0].hi
    return {"lines": lines, "lo": f"{lo:g}", "hi": f"{hi:g}"}


def valid_bars(h: Histogram | None) -> dict[str, Any] | None:
    if h is None or not h.counts:
        return None
    top = max(h.counts) or 1
    n = len(h.counts)
    bars = [
        {
            "x": i / n,
            "w": 1 / n,
            "h": c / top,
            "text": f"{c:,} mask{'s' if c != 1 else ''} with {i / n:.0%}–{(i + 1) / n:.0%} valid",
        }
        for i, c in enumerate(h.counts)
    ]
    return {"bars": bars}


def _positional_weights(
    weights: Sequence[tuple[int, float]], num_classes: int | None
) -> list[float]:
    """Class weights as a loss takes them, one per class 0..C-1 in order (0 for an id that
    is no class: the ignore index, an unused id), or [] when they cannot be complete: C not
    given and the labels found are not 0..K-1."""
    if not weights:
        return []
    by_class = dict(weights)
    if num_classes is None:
        keys = sorted(by_class)
        return [by_class[k] for k in keys] if keys == list(range(len(keys))) else []
    if any(k < 0 or k >= num_classes for k in by_class):
        return []
    return [by_class.get(k, 0.0) for k in range(num_classes)]


def training_block(s: SplitReport, report: Report) -> str:
    """Normalize constants and class weights, ready to paste into a training config."""
    t = s.training
    lines = [f"# split {s.name!r}"]
    if t.normalize is not None:
        n = t.normalize
        mean = ", ".join(f"{x:.4f}" for x in n.mean_scaled)
        std = ", ".join(f"{x:.4f}" for x in n.std_scaled)
        lines.append(f"# {n.basis}; full scale: {n.scale_basis}")
        lines.append(f"Normalize(mean=[{mean}], std=[{std}])")
        raw_mean = ", ".join(f"{x:.3f}" for x in n.mean)
        raw_std = ", ".join(f"{x:.3f}" for x in n.std)
        lines.append(f"# unscaled: mean=[{raw_mean}], std=[{raw_std}]")
        ct = n.nnunet_ct
        if ct is not None:
            lines.append(
                f"# nnU-Net's CTNormalization: the intensities under the labels (> 0) of "
                f"{ct.cases:,} cases, each weighing the same; percentiles to {ct.resolution:g} HU"
            )
            for c, (lo, hi, m, sd) in enumerate(zip(ct.lo, ct.hi, ct.mean, ct.std, strict=True)):
                lines.append(f"ct_clip_{c} = ({lo:g}, {hi:g})  # then (x - {m:.4f}) / {sd:.4f}")
    positional = _positional_weights(t.class_weights, report.labels.num_classes)
    if positional:
        weights = ", ".join(f"{w:.4f}" for w in positional)
        given = "" if report.labels.num_classes is not None else " (the labels found; C not given)"
        lines.append(f"# median-frequency class weights, classes 0..{len(positional) - 1}{given}")
        lines.append(f"class_weights = [{weights}]")
        if t.zero_weight_classes:
            zero = ", ".join(str(k) for k in t.zero_weight_classes)
            lines.append(f"# weight 0: no pixels of class {zero}")
    elif t.class_weights:
        lines.append(
            "# no class_weights: the labels found are not the classes 0..K-1 in order; "
            "give the class count (-C)"
        )
    if report.labels.ignore_index is not None:
        lines.append(f"ignore_index = {report.labels.ignore_index}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the page


def _key(f: Finding) -> tuple[str, str, str]:
    return (f.check, f.path, f.fingerprint)


def _cards(report: Report, gallery: Gallery | None) -> list[dict[str, Any]]:
    cards = []
    # a check on nearly every file (or sample) of a split: one line with a few examples,
    # as the terminal and Markdown reports fold it, not the same sentence listed 500 times
    folded, _ = report.folded()
    in_fold = {id(f) for g in folded for f in g.findings}
    for check, findings in check_groups(report.findings):
        doc = report.check(check)
        group: ShownGroup | None = gallery.group(check) if gallery is not None else None
        # the gallery was made before a baseline hid findings: show only those still here
        here = {_key(f) for f in findings}
        shown = [s for s in group.shown if _key(s.finding) in here] if group is not None else []
        pictured = {_key(s.finding) for s in shown}
        rest: list[Finding] = [
            f for f in findings if _key(f) not in pictured and id(f) not in in_fold
        ]
        folds = [
            {
                "headline": g.headline,
                "example": g.examples[0],
                "others": [f.path for f in g.examples[1:]],
            }
            for g in folded
            if g.check == check
        ]
        severities = sorted({f.severity for f in findings}, reverse=True)
        cards.append(
            {
                "check": check,
                "name": findings[0].name,
                "severity": severities[0].label,
                "severities": [sev.label for sev in severities],
                "count": len(findings),
                "summary": doc.summary,
                "why": doc.why,
                "fix": doc.fix,
                "shown": shown,
                "folded": folds,
                "listed": rest[:LISTED_MAX],
                "more": max(0, len(rest) - LISTED_MAX),
            }
        )
    return cards


def _splits(report: Report, gallery: Gallery | None) -> list[dict[str, Any]]:
    legend = gallery.legend if gallery is not None else ()
    colour_of = {e.label: e.colour for e in legend if e.label is not None}
    out = []
    for s in report.splits:
        pictures = gallery.split(s.name) if gallery is not None else None
        channels = len(s.image_groups[0].channels) if s.image_groups else 0
        counts = {
            sev.label: sum(1 for f in report.findings if f.split == s.name and f.severity == sev)
            for sev in (Severity.ERROR, Severity.WARNING, Severity.INFO)
        }
        out.append(
            {
                "split": s,
                "counts": counts,
                "classes": class_rows(s, report, colour_of) if s.mask_pixels else None,
                "sizes": size_points(s),
                "channels": histogram_lines(pictures.channel_histograms, channels)
                if pictures is not None
                else None,
                "channel_basis": pictures.channel_basis if pictures is not None else "",
                "valid": valid_bars(pictures.valid_fractions) if pictures is not None else None,
                "valid_summary": s.training.valid_fraction,
                "training": training_block(s, report),
                "examples": pictures.examples if pictures is not None else (),
            }
        )
    return out


def _settings(report: Report) -> list[tuple[str, str]]:
    """The settings that shaped the audit, as the JSON report's config states them."""
    shown = []
    for key, value in report.config.items():
        if key in ("checks", "class_names", "config_file") or value in (None, [], {}, (), ""):
            continue
        shown.append((key, _setting_text(value)))
    return shown


def _setting_text(value: Any) -> str:
    """A config value as a person reads it: no Python reprs (an explicit split is
    ``train: images/train + masks/train``, not a dict)."""
    if isinstance(value, bool):
        return "true" if value else "false"  # as the config file writes it
    if isinstance(value, dict):
        if set(value) >= {"name", "images"}:  # an explicit split
            masks = value.get("masks")
            return f"{value['name']}: {value['images']}" + (f" + {masks}" if masks else "")
        return ", ".join(f"{k}: {_setting_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        parts = [_setting_text(v) for v in value]
        return ("; " if any(isinstance(v, dict) for v in value) else ", ").join(parts)
    return "none" if value is None else str(value)


def render(report: Report, options: RenderOptions) -> str:
    problem = missing_extra()
    if problem is not None:
        raise RuntimeError(problem)
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("nanaudit.formats", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["data_uri"] = data_uri
    gallery = report.gallery
    counts = {s.label: report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO)}
    failed = report.exit_code != 0
    page = env.get_template("report.html.j2").render(
        report=report,
        gallery=gallery,
        counts=counts,
        failed=failed,
        summary=summary_line(report),
        settings=_settings(report),
        cards=_cards(report, gallery),
        splits=_splits(report, gallery),
    )
    # a CI log showing the page must not read the legacy "##[" command in a name: as a
    # character reference it looks the same in a browser (no data reaches <script>/<style>)
    return page.replace(LEGACY_COMMAND, "#&#35;[")
