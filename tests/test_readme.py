"""The documentation matches the code: every check (ID, name, severity) has its row in the
checks index, every flag and NANAUDIT_* variable is on the options page, every command and
layout preset is documented, and every console example of the README and of docs/ prints
what it shows. The README stays a front page (at most 250 lines) whose links resolve."""

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

REPO = Path(__file__).parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
DOCS = REPO / "docs"
PAGES = {
    p.relative_to(REPO).as_posix(): p.read_text(encoding="utf-8")
    for p in [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]
}
EVERYWHERE = "\n".join(PAGES.values())


def page(name: str) -> str:
    return PAGES[f"docs/{name}"]


def test_every_check_has_its_row() -> None:
    rows = {
        m.group(1): (m.group(2), m.group(3))
        for m in re.finditer(
            r"^\| \[?(NA\d{3})\]?(?:\([^)]*\))? \| ([a-z0-9-]+) \| (\w+)",
            page("checks/index.md"),
            re.MULTILINE,
        )
    }
    for spec in all_checks():
        assert rows.get(spec.id) == (spec.name, spec.severity.label), spec.id
    assert set(rows) == {s.id for s in all_checks()}


def test_every_flag_and_variable_is_documented() -> None:
    options = page("reference/options.md")
    for option in table():
        if option.flag is not None:
            for flag in option.flag.split("/"):
                assert f"`{flag}" in options, flag
        if option.env_name is not None:
            assert option.env_name in options, option.env_name


def test_every_command_is_documented() -> None:
    for name in cli.commands:  # type: ignore[attr-defined]
        assert f"nanaudit {name}" in EVERYWHERE, name
        assert CliRunner().invoke(cli, [name, "--help"]).exit_code == 0


def test_every_preset_has_its_row() -> None:
    for name in PRESETS:
        assert f"| `{name}` |" in page("guides/layouts.md"), name


def test_the_readme_is_a_front_page_whose_links_resolve() -> None:
    assert len(README.splitlines()) <= 250
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if "://" not in target:
            assert (REPO / target).exists(), target
    # .ci/run runs the one shell block after this marker
    assert re.search(r"<!-- ci:test -->\n```sh\n.*pytest\n```", README), "no ci:test block"


def _console_blocks() -> list[object]:
    """Each ```console block of the README and of docs/: its command's arguments and its
    output lines."""
    blocks: list[object] = []
    for name, text in PAGES.items():
        for k, body in enumerate(
            re.findall(r"^```console\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
        ):
            first, *output = body.splitlines()
            assert first.startswith("$ nanaudit "), first
            args = shlex.split(first[len("$ nanaudit ") :])
            blocks.append(pytest.param(args, output, id=f"{name}:{k}"))
    return blocks


@pytest.mark.parametrize("args,expected", _console_blocks())
def test_console_examples_print_what_the_docs_show(
    args: list[str], expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # run from the repository root, as the README's reader does; '…' stands for lines left out
    monkeypatch.chdir(Path(__file__).parent.parent)
    command = cli.commands[args[0]]  # type: ignore[attr-defined]
    taken = {opt for param in command.params for opt in param.opts}
    quiet = [flag for flag in ("--no-progress", "--no-cache") if flag in taken]
    result = CliRunner().invoke(cli, [*args, *quiet], env={"NO_COLOR": "1", "COLUMNS": "80"})
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
