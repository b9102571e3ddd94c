"""GitHub Actions workflow commands: annotations grouped by check, capped, then a summary.

Values inside a command are escaped as GitHub documents (data: ``%``, CR, LF; properties
also ``:`` and ``,``), after the printable form has turned every other control character
into an escape. Every line that is not a command nanaudit writes is made command-safe:
no data can start a line with "::" or hold "##[".
"""

from __future__ import annotations

from collections import defaultdict

from ..paths import printable
from ..report import Finding, FoldedFindings, Report
from ..severity import Severity
from .base import LEGACY_COMMAND, RenderOptions, artifact_path, command_safe, summary_line

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    text = printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(LEGACY_COMMAND, "#\\x23[")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(report: Report, f: Finding, message: str) -> str:
    title = _prop(f"{f.check} {f.name}")
    if report.layout == "samples":
        # a drawn sample is no file of the repository: an annotation of the run, named
        text = message if f.path in ("", ".") else f"{f.path}: {message}"
        return f"::{COMMANDS[f.severity]} title={title}::{_data(text)}"
    return (
        f"::{COMMANDS[f.severity]} file={_prop(artifact_path(report, f.path))},"
        f"title={title}::{_data(message)}"
    )


def render(report: Report, options: RenderOptions) -> str:
    """Annotations grouped by check; a check firing on nearly every file of a split is one
    annotation for the split (on its first file, with the count and a few examples)."""
    folded, rest = report.folded()
    groups: dict[str, list[Finding | FoldedFindings]] = defaultdict(list)
    for g in folded:
        groups[g.check].append(g)
    for f in rest:
        groups[f.check].append(f)
    order = sorted(groups, key=lambda c: (-max(x.severity for x in groups[c]), c))
    lines: list[str] = []
    budget = options.max_annotations
    left_out = 0
    for check in order:
        items = groups[check]
        count = sum(len(x.findings) if isinstance(x, FoldedFindings) else 1 for x in items)
        lines.append(f"::group::{_data(f'{check} {items[0].name}')} ({count})")
        for x in items:
            if isinstance(x, FoldedFindings):
                first = x.examples[0]
                others = ", ".join(f.path for f in x.examples[1:])
                message = f"{x.headline}: {first.message}" + (
                    f" (also {others}, …)" if others else ""
                )
            else:
                first, message = x, x.message
            if budget > 0:
                budget -= 1
                lines.append(_annotation(report, first, message))
            else:
                left_out += 1
                text = f"{first.severity.label}: {first.path}: {check} {first.name}: {message}"
                lines.append(command_safe(printable(text)))
        lines.append("::endgroup::")
    if left_out:
        lines.append(
            f"::notice title=nanaudit::{left_out} more findings were not annotated "
            f"(cap {options.max_annotations}); the log above lists them"
        )
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
