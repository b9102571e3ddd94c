"""Output formats: golden files on one generated dataset, SARIF structure, CI features.

Regenerate the golden files after an intended change with
``NANAUDIT_UPDATE_GOLDEN=1 python -m pytest tests/test_formats.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import clean_mask, make_pairs, natural_image, save, validate_report_json

import nanaudit
from nanaudit.checks.registry import all_checks
from nanaudit.cli import cli
from nanaudit.formats import Format, formatter

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("NANAUDIT_UPDATE_GOLDEN") == "1"

# The part of the SARIF 2.1.0 schema that consumers rely on: version, runs,
# tool.driver.name/rules, and results with ruleId, level, message and locations.
SARIF_REQUIRED = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "rules"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": [
                                                "id",
                                                "name",
                                                "shortDescription",
                                                "help",
                                                "defaultConfiguration",
                                            ],
                                            "properties": {
                                                "id": {"type": "string"},
                                                "defaultConfiguration": {
                                                    "type": "object",
                                                    "required": ["level"],
                                                    "properties": {
                                                        "level": {
                                                            "enum": [
                                                                "none",
                                                                "note",
                                                                "warning",
                                                                "error",
                                                            ]
                                                        }
                                                    },
                                                },
                                            },
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["ruleId", "level", "message", "locations"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {"type": "object", "required": ["text"]},
                                "locations": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["physicalLocation"],
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation"],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "required": ["uri"],
                                                    }
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def build_golden_dataset(root: Path) -> Path:
    """train/val with one defect of each family; deterministic bytes."""
    make_pairs(root, 5, split="train")
    make_pairs(root, 3, split="val")
    a = natural_image(1)[..., 0].astype(np.float32) / 255
    a[0, :4] = np.nan
    (root / "images" / "train" / "img_001.png").unlink()
    save(root / "images" / "train" / "img_001.tif", a)
    save(root / "masks" / "train" / "img_002.png", np.full((64, 64), 255, np.uint8))
    m = clean_mask(3)
    m[:4, :4] = 9
    save(root / "masks" / "val" / "img_000.png", m)
    save(root / "masks" / "val" / "img_001.jpg", clean_mask(1))
    (root / "masks" / "val" / "img_001.png").unlink()
    save(root / "images" / "val" / "img_009.png", natural_image(9))  # no mask
    return root


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout


@pytest.fixture
def golden_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    build_golden_dataset(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    return "data"


def test_every_format_has_a_formatter_and_is_a_choice() -> None:
    """A format is one module and one member of Format: its formatter is found, and the
    command line offers it (--format and -o FORMAT:FILE)."""
    from nanaudit.options import FORMATS, OUTPUT_FORMATS

    for fmt in Format:
        assert callable(formatter(fmt)), fmt
        assert fmt.value in FORMATS and fmt.value in OUTPUT_FORMATS


def _golden_text(fmt: str, out: str) -> str:
    """What a golden file holds: the output, with the version masked and, for SARIF, the
    rules' documentation left out (test_sarif_rules_carry_the_check_docs covers it)."""
    out = out.replace(nanaudit.__version__, "<VERSION>")
    if fmt == "html":  # the thumbnails' bytes depend on the JPEG library: the page does not
        out = re.sub(r"(data:image/[a-z]+;base64,)[A-Za-z0-9+/=]+", r"\1…", out)
    if fmt == "sarif":
        doc = json.loads(out)
        rules = doc["runs"][0]["tool"]["driver"]["rules"]
        doc["runs"][0]["tool"]["driver"]["rules"] = [r["id"] for r in rules]
        out = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    return out


@pytest.mark.parametrize("fmt", [f.value for f in Format])
def test_golden(golden_root: str, fmt: str) -> None:
    code, out = invoke("scan", golden_root, "--format", fmt, "-C", "3", env={"GITHUB_ACTIONS": ""})
    assert code == 1
    out = _golden_text(fmt, out)
    golden = GOLDEN / f"report.{fmt}.txt"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"golden file {golden.name} is missing (NANAUDIT_UPDATE_GOLDEN=1)"
    assert out == golden.read_text(encoding="utf-8")
    # and the same bytes on a second run
    again = invoke("scan", golden_root, "--format", fmt, "-C", "3", env={"GITHUB_ACTIONS": ""})
    assert _golden_text(fmt, again[1]) == out


