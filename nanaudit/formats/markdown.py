"""Markdown: a compact summary and the findings, for $GITHUB_STEP_SUMMARY or a PR comment."""

from __future__ import annotations

from collections import defaultdict

from ..report import Finding, Report
from .base import RenderOptions, summary_line


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: Report, options: RenderOptions) -> str:
    out = [f"## nanaudit: `{report.root}`", ""]
    out.append(f"Layout **{report.layout}**: {_cell(report.layout_reason)}.")
    out.append("")
    out.append(
        "| split | images | masks | pairs | skipped | unreadable | errors | warnings | infos |"
    )
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for s in report.splits:
        sev = [
            sum(1 for f in report.findings if f.split == s.name and f.severity.label == k)
            for k in ("error", "warning", "info")
        ]
        out.append(
            f"| {_cell(s.name)} | {s.images} | {s.masks} | {s.pairs} | {s.skipped} | "
            f"{s.unreadable} | {sev[0]} | {sev[1]} | {sev[2]} |"
        )
    out.append("")
    out.append(f"**{summary_line(report)}**")
    if report.baseline is not None:
        out.append("")
        out.append(
            f"Baseline `{report.baseline.file}`: {report.baseline.hidden} findings hidden, "
            f"{len(report.baseline.stale)} entries no longer occur."
        )
    if not report.findings:
        out.append("")
        out.append("No findings.")
        return "\n".join(out) + "\n"
    groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in report.findings:
        groups[(f.check, f.severity.label)].append(f)
    out += ["", "| check | severity | count | first files |", "|---|---|--:|---|"]
    order = sorted(groups, key=lambda k: (-max(f.severity for f in groups[k]), k[0]))
    for key in order:
        items = groups[key]
        first = ", ".join(f"`{_cell(f.path)}`" for f in items[:3])
        if len(items) > 3:
            first += f" … +{len(items) - 3}"
        out.append(f"| {key[0]} {items[0].name} | {key[1]} | {len(items)} | {first} |")
    out += ["", "<details><summary>All findings</summary>", ""]
    limit = None if options.verbose else 200
    shown = report.findings[:limit]
    for f in shown:
        out.append(f"- **{f.check}** {f.severity.label} `{_cell(f.path)}`: {_cell(f.message)}")
    if len(report.findings) > len(shown):
        out.append(f"- … {len(report.findings) - len(shown)} more (see the JSON report)")
    out += ["", "</details>"]
    return "\n".join(out) + "\n"
