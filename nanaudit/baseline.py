"""Baselines: accept today's findings, fail only on new ones.

A baseline entry is (check, path, fingerprint), the fingerprint a hash of the finding's
check, path, split and numbers, so that an unchanged dataset matches entry for entry and a
changed file (other numbers) shows up as new.  Entries match as a multiset.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .report import BaselineEntry, BaselineResult, Finding, Report

BASELINE_VERSION = 1


class BaselineError(Exception):
    """An unreadable or malformed baseline file."""


def fingerprint(f: Finding) -> str:
    return f.fingerprint


def entry(f: Finding) -> BaselineEntry:
    return BaselineEntry(f.check, f.path, fingerprint(f), f.message)


def dumps(findings: Iterable[Finding]) -> str:
    entries = sorted(entry(f) for f in findings)
    doc = {
        "schema_version": BASELINE_VERSION,
        "tool": "nanaudit",
        "findings": [
            {"check": e.check, "path": e.path, "fingerprint": e.fingerprint, "message": e.message}
            for e in entries
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


MAX_BASELINE_BYTES = 64 << 20  # some 300,000 entries


def load(path: Path) -> tuple[BaselineEntry, ...]:
    from .configfile import read_text
    from .kinds import ConfigError

    try:
        text = read_text(path, MAX_BASELINE_BYTES)  # a regular file, capped, never a FIFO
    except ConfigError as exc:
        raise BaselineError(f"cannot read baseline {exc}") from None
    try:
        doc: Any = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BaselineError(f"baseline {path} is not valid JSON: {exc}") from None
    if (
        not isinstance(doc, dict)
        or doc.get("tool") != "nanaudit"
        or not isinstance(doc.get("findings"), list)
    ):
        raise BaselineError(
            f"baseline {path} is not a nanaudit baseline (write one with --write-baseline)"
        )
    out = []
    for i, item in enumerate(doc["findings"]):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("check", "path", "fingerprint")
        ):
            raise BaselineError(f"baseline {path}: entry {i} lacks check, path or fingerprint")
        out.append(
            BaselineEntry(
                item["check"], item["path"], item["fingerprint"], str(item.get("message", ""))
            )
        )
    return tuple(out)


def apply_to(report: Report, file: str, entries: Sequence[BaselineEntry]) -> Report:
    """The report with the baseline's findings hidden and its stale entries listed."""
    new, hidden, stale = apply(report.findings, entries)
    return replace(
        report,
        findings=tuple(new),
        baselined=tuple(hidden),
        baseline=BaselineResult(file, len(hidden), tuple(stale)),
    )


def apply(
    findings: Sequence[Finding], entries: Sequence[BaselineEntry]
) -> tuple[list[Finding], list[Finding], list[BaselineEntry]]:
    """Split findings into (new, hidden by the baseline) and list the entries never matched."""
    remaining = Counter((e.check, e.path, e.fingerprint) for e in entries)
    new: list[Finding] = []
    hidden: list[Finding] = []
    for f in findings:
        key = (f.check, f.path, fingerprint(f))
        if remaining[key] > 0:
            remaining[key] -= 1
            hidden.append(f)
        else:
            new.append(f)
    stale: list[BaselineEntry] = []
    for e in sorted(entries):
        key = (e.check, e.path, e.fingerprint)
        if remaining[key] > 0:
            remaining[key] -= 1
            stale.append(e)
    return new, hidden, stale
