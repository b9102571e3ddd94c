"""JUnit XML: one test case per scanned file (and one per folder for a split's split-level
checks), a failure per error finding, so that CI test tabs list the broken files. Findings
that belong to no single split (split leakage across splits, a training-split check over
"train+trainaug", a class absent from the dataset) go to a last suite, "nanaudit": every
finding of the report is in the file exactly once.

Every string from the data takes its printable form, which escapes each character XML 1.0
forbids (controls, surrogates, U+FFFE/U+FFFF); ElementTree escapes the markup. "##[" is
written as a character reference, so that no CI runner printing the file reads a command."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from ..paths import printable
from ..report import Finding, Report
from ..severity import Severity
from .base import LEGACY_COMMAND, RenderOptions

DATASET_SUITE = "nanaudit"  # no split suite ("nanaudit.NAME") can have this name


def render(report: Report, options: RenderOptions) -> str:
    split_names = [s.name for s in report.splits]
    files: dict[str, set[str]] = {name: set() for name in split_names}
    home: dict[str, str] = {}  # a file's path -> the first split that holds it
    for r in report.files:
        if r.split in files:
            files[r.split].add(r.path)
            home.setdefault(r.path, r.split)
    # each finding goes to one case: its split's file, its split's folder, the file's own
    # split (a dataset finding that names a file), or the dataset suite
    placed: dict[str | None, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for f in report.findings:
        where = f.split if f.split in files else home.get(f.path)
        placed[where][f.path].append(f)
    suites = ET.Element("testsuites", name="nanaudit")
    total_tests = total_failures = 0
    groups: list[tuple[str, list[tuple[str, list[Finding]]]]] = []
    for name in split_names:
        by_path = placed.get(name, {})
        paths = sorted(files[name]) + sorted(set(by_path) - files[name])
        groups.append((printable(f"nanaudit.{name}"), [(p, by_path.get(p, [])) for p in paths]))
    rest = placed.get(None, {})
    if rest:
        groups.append((DATASET_SUITE, [(p, rest[p]) for p in sorted(rest)]))
    for suite_name, cases in groups:
        suite = ET.SubElement(suites, "testsuite", name=suite_name)
        failures = 0
        for path, findings in cases:
            case = ET.SubElement(suite, "testcase", classname=suite_name, name=printable(path))
            notes = []
            for f in findings:
                message = printable(f.message)
                if f.severity >= Severity.ERROR:
                    failures += 1
                    failure = ET.SubElement(
                        case, "failure", type=f.check, message=f"{f.check} {f.name}: {message}"
                    )
                    failure.text = f"{f.check} {f.name} ({f.severity.label}): {message}"
                else:
                    notes.append(f"{f.check} {f.name} ({f.severity.label}): {message}")
            if notes:
                ET.SubElement(case, "system-out").text = "\n".join(notes)
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        total_tests += len(cases)
        total_failures += failures
    suites.set("tests", str(total_tests))
    suites.set("failures", str(total_failures))
    suites.set("errors", "0")
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode").replace(LEGACY_COMMAND, "#&#35;[")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
