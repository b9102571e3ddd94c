"""Untrusted input, round three (issue 23): tiny files that would exhaust memory, URLs that
would leave their folder, partial files and store rows that lie. Each attack runs the real
command line in a subprocess bounded in address space (RLIMIT_AS) and time, and the test
asserts the contract: exit 0/1, or 2 with one line; nothing named outside the root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import make_pairs

ROOT = Path(__file__).resolve().parent.parent
GB = 1 << 30


@dataclass(frozen=True)
class Bounded:
    code: int
    out: str
    err: str
    seconds: float
    peak_mb: float  # the child's peak resident set


# The child limits its own address space, then runs nanaudit; at exit it writes its peak
# resident set (VmHWM: this program's own, not the forking test process's, which ru_maxrss
# would include) to the file named by its first argument.
CHILD = """
import atexit, resource, runpy, sys
peak_file, limit = sys.argv[1], int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
def peak():
    with open("/proc/self/status") as fh:
        kb = next(line.split()[1] for line in fh if line.startswith("VmHWM:"))
    with open(peak_file, "w") as out:
        out.write(kb)
atexit.register(peak)
sys.argv = ["nanaudit", *sys.argv[3:]]
runpy.run_module("nanaudit", run_name="__main__", alter_sys=True)
"""


def bounded(
    *args: str,
    cwd: Path | None = None,
    seconds: float = 60,
    memory: int = GB,
    env: dict[str, str] | None = None,
) -> Bounded:
    """``python -m nanaudit ARGS`` in a child limited to ``memory`` bytes of address space
    and killed after ``seconds``; its exit code, output, time and peak RSS."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    environ.setdefault("OMP_NUM_THREADS", "1")
    environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    fd, peak_file = tempfile.mkstemp(prefix="peak-")
    os.close(fd)
    start = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, peak_file, str(memory), *args],
            cwd=cwd,
            env=environ,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=seconds,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"killed after {seconds} s: {args}")
    finally:
        elapsed = time.monotonic() - start
        kb = Path(peak_file).read_text()
        os.unlink(peak_file)
    return Bounded(
        done.returncode,
        done.stdout.decode(errors="replace"),
        done.stderr.decode(errors="replace"),
        elapsed,
        int(kb or 0) / 1024,
    )


def contract(result: Bounded, *codes: int) -> None:
    """Exit 0/1 (or those given), or 2 with exactly one line and no traceback."""
    if log := os.environ.get("NANAUDIT_BOUNDS_LOG"):  # the figures of the report
        with open(log, "a") as fh:
            test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
            fh.write(f"{test}\t{result.code}\t{result.seconds:.2f} s\t{result.peak_mb:.0f} MB\n")
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    assert result.code in (codes or (0, 1, 2)), (result.code, result.err[-2000:])
    if result.code == 2:
        assert result.err.count("\n") == 1, result.err


def scan(root: Path, *args: str, **kw: object) -> Bounded:
    return bounded("scan", str(root), "--no-progress", "--no-cache", *args, **kw)  # type: ignore[arg-type]


# 1. ----------------------------------------------------------------- extreme labels


def test_extreme_label_values_do_not_enumerate_every_integer(tmp_path: Path) -> None:
    """A 156-byte int32 TIFF mask holding 0 and 2**31-1: the label summary once built a
    list of every integer up to the largest label (OOM; labels {0, 1e8}: 4 GB, 13 s)."""
    import tifffile

    root = make_pairs(tmp_path / "d", 2, size=(16, 16))
    for p in (root / "masks").iterdir():
        p.unlink()
    for i, big in enumerate((2**31 - 1, 10**8)):
        m = np.zeros((16, 16), np.int32)
        m[0, 0] = big
        tifffile.imwrite(root / f"masks/img_{i:03d}.tif", m)
    out = tmp_path / "out"
    out.mkdir()
    result = scan(root, "--format", "rich", f"-ojson:{out / 'r.json'}", f"-ohtml:{out / 'r.html'}")
    contract(result, 0, 1)
    assert result.peak_mb < 200, result.peak_mb
    assert "2,147,483,647" in result.out or "2147483647" in result.out


