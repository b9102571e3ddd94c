"""What every formatter shares: its options and the one-line summary."""

from __future__ import annotations

from dataclasses import dataclass

from ..engine import Report
from ..model import Severity


@dataclass(frozen=True, slots=True)
class RenderOptions:
    verbose: bool = False
    width: int | None = None  # terminal columns; None: 80
    color: bool = False
    max_annotations: int = 50  # github: annotations before the rest is summarised


def summary_line(report: Report) -> str:
    e, w, i = (report.count(s) for s in (Severity.ERROR, Severity.WARNING, Severity.INFO))
    fail_on = report.settings.fail_on
    gate = f"--fail-on {fail_on.label}" if fail_on else "--fail-on never"

    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    return (f"{plural(e, 'error')}, {plural(w, 'warning')}, {plural(i, 'info')}: "
            f"exit code {report.exit_code} ({gate})")
