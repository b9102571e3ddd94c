"""The record store: a scan whose records spill to disk reports what one in memory does,
byte for byte, and leaves nothing behind (nor anything in the scanned folder)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import reports_of, sample_with_leaks, validate_report_json

from nanaudit import store
from nanaudit.cli import cli
from nanaudit.records import FileKind, FileRecord

FORMATS = ("json", "sarif", "junit", "github", "markdown", "html")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_with_leaks(tmp_path_factory.mktemp("store") / "data")


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system's temporary folder, as tempfile sees it, made a fresh one."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def reports(out: Path, *args: str) -> dict[str, bytes]:
    return reports_of(out, FORMATS, *args)


def stores() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("nanaudit-records-*"))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_spilled_scan_reports_what_one_in_memory_does(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    # (the system's temporary folder as it is: the pool's server keeps its socket there)
    before = stores()
    scan = ("scan", str(data), "--no-cache", "-j", jobs)
    kept = reports(tmp_path / "memory", *scan)
    monkeypatch.setattr(store, "MEMORY_BUDGET", 0)
    monkeypatch.setattr(store, "CHUNK", 3)  # the checks meet the pairs three at a time
    spilled = reports(tmp_path / "spilled", *scan)
    for fmt, text in kept.items():
        assert spilled[fmt] == text, fmt
    assert b'"files": [' in spilled["json"]
    assert stores() <= before  # the store's folder is gone


def test_the_store_spills_to_a_private_folder_and_removes_it(scratch: Path) -> None:
    records = store.RecordStore(scratch, budget=2)
    recs = [
        FileRecord(path=f"d/{name}", kind=FileKind.IMAGE, split="train") for name in ("b", "a", "c")
    ]
    for rec in recs:
        records[(Path("/x") / rec.path, rec.kind)] = rec
    assert records.spilled and len(records) == 3
    (folder,) = scratch.iterdir()
    assert folder.stat().st_mode & 0o077 == 0  # mkdtemp: the user's own
    assert records[(Path("/x/d/a"), FileKind.IMAGE)] == recs[1]
    assert [r.path for r in records.sorted_records()] == ["d/a", "d/b", "d/c"]
    assert [k[0].name for k in records] == ["b", "a", "c"]  # the order they came in
    records.close()
    assert not folder.exists() and len(records) == 0


def test_a_store_dropped_on_an_error_removes_its_folder(scratch: Path) -> None:
    def fill() -> Iterator[None]:
        records = store.RecordStore(scratch, budget=0)
        records[(Path("/x/a"), FileKind.MASK)] = FileRecord(path="a", kind=FileKind.MASK, split="s")
        yield
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        for _ in fill():
            assert len(list(scratch.iterdir())) == 1
    assert list(scratch.iterdir()) == []


def test_the_store_never_lies_in_the_scanned_folder(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inner = data / "tmp-inside"  # the system's temporary folder in the scanned one
    inner.mkdir()
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(inner))
        assert store.spill_folder(data) is None
        cache = tmp_path / "cache"
        cache.mkdir()
        assert store.spill_folder(data, cache) == cache
        assert store.spill_folder(data, inner) is None
        monkeypatch.setattr(store, "MEMORY_BUDGET", 0)
        result = CliRunner().invoke(cli, ["scan", str(data), "--no-cache", "-j", "1", "-q"])
        assert result.exit_code == 1, result.output
        assert list(inner.iterdir()) == []  # kept in memory: nothing written there
    finally:
        inner.rmdir()


def test_the_json_report_lists_all_files_those_with_findings_or_none(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = {}
    for which in ("all", "findings", "none"):
        out = tmp_path / f"{which}.json"
        args = ["scan", str(data), "--no-cache", "-j", "1", "-q", f"-ojson:{out}"]
        if which == "findings":
            args.append("--report-files=findings")
        elif which == "none":
            monkeypatch.setenv("NANAUDIT_REPORT_FILES", "none")
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, result.output
        docs[which] = validate_report_json(out.read_text(encoding="utf-8"))
    every = [f["path"] for f in docs["all"]["files"]]
    named = {p for f in docs["all"]["findings"] for p in (f["path"], f.get("image"), f.get("mask"))}
    assert (
        every == sorted(every)
        and len(every) == docs["all"]["summary"]["images"] + (docs["all"]["summary"]["masks"])
    )
    assert [f["path"] for f in docs["findings"]["files"]] == [p for p in every if p in named]
    assert 0 < len(docs["findings"]["files"]) < len(every)
    assert docs["none"]["files"] == []
    for doc in docs.values():  # the rest of the document is the same
        doc.pop("files")
    assert docs["all"] == docs["findings"] == docs["none"]


def test_merge_streams_its_parts_into_a_store_and_reports_the_single_scan(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch: Path
) -> None:
    # (a temporary folder of its own: another scan on the machine spills to the shared one)
    single = reports(tmp_path / "single", "scan", str(data), "--no-cache", "-j", "1")
    parts = []
    for i in (1, 2, 3):
        part = tmp_path / f"part-{i}.json"
        result = CliRunner().invoke(
            cli, ["scan", str(data), "--shard", f"{i}/3", "-j", "1", f"-opartial:{part}"]
        )
        assert result.exit_code == 0, result.output
        parts.append(str(part))
    lines = Path(parts[0]).read_bytes().splitlines()
    assert lines[0].endswith(b',"records":[') and lines[-1] == b"]}"  # a record a line
    before = stores()
    monkeypatch.setattr(store, "MEMORY_BUDGET", 0)
    merged = reports(tmp_path / "merged", "merge", *parts)
    for fmt, text in single.items():
        if fmt != "html":  # a merge has no thumbnails: shard runs make none
            assert merged[fmt] == text, fmt
    assert stores() <= before


def test_a_damaged_partial_file_is_one_line_and_exit_code_2(tmp_path: Path, data: Path) -> None:
    parts = []
    for i in (1, 2):
        part = tmp_path / f"part-{i}.json"
        args = ["scan", str(data), "--shard", f"{i}/2", "-j", "1", f"-opartial:{part}"]
        assert CliRunner().invoke(cli, args).exit_code == 0
        parts.append(part)
    whole = parts[1].read_bytes()
    lines = whole.splitlines(keepends=True)
    cases = {
        "the records end early": b"".join(lines[:-1]),
        "damaged partial file: Expecting": whole[: len(whole) - len(lines[-1]) - 40],
        "not a record": b"".join([*lines[:2], b"[1, 2],\n", *lines[2:]]),
        "data after the end": whole + b'{"more": 1}\n',
        "not a record ": b"".join([*lines[:-2], lines[-2].rstrip(b"\n") + b",\n", lines[-1]]),
        "damaged partial file": b"".join([lines[0], b'{"path": 5},\n', *lines[1:]]),
    }
    for message, content in cases.items():
        parts[1].write_bytes(content)
        result = CliRunner().invoke(cli, ["merge", *map(str, parts), "--format", "json"])
        assert result.exit_code == 2, (message, result.output)
        assert message.strip() in result.stderr and result.stdout == "", result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
