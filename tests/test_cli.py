"""The command line: exit codes, JSON, determinism, configuration, read-only scanning."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import clean_mask, make_pairs, natural_image, save, validate_report_json

import nanaudit
from nanaudit.checks.registry import all_checks
from nanaudit.cli import cli, main

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_data"


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, list(args), env=env)
    if "json" in args and result.exit_code in (0, 1) and result.stdout.startswith("{"):
        validate_report_json(result.stdout)
    return result.exit_code, result.stdout, result.stderr


def defective(root: Path) -> Path:
    """A clean dataset with one NaN float image: exactly one error (NA101), plus the
    mode/dtype warnings a gray float image among RGB uint8 earns."""
    make_pairs(root, 6)
    a = natural_image(0)[..., 0].astype(np.float32) / 255
    a[2, 3] = np.nan
    (root / "images" / "img_000.png").unlink()
    save(root / "images" / "img_000.tif", a)
    return root


def test_sample_data_reports_errors_and_exits_1() -> None:
    code, out, _ = run("scan", str(SAMPLE), "--no-progress")
    assert code == 1
    assert "layout: images-masks" in out
    for check_id in ("NA101", "NA202", "NA201", "NA206", "NA205", "NA006", "NA003", "NA004"):
        assert check_id in out
    assert "exit code 1" in out.splitlines()[-1]


def test_clean_dataset_exits_0(tmp_path: Path) -> None:
    make_pairs(tmp_path / "d", 6)
    code, out, _ = run("scan", str(tmp_path / "d"), "-C", "3")
    assert code == 0, out
    assert "0 errors, 0 warnings, 0 infos: exit code 0" in out


def test_fail_on_thresholds(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 6)
    save(root / "masks" / "img_001.png", np.zeros((64, 64), np.uint8))  # NA204 empty-mask: info
    assert run("scan", str(root), "-C", "3")[0] == 0
    assert run("scan", str(root), "-C", "3", "--fail-on", "info")[0] == 1
    assert run("scan", str(root), "-C", "3", "--fail-on", "warning")[0] == 0
    assert run("scan", str(SAMPLE), "--fail-on", "never")[0] == 0


def test_json_is_valid_deterministic_and_complete(tmp_path: Path) -> None:
    root = defective(tmp_path / "d")
    code1, out1, err1 = run("scan", str(root), "--format", "json")
    code2, out2, _ = run("scan", str(root), "--format", "json")
    assert code1 == code2 == 1
    assert out1 == out2
    doc = json.loads(out1)
    assert doc["schema_version"] == 2
    assert doc["tool"] == {"name": "nanaudit", "version": nanaudit.__version__}
    assert doc["layout"]["name"] == "images-masks"
    s = doc["summary"]
    assert (s["errors"], s["images"], s["masks"], s["pairs"], s["exit_code"]) == (1, 6, 6, 6, 1)
    (f,) = [x for x in doc["findings"] if x["severity"] == "error"]
    assert f["check"] == "NA101" and f["name"] == "nan-pixels" and f["severity"] == "error"
    assert f["path"] == "images/img_000.tif" and f["split"] == "all"
    assert f["image"] == "images/img_000.tif" and f["mask"] == "masks/img_000.png"
    assert f["data"]["nan"] == 1
    assert doc["config"]["ignore_index"] == 255
    assert set(doc["config"]["checks"]) == {c.id for c in all_checks()}
    assert doc["splits"]["all"]["pairs"] == 6
    paths = [x["path"] for x in doc["files"]]
    assert paths == sorted(paths) and len(paths) == 12
    body = {k: v for k, v in doc.items() if k != "root"}  # the root is shown as typed
    assert str(tmp_path) not in json.dumps(body)  # no absolute paths elsewhere
    assert "1 error" in err1  # the one-line summary goes to stderr, stdout stays pure JSON


def test_json_sample_data_identical_across_runs() -> None:
    a = run("scan", str(SAMPLE), "--format", "json")[1]
    b = run("scan", str(SAMPLE), "--format", "json")[1]
    assert a == b
    json.loads(a)


def test_output_file_beside_terminal_report(tmp_path: Path) -> None:
    root = defective(tmp_path / "d")
    out_file = tmp_path / "report.json"
    code, out, _ = run("scan", str(root), "--output", str(out_file))
    assert code == 1
    assert "NA101 nan-pixels" in out  # the terminal report is still printed
    doc = json.loads(out_file.read_text())
    assert doc["summary"]["errors"] == 1
    assert not list(tmp_path.glob(".*nanaudit-tmp"))


def test_output_with_an_unknown_format_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-o sarfi:r.sarif` (a typo) wrote JSON to a file named 'sarfi:r.sarif'."""
    root = make_pairs(tmp_path / "d", 2)
    monkeypatch.chdir(tmp_path)
    code, _, err = run("scan", "d", "-o", "sarfi:r.sarif", "--no-cache")
    assert code == 2 and err.count("\n") == 1 and "'sarfi'" in err and "sarif" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    # a file whose name holds a colon is still written when its format is named
    code, _, err = run("scan", "d", "-o", "json:a:b.json", "--no-cache")
    assert code == 0, err
    assert json.loads((tmp_path / "a:b.json").read_text())["summary"]["images"] == 2
    code, _, err = run("scan", "d", "-o", "./c:d.json", "--no-cache")  # no format: JSON
    assert code == 0 and json.loads((tmp_path / "c:d.json").read_text()), err
    assert sorted(p.name for p in root.iterdir()) == ["images", "masks"]


