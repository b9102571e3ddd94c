"""Data is not markup: names drawn from all of Unicode (controls, bidi controls, line
separators, non-characters, and the snippets each grammar fears) are put into a real
report wherever data reaches it, rendered through every format, and the result is parsed:
JSON and SARIF as JSON, JUnit with an XML parser, Markdown with markdown-it-py, GitHub
lines by the runner's command grammar, the terminal report by its lines.

NANAUDIT_ESCAPE_EXAMPLES sets the number of examples (default 30). Derandomized."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import clean_mask, make_pairs, natural_image, save, scan
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from nanaudit.checks.files import Reason
from nanaudit.cli import cli
from nanaudit.formats import Format, RenderOptions, render
from nanaudit.paths import printable
from nanaudit.report import BaselineEntry, BaselineResult, Finding, Report
from nanaudit.severity import Severity

EXAMPLES = int(os.environ.get("NANAUDIT_ESCAPE_EXAMPLES", "30"))
SIZE = (16, 16)

# What each grammar fears, mixed into the drawn text.
SNIPPETS = [
    "::error::forged",
    " ::warning file=x::y",
    "##[error]legacy",
    "::stop-commands::tok",
    "\n::error::x",
    "\r\n",
    "\x1b[2J",
    "\x1b]8;;https://e\x07",
    "[bold red]",
    "[/]",
    "[link=https://e]",
    "`",
    "``",
    "|",
    "\\|",
    "\\",
    "<img src=x onerror=alert(1)>",
    "</details>",
    "&amp;",
    "&#x3C;",
    "*emph*",
    "_u_",
    "[a](http://e)",
    "![i](x)",
    "~~s~~",
    "# h",
    "\u202e",
    "\u2066",
    "\u2028",
    "\u2029",
    "\x85",
    "\ufeff",
    "\u200b",
    "\ufffe",
    "\uffff",
    "\U0010ffff",
    "\ufdd0",
    "\x00",
    "\x0b\x0c",
    "%0A",
    "%25",
    "]]>",
    '"',
    "'",
    " ",
    "\t",
]
# every code point but lone surrogates, which no str read from a file or TOML can hold
CHARS = st.characters(exclude_categories=("Cs",))
PIECE = st.one_of(st.sampled_from(SNIPPETS), st.text(CHARS, min_size=1, max_size=6))
NAMES = st.lists(PIECE, min_size=1, max_size=6).map("".join)


@pytest.fixture(scope="module")
def base_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    root = make_pairs(tmp_path_factory.mktemp("esc") / "data", 2, size=SIZE)
    (root / "images" / "broken.png").write_bytes(b"")  # NA001 + NA003
    save(root / "masks" / "orphan.png", clean_mask(1, SIZE))  # NA004
    save(root / "images" / "extra.png", natural_image(3, SIZE))
    report = scan(root, class_names=["a", "b", "c"])
    assert report.findings
    return report


def hostile_report(report: Report, name: str) -> Report:
    """``report`` with ``name`` wherever data reaches a report."""
    split = report.splits[0]
    findings = [
        replace(f, path=f"{name}/{f.path}", message=f"{f.message} {name}", split=name)
        for f in report.findings
    ]
    findings.append(
        Finding("NA001", "unreadable-file", Severity.ERROR, name, name, name, Reason(name))
    )
    findings.append(Finding("NA004", "orphan-mask", Severity.WARNING, name, name, name))
    return replace(
        report,
        root=name,
        layout_reason=name,
        notes=(name,),
        config_file=name,
        labels=replace(report.labels, class_names=(name, name, name)),
        splits=(replace(split, name=name, image_root=name),),
        findings=tuple(findings),
        skipped=((name, name),),
        baseline=BaselineResult(name, 1, (BaselineEntry("NA001", name, "0" * 16, name),)),
        files=tuple(replace(r, split=name) for r in report.files),
    )


# --------------------------------------------------------------------------- per format

ANSI_SGR = re.compile(r"\x1b\[[0-9;]*m")
# what the runner trims before looking for "::" (and the zero-width characters, to be safe)
LEADING = re.compile(r"^[\s\u200b-\u200d\u2060\ufeff]*")
HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def assert_no_command(line: str) -> None:
    plain = ANSI_SGR.sub("", line)
    assert not LEADING.sub("", plain).startswith("::"), line
    assert "##[" not in plain, line


def check_json(text: str, report: Report, name: str) -> None:
    doc = json.loads(text)
    assert doc["root"] == name
    assert {f["path"] for f in doc["findings"]} >= {name}
    for line in text.splitlines():
        assert_no_command(line)


def check_sarif(text: str, report: Report, name: str) -> None:
    doc = json.loads(text)
    results = doc["runs"][0]["results"]
    assert len(results) == len(report.findings)
    for r in results:
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert re.fullmatch(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*", uri), uri
    assert any(r["message"]["text"].endswith(name) for r in results)
    for line in text.splitlines():
        assert_no_command(line)


def check_junit(text: str, report: Report, name: str) -> None:
    root = ET.fromstring(text.encode("utf-8"))
    cases = [c.get("name") for c in root.iter("testcase")]
    assert printable(name) in cases
    assert all(not HIDDEN.search(c or "") for c in cases)
    for line in text.splitlines():
        assert_no_command(line)


MD = MarkdownIt("commonmark").enable("table")
OUR_HTML = {"<details><summary>All findings</summary>\n", "</details>\n"}
# markup only data could make (nanaudit's own Markdown has bold, code spans and tables)
DATA_NEVER_MAKES = {"html_inline", "link_open", "image", "em_open", "s_open", "hardbreak"}


def check_markdown(text: str, report: Report, name: str) -> None:
    tokens = MD.parse(text)
    shown = printable(name)
    codes: list[str] = []
    tables: list[list[int]] = []  # cells per row, per table
    row = 0
    for t in tokens:
        if t.type == "html_block":
            assert t.content in OUR_HTML, t.content
        if t.type == "table_open":
            tables.append([])
        if t.type == "tr_open":
            row = 0
        if t.type in ("td_open", "th_open"):
            row += 1
        if t.type == "tr_close":
            tables[-1].append(row)
        for child in t.children or ():
            assert child.type not in DATA_NEVER_MAKES, (child.type, child.content)
            if child.type == "code_inline":
                codes.append(child.content)
    assert len(tables) == 2  # the splits and the findings: no table broken or made
    for cells in tables:  # no cell split or merged
        assert len(cells) > 1 and all(n == cells[0] for n in cells), cells
    # the path comes through as a code span, intact (in tables and in the list)
    fenced = shown.replace("##[", "#\\x23[")
    assert fenced in codes or fenced.strip(" ") in [c.strip(" ") for c in codes], (fenced, codes)
    # a message comes through as text, intact
    items = [t for t in tokens if t.type == "inline" and t.content.startswith("**NA001**")]
    texts = ["".join(c.content for c in i.children or () if c.type == "text") for i in items]
    # (the end of a paragraph loses its white space, as JavaScript's trim() takes it)
    trailing = re.compile(r"[\s\ufeff]+$")
    assert any(trailing.sub("", t).endswith(trailing.sub("", shown)) for t in texts), texts
    for line in text.splitlines():
        assert_no_command(line)


COMMAND = re.compile(
    r"::(?:group::[^\r\n]*"
    r"|endgroup::"
    r"|(?:error|warning|notice) file=(?P<file>[^,:]*),title=(?P<title>[^,:]*)::(?P<data>.*)"
    r"|notice title=nanaudit::.*)"
)


def check_github(text: str, report: Report, name: str, annotations: int) -> None:
    annotated = 0
    for line in text.split("\n"):
        if LEADING.sub("", line).startswith("::"):
            m = COMMAND.fullmatch(line)
            assert m is not None, line  # a command nanaudit wrote, whole
            if m.group("file") is not None:
                annotated += 1
                value = m.group("file")
                for escaped, plain in (("%3A", ":"), ("%2C", ","), ("%0A", "\n"), ("%25", "%")):
                    value = value.replace(escaped, plain)
                assert not HIDDEN.search(value) and "\r" not in value, value
                assert "##[" not in m.group("data")
        else:
            assert_no_command(line)
    assert annotated == min(annotations, len(report.findings))


def check_rich(text: str, report: Report, name: str, color: bool) -> None:
    for line in text.split("\n"):
        assert_no_command(line)
        plain = ANSI_SGR.sub("", line)
        assert not HIDDEN.search(plain.replace("\x1b", "" if color else "\x1b")), repr(line)
        if not color:
            assert "\x1b" not in line
        assert "\x1b" not in plain, repr(line)  # every ESC begins a colour the report chose


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_html(text: str, report: Report, name: str) -> None:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    assert [t for t, _ in parser.tags if t == "script"] == ["script"]  # the report's own
    assert not [(t, a) for t, attrs in parser.tags for a, _ in attrs if a.startswith("on")]
    assert printable(name) in "".join(parser.text)  # the name comes through as text
    for line in text.splitlines():
        assert_no_command(line)


def check_any(text: str, report: Report, name: str) -> None:
    """What every format owes a name from the data, whatever its grammar: no character that
    splits a line or drives a terminal (the C0 controls: a newline, a carriage return, ESC)
    reaches the output raw, so no name forges a line of its own. (DEL, C1 and bidi
    controls, line separators, non-characters and workflow commands are the grammar
    checks' business: JSON and HTML may hold some of them as they are, the GitHub format
    writes its own commands.)"""
    raw = {ch for ch in text if ch not in "\n\t" and LINE_BREAKING.fullmatch(ch)}
    assert not raw, sorted(raw)


LINE_BREAKING = re.compile("[\x00-\x1f]")


# The grammar checks of the formats this test knows; every other format of the registry
# gets check_any alone, so that a new format is covered before its own check is written.
GRAMMARS: dict[Format, Callable[[str, Report, str], None]] = {
    Format.JSON: check_json,
    Format.SARIF: check_sarif,
    Format.JUNIT: check_junit,
    Format.MARKDOWN: check_markdown,
    Format.GITHUB: lambda text, report, name: check_github(text, report, name, 2),
    Format.HTML: check_html,
}
OPTIONS = {
    Format.MARKDOWN: RenderOptions(verbose=True),
    Format.GITHUB: RenderOptions(max_annotations=2),
    Format.RICH: RenderOptions(verbose=True, width=80),
}
SLOW = {Format.HTML}  # rendered once per name below, not for every drawn name


def check_all(report: Report, name: str, colors: tuple[bool, ...] = (False, True)) -> None:
    bad = hostile_report(report, name)
    for fmt in Format:
        if fmt in SLOW:
            continue
        if fmt is Format.RICH:
            for color in colors:
                options = RenderOptions(verbose=True, width=80, color=color)
                text = render(bad, fmt, options)
                check_rich(text, bad, name, color)
                if not color:
                    check_any(text, bad, name)
            continue
        text = render(bad, fmt, OPTIONS.get(fmt))
        GRAMMARS.get(fmt, check_any)(text, bad, name)
        check_any(text, bad, name)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize(
    "name",
    [
        "x[/].png",
        "[bold red]X.png",
        "[link=https://example.com]c.png",
        "a`b``c`.png",
        "`",
        "|pipe|.png",
        "<img src=x onerror=alert(1)>.png",
        "x" * 70 + " ::error::forged.png",
        "::warning::start.png",
        "a ##[error]legacy.png",
        "\ufffe\uffff.png",
        "\u202ereversed.png",
        "line\u2028break.png",
        "  ",
    ],
)
def test_each_grammar_holds(base_report: Report, name: str) -> None:
    check_all(base_report, name)
    bad = hostile_report(base_report, name)
    for fmt in SLOW:
        text = render(bad, fmt, OPTIONS.get(fmt))
        GRAMMARS.get(fmt, check_any)(text, bad, name)
        check_any(text, bad, name)


def test_drawn_names_hold_in_every_format(base_report: Report) -> None:
    ran = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(name=NAMES)
    def prop(name: str) -> None:
        check_all(base_report, name, colors=(len(name) % 2 == 1,))  # Rich is the slow one
        ran.append(name)

    prop()
    assert len(ran) >= EXAMPLES // 2


def _cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, ["scan", *args, "--no-progress", "--no-cache"], env=env)


MARKUP_NAMES = ["x[.png", "[bold red]X.png", "[link=e.invalid]c.png"]


def test_markup_in_file_names_reaches_the_terminal_as_text(tmp_path: Path) -> None:
    """End to end: files named like Rich markup are listed by name; no MarkupError, no
    hyperlink, no style swallowing the brackets."""
    root = make_pairs(tmp_path / "d", 2, size=SIZE)
    for name in MARKUP_NAMES:
        (root / "images" / name).write_bytes(b"")  # NA001 and NA003 name each
    (root / "images" / "x[").mkdir()  # a folder named like an open tag…
    (root / "images" / "x[" / "].png").write_bytes(b"")  # …holding x[/].png
    save(root / "images" / "x[" / "in.png", natural_image(5, SIZE))
    for color in ("--no-color", "--color"):
        result = _cli(str(root), "--verbose", color, env={"COLUMNS": "200"})
        assert result.exit_code == 1, result.output
        out = result.stdout
        assert "internal error" not in result.output
        plain = ANSI_SGR.sub("", out)
        for name in [*MARKUP_NAMES, "x[/].png", "x[/in.png"]:
            assert f"images/{name}" in plain, name
        assert "\x1b]8;" not in out  # no terminal hyperlink


def test_long_names_wrapped_under_github_actions_forge_nothing(tmp_path: Path) -> None:
    """--format auto under GITHUB_ACTIONS=true: annotations, then the terminal report
    wrapped at 80 columns. A name that would put "::error::" at the start of a wrapped
    line, and a baseline entry holding a newline, forge no annotation."""
    root = make_pairs(tmp_path / "d", 2, size=SIZE)
    evil = "y" * 60 + "::error file=x,title=t::forged" + "z" * 30 + ".png"
    (root / "images" / evil).write_bytes(b"")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(
        json.dumps(
            {
                "schema_version": 2,
                "tool": "nanaudit",
                "findings": [
                    {
                        "check": "NA001",
                        "path": "gone\n::error::from-baseline",
                        "fingerprint": "0" * 16,
                        "message": "m\n::warning::again",
                    }
                ],
            }
        )
    )
    result = _cli(
        str(root), "--baseline", str(baseline), "--verbose", env={"GITHUB_ACTIONS": "true"}
    )
    assert result.exit_code == 1, result.output
    lines = result.stdout.split("\n")
    commands = [ln for ln in lines if LEADING.sub("", ln).startswith("::")]
    assert commands and all(COMMAND.fullmatch(ln) for ln in commands), commands
    # the two annotations are nanaudit's (NA001 and NA003 on the evil name), nothing else
    files = [m.group("file") for c in commands if (m := COMMAND.fullmatch(c)) and m.group("file")]
    unescaped = [f.replace("%3A", ":").replace("%2C", ",") for f in files]
    assert unescaped == [f"images/{evil}"] * 2, unescaped  # the root is absolute: left out
    assert "from-baseline" in result.stdout  # the stale entry is listed, escaped
    assert not any("##[" in ln for ln in lines)


def test_warnings_on_stderr_read_as_no_command(tmp_path: Path) -> None:
    """A class name from the dataset's own class-names file reaches the usage warning the
    CLI prints on stderr (beside a JSON report), which a CI runner logs too."""
    root = make_pairs(tmp_path / "d", 2, size=SIZE)
    (root / "classes.txt").write_text("bg\nx ##[error]forged\nb\n", encoding="utf-8")
    (root / "nanaudit.toml").write_text(
        'num_classes = 3\nignore_index = 1\nclass_names_file = "classes.txt"\n'
    )
    result = _cli(str(root), "--format", "json")
    assert result.exit_code == 0, result.output
    assert "warning: the ignore index 1" in result.stderr and "forged" in result.stderr
    for line in result.stderr.splitlines():
        assert_no_command(line)