def test_sarif_rules_carry_the_check_docs(golden_root: str) -> None:
    _, out = invoke("scan", golden_root, "--format", "sarif", "-C", "3")
    rules = json.loads(out)["runs"][0]["tool"]["driver"]["rules"]
    for rule, spec in zip(rules, all_checks(), strict=True):
        assert rule["id"] == spec.id and rule["name"] == spec.name
        assert rule["shortDescription"]["text"] == spec.summary
        assert rule["fullDescription"]["text"] == spec.why
        assert spec.fix in rule["help"]["text"] and spec.why in rule["help"]["text"]


def test_sarif_structure(golden_root: str) -> None:
    _, out = invoke("scan", golden_root, "--format", "sarif", "-C", "3")
    doc = json.loads(out)
    jsonschema.validate(doc, SARIF_REQUIRED)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c.id for c in all_checks()]
    levels = {r["id"]: r["defaultConfiguration"]["level"] for r in rules}
    assert levels["NA101"] == "error" and levels["NA004"] == "warning" and levels["NA204"] == "note"
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert (
        by_rule["NA101"]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        == "data/images/train/img_001.tif"
    )
    assert by_rule["NA101"]["level"] == "error"
    assert rules[by_rule["NA101"]["ruleIndex"]]["id"] == "NA101"


def test_sarif_split_finding_points_at_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_pairs(tmp_path / "d", 2, split="train")
    (root / "masks" / "val").mkdir()
    save(root / "masks" / "val" / "x.png", clean_mask(0))
    monkeypatch.chdir(tmp_path)
    _, out = invoke("scan", "d", "--format", "sarif")
    results = json.loads(out)["runs"][0]["results"]
    na005 = [r for r in results if r["ruleId"] == "NA005"]
    assert na005 and na005[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]


def test_junit_lists_every_file_and_fails_on_errors(golden_root: str) -> None:
    _, out = invoke("scan", golden_root, "--format", "junit", "-C", "3")
    tree = ET.fromstring(out)
    cases = tree.findall(".//testcase")
    names = {c.get("name") for c in cases}
    assert "images/train/img_001.tif" in names and "masks/val/img_001.jpg" in names
    failures = tree.findall(".//failure")
    report = json.loads(invoke("scan", golden_root, "--format", "json", "-C", "3")[1])
    assert len(failures) == report["summary"]["errors"] == int(tree.get("failures", "-1"))
    assert int(tree.get("tests", "0")) == len(cases)


def test_github_annotations_are_capped(golden_root: str) -> None:
    _, out = invoke("scan", golden_root, "--format", "github", "--max-annotations", "2", "-C", "3")
    annotations = [ln for ln in out.splitlines() if ln.startswith(("::error", "::warning"))]
    assert len(annotations) == 2
    assert "more findings were not annotated (cap 2)" in out
    assert out.count("::group::") == out.count("::endgroup::") >= 2


def test_auto_format_under_github_actions(golden_root: str) -> None:
    _, out = invoke("scan", golden_root, "-C", "3", env={"GITHUB_ACTIONS": "true"})
    assert "::error file=data/images/train/img_001.tif,title=NA101 nan-pixels::" in out
    assert "Findings" in out  # the terminal report follows the annotations
    _, out = invoke("scan", golden_root, "-C", "3", env={"GITHUB_ACTIONS": ""})
    assert "::error" not in out and "Findings" in out


def test_output_several_formats_in_one_run(golden_root: str, tmp_path: Path) -> None:
    code, out = invoke(
        "scan",
        golden_root,
        "-C",
        "3",
        "--output",
        f"json:{tmp_path / 'r.json'}",
        "--output",
        f"sarif:{tmp_path / 'r.sarif'}",
        "-o",
        f"junit:{tmp_path / 'r.xml'}",
    )
    assert code == 1 and "Findings" in out
    validate_report_json((tmp_path / "r.json").read_text())
    jsonschema.validate(json.loads((tmp_path / "r.sarif").read_text()), SARIF_REQUIRED)
    ET.fromstring((tmp_path / "r.xml").read_text())


def _checks(out: str) -> list[str]:
    return sorted({f["check"] for f in json.loads(out)["findings"]})


