"""The read-only guarantee: a scan, with any option that could write, leaves the scanned
tree exactly as it was (contents, modification times, modes and directory listings), and
it works on a copy of the data that cannot be written at all."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_pairs, natural_image, save, validate_report_json

from nanaudit.cli import cli

Snapshot = dict[str, tuple[Any, ...]]


def snapshot(root: Path) -> Snapshot:
    """Every entry below root (root included): kind, mode, mtime and content hash for
    files, the sorted listing for directories, the target for symbolic links."""
    out: Snapshot = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode, st.st_mtime_ns, tuple(sorted(os.listdir(p))))
            else:
                with open(p, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                out[rel] = ("file", st.st_mode, st.st_mtime_ns, st.st_size, digest)
    return out


def dataset(root: Path) -> Path:
    """26 pairs (52 files: the process pool is used with --jobs 2), some findings to
    baseline (a NaN float image, an empty file, a non-image), and a nanaudit.toml."""
    make_pairs(root, 26)
    a = natural_image(0)[..., 0].astype(np.float32) / 255
    a[2, 3] = np.nan
    (root / "images" / "img_000.png").unlink()
    save(root / "images" / "img_000.tif", a)
    (root / "images" / "img_001.png").write_bytes(b"")
    (root / "images" / "README.txt").write_text("not an image\n")
    (root / "nanaudit.toml").write_text('num_classes = 3\n[checks.NA109]\nseverity = "info"\n')
    return root


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["scan", *args, "--no-progress"], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, result.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return dataset(tmp_path / "data")


def option_sets(out: Path) -> list[list[str]]:
    """Every option that matters for writing, each in at least one run."""
    runs: list[list[str]] = []
    for i, fmt in enumerate(("json", "sarif", "junit", "github", "markdown", "rich")):
        runs.append(["--format", fmt, *(["--verbose"] if i % 2 else [])])
    runs += [
        ["--select", "NA0,NA1", "--ignore", "NA109"],
        ["--ignore", "NA2", "--verbose"],
        ["--write-baseline", str(out / "baseline.json"), "--jobs", "2"],
        ["--baseline", str(out / "baseline.json"), "--jobs", "1"],
        [
            "--output",
            f"json:{out / 'r.json'}",
            "--output",
            f"sarif:{out / 'r.sarif'}",
            "--output",
            f"junit:{out / 'r.xml'}",
            "--output",
            f"markdown:{out / 'r.md'}",
            "--output",
            f"github:{out / 'r.txt'}",
            "--format",
            "rich",
            "--verbose",
        ],
        ["--jobs", "2", "--format", "json"],  # cold cache, pool
        ["--jobs", "2", "--format", "json"],  # warm cache
        ["--no-cache", "--jobs", "2", "--format", "json"],
        ["--no-cache", "--jobs", "1", "--format", "sarif"],
    ]
    return runs


def test_no_option_writes_into_the_scanned_tree(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cache = tmp_path / "cache"
    env = {"NANAUDIT_CACHE_DIR": str(cache)}
    before = snapshot(tree)
    for args in option_sets(out):
        code, _ = invoke([str(tree), *args], env)
        # the NaN image and the empty file are errors, unless the baseline hides them (or
        # they are being recorded as the baseline)
        accepted = "--baseline" in args or "--write-baseline" in args
        assert code == (0 if accepted else 1), args
        assert snapshot(tree) == before, args
    # the reports, the baseline and the cache went where they were told, outside the tree
    assert {p.name for p in out.iterdir()} == {
        "baseline.json",
        "r.json",
        "r.sarif",
        "r.xml",
        "r.md",
        "r.txt",
    }
    assert any(cache.rglob("*")), "the cache was never written"
    doc = validate_report_json((out / "r.json").read_text(encoding="utf-8"))
    assert doc["config"]["num_classes"] == 3  # the nanaudit.toml inside the tree was read


def test_cache_dir_inside_the_tree_is_refused(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(tree)
    for inside in (tree / ".cache", tree / "images" / "cache", tree):
        for jobs in ("1", "2"):
            _, stdout = invoke(
                [str(tree), "--format", "json", "--cache-dir", str(inside), "--jobs", jobs]
            )
            notes = json.loads(stdout)["layout"]["notes"]
            assert any("cache folder lies inside the scanned folder" in n for n in notes)
            assert snapshot(tree) == before, inside
    # the same through the environment variable, and through a relative path
    _, stdout = invoke([str(tree), "--format", "json"], env={"NANAUDIT_CACHE_DIR": str(tree / "c")})
    assert any("inside the scanned folder" in n for n in json.loads(stdout)["layout"]["notes"])
    monkeypatch.chdir(tree)
    _, stdout = invoke([".", "--format", "json", "--cache-dir", "sub/cache"])
    assert any("inside the scanned folder" in n for n in json.loads(stdout)["layout"]["notes"])
    assert snapshot(tree) == before


def _chmod_tree(root: Path, writable: bool) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            mode = stat.S_IMODE(os.lstat(p).st_mode)
            os.chmod(p, mode | stat.S_IWUSR if writable else mode & ~0o222)
    mode = stat.S_IMODE(os.stat(root).st_mode)
    os.chmod(root, mode | stat.S_IWUSR if writable else mode & ~0o222)


def test_scan_of_a_read_only_copy(tree: Path, tmp_path: Path) -> None:
    """chmod -R a-w on a copy. Root ignores permission bits, so the snapshot equality is
    the real check there; as another user a write would also fail loudly."""
    copy = tmp_path / "ro"
    shutil.copytree(tree, copy, symlinks=True)
    _chmod_tree(copy, writable=False)
    out = tmp_path / "out"
    out.mkdir()
    try:
        before = snapshot(copy)
        assert all(e[1] & 0o222 == 0 for e in before.values() if e[0] != "link")
        reference = None
        for args in (["--jobs", "1"], ["--jobs", "2"], ["--jobs", "2", "--no-cache"]):
            code, _ = invoke(
                [
                    str(copy),
                    *args,
                    "--format",
                    "rich",
                    "--output",
                    f"json:{out / 'r.json'}",
                    "--write-baseline",
                    str(out / "b.json"),
                ],
                env={"NANAUDIT_CACHE_DIR": str(tmp_path / "cache")},
            )
            assert code == 0  # a baseline written successfully
            doc = json.loads((out / "r.json").read_text(encoding="utf-8"))
            assert doc["summary"]["images"] == 26 and doc["summary"]["pairs"] == 26
            if reference is None:
                reference = doc["findings"]
            assert doc["findings"] == reference
            assert snapshot(copy) == before, args
    finally:
        _chmod_tree(copy, writable=True)
