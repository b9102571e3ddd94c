"""The terminal report (Rich): readable at 80 columns and with NO_COLOR.

Data (paths, split and class names, messages, notes) enters Rich only through ``data``
and ``line``, which build Text objects from the printable form of the string: never a markup
string, so a file named ``x[/].png`` or ``[link=…]`` is shown as it is. The rendered text
is then made command-safe line by line: however Rich wraps a long name, no line starts
with "::" (a GitHub workflow command)."""

from __future__ import annotations

import io
import math
from collections import defaultdict

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..paths import LINK_OUTSIDE, printable
from ..report import Finding, FoldedFindings, Report, SplitReport
from ..severity import Severity
from .base import RenderOptions, command_safe_lines, summary_line

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def data(text: object, style: str = "") -> Text:
    """A piece of data (or a line holding data) as Rich text: printable, never markup."""
    return Text(printable(str(text)), style=style)


def line(*parts: object, style: str = "") -> Text:
    """Text joined from parts, each of them data."""
    return data("".join(str(p) for p in parts), style)


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return "-"
    if x == int(x) and abs(x) < 1e7:
        return str(int(x))
    return f"{x:.4g}" if abs(x) < 1e5 else f"{x:.2e}"


def render(report: Report, options: RenderOptions) -> str:
    buf = io.StringIO()
    color = options.color
    console = Console(
        file=buf,
        width=options.width or 80,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    _render(console, report, options)
    text = buf.getvalue()
    if not color:  # trailing padding only makes diffs and golden files noisy
        text = "\n".join(row.rstrip() for row in text.split("\n"))
    return command_safe_lines(text)


def _render(console: Console, report: Report, options: RenderOptions) -> None:
    """The verdict and the findings first; then what was audited and, unless --no-stats,
    the statistics; the summary line last (the line CI logs end with). --quiet keeps the
    findings and the summary line."""
    verbose = options.verbose
    verdict = Text(summary_line(report), style="bold red" if report.exit_code else "bold green")
    console.print(line(f"nanaudit {report.version}: ", report.root, style="bold"))
    if not options.quiet:
        console.print(verdict)
    for warning in report.warnings:
        console.print(line("warning: ", warning, style="yellow"))
    if options.quiet and report.unaudited:
        _render_unaudited(console, report)
    _render_findings(console, report, verbose)
    if report.suppressed:
        console.print(
            Text(f"{report.suppressed} findings suppressed by per-file-ignores", style="dim")
        )
    if report.baseline is not None:
        b = report.baseline
        console.print(
            line(
                "baseline ",
                b.file,
                f": {b.hidden} findings hidden; {len(b.stale)} entries no longer occur",
            )
        )
        for e in b.stale if verbose else b.stale[:5]:
            gone = line("- gone: ", e.check, " ", e.path, ": ", e.message, style="dim")
            console.print(Padding(gone, (0, 0, 0, 2)))
    if not options.quiet:
        console.print()
        _render_audited(console, report)
        if options.stats:
            for sp in report.splits:
                _render_split_stats(console, report, sp, verbose)
                _render_training(console, report, sp)
    console.print(verdict)


def _render_audited(console: Console, report: Report) -> None:
    """What was audited: the layout, every folder per split, what was left out, the label
    convention, and the splits' counts."""
    console.print(line("layout: ", report.layout, ": ", report.layout_reason))
    _render_folders(console, report)
    _render_unaudited(console, report)
    _render_links(console, report)
    for note in report.notes:
        console.print(line("  note: ", note, style="dim"))
    s = report.labels
    ignore = s.ignore_index if s.ignore_index is not None else "none"
    background = s.background if s.background is not None else "none"
    head = f"ignore index: {ignore}; background: {background}"
    if s.num_classes is not None:
        console.print(line(f"classes: {s.num_classes}; {head}"))
    else:
        console.print(line(head))
        console.print(line("classes: ", report.classes_in_words()))
    if s.transform:
        console.print(line("labels mapped before the checks: ", s.transform))
    if report.config_file:
        console.print(line("config: ", report.config_file))

    table = Table(title=Text("Splits"), box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("split", "images", "masks", "pairs", "skipped", "unreadable", "labeled"):
        table.add_column(col, justify="left" if col == "split" else "right", overflow="fold")
    for sp in report.splits:
        table.add_row(
            data(sp.name),
            str(sp.images),
            str(sp.masks),
            str(sp.pairs),
            str(sp.skipped),
            str(sp.unreadable),
            "yes" if sp.labeled else "no",
        )
    console.print(table)


def _render_folders(console: Console, report: Report) -> None:
    """Every folder each split audits, and the folders holding images that none does."""
    if report.layout == "samples":  # drawn from a pipeline: the layout line names it
        return
    rows = Table.grid(padding=(0, 1), pad_edge=False)
    rows.add_column(style="bold", overflow="fold")
    rows.add_column(overflow="fold")
    for sp in report.splits:
        masks = f"{sp.mask_root}/" if sp.mask_root else "no masks"
        rows.add_row(data(sp.name), line(sp.image_root, "/ + ", masks))
    console.print(Text("folders audited:"))
    console.print(Padding(rows, (0, 0, 0, 2)))


def _render_unaudited(console: Console, report: Report) -> None:
    if report.unaudited:
        total = sum(n for _, n in report.unaudited)
        shown = ", ".join(f"{f}/ ({n:,})" for f, n in report.unaudited[:6])
        more = f", … {len(report.unaudited) - 6} more" if len(report.unaudited) > 6 else ""
        console.print(
            line(
                f"not audited: {total:,} image{'' if total == 1 else 's'} in "
                f"{len(report.unaudited)} folder{'' if len(report.unaudited) == 1 else 's'} "
                f"no split covers: ",
                shown,
                more,
                style="yellow",
            )
        )


def _render_links(console: Console, report: Report) -> None:
    """Links the walk did not follow: a data folder linked from elsewhere would otherwise
    look empty (NA005) with no word of why."""
    every = {path for path, reason in report.skipped if reason == LINK_OUTSIDE}
    # images/train/ below a linked images/ is the same link: name the top one
    links = sorted(p for p in every if not any(a in every for a in _ancestors(p)))
    if links:
        shown = ", ".join(links[:6]) + (f", … {len(links) - 6} more" if len(links) > 6 else "")
        console.print(
            line(
                f"not followed: {len(links):,} symbolic link{'' if len(links) == 1 else 's'} "
                "leading outside the scanned folder (--follow-links follows them): ",
                shown,
                style="yellow",
            )
        )


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _render_split_stats(console: Console, report: Report, sp: SplitReport, verbose: bool) -> None:
    if sp.image_groups:
        t = Table(
            title=line(sp.name, ": image pixels"),
            box=box.SIMPLE_HEAD,
            title_justify="left",
            padding=(0, 1),
            pad_edge=False,
        )
        # NaN/Inf columns only where there is something to count: narrower tables
        bad = any(c.nan or c.inf for g in sp.image_groups for c in g.channels)
        cols = ["mode", "dtype", "files", "ch", "min", "max", "mean", "std"]
        cols += ["NaN", "Inf"] if bad else []
        for col in cols:
            # numbers fold on a narrow terminal, never end in "…"
            t.add_column(
                col, justify="left" if col in ("mode", "dtype") else "right", overflow="fold"
            )
        for g in sp.image_groups:
            for i, c in enumerate(g.channels):
                first = i == 0
                row: list[Text | str] = [
                    data(g.family if first else ""),
                    data(g.dtype if first else ""),
                    str(g.images) if first else "",
                    str(i),
                    _fmt(c.min),
                    _fmt(c.max),
                    _fmt(c.mean if c.count else math.nan),  # of no value: "-", as JSON's null
                    _fmt(c.std),
                ]
                t.add_row(*row, *([str(c.nan), str(c.inf)] if bad else []))
        console.print(t)
    if sp.label_histogram and sp.mask_pixels:
        t = Table(
            title=line(
                sp.name,
                f": labels ({sp.mask_pixels:,} mask pixels, "
                f"ignore {sp.ignore_pixels / sp.mask_pixels:.1%})",
            ),
            box=box.SIMPLE_HEAD,
            title_justify="left",
        )
        t.add_column("label", justify="right", overflow="fold")
        t.add_column("pixels", justify="right", overflow="fold")
        t.add_column("share", justify="right", overflow="fold")
        t.add_column("", justify="left", overflow="crop")  # the bar may be cut, not the numbers
        names = report.labels.class_names
        ignore = report.labels.ignore_index
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
            t.add_row(data(name), f"{n:,}", f"{n / sp.mask_pixels:.2%}", bar)
        if len(hist) > limit:
            t.add_row(f"… {len(hist) - limit} more", "", "", "")
        console.print(t)


def _floats(values: tuple[float, ...], digits: int = 4) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in values) + ")"


def _render_training(console: Console, report: Report, sp: SplitReport) -> None:
    t = sp.training
    table = Table(
        title=line(sp.name, ": summary"),
        box=box.SIMPLE_HEAD,
        title_justify="left",
        show_header=False,
        padding=(0, 1),
        pad_edge=False,
    )
    table.add_column(style="bold", overflow="fold")
    table.add_column(overflow="fold")
    if t.sizes:
        sizes = ", ".join(f"{k} ×{n}" for k, n in t.sizes[:4])
        more = f", … {len(t.sizes) - 4} more" if len(t.sizes) > 4 else ""
        table.add_row("sizes (H×W)", data(sizes + more))
    n = t.normalize
    if n is not None:
        table.add_row(
            "Normalize", Text(f"mean={_floats(n.mean_scaled)} std={_floats(n.std_scaled)}")
        )
        table.add_row(
            "",
            line(
                "on ",
                n.basis,
                ", divided by ",
                n.scale_basis,
                f"; raw mean {_floats(n.mean, 2)} std {_floats(n.std, 2)}",
            ),
        )
        ct = n.nnunet_ct
        if ct is not None:
            clip = ", ".join(f"[{a:g}, {b:g}]" for a, b in zip(ct.lo, ct.hi, strict=True))
            table.add_row(
                "nnU-Net CT",
                Text(
                    f"clip {clip} then mean={_floats(ct.mean, 2)} std={_floats(ct.std, 2)}: "
                    f"nnU-Net's CTNormalization, from the intensities under the labels (> 0) "
                    f"of {ct.cases:,} cases, each weighing the same; percentiles to "
                    f"{ct.resolution:g} HU"
                ),
            )
    v = t.valid_fraction
    if v is not None:
        table.add_row(
            "valid pixels",
            Text(
                f"per mask min {v.min:.1%}, median {v.median:.1%}, "
                f"max {v.max:.1%}; {v.empty} mask{'' if v.empty == 1 else 's'} without any"
            ),
        )
    if t.class_weights:
        names = report.labels.class_names
        weights = ", ".join(
            f"{names[k] if 0 <= k < len(names) else k}={w:.3g}" for k, w in t.class_weights[:12]
        )
        more = f", … {len(t.class_weights) - 12} more" if len(t.class_weights) > 12 else ""
        table.add_row("class weights", line(weights, more))
        table.add_row("", line(t.class_weights_method))
        if t.zero_weight_classes:
            zero = ", ".join(str(k) for k in t.zero_weight_classes)
            table.add_row("", Text("weight 0 (no pixels): " + zero))
    if t.images_per_class:
        per = ", ".join(f"{k}: {c}" for k, c in t.images_per_class[:12])
        table.add_row("images/class", Text(per + (" …" if len(t.images_per_class) > 12 else "")))
    a = t.at_training_scale
    if a is not None:
        table.add_row("training", Text(a.settings))
        table.add_row(
            "at training scale",
            f"{a.smallest[0]}x{a.smallest[1]} to {a.largest[0]}x{a.largest[1]} (HxW)",
        )
        c = a.crops_per_image
        if c is not None:
            table.add_row(
                "crops per image",
                f"min {c.min:.3g}, median {c.median:.3g}, max {c.max:.3g} (area / crop area)",
            )
        i = a.ignore_per_crop
        if i is not None:
            table.add_row(
                "ignore per crop",
                f"mean {i.mean:.1%}, 95th percentile {i.p95:.1%}, max {i.max:.1%}",
            )
        if a.ignore_only_crops is not None and a.all_ignore_batch is not None:
            table.add_row(
                "ignore-only crops",
                f"{a.ignore_only_crops:.3g} per epoch expected; a whole batch with "
                f"probability {a.all_ignore_batch:.2g}",
            )
    if table.row_count:
        console.print(table)


def _render_findings(console: Console, report: Report, verbose: bool) -> None:
    if not report.findings:
        console.print(Text("No findings.", style="green"))
        return
    folded, rest = report.folded()
    groups: dict[tuple[str, Severity], list[Finding]] = defaultdict(list)
    folds: dict[tuple[str, Severity], list[FoldedFindings]] = defaultdict(list)
    for f in rest:
        groups[(f.check, f.severity)].append(f)
    for g in folded:
        folds[(g.check, g.severity)].append(g)
    console.print(Text("Findings", style="bold"))
    order = sorted({*groups, *folds}, key=lambda k: (-k[1], k[0]))
    for key in order:
        check_id, severity = key
        items = groups.get(key, [])
        total = len(items) + sum(len(g.findings) for g in folds.get(key, []))
        spec = report.check(check_id)
        head = Text()
        head.append(f"{check_id} {spec.name}", style="bold")
        head.append(f"  {severity.label}", style=SEVERITY_STYLE[severity])
        head.append(f"  {total} finding{'s' if total != 1 else ''}")
        console.print(head)
        console.print(Padding(data(spec.why, style="dim"), (0, 0, 0, 2)))
        rows = Table.grid(padding=(0, 1), pad_edge=False)
        rows.add_column(width=1)
        rows.add_column(overflow="fold")
        for g in folds.get(key, []):
            first = g.examples[0]
            others = ", ".join(f.path for f in g.examples[1:])
            rows.add_row(
                "-",
                line(
                    g.headline,
                    ", e.g. ",
                    first.path,
                    ": ",
                    first.message,
                    f" (also {others}, …)" if others else "",
                ),
            )
            if verbose:
                for f in g.findings[1:]:
                    rows.add_row("", line(f.path, ": ", f.message))
        shown = items if verbose else items[:5]
        for f in shown:
            rows.add_row("-", line(f.path, ": ", f.message))
        console.print(Padding(rows, (0, 0, 0, 2)))
        if len(items) > len(shown):
            console.print(
                Padding(
                    Text(
                        f"… and {len(items) - len(shown)} more (--verbose lists all)", style="dim"
                    ),
                    (0, 0, 0, 2),
                )
            )
