"""The composite GitHub Action (action.yml): its inputs, and its scan step's script run as the
runner runs it (bash, the inputs in the environment) on the sample data: the SARIF file it
hands to the upload step, and the exit code the last step ends with."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).parent.parent
ACTION: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
STEPS: list[dict[str, Any]] = ACTION["runs"]["steps"]


def step(name: str) -> dict[str, Any]:
    return next(s for s in STEPS if s.get("id") == name or s.get("name") == name)


def test_inputs_and_steps() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert {"path", "args", "fail-on", "python-version"} <= set(ACTION["inputs"])
    assert STEPS[0]["uses"].startswith("actions/setup-python@")
    upload = step("Upload SARIF")
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == "${{ steps.scan.outputs.sarif-file }}"
    # inputs reach the scripts through the environment, never pasted into them
    for s in STEPS:
        assert "${{" not in s.get("run", ""), s.get("name")


def run_scan(tmp_path: Path, fail_on: str, args: str) -> tuple[int, dict[str, str]]:
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "INPUT_PATH": str(REPO / "sample_data"),
        "INPUT_ARGS": args,
        "INPUT_FAIL_ON": fail_on,
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(outputs),
    }
    proc = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", step("scan")["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return proc.returncode, values


@pytest.mark.parametrize("fail_on,expected", [("error", "1"), ("never", "0")])
def test_the_scan_step_writes_sarif_and_passes_the_exit_code_on(
    tmp_path: Path, fail_on: str, expected: str
) -> None:
    code, outputs = run_scan(tmp_path, fail_on, "--select NA1 --no-cache --no-progress")
    assert code == 0  # the step itself succeeds, so that the SARIF is uploaded
    assert outputs["exit-code"] == expected
    sarif = json.loads(Path(outputs["sarif-file"]).read_text(encoding="utf-8"))
    results = sarif["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"NA101", "NA103", "NA107", "NA109", "NA110"}
    last = subprocess.run(
        ["bash", "-c", step("Exit with nanaudit's exit code")["run"]],
        env={**os.environ, "STATUS": outputs["exit-code"]},
        check=False,
    )
    assert last.returncode == int(expected)


def test_a_usage_error_is_exit_code_2_and_no_sarif(tmp_path: Path) -> None:
    code, outputs = run_scan(tmp_path, "error", "--no-such-flag")
    assert code == 0 and outputs["exit-code"] == "2" and "sarif-file" not in outputs


def test_the_commits_the_docs_name_exist_and_hold_what_they_are_named_for() -> None:
    """The action's and the pre-commit hook's examples name commits (tags are not pushed):
    each is a commit of this repository holding the file its example needs."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    shallow = subprocess.run(
        [git, "rev-parse", "--is-shallow-repository"], cwd=REPO, capture_output=True, text=True
    )
    if shallow.stdout.strip() != "false":
        pytest.skip("a shallow clone holds no history to look the commits up in")
    ci = (REPO / "docs" / "guides" / "ci.md").read_text(encoding="utf-8")
    hooks = (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    named = [
        *((sha, "action.yml") for sha in re.findall(r"uses: OWNER/nanaudit@([0-9a-f]{40})", ci)),
        *((sha, ".pre-commit-hooks.yaml") for sha in re.findall(r"rev: ([0-9a-f]{40})", ci)),
        *((sha, ".pre-commit-hooks.yaml") for sha in re.findall(r"rev: ([0-9a-f]{40})", hooks)),
    ]
    assert len(named) == 3, named
    for sha, path in named:
        found = subprocess.run([git, "cat-file", "-e", f"{sha}:{path}"], cwd=REPO, check=False)
        assert found.returncode == 0, (sha, path)
