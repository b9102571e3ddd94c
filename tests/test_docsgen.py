"""The generated documentation is up to date: every check has its page (what it flags, why,
an example, the fix, its options), the checks index lists every check, and the options page
lists every option; the committed pages equal the generator's output, so a new check or
option without regenerated docs (`python -m nanaudit.docsgen`) fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nanaudit import docsgen
from nanaudit.checks.registry import all_checks
from nanaudit.options import table

DOCS = Path(__file__).parent.parent / "docs"


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return docsgen.pages()


def test_the_committed_pages_are_the_generated_ones(generated: dict[str, str]) -> None:
    assert docsgen.stale(DOCS, generated) == [], "run: python -m nanaudit.docsgen"


def test_every_check_has_its_page_with_an_example(generated: dict[str, str]) -> None:
    index = generated["checks/index.md"]
    missing_examples = []
    for spec in all_checks():
        page = generated[f"checks/{spec.id}.md"]
        assert page.splitlines()[2] == f"# {spec.id} {spec.name}"
        assert f"- **Severity**: {spec.severity.label} (" in page
        for heading in ("## What it flags", "## Example", "## Options"):
            assert heading in page, (spec.id, heading)
        if spec.why:
            assert "## Why it breaks training" in page, spec.id
        if spec.fix:
            assert "## How to fix it" in page, spec.id
        for f in spec.option_fields:
            assert f"| `{f.name}` |" in page and f"\n{f.name} = " in page, (spec.id, f.name)
        # the example quotes a real finding of this check
        if not re.search(rf"^```text\n{spec.id} {spec.name}  \w+\n  - ", page, re.MULTILINE):
            missing_examples.append(spec.id)
        assert f"| [{spec.id}]({spec.id}.md) | {spec.name} | {spec.severity.label} |" in index
    # NA008 needs a folder that cannot be listed, which a scan as root cannot be shown: its
    # docstring's Example: paragraph stands in
    assert missing_examples in ([], ["NA008"]), missing_examples
    assert "No example" not in "".join(generated.values())


def test_the_options_page_has_every_option(generated: dict[str, str]) -> None:
    page = generated["reference/options.md"]
    for option in table():
        if option.flag is not None:
            for flag in option.flag.split("/"):
                assert f"`{flag}`" in page, flag
        if option.env_name is not None:
            assert f"`{option.env_name}`" in page, option.env_name
        if option.config:
            assert f"`{option.config_path}`" in page, option.config_path


def test_a_stale_or_left_over_page_is_named(
    tmp_path: Path, generated: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docsgen, "pages", lambda: generated)  # built once, by the fixture
    docs = tmp_path / "docs"
    assert sorted(docsgen.write(docs, generated)) == sorted(generated)
    assert docsgen.stale(docs, generated) == []
    (docs / "checks" / "NA104.md").write_text("edited by hand\n")
    (docs / "checks" / "NA999.md").write_text("a check that no longer exists\n")
    assert docsgen.stale(docs, generated) == ["checks/NA104.md", "checks/NA999.md"]
    assert docsgen.main([str(docs), "--check"]) == 1
    assert docsgen.main([str(docs)]) == 0
    assert not (docs / "checks" / "NA999.md").exists()
    assert docsgen.main([str(docs), "--check"]) == 0
