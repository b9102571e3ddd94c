"""The README's tables match the code: every check (ID, name, severity), every flag of
every command, every NANAUDIT_* variable and every layout preset is documented."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from nanaudit.checks.registry import all_checks
from nanaudit.cli import cli
from nanaudit.layouts.presets import PRESETS
from nanaudit.options import table

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_check_has_its_row() -> None:
    rows = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(r"^\| (NA\d{3}) \| ([a-z0-9-]+) \| (\w+)", README, re.MULTILINE)
    }
    for spec in all_checks():
        assert rows.get(spec.id) == (spec.name, spec.severity.label), spec.id
    assert set(rows) == {s.id for s in all_checks()}


def test_every_flag_and_variable_is_documented() -> None:
    for option in table():
        if option.flag is not None:
            for flag in option.flag.split("/"):
                assert f"`{flag}" in README, flag
        if option.env_name is not None:
            assert option.env_name in README, option.env_name


def test_every_command_is_documented() -> None:
    for name in cli.commands:  # type: ignore[attr-defined]
        assert f"nanaudit {name}" in README, name
        assert CliRunner().invoke(cli, [name, "--help"]).exit_code == 0


def test_every_preset_has_its_row() -> None:
    for name in PRESETS:
        assert f"| `{name}` |" in README, name


def _console_blocks() -> list[tuple[list[str], list[str]]]:
    """Each ```console block of the README: its command's arguments and its output lines."""
    blocks = []
    for body in re.findall(r"^```console\n(.*?)^```", README, re.MULTILINE | re.DOTALL):
        first, *output = body.splitlines()
        assert first.startswith("$ nanaudit "), first
        blocks.append((shlex.split(first[len("$ nanaudit ") :]), output))
    return blocks


@pytest.mark.parametrize("args,expected", _console_blocks())
def test_console_examples_print_what_the_readme_shows(
    args: list[str], expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # run from the repository root, as the README's reader does; '…' stands for lines left out
    monkeypatch.chdir(Path(__file__).parent.parent)
    result = CliRunner().invoke(
        cli, [*args, "--no-progress", "--no-cache"], env={"NO_COLOR": "1", "COLUMNS": "80"}
    )
    actual = [line.rstrip() for line in result.stdout.splitlines()]
    chunks: list[list[str]] = [[]]
    for line in expected:
        if line.strip() == "…":
            chunks.append([])
        else:
            chunks[-1].append(line.rstrip())
    at = 0
    for chunk in filter(None, chunks):
        starts = [
            i
            for i in range(at, len(actual) - len(chunk) + 1)
            if actual[i : i + len(chunk)] == chunk
        ]
        assert starts, "\n".join(["not in the output, in order:", *chunk, "--- output:", *actual])
        at = starts[0] + len(chunk)