def test_a_config_label_map_to_an_extreme_label_is_bounded(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 2, size=(16, 16))
    (root / "nanaudit.toml").write_text("label_map = {1 = 2000000000}\n")
    result = scan(root)
    contract(result, 0, 1)
    assert result.peak_mb < 200, result.peak_mb


# 3. ----------------------------------------------------------- training settings at the bounds


def test_training_settings_at_their_bounds_stay_bounded(tmp_path: Path) -> None:
    """A 112-byte [training] table, every value within bounds, once took a 10-file scan
    from 0.3 s to 13 s and 1.5 GB: the crop-offset arrays per distinct mask size grew with
    the scaled side (65536 x 100), not with the mask's cell grid."""
    from conftest import clean_mask, natural_image, save

    root = tmp_path / "d"
    for i in range(10):
        size = (20 + i, 24 + 2 * i)  # ten distinct mask sizes: nothing shared between them
        mask = clean_mask(i, size)
        mask[: size[0] // 2] = 255  # ignore pixels, so that NA402 estimates the crops
        save(root / f"images/img_{i:03d}.png", natural_image(i, size))
        save(root / f"masks/img_{i:03d}.png", mask)
    (root / "nanaudit.toml").write_text(
        "num_classes = 3\n[training]\ncrop_size = [3, 5]\nresize = [65536, 1]\n"
        "scale_range = [0.01, 100.0]\nkeep_ratio = false\n"
    )
    result = scan(root, "--format", "json", seconds=20)
    contract(result, 0, 1)
    assert result.seconds < 10 and result.peak_mb < 200, (result.seconds, result.peak_mb)


# 6. ------------------------------------------------------------ partial files that lie


@pytest.fixture(scope="module")
def part_doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document of a real shard 1/1 of a tiny dataset (made once for the module)."""
    return one_part(tmp_path_factory.mktemp("part"))[1]


def one_part(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A real shard 1/1 of a tiny dataset, and its partial file's document."""
    root = make_pairs(tmp_path / "d", 2, size=(16, 16))
    part = tmp_path / "part.json"
    made = bounded(
        "scan", str(root), "--no-cache", "--no-progress", "--shard", "1/1", f"-opartial:{part}"
    )
    assert made.code == 0, made.err
    return part, json.loads(part.read_text())


def tampered(
    doc: dict[str, Any], tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], None]
) -> Path:
    doc = json.loads(json.dumps(doc))
    edit(doc)
    out = tmp_path / name
    out.write_text(json.dumps(doc))
    return out


def _set_shard(doc: dict[str, Any]) -> None:
    doc["shard"] = f"1/{10**11}"


def _set_pairs(doc: dict[str, Any]) -> None:
    doc["plan"]["layout"]["splits"][0]["pairs"] = 3 * 10**8


def _set_skipped(doc: dict[str, Any]) -> None:
    doc["plan"]["layout"]["splits"][0]["skipped"] = 3 * 10**8


def _set_classes(doc: dict[str, Any]) -> None:
    doc["plan"]["labels"]["num_classes"] = 10**6


def _set_names(doc: dict[str, Any]) -> None:
    doc["plan"]["labels"]["class_names"] = [f"c{i}" for i in range(10**5)]


@pytest.mark.parametrize(
    "edit",
    [_set_shard, _set_pairs, _set_skipped, _set_classes, _set_names],
    ids=["shard-1-of-1e11", "3e8-pairs", "3e8-skipped", "1e6-classes", "1e5-class-names"],
)
def test_a_partial_file_declaring_huge_counts_is_refused(
    part_doc: dict[str, Any], tmp_path: Path, edit: Callable[[dict[str, Any]], None]
) -> None:
    part = tampered(part_doc, tmp_path, "bad.json", edit)
    result = bounded("merge", str(part))
    contract(result, 2)
    assert result.peak_mb < 200, result.peak_mb


