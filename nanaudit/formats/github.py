"""GitHub Actions workflow commands: annotations grouped by check, capped, then a summary.

Values inside a command are escaped as GitHub documents (data: ``%``, CR, LF; properties
also ``:`` and ``,``), after the printable form has turned every other control character
into an escape. Every line that is not a command nanaudit writes is made command-safe:
no data can start a line with "::" or hold "##[".
"""

from __future__ import annotations

from collections import defaultdict

from ..report import Finding, Report, Severity, printable
from .base import LEGACY_COMMAND, RenderOptions, artifact_path, command_safe, summary_line

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _data(text: str) -> str:
    text = printable(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(LEGACY_COMMAND, "#\\x23[")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report, options: RenderOptions) -> str:
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        groups[f.check].append(f)
    order = sorted(groups, key=lambda c: (-max(f.severity for f in groups[c]), c))
    lines: list[str] = []
    budget = options.max_annotations
    left_out = 0
    for check in order:
        items = groups[check]
        lines.append(f"::group::{_data(f'{check} {items[0].name}')} ({len(items)})")
        for f in items:
            if budget > 0:
                budget -= 1
                title = _prop(f"{f.check} {f.name}")
                lines.append(
                    f"::{COMMANDS[f.severity]} file={_prop(artifact_path(report, f.path))},"
                    f"title={title}::{_data(f.message)}"
                )
            else:
                left_out += 1
                text = f"{f.severity.label}: {f.path}: {f.check} {f.name}: {f.message}"
                lines.append(command_safe(printable(text)))
        lines.append("::endgroup::")
    if left_out:
        lines.append(
            f"::notice title=nanaudit::{left_out} more findings were not annotated "
            f"(cap {options.max_annotations}); the log above lists them"
        )
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