def test_select_ignore_longest_prefix_wins(golden_root: str) -> None:
    base = ("scan", golden_root, "--format", "json", "-C", "3")
    everything = _checks(invoke(*base)[1])
    assert {"NA101", "NA201", "NA202", "NA206", "NA003"} <= set(everything)
    code, out = invoke(*base, "--select", "NA2")
    assert _checks(out) == [c for c in everything if c.startswith("NA2")] and code == 1
    code, out = invoke(*base, "--ignore", "NA1", "--select", "NA101")
    assert "NA101" in _checks(out) and not [
        c for c in _checks(out) if c.startswith("NA1") and c != "NA101"
    ]
    code, out = invoke(*base, "--select", "NA1", "--ignore", "NA101")
    assert "NA101" not in _checks(out)
    code, out = invoke(*base, "--ignore", "NA0,NA1,NA2,NA3")
    assert _checks(out) == [] and code == 0
    assert invoke(*base, "--select", "XY1")[0] == 2


def test_per_file_ignores_from_config(golden_root: str, tmp_path: Path) -> None:
    cfg = tmp_path / "nanaudit.toml"
    cfg.write_text(
        'num_classes = 3\n[per-file-ignores]\n"masks/val/*" = ["NA2"]\n'
        '"images/train/img_001.tif" = ["NA101", "NA109", "NA110"]\n'
    )
    code, out = invoke("scan", golden_root, "--format", "json", "--config", str(cfg))
    doc = json.loads(out)
    assert not [
        f
        for f in doc["findings"]
        if f["path"].startswith("masks/val/") and f["check"].startswith("NA2")
    ]
    assert not [f for f in doc["findings"] if f["path"] == "images/train/img_001.tif"]
    assert doc["suppressed"] >= 4
    assert any(f["check"] == "NA202" for f in doc["findings"])  # train masks still checked
    assert code == 1