@pytest.mark.parametrize("value", [1e300, 0, float("nan"), -5])
def test_a_partial_plan_with_training_values_out_of_bounds_is_one_line(
    part_doc: dict[str, Any], tmp_path: Path, value: float
) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["plan"]["training"] = {
            "crop_size": [value, 4],
            "scale_range": [value, 2.0],
            "described": True,
        }

    part = tampered(part_doc, tmp_path, "bad.json", edit)
    text = part.read_text().replace("NaN", '"nan"')  # json.dumps writes NaN bare
    part.write_text(text)
    result = bounded("merge", str(part))
    contract(result, 2)


def test_a_partial_file_that_is_not_a_regular_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.json")
    big = tmp_path / "big.json"
    with open(big, "wb") as fh:
        fh.truncate(2 << 30)  # sparse: 2 GiB declared, nothing written
    for name in ("zero.json", "fifo.json", "big.json"):
        result = bounded("merge", str(tmp_path / name), seconds=20)
        contract(result, 2)
        assert result.peak_mb < 200, (name, result.peak_mb)


# 7. ------------------------------------------------ merge: the scan's warnings and gate


def muted_dataset(tmp_path: Path) -> Path:
    """Errors (a mask missing) muted by the dataset's own config."""
    root = make_pairs(tmp_path / "d", 3, size=(16, 16))
    (root / "masks/img_002.png").unlink()
    (root / "nanaudit.toml").write_text('fail_on = "never"\n')
    return root


def test_merge_says_the_scans_warnings_and_takes_fail_on(tmp_path: Path) -> None:
    root = muted_dataset(tmp_path)
    single = scan(root, "--format", "json")
    assert single.code == 0
    expected = json.loads(single.out)["warnings"]
    assert any("fail_on = never" in w for w in expected), expected
    parts = []
    for i in (1, 2):
        part = tmp_path / f"part-{i}.json"
        made = scan(root, "--shard", f"{i}/2", f"-opartial:{part}")
        assert made.code == 0, made.err
        parts.append(str(part))
    merged = bounded("merge", *parts, "--format", "json")
    contract(merged, 0)
    assert json.loads(merged.out)["warnings"] == expected
    assert json.loads(merged.out) == json.loads(single.out)
    assert "fail_on = never" in merged.err  # said on stderr too, as scan does
    flagged = bounded("merge", *parts, "--format", "json", "--fail-on", "error")
    contract(flagged, 1)
    assert json.loads(flagged.out)["config"]["fail_on"] == "error"
    by_env = bounded("merge", *parts, "--format", "json", env={"NANAUDIT_FAIL_ON": "error"})
    contract(by_env, 1)


def test_merge_refuses_write_config(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 2, size=(16, 16))
    part = tmp_path / "part.json"
    assert scan(root, "--shard", "1/1", f"-opartial:{part}").code == 0
    result = bounded("merge", str(part), "--write-config", str(tmp_path / "n.toml"))
    contract(result, 2)
    assert not (tmp_path / "n.toml").exists()


# 8. ------------------------------------------------ thumbnail-store rows that lie


def _png_bytes(side: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (side, side)).save(buf, "PNG")
    return buf.getvalue()


# each poison, with the kind of row it applies to
POISONS = {
    "not-an-image": ("image", "thumb = x'00010203'"),
    "meta-not-json": ("image", "meta = '[1, 2'"),
    "meta-a-list": ("mask", "meta = '[1, 2]'"),
    "huge-size": ("image", "meta = json_set(meta, '$.width', 20000, '$.height', 20000)"),
    "a-large-png": ("image", "thumb = :big"),
    "many-labels": ("mask", "meta = json_set(meta, '$.values', json(:labels))"),
    "nan-range": ("image", "hist = :nan_hist"),
    "wide-bins": ("image", "hist = :wide_hist"),
    "stretch-a-number": ("image", "meta = json_set(meta, '$.stretch', 5)"),
    "flags-garbage": ("image", "flags = x'89504e47'"),
}


