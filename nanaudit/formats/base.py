"""What every formatter shares: its options and the one-line summary."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from ..report import Report
from ..severity import Severity


@dataclass(frozen=True, slots=True)
class RenderOptions:
    verbose: bool = False
    width: int | None = None  # terminal columns; None: 80
    color: bool = False
    max_annotations: int = 50  # github: annotations before the rest is summarised
    stats: bool = True  # terminal: the statistics after the findings
    quiet: bool = False  # terminal: the findings and the summary line only
    files: str = "all"  # json: the files listed: all, those findings name, or none


def summary_line(report: Report) -> str:
    e, w, i = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    fail_on = report.fail_on
    gate = f"--fail-on {fail_on.label}" if fail_on else "--fail-on never"
    if report.baseline_written:
        gate = "--write-baseline: the findings are recorded as accepted"

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return (
        f"{plural(e, 'error')}, {plural(w, 'warning')}, {plural(i, 'info')}: "
        f"exit code {report.exit_code} ({gate})"
    )


def artifact_path(report: Report, path: str) -> str:
    """A finding's path as CI tools want it: relative to where the scan was run.

    Reports keep paths relative to the scanned root; annotations and SARIF locations need
    them relative to the checkout, which is the root as the user typed it joined with them.
    An absolute root is left out so that output stays the same on every machine.
    """
    root = report.root
    if not path:
        path = "."
    if root.startswith("/") or (len(root) > 1 and root[1] == ":"):
        return path
    return posixpath.normpath(posixpath.join(root, path))


# The GitHub Actions runner reads a log line as a workflow command when, its leading white
# space trimmed, it starts with "::" (``::error::…``, ``::stop-commands::…``), or when it
# holds "##[" anywhere (the legacy ``##[error]…`` syntax). Trimming takes Unicode spaces;
# zero-width characters and colour codes before the "::" are passed over too, to be safe.
_COMMAND_START = re.compile(r"^((?:[\s\u200b-\u200d\u2060\ufeff]|\x1b\[[0-9;]*m)*):(?=:)")
LEGACY_COMMAND = "##["


def command_safe(line: str) -> str:
    """One line that no CI runner reads as a command: a leading "::" becomes "\\x3a:" and
    "##[" becomes "#\\x23[" (the reports' escape for a character shown as its code)."""
    if LEGACY_COMMAND in line:
        line = line.replace(LEGACY_COMMAND, "#\\x23[")
    return _COMMAND_START.sub(lambda m: m.group(1) + "\\x3a", line)


def command_safe_lines(text: str) -> str:
    """Every line of ``text`` made command-safe (nanaudit writes no command there)."""
    return "\n".join(command_safe(line) for line in text.split("\n"))