def test_baseline_round_trip(golden_root: str, tmp_path: Path) -> None:
    baseline = tmp_path / "nanaudit-baseline.json"
    code, out = invoke("scan", golden_root, "-C", "3", "--write-baseline", str(baseline))
    assert code == 0 and baseline.exists()  # recording the findings succeeded
    # the report on stdout says the exit code the process has (issue 24: "exit code 1")
    assert "exit code 0" in out and "exit code 1" not in out
    entries = json.loads(baseline.read_text())["findings"]
    assert entries and all(set(e) >= {"check", "path", "fingerprint"} for e in entries)
    code, out = invoke(
        "scan", golden_root, "-C", "3", "--baseline", str(baseline), "--format", "json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["findings"] == []
    assert doc["baseline"]["hidden"] == len(entries) and doc["baseline"]["stale"] == []
    # a new defect fails; a fixed one is reported as stale
    save(Path(golden_root) / "masks" / "train" / "img_003.png", np.full((64, 64), 255, np.uint8))
    save(Path(golden_root) / "masks" / "train" / "img_002.png", clean_mask(2))
    code, out = invoke(
        "scan", golden_root, "-C", "3", "--baseline", str(baseline), "--format", "json"
    )
    doc = json.loads(out)
    assert code == 1
    assert [(f["check"], f["path"]) for f in doc["findings"] if f["check"] == "NA202"] == [
        ("NA202", "masks/train/img_003.png")
    ]
    assert ("NA202", "masks/train/img_002.png") in {
        (e["check"], e["path"]) for e in doc["baseline"]["stale"]
    }
    code, out = invoke("scan", golden_root, "-C", "3", "--baseline", str(baseline))
    assert "entries no longer occur" in out


def test_bad_baseline_exits_2(golden_root: str, tmp_path: Path) -> None:
    bad = tmp_path / "b.json"
    bad.write_text("[1, 2]")
    result = CliRunner().invoke(cli, ["scan", golden_root, "--baseline", str(bad)])
    assert result.exit_code == 2 and "not a nanaudit baseline" in result.stderr
    result = CliRunner().invoke(
        cli, ["scan", golden_root, "--baseline", str(tmp_path / "none.json")]
    )
    assert result.exit_code == 2 and "cannot read baseline" in result.stderr


def test_pre_commit_hook_definition_runs_the_tool() -> None:
    text = (Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text()
    assert "id: nanaudit" in text and "entry: nanaudit scan" in text and "language: python" in text


def test_junit_holds_every_finding_of_the_json_report(tmp_path: Path) -> None:
    # two training splits: NA301 and NA308 speak of "train+train_aug", which no suite is
    # named after; NA306 spans train and val (split None)
    root = make_pairs(tmp_path / "d", 6, split="train")
    make_pairs(root, 6, split="train_aug")
    make_pairs(root, 2, split="val")
    save(root / "images" / "val" / "leak.png", natural_image(1000 * sum(map(ord, "train"))))
    save(root / "masks" / "val" / "leak.png", clean_mask(0))
    args = ("scan", str(root), "--num-classes", "4", "--batch-size", "11")
    doc = json.loads(invoke(*args, "--format", "json")[1])
    expected = sorted(
        f"{f['check']} {f['name']} ({f['severity']}): {f['message']}" for f in doc["findings"]
    )
    assert {"NA301", "NA306", "NA308"} <= {f["check"] for f in doc["findings"]}
    assert {f["split"] for f in doc["findings"]} >= {None, "train+train_aug"}
    tree = ET.fromstring(invoke(*args, "--format", "junit")[1])
    shown = [e.text or "" for e in tree.iter("failure")]
    shown += [line for e in tree.iter("system-out") for line in (e.text or "").split("\n")]
    assert sorted(shown) == expected
    assert int(tree.get("failures", "-1")) == doc["summary"]["errors"]
    assert int(tree.get("tests", "-1")) == len(tree.findall(".//testcase"))


def _junit_by_elementtree(report: nanaudit.Report) -> str:
    """The JUnit document as the writer made it with ElementTree before it streamed: the
    oracle of the streamed writer's bytes."""
    from collections import defaultdict

    from nanaudit.formats.base import LEGACY_COMMAND
    from nanaudit.paths import printable
    from nanaudit.severity import Severity

    names = [s.name for s in report.splits]
    files: dict[str, set[str]] = {name: set() for name in names}
    home: dict[str, str] = {}
    for r in report.files:
        if r.split in files:
            files[r.split].add(r.path)
            home.setdefault(r.path, r.split)
    placed: dict = defaultdict(lambda: defaultdict(list))
    for f in report.findings:
        placed[f.split if f.split in files else home.get(f.path)][f.path].append(f)
    suites = ET.Element("testsuites", name="nanaudit")
    groups = []
    for name in names:
        by_path = placed.get(name, {})
        paths = sorted(files[name]) + sorted(set(by_path) - files[name])
        groups.append((printable(f"nanaudit.{name}"), [(p, by_path.get(p, [])) for p in paths]))
    if placed.get(None):
        groups.append(("nanaudit", [(p, placed[None][p]) for p in sorted(placed[None])]))
    tests = fails = 0
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
                    e = ET.SubElement(
                        case, "failure", type=f.check, message=f"{f.check} {f.name}: {message}"
                    )
                    e.text = f"{f.check} {f.name} ({f.severity.label}): {message}"
                else:
                    notes.append(f"{f.check} {f.name} ({f.severity.label}): {message}")
            if notes:
                ET.SubElement(case, "system-out").text = "\n".join(notes)
        for key, value in (("tests", len(cases)), ("failures", failures)):
            suite.set(key, str(value))
        suite.set("errors", "0")
        suite.set("skipped", "0")
        tests, fails = tests + len(cases), fails + failures
    suites.set("tests", str(tests))
    suites.set("failures", str(fails))
    suites.set("errors", "0")
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode").replace(LEGACY_COMMAND, "#&#35;[")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


@pytest.mark.parametrize("spilled", [False, True])
def test_junit_streamed_is_the_document_elementtree_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spilled: bool
) -> None:
    from nanaudit import store
    from nanaudit.formats import RenderOptions, render

    root = make_pairs(tmp_path / "d", 5, split="train")
    make_pairs(root, 3, split="val")
    save(root / "images" / "val" / 'le"ak ##[x] <&>.png', natural_image(1000 * 5))
    save(root / "masks" / "val" / 'le"ak ##[x] <&>.png', np.full((64, 64), 9, np.uint8))
    save(root / "images" / "train" / "flat.png", np.zeros((64, 64, 3), np.uint8))
    save(root / "masks" / "train" / "flat.png", clean_mask(0))
    if spilled:
        monkeypatch.setattr(store, "MEMORY_BUDGET", 0)
    report = nanaudit.scan(root, num_classes=4, cache=False)
    assert report.findings and any(f.split is None for f in report.findings) is not None
    text = render(report, Format.JUNIT, RenderOptions())
    assert text == _junit_by_elementtree(report)
    # only the files findings name: each listed case has a finding, the counts add up
    tree = ET.fromstring(render(report, Format.JUNIT, RenderOptions(files="findings")))
    full = ET.fromstring(text)
    cases = tree.findall(".//testcase")
    assert cases and all(len(c) for c in cases)
    assert int(tree.get("tests", "-1")) == len(cases) < len(full.findall(".//testcase"))
    for suite in tree.iter("testsuite"):
        assert int(suite.get("tests", "-1")) == len(suite.findall("testcase"))
    assert tree.get("failures") == full.get("failures")