def test_damaged_or_poisoned_thumbnail_rows_are_misses(tmp_path: Path) -> None:
    """One damaged row in the thumbnail store made every later HTML scan exit 2; a
    poisoned one (20000 x 20000, 1,000 labels, a NaN histogram range, 65,536 bins) was
    OOM-killed or took minutes. Each row here gets one poison; the next scan remakes them
    all (the store ends as it was) and its page is the clean one."""
    import sqlite3
    import struct

    root = make_pairs(tmp_path / "d", 10, size=(32, 32))
    (root / "masks/img_009.png").unlink()  # a finding, so that the page shows pictures
    cache = tmp_path / "cache"
    html = tmp_path / "r.html"
    args = ("scan", str(root), "--no-progress", "--cache-dir", str(cache), f"-ohtml:{html}")
    contract(bounded(*args), 1)
    clean = html.read_text()
    store = next(cache.rglob("thumbnails.sqlite3"))
    values = {
        "big": _png_bytes(6000),
        "labels": json.dumps(list(range(1000))),
        "nan_hist": struct.pack("<dd", float("nan"), 1.0) + struct.pack("<I", 32) + bytes(768),
        "wide_hist": struct.pack("<dd", 0.0, 1.0) + struct.pack("<I", 65536) + bytes(8 * 65536 * 3),
    }
    with sqlite3.connect(store) as db:
        (table,) = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchone()
        snapshot = f"SELECT path, kind, meta, thumb, flags, hist FROM {table} ORDER BY path, kind"
        before = db.execute(snapshot).fetchall()
        rows = {
            k: [r for (r,) in db.execute(f"SELECT rowid FROM {table} WHERE kind = ?", (k,))]
            for k in ("image", "mask")
        }
        for kind, change in POISONS.values():
            db.execute(f"UPDATE {table} SET {change} WHERE rowid = {rows[kind].pop()}", values)
    again = bounded(*args, seconds=30)
    contract(again, 1)
    assert again.peak_mb < 200, again.peak_mb
    assert html.read_text() == clean
    with sqlite3.connect(store) as db:
        assert db.execute(snapshot).fetchall() == before


def test_oversized_or_foreign_cache_rows_are_misses(tmp_path: Path) -> None:
    """A record row of 40 MB (a label histogram of 3 million entries) once went through
    json.loads whole; a row holding a blob instead of text. Both are misses now: the files
    are decoded again and the report is the clean one."""
    import sqlite3

    root = make_pairs(tmp_path / "d", 3, size=(16, 16))
    cache = tmp_path / "cache"
    args = ("scan", str(root), "--no-progress", "--cache-dir", str(cache), "--format", "json")
    first = bounded(*args)
    contract(first, 0)
    with sqlite3.connect(cache / "records.sqlite3") as db:
        rows = db.execute("SELECT rowid, kind, record FROM records_v6 ORDER BY rowid").fetchall()
        rowid, _, text = next(r for r in rows if r[1] == "mask")
        doc = json.loads(text)
        huge = ",".join(f"[{i},1]" for i in range(3_000_000))
        doc["labels"]["histogram"] = "HUGE"
        poisoned = json.dumps(doc).replace('"HUGE"', f"[{huge}]")
        db.execute("UPDATE records_v6 SET record = ? WHERE rowid = ?", (poisoned, rowid))
        other = next(r[0] for r in rows if r[0] != rowid)
        db.execute("UPDATE records_v6 SET record = x'00ff' WHERE rowid = ?", (other,))
    again = bounded(*args)
    contract(again, 0)
    assert again.peak_mb < 200, again.peak_mb
    assert json.loads(again.out)["files"] == json.loads(first.out)["files"]


