"""JUnit XML: one test case per scanned file (and one per split for its split-level checks),
a failure per error finding, so that CI test tabs list the broken files.

Every string from the data takes its printable form, which escapes each character XML 1.0
forbids (controls, surrogates, U+FFFE/U+FFFF); ElementTree escapes the markup. "##[" is
written as a character reference, so that no CI runner printing the file reads a command."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict

from ..report import Finding, Report, Severity, printable
from .base import LEGACY_COMMAND, RenderOptions


def render(report: Report, options: RenderOptions) -> str:
    by_path: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        by_path[f.path].append(f)
    suites = ET.Element("testsuites", name="nanaudit")
    total_tests = total_failures = 0
    for split in report.splits:
        files = sorted({r.path for r in report.files if r.split == split.name})
        split_paths = sorted(
            {f.path for f in report.findings if f.split == split.name} - set(files)
        )
        cases: list[tuple[str, list[Finding]]] = [(p, by_path.get(p, [])) for p in files]
        # split-level findings (NA005…) point at a folder, not a file: one case per folder
        cases += [(p, [f for f in by_path[p] if f.split == split.name]) for p in split_paths]
        suite_name = printable(f"nanaudit.{split.name}")
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