def test_missing_path_exits_2_with_one_line(tmp_path: Path) -> None:
    code, out, err = run("scan", str(tmp_path / "nope"))
    assert code == 2
    assert out == ""
    assert err.strip().count("\n") == 0 and "does not exist" in err
    assert "Traceback" not in err


def test_main_returns_2_for_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--format", "xml", str(SAMPLE)]) == 2
    assert main(["scan", str(SAMPLE), "--split", "bad"]) == 2
    assert main(["explain", "NA999"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_no_layout_exits_2(tmp_path: Path) -> None:
    (tmp_path / "stuff").mkdir()
    code, _, err = run("scan", str(tmp_path))
    assert code == 2
    assert "--images DIR --masks DIR" in err and len(err.strip().splitlines()) == 1


def test_config_file_found_upward_and_flags_win(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 6, classes=3)
    (tmp_path / "nanaudit.toml").write_text("num_classes = 2\n")
    code, out, _ = run("scan", str(root), "--format", "json")
    doc = json.loads(out)
    assert doc["config"]["num_classes"] == 2
    assert doc["config"]["config_file"].endswith("nanaudit.toml")
    assert code == 1 and any(f["check"] == "NA201" for f in doc["findings"])
    code, out, _ = run("scan", str(root), "--format", "json", "--num-classes", "3")
    assert code == 0 and json.loads(out)["config"]["num_classes"] == 3


def test_pyproject_section_and_check_overrides(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 6)
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\n\n[tool.nanaudit]\nnum_classes = 3\nfail_on = 'warning'\n\n"
        "[tool.nanaudit.checks.NA104]\nseverity = 'error'\nmin_std_ratio = 0.9\n"
        "min_relative_std = 0\n"
    )
    code, out, _ = run("scan", str(root), "--format", "json")
    doc = json.loads(out)
    na104 = [f for f in doc["findings"] if f["check"] == "NA104"]
    assert len(na104) == 6 and {f["severity"] for f in na104} == {"error"}
    assert doc["config"]["checks"]["NA104"]["min_std_ratio"] == 0.9
    assert doc["config"]["fail_on"] == "warning" and code == 1


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("num_clases = 3\n", "num_clases"),
        ("num_classes = 'three'\n", "num_classes"),
        ("[checks.NA104]\nmin_std = 1\n", "min_std"),
        ("[checks.NA999]\nseverity = 'error'\n", "NA999"),
        ("[checks.NA101]\nseverity = 'fatal'\n", "severity"),
        ("fail_on = 'sometimes'\n", "fail_on"),
        ("pair_key = '('\n", "pair_key"),
        ("num_classes = \n", "invalid TOML"),
    ],
)
def test_bad_config_exits_2_naming_the_key(tmp_path: Path, toml: str, needle: str) -> None:
    root = make_pairs(tmp_path / "d", 2)
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    code, out, err = run("scan", str(root), "--config", str(cfg))
    assert code == 2, out
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_environment_variables_sit_between_flags_and_config(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 4, classes=3)
    (tmp_path / "nanaudit.toml").write_text("num_classes = 3\n")
    code, out, _ = run("scan", str(root), "--format", "json", env={"NANAUDIT_NUM_CLASSES": "2"})
    assert json.loads(out)["config"]["num_classes"] == 2 and code == 1
    code, out, _ = run(
        "scan", str(root), "--format", "json", "-C", "3", env={"NANAUDIT_NUM_CLASSES": "2"}
    )
    assert json.loads(out)["config"]["num_classes"] == 3 and code == 0