# 2. ------------------------------------------------- an HTTP root that points elsewhere


class _Server:
    """A loopback HTTP server (http.server) in a thread, logging every path asked of it."""

    def __init__(self, directory: Path, pages: dict[str, tuple[int, dict[str, str], bytes]]):
        import functools
        import threading
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        self.asked: list[str] = []
        asked, special = self.asked, pages

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _special(self, body: bool) -> bool:
                asked.append(self.path)
                found = special.get(self.path.split("?")[0])
                if found is None:
                    return False
                status, headers, content = found
                self.send_response(status)
                for k, v in {"Content-Length": str(len(content)), **headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                if body:
                    self.wfile.write(content)
                return True

            def do_GET(self) -> None:
                if not self._special(True):
                    super().do_GET()

            def do_HEAD(self) -> None:
                if not self._special(False):
                    super().do_HEAD()

        handler = functools.partial(Handler, directory=str(directory))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _outside(path: str, root: str) -> bool:
    from posixpath import normpath
    from urllib.parse import unquote

    clean = normpath(unquote(unquote(path.split("?")[0])))
    return not (clean + "/").startswith(root.rstrip("/") + "/")


def test_an_http_root_is_confined_to_its_folder_and_host(tmp_path: Path) -> None:
    """Listing links with percent-encoded dots (%2e%2e/%2e%2e/secret/x.png, sub%2F..%2F..)
    passed the '..' filter and were fetched outside the root; a 302 to another host was
    followed. Neither is fetched now, and the report names nothing outside the root."""
    pytest.importorskip("aiohttp")
    www = tmp_path / "www"
    make_pairs(www / "d", 3, size=(16, 16))
    make_pairs(www / "secret", 2, size=(16, 16))
    with _Server(tmp_path / "elsewhere", {}) as other:
        (tmp_path / "elsewhere").mkdir()
        links = [
            "images/",
            "masks/",
            "%2e%2e/secret/images/img_000.png",
            "%2E%2E/%2e%2e/d/../secret/masks/img_000.png",
            "images%2F..%2F..%2Fsecret%2Fimages%2Fimg_001.png",
            "images/..%2f..%2fsecret/masks/img_001.png",
        ]
        page = "".join(f'<a href="{link}">{link}</a>\n' for link in links).encode()
        redirect = (302, {"Location": f"http://127.0.0.1:{other.port}/evil.png"}, b"")
        inside = (302, {"Location": "/d/images/img_000.png"}, b"")
        special = {
            "/d/": (200, {"Content-Type": "text/html"}, page),
            "/d/images/img_003.png": redirect,
            "/d/masks/img_003.png": redirect,
            "/d/images/img_004.png": inside,
        }
        for folder in ("images", "masks"):  # each split folder lists links that leave it
            names = [
                *sorted(p.name for p in (www / "d" / folder).iterdir()),
                "img_003.png",
                "img_004.png",
                f"%2e%2e/%2e%2e/secret/{folder}/img_000.png",
                f"sub%2F..%2F..%2F..%2Fsecret%2F{folder}%2Fimg_001.png",
                f"%2E%2E%2f%2E%2E%2fsecret/{folder}/img_001.png",
            ]
            special[f"/d/{folder}/"] = (
                200,
                {"Content-Type": "text/html"},
                "".join(f'<a href="{n}">{n}</a>\n' for n in names).encode(),
            )
        with _Server(www, special) as server:
            url = f"http://127.0.0.1:{server.port}/d"
            result = bounded(
                "scan", url, "--no-cache", "--no-progress", "--format", "json", "-j", "1"
            )
    contract(result, 0, 1)
    assert [p for p in server.asked if _outside(p, "/d")] == []
    assert other.asked == []
    assert "secret" not in json.dumps(json.loads(result.out)["files"])
    assert "evil" not in result.out


def test_an_http_root_with_a_query_string_is_one_line_not_a_loop(tmp_path: Path) -> None:
    """http://host/d/?x=1 made fsspec follow the folder page's links to itself until Python's
    recursion limit ("maximum recursion depth exceeded", exit 2 after a long wait). It is
    refused at once, naming what to give instead, with the query value masked."""
    pytest.importorskip("aiohttp")
    make_pairs(tmp_path / "www" / "d", 2, size=(16, 16))
    with _Server(tmp_path / "www", {}) as server:
        for url in (
            f"http://127.0.0.1:{server.port}/d/?x=s3cr3t",
            f"http://127.0.0.1:{server.port}/d#top",
        ):
            result = bounded("scan", url, "--no-cache", "--no-progress")
            contract(result, 2)
            assert "without them" in result.err and "recursion" not in result.err
            assert "s3cr3t" not in result.err
    assert server.asked == []  # refused before any request


# 9. -------------------------------------------------- credentials in URLs and messages


def test_credentials_and_signed_query_values_are_masked_everywhere(tmp_path: Path) -> None:
    """s3://KEY:SECRET@bucket/... printed the secret in the error line (s3fs's message as
    is); ?token= and ?sig= values were printed everywhere. Runs against moto's S3 server
    and a loopback HTTP server."""
    pytest.importorskip("aiohttp")
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    moto = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
    }
    secrets = ("AKIAEXAMPLEKEY", "wJalrXUtnFEMIK7MDENG", "s3cr3tT0ken", "5igValue99", "hunter22")
    www = tmp_path / "www"
    make_pairs(www / "d", 2, size=(16, 16))
    try:
        with _Server(www, {}) as server:
            base = f"http://127.0.0.1:{server.port}"
            results = [
                bounded("scan", f"s3://{secrets[0]}:{secrets[1]}@bucket/x", "--no-cache", env=aws),
                bounded(
                    "scan",
                    f"{base}/d?token={secrets[2]}&sig={secrets[3]}",
                    "--no-cache",
                    "--format",
                    "json",
                    env=aws,
                ),
                bounded(
                    "scan",
                    f"{base}/d/?X-Amz-Signature={secrets[3]}",
                    "--no-cache",
                    "--format",
                    "json",
                    "-v",
                    env=aws,
                ),
                bounded(
                    "scan",
                    f"http://reader:{secrets[4]}@127.0.0.1:9/d?token={secrets[2]}",
                    "--no-cache",
                    env=aws,
                ),
                bounded(
                    "scan",
                    f"{base}/d",
                    "--no-cache",
                    "--format",
                    "json",
                    "--storage-option",
                    f"client_secret={secrets[4]}",
                    env=aws,
                ),
            ]
    finally:
        moto.stop()
    for result in results:
        contract(result)
        for secret in secrets:
            assert secret not in result.out + result.err, (secret, result.err)
    assert results[0].code == 2 and "***@bucket" in results[0].err


