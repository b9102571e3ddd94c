"""What every formatter shares: its options and the one-line summary."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ..report import Report, Severity


@dataclass(frozen=True, slots=True)
class RenderOptions:
    verbose: bool = False
    width: int | None = None  # terminal columns; None: 80
    color: bool = False
    max_annotations: int = 50  # github: annotations before the rest is summarised


def summary_line(report: Report) -> str:
    e, w, i = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    fail_on = report.fail_on
    gate = f"--fail-on {fail_on.label}" if fail_on else "--fail-on never"

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