def test_ignore_index_none_and_background(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 4, classes=3)
    m = clean_mask(1, (64, 64), 3)
    m[:2] = 255
    save(root / "masks" / "img_001.png", m)
    assert run("scan", str(root), "-C", "3")[0] == 0
    code, out, _ = run("scan", str(root), "-C", "3", "--ignore-index", "none", "--format", "json")
    assert code == 1
    assert [f["check"] for f in json.loads(out)["findings"]] == ["NA201"]
    assert run("scan", str(root), "--ignore-index", "abc")[0] == 2


def test_labels_without_num_classes_report_the_implied_count(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 4, classes=3)
    code, out, _ = run("scan", str(root))
    assert code == 0
    words = " ".join(out.split())
    assert "classes: not given; the masks hold labels 0 to 2: you probably mean 3 classes" in words
    assert "(-C 3)" in words
    doc = json.loads(run("scan", str(root), "--format", "json")[1])
    assert doc["summary"]["implied_num_classes"] == 3 and doc["summary"]["label_values"] == [
        0,
        1,
        2,
    ]


def test_report_reads_at_80_columns_without_colour(tmp_path: Path) -> None:
    _, out, _ = run("scan", str(SAMPLE), "--verbose", env={"NO_COLOR": "1", "COLUMNS": "80"})
    assert "\x1b[" not in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_scan_never_writes_into_the_dataset(tmp_path: Path) -> None:
    root = defective(tmp_path / "d")

    def snapshot() -> dict[str, tuple[str, int]]:
        out = {}
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                p = Path(dirpath, name)
                data = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
                out[str(p.relative_to(root))] = (data, p.stat().st_mtime_ns)
        return out

    before = snapshot()
    run("scan", str(root), "--format", "json", "--verbose")
    run("scan", str(root))
    assert snapshot() == before


def test_explain_and_checks_cover_every_check() -> None:
    for spec in all_checks():
        code, out, _ = run("explain", spec.id)
        assert code == 0
        assert spec.name in out and "Why:" in out and "Fix:" in out
        assert spec.why and spec.fix, f"{spec.id} lacks its Why/Fix text"
    code, out, _ = run("checks", "--format", "json")
    rows = json.loads(out)
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert {r["id"] for r in rows} == {c.id for c in all_checks()}
    assert all(set(r) == {"id", "name", "severity", "summary"} for r in rows)


def test_check_ids_are_unique_and_match_the_catalogue() -> None:
    catalogue = (REPO / "docs" / "checks" / "index.md").read_text(encoding="utf-8")
    for spec in all_checks():
        row = f"| [{spec.id}]({spec.id}.md) | {spec.name} | {spec.severity.label} |"
        assert row in catalogue, spec.id


def test_python_dash_m_and_console_script() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nanaudit", "--version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and nanaudit.__version__ in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "nanaudit", "scan", str(SAMPLE), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1 and json.loads(proc.stdout)["summary"]["exit_code"] == 1


def test_api_returns_the_report(tmp_path: Path) -> None:
    root = defective(tmp_path / "d")
    report = nanaudit.scan(root, num_classes=3)
    assert report.exit_code == 1
    assert [f.check for f in report.findings if f.severity.label == "error"] == ["NA101"]
    with pytest.raises(FileNotFoundError):
        nanaudit.scan(tmp_path / "missing")