# 11. ----------------------------------------------------- local:// and file:///abs


def test_local_and_file_urls_scan_as_the_plain_path(tmp_path: Path) -> None:
    """local:// (fsspec's local file system) followed links out of the folder that the
    plain path refuses; file:///abs/path failed as "path does not exist"."""
    root = make_pairs(tmp_path / "d", 2, size=(16, 16))
    outside = make_pairs(tmp_path / "secret", 2, size=(16, 16))
    (root / "images/leak.png").symlink_to(outside / "images/img_000.png")
    (root / "masks/leak.png").symlink_to(outside / "masks/img_000.png")
    (root / "images/more").symlink_to(outside / "images", target_is_directory=True)
    (root / "masks/more").symlink_to(outside / "masks", target_is_directory=True)
    plain = scan(root, "--format", "json")
    contract(plain, 0, 1)
    expected = json.loads(plain.out)
    assert expected["files"] and all("leak" not in f["path"] for f in expected["files"])
    for url in (f"local://{root}", f"file://{root}", f"local://{root}/", f"file://{root}/"):
        result = scan(url, "--format", "json")  # type: ignore[arg-type]
        contract(result, 0, 1)
        doc = json.loads(result.out)
        assert doc["files"] == expected["files"], url
        assert doc["skipped"] == expected["skipped"], url
        assert "secret" not in result.out


