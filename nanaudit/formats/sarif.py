"""SARIF 2.1.0: one rule per check, one result per finding."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from ..report import Report
from ..severity import Severity
from .base import RenderOptions, artifact_path
from .json_report import clean, json_text

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def _uri(path: str) -> str:
    """Percent-encode a report path; bytes that were not UTF-8, shown as \\xNN in reports,
    are encoded as the bytes they were."""
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), path.encode())
    return quote(raw, safe="/")


def _rules(report: Report) -> list[dict[str, Any]]:
    rules = []
    for spec in report.checks:
        help_text = f"{spec.summary}\n\nWhy: {spec.why}\n\nFix: {spec.fix}"
        rules.append(
            {
                "id": spec.id,
                "name": spec.name,
                "shortDescription": {"text": spec.summary},
                "fullDescription": {"text": spec.why},
                "help": {"text": help_text, "markdown": help_text},
                "defaultConfiguration": {"level": LEVELS[spec.severity]},
                "properties": {"tags": ["dataset", spec.id[:3] + "xx"]},
            }
        )
    return rules


def render(report: Report, options: RenderOptions) -> str:
    rules = _rules(report)
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for f in report.findings:
        results.append(
            {
                "ruleId": f.check,
                "ruleIndex": index[f.check],
                "level": LEVELS[f.severity],
                "message": {"text": f"{f.name}: {f.message}"},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": {"uri": _uri(artifact_path(report, f.path))}
                        },
                    }
                ],
                "partialFingerprints": {"nanauditFingerprint/v1": f.fingerprint},
                "properties": {"split": f.split, "data": clean(f.json_data)},
            }
        )
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "nanaudit",
                        "version": report.version,
                        "semanticVersion": report.version,
                        "rules": rules,
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json_text(doc, indent=2, default=str) + "\n"
