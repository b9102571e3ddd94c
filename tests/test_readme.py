"""The README's tables match the code: every check (ID, name, severity), every flag of
every command, every NANAUDIT_* variable and every layout preset is documented."""

from __future__ import annotations

import re
from pathlib import Path

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