# 4. --------------------------------------------- a config found above the scanned folder


def test_a_config_found_above_path_names_nothing_outside_path(tmp_path: Path) -> None:
    """A config found ABOVE the scanned folder (walking up) read and listed outside it: its
    class_names_file put a secret file's text into the report, its [splits.*] decoded and
    named images beside it."""
    top = tmp_path / "top"
    root = make_pairs(top / "data", 2, size=(16, 16))
    (top / "secret.txt").write_text("TOPSECRET-LINE\n")
    make_pairs(top / "beside", 2, size=(16, 16))
    attacks = {
        "names": 'class_names_file = "secret.txt"\n',
        "splits": '[splits.x]\nimages = "beside/images"\nmasks = "beside/masks"\n',
        "baseline": 'baseline = "secret.txt"\n',
    }
    for what, text in attacks.items():
        (top / "nanaudit.toml").write_text(text)
        result = scan(root, "--format", "json")
        contract(result, 2)
        assert "TOPSECRET" not in result.out + result.err, what
        assert "outside" in result.err, (what, result.err)
    # what it names inside PATH is allowed
    (root / "classes.txt").write_text("a\nb\nc\n")
    (top / "nanaudit.toml").write_text('class_names_file = "data/classes.txt"\n')
    allowed = scan(root, "--format", "json")
    contract(allowed, 0, 1)
    assert json.loads(allowed.out)["config"]["class_names"] == ["a", "b", "c"]


# 5. ----------------------------------------- a found config that mutes label findings


def test_a_found_config_that_changes_how_labels_are_read_is_said(tmp_path: Path) -> None:
    """A found config's unlabeled_splits plus label_map turned 3 errors into exit 0 without
    a warning, even when the user gave -C."""
    root = make_pairs(tmp_path / "d", 2, size=(16, 16), classes=3, split="train")
    make_pairs(root, 1, size=(16, 16), classes=3, split="val")
    (root / "masks/val/img_000.png").unlink()  # NA003, muted as "unlabeled"
    loud = scan(root, "--format", "json", "-C", "2")
    contract(loud, 1)
    (root / "nanaudit.toml").write_text('unlabeled_splits = ["val"]\nlabel_map = {2 = 1}\n')
    quiet = scan(root, "--format", "json", "-C", "2")
    contract(quiet, 0)
    warnings = json.loads(quiet.out)["warnings"]
    said = [w for w in warnings if "sets how the masks are read" in w]
    assert said and "unlabeled_splits" in said[0] and "label_map" in said[0], warnings
    assert "sets how the masks are read" in quiet.err  # on stderr with a JSON report too
    # the user's own --config decides: no warning
    mine = tmp_path / "mine.toml"
    mine.write_text('unlabeled_splits = ["val"]\nlabel_map = {2 = 1}\n')
    own = scan(root, "--format", "json", "-C", "2", "--config", str(mine))
    assert not [w for w in json.loads(own.out)["warnings"] if "found beside" in w]


def test_write_config_does_not_copy_a_found_configs_muting(tmp_path: Path) -> None:
    """scan --write-config copied a found config's muting into the user's own file, where
    it was trusted silently afterwards."""
    root = make_pairs(tmp_path / "d", 2, size=(16, 16))
    (root / "nanaudit.toml").write_text(
        'fail_on = "never"\nunlabeled_splits = ["val"]\nlabel_map = {2 = 1}\nignore = ["NA2"]\n'
    )
    mine = tmp_path / "mine.toml"
    result = scan(root, "-C", "3", "--write-config", str(mine), "--dry-run")
    contract(result, 0)
    text = mine.read_text()
    settings = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert settings == ["num_classes = 3"], text
    assert "not copied from the config found beside the data" in text
    assert "fail_on" in text and "label_map" in text  # named in the comment


