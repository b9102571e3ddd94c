"""Shards: `scan --shard I/N -o partial:FILE` on each machine, `merge` of the parts, and a
merged report that is the single scan's, byte for byte, in every format."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import sample_with_leaks
from hypothesis import given, settings
from hypothesis import strategies as st

from nanaudit.cli import cli
from nanaudit.collect import shard_of

FORMATS = ("json", "sarif", "junit", "github", "markdown")


def run(*args: str) -> tuple[int, str, str]:
    """The command line, decoding in this process (--jobs 1: a pool is not what is tested)."""
    if args[0] == "scan":
        args = (*args, "-j", "1")
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_with_leaks(tmp_path_factory.mktemp("shards") / "data")


def reports(out: Path, *command: str) -> dict[str, bytes]:
    """Run a scan or merge that writes every format, and read what it wrote."""
    out.mkdir(parents=True, exist_ok=True)
    targets = [f"-o{fmt}:{out / fmt}" for fmt in FORMATS]
    code, stdout, stderr = run(*command, *targets, "--format", "rich", "--no-color")
    assert code == 1, stderr
    files = {fmt: (out / fmt).read_bytes() for fmt in FORMATS}
    files["rich"] = stdout.encode()
    return files


@pytest.fixture(scope="module")
def single(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return reports(tmp_path_factory.mktemp("single"), "scan", str(data), "--no-cache")


@pytest.mark.parametrize("count", [1, 2, 7])
def test_merged_shards_are_the_single_scan_byte_for_byte(
    data: Path, single: dict[str, bytes], tmp_path: Path, count: int
) -> None:
    parts = []
    for i in range(1, count + 1):
        part = tmp_path / f"part-{i}.json"
        code, _, stderr = run("scan", str(data), "--shard", f"{i}/{count}", f"-opartial:{part}")
        assert code == 0, stderr
        assert f"shard {i}/{count}" in stderr
        parts.append(part)
    merged = reports(tmp_path / "merged", "merge", *map(str, reversed(parts)))
    for fmt in single:
        assert merged[fmt] == single[fmt], fmt
    # the findings that need two shards' files are there
    found = {r["ruleId"] for r in json.loads(single["sarif"])["runs"][0]["results"]}
    assert {"NA306", "NA307", "NA101", "NA003", "NA004"} <= found
    # and the work was shared: every pair audited once, by one shard
    docs = [json.loads(p.read_text()) for p in parts]
    pairs = [tuple(p[:2]) for d in docs for p in d["pairs"]]
    assert (
        len(pairs)
        == len(set(pairs))
        == sum(s["pairs"] for s in docs[0]["plan"]["layout"]["splits"])
    )
    if count > 1:
        assert all(len(d["pairs"]) < len(pairs) for d in docs)


def test_shards_are_a_stable_hash_of_the_pair_balanced_and_order_free() -> None:
    keys = [("train", f"images/train/{i:05d}.png", f"masks/train/{i:05d}.png") for i in range(7000)]
    first = [shard_of(*k, 7) for k in keys]
    assert first == [shard_of(*k, 7) for k in reversed(keys)][::-1]
    counts = Counter(first)
    assert set(counts) == set(range(1, 8))
    assert all(900 < n < 1100 for n in counts.values())  # 1,000 ± 3.4 σ of a fair split
    # the same pair under another split or with another mask is another key
    assert shard_of("val", *keys[0][1:], 1 << 30) != shard_of(*keys[0], 1 << 30)


@pytest.fixture(scope="module")
def parts(data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("parts")
    paths = []
    for i in (1, 2, 3):
        path = out / f"part-{i}.json"
        code, _, stderr = run("scan", str(data), "--shard", f"{i}/3", f"-opartial:{path}")
        assert code == 0, stderr
        paths.append(path)
    return paths


def _edited(parts: list[Path], edited: Path, change: object) -> list[str]:
    doc = json.loads(parts[1].read_text())
    change(doc)  # type: ignore[operator]
    edited.write_text(json.dumps(doc))
    return [str(parts[0]), str(edited), str(parts[2])]


def test_merge_refuses_parts_that_do_not_make_one_scan(
    parts: list[Path], data: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.json"
    assert run("scan", str(data), "--shard", "2/3", "-C", "9", f"-opartial:{other}")[0] == 0
    records_cut = _edited(parts, tmp_path / "r.json", lambda d: d["records"].pop())
    stats_edited = _edited(parts, tmp_path / "s.json", lambda d: d["stats"][0].update(pairs=99))
    newer = _edited(parts, tmp_path / "v.json", lambda d: d.update(nanaudit="99.0"))
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"\x00{not json")
    cases = {
        "missing shard 3 of 3": [parts[0], parts[1]],
        "shard 2/3 given twice": [parts[0], parts[1], parts[1], parts[2]],
        "were not planned alike (they differ in config, labels)": [parts[0], other, parts[2]],
        "no record of the": records_cut,
        "disagree with their records (pairs)": stats_edited,
        "written by nanaudit 99.0": newer,
        "not a partial file (not JSON": [garbage],
        # pairs: out of place, moved onto another's place, edited, not text, a huge place
        "a pair out of place (split 0, place 100000)": _edited(
            parts, tmp_path / "p1.json", lambda d: d["pairs"][0].__setitem__(1, 100000)
        ),
        "a pair out of place (split 0, place": _edited(
            parts, tmp_path / "p2.json", lambda d: d["pairs"][1].__setitem__(1, d["pairs"][0][1])
        ),
        "do not hold every pair of the scan once": _edited(
            parts, tmp_path / "p3.json", lambda d: d["pairs"][0].__setitem__(2, "images/x.png")
        ),
        "damaged partial file: expected a string": _edited(
            parts, tmp_path / "p4.json", lambda d: d["pairs"][0].__setitem__(3, 7)
        ),
        "damaged partial file: a pair out of place (split 0, place 1180591620717411303424)": (
            _edited(parts, tmp_path / "p5.json", lambda d: d["pairs"][0].__setitem__(1, 2**70))
        ),
        "cannot read": [tmp_path / "absent.json"],
    }
    for message, args in cases.items():
        code, stdout, stderr = run("merge", *map(str, args), "--format", "json")
        assert code == 2, (message, stderr)
        assert message in stderr and stdout == "", (message, stderr)
        assert len(stderr.strip().splitlines()) == 1, stderr


def test_a_shard_run_writes_partial_files_only(data: Path, tmp_path: Path) -> None:
    code, _, err = run("scan", str(data), "--shard", "1/2")
    assert code == 2 and "--shard needs -o partial:FILE" in err
    code, _, err = run("scan", str(data), "--shard", "1/2", "-opartial:p", "-ojson:r.json")
    assert code == 2 and "partial files only" in err
    for bad in ("0/2", "3/2", "1", "a/b"):
        code, _, err = run("scan", str(data), "--shard", bad, "-opartial:p")
        assert code == 2 and "--shard" in err, err
    code, _, err = run("merge", str(tmp_path / "x.json"), "-opartial:y.json")
    assert code == 2 and "shard run" in err
    assert not list(tmp_path.iterdir())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.tuples(st.none() | st.text(), st.none() | st.text()), max_size=9),
            st.lists(st.tuples(st.text(), st.text()), max_size=3),
        ),
        max_size=3,
    ),
    st.integers(1, 4),
)
def test_the_layout_digest_is_that_of_the_whole_json_written_a_chunk_at_a_time(
    splits: list[tuple[list[tuple[str | None, str | None]], list[tuple[str, str]]]],
    chunk: int,
) -> None:
    """Streamed, a chunk of pairs at a time, the digest is the hash of the lines the
    shards of earlier versions hashed (json.dumps of each split's lists)."""
    import hashlib

    from nanaudit import shards

    whole = hashlib.sha256()
    for pairs, skipped in splits:
        whole.update(json.dumps([pairs, skipped], ensure_ascii=True).encode() + b"\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shards, "DIGEST_CHUNK", chunk)
        streamed = shards.layout_digest((iter(p), iter(s)) for p, s in splits)
    assert streamed == whole.hexdigest()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 9),
            st.integers(0, 2**62 - 1),
            st.none() | st.text(),
            st.none() | st.text() | st.just("\udcff.png"),
        ),
        max_size=20,
    )
)
def test_pair_rows_hold_what_the_partial_file_says(rows: list[tuple[int, int, str, str]]) -> None:
    from nanaudit.shards import PairRows

    table = PairRows.of([list(r) for r in rows])
    assert list(table) == rows and len(table) == len(rows)
    assert list(table.splits()) == [r[0] for r in rows]
    if rows:
        assert table[-1] == rows[-1] and table[1:3] == rows[1:3]
        with pytest.raises(IndexError):
            table[len(rows)]
    for bad in (
        [[0, -1, None, None]],
        [[0, 0, 1, None]],
        [[0, 0, None]],
        {"0": 1},
        [[0, 2**62, "a", None]],
    ):
        with pytest.raises((TypeError, ValueError)):
            PairRows.of(bad)
