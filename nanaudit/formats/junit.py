"""JUnit XML: one test case per scanned file (and one per folder for a split's split-level
checks), a failure per error finding, so that CI test tabs list the broken files. Findings
that belong to no single split (split leakage across splits, a training-split check over
"train+trainaug", a class absent from the dataset) go to a last suite, "nanaudit": every
finding of the report is in the file exactly once.

Every string from the data takes its printable form, which escapes each character XML 1.0
forbids (controls, surrogates, U+FFFE/U+FFFF); ElementTree escapes the markup. "##[" is
written as a character reference, so that no CI runner printing the file reads a command."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping

from ..paths import printable
from ..report import Finding, Report
from ..severity import Severity
from .base import LEGACY_COMMAND, RenderOptions

DATASET_SUITE = "nanaudit"  # no split suite ("nanaudit.NAME") can have this name


def render(report: Report, options: RenderOptions) -> str:
    return "".join(render_chunks(report, options))


def render_chunks(report: Report, options: RenderOptions) -> Iterator[str]:
    """The document a test case at a time: the report's files are read as a stream (once
    to count each split's cases, once more for each split), never held, so that a report
    of a million files is written in the memory of its findings. With ``--report-files``
    other than ``all``, a split lists only the files its findings name."""
    split_names = [s.name for s in report.splits]
    known = set(split_names)
    named = {f.path for f in report.findings}
    every = options.files == "all"
    counts = dict.fromkeys(split_names, 0)
    home: dict[str, str] = {}  # a named file's path -> the first split that holds it
    member: set[tuple[str, str]] = set()  # (split, path) of the named files
    last: dict[str, str] = {}
    for r in report.files:
        if r.split not in known or last.get(r.split) == r.path:
            continue  # the files are in path order: a path twice is an image and a mask
        last[r.split] = r.path
        counts[r.split] += 1
        if r.path in named:
            home.setdefault(r.path, r.split)
            member.add((r.split, r.path))
    del last
    # each finding goes to one case: its split's file, its split's folder, the file's own
    # split (a dataset finding that names a file), or the dataset suite
    placed: dict[str | None, dict[str, list[Finding]]] = defaultdict(lambda: defaultdict(list))
    for f in report.findings:
        where = f.split if f.split in known else home.get(f.path)
        placed[where][f.path].append(f)
    suites: list[tuple[str, int, int, Callable[[], Iterator[str]]]] = []
    for name in split_names:
        by_path = placed.get(name, {})
        extra = sorted(p for p in by_path if (name, p) not in member)
        listed = counts[name] if every else len(by_path) - len(extra)
        suite_name = printable(f"nanaudit.{name}")
        suites.append(
            (
                suite_name,
                listed + len(extra),
                _failures(by_path),
                functools.partial(_split_cases, report, name, suite_name, by_path, extra, every),
            )
        )
    rest = placed.get(None, {})
    if rest:
        loose = [(p, rest[p]) for p in sorted(rest)]
        suites.append(
            (
                DATASET_SUITE,
                len(loose),
                _failures(rest),
                functools.partial(_cases, DATASET_SUITE, iter(loose)),
            )
        )
    tests = sum(n for _, n, _, _ in suites)
    failures = sum(n for _, _, n, _ in suites)
    head = f'<testsuites name="nanaudit" tests="{tests}" failures="{failures}" errors="0"'
    yield '<?xml version="1.0" encoding="UTF-8"?>\n'
    if not suites:
        yield head + " />\n"
        return
    yield head + ">"
    for suite_name, n, fails, cases in suites:
        attrs = f'name="{_attr(suite_name)}" tests="{n}" failures="{fails}" errors="0" skipped="0"'
        if not n:
            yield f"\n  <testsuite {attrs} />".replace(LEGACY_COMMAND, "#&#35;[")
            continue
        yield f"\n  <testsuite {attrs}>".replace(LEGACY_COMMAND, "#&#35;[")
        for case in cases():
            yield case.replace(LEGACY_COMMAND, "#&#35;[")
        yield "\n  </testsuite>"
    yield "\n</testsuites>\n"


def _failures(by_path: Mapping[str, list[Finding]]) -> int:
    return sum(f.severity >= Severity.ERROR for findings in by_path.values() for f in findings)


def _split_cases(
    report: Report,
    name: str,
    suite_name: str,
    by_path: Mapping[str, list[Finding]],
    extra: list[str],
    every: bool,
) -> Iterator[str]:
    """A split's cases: its files in path order, then the paths its findings name that are
    not its files (a folder, for a split-level check)."""

    def files() -> Iterator[tuple[str, list[Finding]]]:
        last = None
        for r in report.files:
            if r.split != name or r.path == last:
                continue
            last = r.path
            if every or r.path in by_path:
                yield r.path, by_path.get(r.path, [])
        for p in extra:
            yield p, by_path[p]

    return _cases(suite_name, files())


def _cases(suite_name: str, cases: Iterator[tuple[str, list[Finding]]]) -> Iterator[str]:
    """Each case as ElementTree, indented by ET.indent, wrote it (the same bytes)."""
    classname = _attr(suite_name)
    for path, findings in cases:
        head = f'\n    <testcase classname="{classname}" name="{_attr(printable(path))}"'
        if not findings:
            yield head + " />"
            continue
        parts = [head, ">"]
        notes = []
        for f in findings:
            message = printable(f.message)
            if f.severity >= Severity.ERROR:
                text = f"{f.check} {f.name} ({f.severity.label}): {message}"
                parts.append(
                    f'\n      <failure type="{_attr(f.check)}" '
                    f'message="{_attr(f"{f.check} {f.name}: {message}")}">{_text(text)}</failure>'
                )
            else:
                notes.append(f"{f.check} {f.name} ({f.severity.label}): {message}")
        if notes:
            parts.append(f"\n      <system-out>{_text(chr(10).join(notes))}</system-out>")
        parts.append("\n    </testcase>")
        yield "".join(parts)


def _text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return (
        _text(text)
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
        .replace("\n", "&#10;")
        .replace("\t", "&#09;")
    )
