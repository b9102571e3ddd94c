"""Markdown: a compact summary and the findings, for $GITHUB_STEP_SUMMARY or a PR comment.

Data reaches the Markdown as plain text, every character that can open inline markup
backslash-escaped (no code span, emphasis, link, image, autolink, raw HTML, entity or
strikethrough can form, and "|" cannot end a table cell; data never starts a line, where
block markup would begin), or as a code span fenced by more backticks than it holds. Both
take the printable form first.
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..paths import printable
from ..report import Finding, Report
from .base import LEGACY_COMMAND, RenderOptions, summary_line

_INLINE_MARKUP = re.compile(r"([\\`*_\[\]<>&|~])")
_BACKTICKS = re.compile(r"`+")


def _cell(text: str) -> str:
    """Data as Markdown text: literal wherever it lands (a table cell, a list item)."""
    return _INLINE_MARKUP.sub(r"\\\1", printable(text))


def _code(text: str, table: bool = False) -> str:
    """Data as a code span. In a table a "|" is escaped (GFM unescapes it there, inside
    code spans too); the fence is one backtick longer than the longest run inside, and a
    space pads content that starts or ends with a backtick or a space."""
    body = printable(text).replace(LEGACY_COMMAND, "#\\x23[")
    if not body:
        return ""
    if table:
        body = body.replace("|", "\\|")
    fence = "`" * (max((len(m) for m in _BACKTICKS.findall(body)), default=0) + 1)
    if body.strip(" ") and (body[0] in "` " or body[-1] in "` "):
        body = f" {body} "
    return f"{fence}{body}{fence}"


def render(report: Report, options: RenderOptions) -> str:
    out = [f"## nanaudit: {_code(report.root)}", ""]
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
            f"Baseline {_code(report.baseline.file)}: {report.baseline.hidden} findings hidden, "
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
        first = ", ".join(_code(f.path, table=True) for f in items[:3])
        if len(items) > 3:
            first += f" … +{len(items) - 3}"
        name = _cell(f"{key[0]} {items[0].name}")
        out.append(f"| {name} | {key[1]} | {len(items)} | {first} |")
    out += ["", "<details><summary>All findings</summary>", ""]
    folded, rest = report.folded()
    for g in folded:  # nearly every file of a split: once, with a few examples
        files = ", ".join(_code(f.path) for f in g.examples)
        out.append(
            f"- **{_cell(g.check)}** {g.severity.label} {_cell(g.headline)} "
            f"({files}, …): {_cell(g.examples[0].message)}"
        )
    limit = None if options.verbose else 200
    shown = rest[:limit]
    for f in shown:
        out.append(f"- **{_cell(f.check)}** {f.severity.label} {_code(f.path)}: {_cell(f.message)}")
    if len(rest) > len(shown):
        out.append(f"- … {len(rest) - len(shown)} more (see the JSON report)")
    out += ["", "</details>"]
    return "\n".join(out) + "\n"