# 10. ------------------------------------------------------------- the HTML page, capped


def test_the_html_page_is_capped_and_says_what_it_left_out(tmp_path: Path) -> None:
    """400 splits declared by the dataset gave a 98 MB page; the dataset's own
    max_pictures = 1000 gave 43 MB. The page now pictures at most 200 findings and
    examples and the splits of the first 20, and says what it left out."""
    from conftest import natural_image, save

    root = tmp_path / "d"
    config = ["max_pictures = 1000", "num_classes = 3"]
    for s in range(30):
        for i in range(8):
            save(root / f"s{s:02d}/images/img_{i}.png", natural_image(100 * s + i, (16, 16)))
            mask = np.zeros((16, 16), np.uint8)
            mask[:4] = 7  # out of range with C = 3: NA201 on every mask
            save(root / f"s{s:02d}/masks/img_{i}.png", mask)
        config += [f"[splits.s{s:02d}]", f'images = "s{s:02d}/images"', f'masks = "s{s:02d}/masks"']
    (root / "nanaudit.toml").write_text("\n".join(config) + "\n")
    html = tmp_path / "r.html"
    result = scan(root, f"-ohtml:{html}", "-q", seconds=60)
    contract(result, 1)
    page = html.read_text()
    assert page.count("Left out:") == 2, page.count("Left out:")
    assert "the pictures of 40 more findings" in page
    assert "10 of 30 splits" in page
    assert page.count("<img") <= 3 * 200  # image | mask | overlay per pictured finding


# minor: VOC split-list ids with no image


def test_voc_list_ids_without_an_image_are_findings(tmp_path: Path) -> None:
    """ImageSets/Segmentation/train.txt naming an id with no JPEG: dropped without a
    finding, while the loader raises FileNotFoundError on it. Now NA001 on the path the
    loader opens (with its mask, or without one: NA001 all the same)."""
    from test_presets import build_voc

    base = build_voc(tmp_path)
    listed = base / "ImageSets/Segmentation/train.txt"
    listed.write_text(listed.read_text() + "2099_000001\n2099_000002\n")
    mask = base / "SegmentationClass"
    (mask / "2099_000001.png").write_bytes(next(mask.glob("*.png")).read_bytes())
    result = scan(tmp_path, "--format", "json")
    contract(result, 1)
    doc = json.loads(result.out)
    missing = [f for f in doc["findings"] if f["check"] == "NA001" and "2099_00000" in f["path"]]
    assert sorted(f["path"].rsplit("/", 1)[-1] for f in missing) == [
        "2099_000001.jpg",
        "2099_000002.jpg",
    ], doc["findings"]
    assert all(f["path"].startswith("VOCdevkit/VOC2012/JPEGImages/") for f in missing)


# minor: one yielded batch of a million samples


def test_samples_bounds_one_batch_of_a_million(tmp_path: Path) -> None:
    """--samples 4 did not bound one yielded batch of 10**6 samples (each was split off
    and audited)."""
    (tmp_path / "huge.py").write_text(
        "import numpy as np\n"
        "def loader():\n"
        "    images = np.zeros((10**6, 4, 4, 3), np.uint8)\n"
        "    masks = np.ones((10**6, 4, 4), np.uint8)\n"
        "    return [(images, masks)]\n"
    )
    result = bounded(
        "samples",
        "huge:loader",
        "--samples",
        "4",
        "-C",
        "3",
        "--no-progress",
        "--format",
        "json",
        cwd=tmp_path,
        seconds=60,
    )
    contract(result, 0, 1)
    doc = json.loads(result.out)
    assert doc["summary"]["pairs"] == 4, doc["summary"]
    assert any("999,996 of its samples not drawn" in n for n in doc["layout"]["notes"])
