"""A downloaded dataset is untrusted input. Each class of attack from issue 11, generated
here: a config that came with the data, links and folders, special files, report files,
memory and time. Each test is bounded in time; where it can be shown safely, a control
shows that the attack would have worked without the guard."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import clean_mask, make_pairs, natural_image, save, validate_report_json
from PIL import Image

from nanaudit.cli import cli
from nanaudit.decode import audit_file
from nanaudit.decode.readers import read
from nanaudit.layouts.walk import LINK_OUTSIDE
from nanaudit.records import DecodeLimits, FileKind

SIZE = (16, 16)


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block takes longer than ``seconds``."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"took longer than {seconds} s")

    before = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def run(*args: str, cwd: Path | None = None, seconds: float = 30) -> tuple[int, str, str]:
    """The command line, in this process, bounded in time."""
    old = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with within(seconds):
            result = CliRunner().invoke(cli, ["scan", *args, "--no-progress", "--no-cache"])
    finally:
        os.chdir(old)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert err.count("\n") == 1 and "internal error" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


def data(root: Path, n: int = 2) -> Path:
    return make_pairs(root, n, size=SIZE)


# --------------------------------------------------------------------------- configs


def test_found_config_cannot_read_files_outside_its_folder(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN-1234\n")
    root = data(tmp_path / "d")
    config = root / "nanaudit.toml"
    config.write_text(f'class_names_file = "{secret}"\n')
    # control: the same file named by the user (--config) is read: the attack is real
    code, out, _ = run(str(root), "--config", str(config), "--format", "json")
    assert code == 0 and "TOKEN-1234" in out
    code, out, err = run(str(root), "--format", "json")  # found beside the data
    one_line_error(code, err, "class_names_file", "outside the folder of the config")
    assert "TOKEN-1234" not in out + err
    # a link inside the config's folder that leads out is outside too
    os.symlink(secret, root / "names.txt")
    config.write_text('class_names_file = "names.txt"\n')
    code, out, err = run(str(root), "--format", "json")
    one_line_error(code, err, "class_names_file")
    assert "TOKEN-1234" not in out + err


def test_config_files_are_read_with_a_cap(tmp_path: Path) -> None:
    """/dev/zero as the class names (24 GB read, then the OOM killer) is refused at once,
    even from a trusted config; so are a file larger than the cap and a FIFO."""
    root = data(tmp_path / "d")
    config = tmp_path / "c.toml"
    config.write_text('class_names_file = "/dev/zero"\n')
    code, _, err = run(str(root), "--config", str(config), seconds=10)
    one_line_error(code, err, "not a regular file")
    (tmp_path / "big.txt").write_bytes(b"x\n" * (1 << 20))
    config.write_text(f'class_names_file = "{tmp_path / "big.txt"}"\n')
    code, _, err = run(str(root), "--config", str(config), seconds=10)
    one_line_error(code, err, "larger than")
    os.mkfifo(root / "baseline.json")  # a baseline that would block its reader forever
    (root / "nanaudit.toml").write_text('baseline = "baseline.json"\n')
    code, _, err = run(str(root), seconds=10)
    one_line_error(code, err, "baseline", "not a regular file")


def test_found_config_cannot_list_folders_outside(tmp_path: Path) -> None:
    outside = data(tmp_path / "elsewhere")
    root = data(tmp_path / "d")
    (root / "nanaudit.toml").write_text(
        f'[splits.x]\nimages = "{outside / "images"}"\nmasks = "{outside / "masks"}"\n'
    )
    code, out, err = run(str(root), "--format", "json")
    one_line_error(code, err, "splits.x", "outside the folder")
    assert "elsewhere" not in out
    # control: named with --config, the same splits are the user's and are scanned
    code, out, _ = run(str(root), "--config", str(root / "nanaudit.toml"), "--format", "json")
    assert code == 0 and json.loads(out)["summary"]["images"] == 2


def test_found_config_may_lower_limits_not_raise_them(tmp_path: Path) -> None:
    root = data(tmp_path / "d")
    config = root / "nanaudit.toml"
    for text, key in (
        ("max_pixels = 1000000000000\n", "max_pixels"),
        ('max_memory = "1T"\n', "max_memory"),
    ):
        config.write_text(text)
        code, _, err = run(str(root))
        one_line_error(code, err, key, "may lower this limit, not raise it")
        code, _, _ = run(str(root), "--config", str(config))  # control: the user may
        assert code == 0
    config.write_text("max_pixels = 100\n")  # lowering is allowed, and takes effect
    code, out, _ = run(str(root), "--format", "json")
    assert code == 1
    assert {f["check"] for f in json.loads(out)["findings"]} == {"NA002"}


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("num_classes = 9223372036854775807\n", "num_classes"),
        ("[checks.NA307]\nmax_distance = 100000000\n", "max_distance"),
        ("[checks.NA104]\nmin_std_ratio = nan\n", "min_std_ratio"),
        ("[checks.NA303]\nmax_ratio = inf\n", "max_ratio"),
        ("follow_links = true\n", "follow_links"),
        ("jobs = 1024\n", "jobs"),
        ('cache_dir = "."\n', "cache_dir"),
        ("pair_key = '" + "(a)" * 100 + "'\n", "pair_key"),
    ],
)
def test_found_config_values_are_bounded(tmp_path: Path, text: str, key: str) -> None:
    root = data(tmp_path / "d")
    (root / "nanaudit.toml").write_text(text)
    code, _, err = run(str(root), seconds=10)
    one_line_error(code, err, key)


CATASTROPHIC = "^((a+)+)$"


def test_pair_key_cannot_hang_discovery(tmp_path: Path) -> None:
    """'^((a+)+)$' against a stem of many a's and one b: exponential for a backtracking
    engine, linear for RE2."""
    root = tmp_path / "d"
    stem = "a" * 200 + "b"
    save(root / "images" / f"{stem}.png", natural_image(1, SIZE))
    save(root / "masks" / f"{stem}.png", clean_mask(1, SIZE))
    (root / "nanaudit.toml").write_text(f"pair_key = '{CATASTROPHIC}'\n")
    code, out, err = run(str(root), "--format", "json", seconds=20)
    assert code in (0, 1), err
    assert json.loads(out)["summary"]["images"] == 1
    # control: Python's backtracking engine does not finish 2**40 steps in 2 s
    probe = f"import re; re.search({CATASTROPHIC!r}, 'a' * 40 + 'b')"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", probe], timeout=0.5, check=False)


def test_pair_key_errors_are_one_line(tmp_path: Path) -> None:
    root = data(tmp_path / "d")
    code, _, err = run(str(root), "--pair-key", r"(?<=x)(\d+)")
    one_line_error(code, err, "--pair-key", "RE2")


# --------------------------------------------------------------------------- links


def test_links_out_of_the_root_are_skipped_and_listed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    save(outside / "pics" / "far.png", natural_image(2, SIZE))
    (outside / "pics" / "gshadow").write_text("root:*::\n")
    root = data(tmp_path / "d")
    os.symlink("/", root / "images" / "r")  # the whole file system
    os.symlink(outside / "pics", root / "images" / "etc")
    os.symlink(outside / "pics" / "far.png", root / "masks" / "far.png")
    code, out, err = run(str(root), "--format", "json", "--verbose", seconds=20)
    assert code == 0, err
    doc = validate_report_json(out)
    skipped = {s["path"]: s["reason"] for s in doc["skipped"]}
    assert skipped == {p: LINK_OUTSIDE for p in ("images/etc", "images/r", "masks/far.png")}
    assert "gshadow" not in out and doc["summary"]["images"] == 2
    assert_inside(doc)
    # control: --follow-links follows them (a small folder; not the / link)
    os.unlink(root / "images" / "r")
    code, out, _ = run(str(root), "--format", "json", "--follow-links")
    doc = json.loads(out)
    assert {f["path"] for f in doc["files"]} >= {"images/etc/far.png", "masks/far.png"}
    assert "images/etc/gshadow" in {s["path"] for s in doc["skipped"]}


def test_the_terminal_names_the_links_it_did_not_follow(tmp_path: Path) -> None:
    """Data folders linked from another disk are not followed by default: the terminal
    report says so (else the splits just look empty, NA005)."""
    far = data(tmp_path / "far")
    root = tmp_path / "d"
    root.mkdir()
    os.symlink(far / "images", root / "images")
    os.symlink(far / "masks", root / "masks")
    code, out, _ = run(str(root), "--no-color")
    assert code == 1  # NA005: no images
    flat = " ".join(out.split())  # as Rich wrapped it
    assert (
        "not followed: 2 symbolic links leading outside the scanned folder "
        "(--follow-links follows them): images, masks" in flat
    ), out
    code, out, _ = run(str(root), "--no-color", "--follow-links")
    assert code == 0 and "not followed" not in out


def test_a_link_that_cannot_be_resolved_is_skipped(tmp_path: Path) -> None:
    """/proc/1/cwd cannot be read by a user (nor by root without CAP_SYS_PTRACE, as in most
    containers): os.path.realpath raises on it, which ended the scan as an internal error."""
    root = data(tmp_path / "d")
    os.symlink("/proc/1/cwd", root / "cwd")  # beside images/ and masks/: discovery looks
    os.symlink("/proc/1/cwd", root / "images" / "cwd")
    os.symlink("/proc/1/cwd", root / "masks" / "cwd.png")
    code, out, err = run(str(root), "--format", "json")
    assert code == 0, err
    doc = validate_report_json(out)
    skipped = {s["path"]: s["reason"] for s in doc["skipped"]}
    assert skipped == {"images/cwd": LINK_OUTSIDE, "masks/cwd.png": LINK_OUTSIDE}
    assert doc["summary"]["images"] == 2 and doc["layout"]["name"] == "images-masks"
    # followed, what cannot be read is named: the folder NA008, the file NA001; no crash
    code, out, err = run(str(root), "--format", "json", "--follow-links")
    assert code in (0, 1) and "internal error" not in err, err
    validate_report_json(out)


def assert_inside(doc: dict[str, Any]) -> None:
    """No path in the report leads outside the scanned root."""
    paths = [f["path"] for f in doc["findings"]] + [f["path"] for f in doc["files"]]
    paths += [s["path"] for s in doc["skipped"]]
    for p in paths:
        assert not p.startswith(("/", "../")) and "/../" not in p and p != "..", p


# --------------------------------------------------------------------------- folders


def long_folder(base: Path, depth: int = 20) -> Path:
    """A chain of folders whose full path is longer than PATH_MAX (4,096 bytes), made
    through directory descriptors: the walk cannot list it by its path."""
    name = "n" * 250
    fd = os.open(base, os.O_RDONLY)
    path = base
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            nxt = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
            path = path / name
        with os.fdopen(os.open("x.png", os.O_WRONLY | os.O_CREAT, dir_fd=fd), "wb") as fh:
            fh.write(b"")
    finally:
        os.close(fd)
    return path


def test_folder_that_cannot_be_listed_is_na008(tmp_path: Path) -> None:
    root = data(tmp_path / "d")
    long_folder(root / "images")
    code, out, err = run(str(root), "--format", "json")
    assert code == 1, err
    na008 = [f for f in json.loads(out)["findings"] if f["check"] == "NA008"]
    assert len(na008) == 1 and na008[0]["severity"] == "error"
    assert na008[0]["data"]["reason"] == "file name too long"
    # the walk fails where the absolute path reaches PATH_MAX (4096, the final NUL included:
    # a path of 4,096 characters already fails)
    assert len(str(root)) + 1 + len(na008[0]["path"]) >= 4096
    assert na008[0]["path"].startswith("images/nnn")


@pytest.mark.skipif(
    os.geteuid() == 0,
    reason="root reads every folder: test_hostile's scan as an unprivileged user covers it",
)
def test_folder_without_permission_is_na008(tmp_path: Path) -> None:
    root = data(tmp_path / "d")
    locked = root / "images" / "locked"
    save(locked / "x.png", natural_image(3, SIZE))
    locked.chmod(0)
    try:
        code, out, err = run(str(root), "--format", "json")
    finally:
        locked.chmod(0o755)
    assert code == 1, err
    findings = json.loads(out)["findings"]
    na008 = {f["path"]: f["data"]["reason"] for f in findings if f["check"] == "NA008"}
    assert na008 == {"images/locked": "permission denied"}


# --------------------------------------------------------------------------- special files


def test_fifo_swapped_in_after_the_walk_never_blocks(tmp_path: Path) -> None:
    from nanaudit.collect import collect
    from nanaudit.options import Layer
    from nanaudit.plan import make_plan

    root = data(tmp_path / "d")
    plan = make_plan(root, [Layer("option", {"cache": False}, Path.cwd())])
    victim = root / "images" / "img_001.png"
    victim.unlink()
    os.mkfifo(victim)  # swapped in between the walk and the open
    # control: an ordinary open of the FIFO blocks until a writer comes
    probe = f"open({str(victim)!r}, 'rb').read()"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", probe], timeout=0.5, check=False)
    with within(10):
        collected = collect(plan)
        with pytest.raises(Exception, match="not a regular file"):
            read(victim, DecodeLimits())
    records = {p.image.path: p.image for s in collected.splits for p in s.pairs if p.image}
    error = records["images/img_001.png"].error
    assert error is not None and error.check == "NA001" and error.reason == "not a regular file"


# --------------------------------------------------------------------------- outputs


def test_outputs_never_replace_what_is_not_a_regular_file(tmp_path: Path) -> None:
    root = data(tmp_path / "d")
    # a FIFO at the output path is written to, and stays a FIFO
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    code, _, err = run(str(root), "-o", f"json:{fifo}")
    reader.join(10)
    assert code == 0, err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and json.loads(got[0])["summary"]["images"] == 2
    # a symbolic link at the output path stays a link; its target gets the report
    target = tmp_path / "real.json"
    os.symlink(target, tmp_path / "link.json")
    code, _, _ = run(str(root), "-o", f"sarif:{tmp_path / 'link.json'}")
    assert code == 0 and os.path.islink(tmp_path / "link.json")
    assert json.loads(target.read_text())["version"] == "2.1.0"
    # /dev/full: one line, exit 2, the device untouched
    if os.path.exists("/dev/full"):
        code, _, err = run(str(root), "-o", "json:/dev/full")
        one_line_error(code, err, "/dev/full", "no space left")
        assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)
    # "-" is standard output
    code, out, _ = run(str(root), "-o", "junit:-", "--format", "json")
    assert code == 0 and "<testsuites" in out


def test_planted_link_at_a_temporary_name_is_not_followed(tmp_path: Path) -> None:
    root = data(tmp_path / "d")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    out = tmp_path / "report.json"
    planted = tmp_path / f".{out.name}.nanaudit-tmp"  # the fixed name of earlier versions
    os.symlink(victim, planted)
    # control: writing through that name would have overwritten the victim
    assert os.path.realpath(planted) == str(victim)
    code, _, _ = run(str(root), "-o", f"json:{out}")
    assert code == 0 and victim.read_text() == "keep me\n"
    assert json.loads(out.read_text())["summary"]["images"] == 2
    leftovers = sorted(p.name for p in tmp_path.iterdir() if "nanaudit-tmp" in p.name)
    assert leftovers == [planted.name]  # only the planted link; no temporary file left
    assert oct(out.stat().st_mode & 0o777) != "0o600"  # created as open() would


def test_outputs_are_checked_before_the_scan(tmp_path: Path) -> None:
    root = data(tmp_path / "d")
    cache = tmp_path / "cache"
    for args, needle in (
        (["-o", f"json:{tmp_path / 'missing' / 'r.json'}"], "does not exist"),
        (["--write-baseline", str(tmp_path / "missing" / "b.json")], "does not exist"),
        (["-o", f"json:{tmp_path}"], "is a directory"),
        (["-o", f"json:{tmp_path / 'r.json'}", "-o", f"sarif:{tmp_path / 'r.json'}"], "twice"),
    ):
        with within(10):
            result = CliRunner().invoke(
                cli, ["scan", str(root), "--cache-dir", str(cache), "--no-progress", *args]
            )
        one_line_error(result.exit_code, result.stderr, needle)
        assert not cache.exists()  # the scan never started


def test_write_baseline_exits_0(tmp_path: Path) -> None:
    root = data(tmp_path / "d")
    (root / "images" / "img_000.png").write_bytes(b"")  # an error finding
    code, _, _ = run(str(root))
    assert code == 1
    code, _, err = run(str(root), "--write-baseline", str(tmp_path / "b.json"))
    assert code == 0 and "baseline of 1 findings written" in err
    code, _, _ = run(str(root), "--baseline", str(tmp_path / "b.json"))
    assert code == 0


# --------------------------------------------------------------------------- memory


def gif_with_screen(width: int, height: int) -> bytes:
    """A 35-byte GIF: a logical screen of width×height, one 1×1 image."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    return head + b"," + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00;"


def webp_declaring(width: int, height: int) -> bytes:
    """A lossless WebP of 16×16 pixels whose header is patched to declare width×height."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buf, "WEBP", lossless=True)
    data = bytearray(buf.getvalue())
    at = data.index(b"VP8L") + 9
    bits = struct.unpack("<I", bytes(data[at : at + 4]))[0]
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[at : at + 4] = struct.pack("<I", bits)
    return bytes(data)


def compressed_npz(shape: tuple[int, ...]) -> bytes:
    buf = io.BytesIO()
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    with (
        zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf,
        zf.open("a.npy", "w", force_zip64=True) as member,
    ):
        member.write(header.getvalue())
        left = int(np.prod(shape)) * 8
        block = bytes(1 << 22)
        while left > 0:
            member.write(block[: min(left, len(block))])
            left -= len(block)
    return buf.getvalue()


def test_small_amplifiers_count_against_the_memory_budget(tmp_path: Path) -> None:
    """A 35-byte GIF with a 13000² screen, a 38-byte WebP declaring 13000², an .npz of a
    few kB holding 32 MB: each is NA002 naming its estimate, nothing is decoded."""
    limits = DecodeLimits(max_memory=32 << 20)
    cases = {
        "screen.gif": gif_with_screen(13000, 13000),
        "tiny.webp": webp_declaring(13000, 13000),
        "bomb.npz": compressed_npz((1000, 1000, 4)),
    }
    with within(10):
        for name, payload in cases.items():
            path = tmp_path / name
            path.write_bytes(payload)
            assert path.stat().st_size < 200_000
            for kind in FileKind:
                rec = audit_file(path, name, kind, "all", limits)
                assert rec.error is not None and rec.error.check == "NA002", (name, rec.error)
                assert re.search(r"needs about [\d.,]+ [MG]iB of memory", rec.error.reason)
                assert "over the budget of 32 MiB (--max-memory)" in rec.error.reason
                assert ("13000×13000" if name != "bomb.npz" else "(1000, 1000, 4)") in (
                    rec.error.reason
                )


def test_found_config_lowers_the_memory_budget(tmp_path: Path) -> None:
    root = data(tmp_path / "d")
    (root / "images" / "img_000.png").unlink()
    (root / "images" / "img_000.gif").write_bytes(gif_with_screen(13000, 13000))
    (root / "nanaudit.toml").write_text('max_memory = "64M"\n')
    code, out, err = run(str(root), "--format", "json")
    assert code == 1, err
    na002 = [f for f in json.loads(out)["findings"] if f["check"] == "NA002"]
    assert [f["path"] for f in na002] == ["images/img_000.gif"]
    assert "over the budget of 64 MiB" in na002[0]["message"]


def cgroup_v1_memory() -> Path | None:
    base = Path("/sys/fs/cgroup/memory")
    if os.geteuid() != 0 or not (base / "memory.limit_in_bytes").exists():
        return None
    group = base / f"nanaudit-test-{os.getpid()}"
    try:
        group.mkdir()
    except OSError:
        return None
    return group


def sparse_float_tiff(path: Path, side: int) -> None:
    """A side×side float32 TIFF of zeros in one uncompressed strip, written as a sparse
    file: nothing but the header touches the disk."""
    entries = [  # tag, type (3 SHORT, 4 LONG), value
        (256, 4, side),
        (257, 4, side),
        (258, 3, 32),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 4096),
        (277, 3, 1),
        (278, 4, side),
        (279, 4, side * side * 4),
        (339, 3, 3),  # SampleFormat: IEEE float
    ]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, value in entries:
        packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, 1) + packed
    with open(path, "wb") as fh:
        fh.write(b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0))
        fh.truncate(4096 + side * side * 4)


def test_a_decode_killed_for_its_memory_is_na001_and_the_report_comes_out(
    tmp_path: Path,
) -> None:
    """A real out-of-memory kill: the scan runs in a control group limited to 256 MB; one
    image needs about 300 MB to decode. A small scan decodes in its own process, but this
    file (its header says so) is decoded in a worker, which the kernel kills instead."""
    group = cgroup_v1_memory()
    if group is None:
        pytest.skip("needs root and a writable cgroup v1 memory controller")
    try:
        for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
            with contextlib.suppress(OSError):
                (group / name).write_text(str(256 << 20))
        root = data(tmp_path / "d")
        (root / "images" / "img_000.png").unlink()
        big = root / "images" / "img_000.tif"
        sparse_float_tiff(big, 6000)
        procs = str(group / "cgroup.procs")

        def enter() -> None:
            with open(procs, "w") as fh:
                fh.write(str(os.getpid()))

        # control: decoding the file in a limited process kills that process
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            try:
                enter()
                audit_file(big, "x", FileKind.IMAGE, "all", DecodeLimits(max_memory=4 << 30))
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        cmd = [sys.executable, "-m", "nanaudit", "scan", str(root), "--format", "json"]
        proc = subprocess.run(
            [*cmd, "--no-cache", "--jobs", "1", "--max-memory", "4G"],
            preexec_fn=enter,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 1, proc.stderr
        doc = json.loads(proc.stdout)
        na001 = {f["path"]: f["data"]["reason"] for f in doc["findings"] if f["check"] == "NA001"}
        assert list(na001) == ["images/img_000.tif"]
        assert "out-of-memory" in na001["images/img_000.tif"], proc.stderr
    finally:
        for _ in range(100):  # the kernel lets go of a group a moment after its last process
            try:
                group.rmdir()
                break
            except OSError:
                threading.Event().wait(0.05)


# --------------------------------------------------------------------------- time


def many_page_tiff(pages: int) -> bytes:
    """A TIFF of ``pages`` 1×1 pages (an IFD and one pixel each), built by hand."""
    entries = [(256, 3, 1), (257, 3, 1), (258, 3, 8), (259, 3, 1), (262, 3, 1)]
    entries += [(273, 4, 0), (277, 3, 1), (278, 3, 1), (279, 4, 1)]
    ifd_size = 2 + 12 * len(entries) + 4
    page_size = ifd_size + 2  # the IFD, then the pixel (and a pad byte)
    head = struct.pack("<H", len(entries))
    for tag, typ, value in entries[:5]:
        head += struct.pack("<HHI", tag, typ, 1) + struct.pack("<HH", value, 0)
    tail = (
        b"".join(
            struct.pack("<HHI", tag, typ, 1) + struct.pack("<HH", value, 0)
            for tag, typ, value in entries[6:8]
        )
        + struct.pack("<HHI", 279, 4, 1)
        + struct.pack("<I", 1)
    )
    out = [b"II*\x00", struct.pack("<I", 8)]
    for i in range(pages):
        start = 8 + i * page_size
        nxt = 0 if i == pages - 1 else start + page_size
        strip = struct.pack("<HHII", 273, 4, 1, start + ifd_size)
        out.append(head + strip + tail + struct.pack("<I", nxt) + b"\x80\x00")
    return b"".join(out)


def test_a_tiff_of_100k_pages_is_read_in_bounded_time(tmp_path: Path) -> None:
    """Counting 100,000 pages took 74 s (Pillow's seek is quadratic in the pages): the
    count stops at the second page, which is all the note needs."""
    path = tmp_path / "pages.tif"
    path.write_bytes(many_page_tiff(100_000))
    with within(10):
        rec = audit_file(path, "pages.tif", FileKind.IMAGE, "all", DecodeLimits())
    assert rec.ok and rec.frames == 2, rec
    assert "several frames/pages: the first was audited" in rec.notes


# --------------------------------------------------------------------------- cache


def test_damaged_cache_rows_are_misses(tmp_path: Path) -> None:
    root = data(tmp_path / "d", 3)
    cache = tmp_path / "cache"
    args = [str(root), "--format", "json", "--jobs", "1", "--cache-dir", str(cache)]

    def scan() -> tuple[int, dict[str, Any]]:
        with within(20):
            result = CliRunner().invoke(cli, ["scan", *args, "--no-progress"])
        assert result.exception is None or isinstance(result.exception, SystemExit)
        return result.exit_code, json.loads(result.stdout)

    code, first = scan()
    db = sqlite3.connect(cache / "records.sqlite3")
    rows = db.execute("SELECT rowid, record FROM records_v6 ORDER BY rowid").fetchall()
    assert len(rows) == 6
    damage = [
        rows[0][1][: len(rows[0][1]) // 2],  # truncated JSON
        "[1, 2, 3]",  # JSON of the wrong shape
        '{"path": 5, "kind": "image"}',  # fields of the wrong type
        "[" * 100_000 + "]" * 100_000,  # nesting deeper than the parser's recursion
    ]
    for (rowid, _), text in zip(rows, damage, strict=False):
        db.execute("UPDATE records_v6 SET record = ? WHERE rowid = ?", (text, rowid))
    db.commit()
    code2, second = scan()
    assert code2 == code == 0
    assert second["files"] == first["files"] and second["findings"] == first["findings"]
    stored = [r for (r,) in db.execute("SELECT record FROM records_v6")]
    assert len(stored) == 6 and all(json.loads(r)["path"] for r in stored)  # recomputed
    db.close()


def test_cache_lookups_use_the_key_not_a_scan_of_the_table(tmp_path: Path) -> None:
    """The query plan of a lookup searches the primary key (settings, path, kind), so rows
    of other datasets cost nothing; benchmarks/bench_cache.py measures it."""
    from nanaudit.cache import RecordCache, lookup_sql

    cache = RecordCache(tmp_path, DecodeLimits())
    assert cache._db is not None
    plan = cache._db.execute("EXPLAIN QUERY PLAN " + lookup_sql(3), ("k", b"a", b"b", b"c"))
    detail = " ".join(row[-1] for row in plan)
    assert "SEARCH" in detail and "USING INDEX" in detail, detail
    assert "SCAN" not in detail, detail
    cache.close()


# --------------------------------------------------------------------------- all at once


def tree_state(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[Any, ...]]:
    """Every entry below root: kind, mode, size, mtime and content (links: their target)."""
    out: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) not in skip]
        for name in [".", *dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except OSError as exc:  # the folder chain longer than PATH_MAX
                out[p] = ("unreachable", exc.errno)
                continue
            if stat.S_ISLNK(st.st_mode):
                out[p] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode) and st.st_size < (1 << 20):
                out[p] = ("file", st.st_mode, st.st_mtime_ns, Path(p).read_bytes())
            else:
                out[p] = ("other", st.st_mode, st.st_mtime_ns, st.st_size)
    return out


def test_a_hostile_dataset_is_audited_without_writing_or_leaving_the_root(
    tmp_path: Path,
) -> None:
    """Every class at once, through the command line: the scan exits 1 with every problem
    named, writes nothing but its outputs and its cache, and names no path outside."""
    outside = tmp_path / "outside"
    save(outside / "secret.png", natural_image(9, SIZE))
    root = data(tmp_path / "d", 3)
    images, masks = root / "images", root / "masks"
    os.symlink(outside, images / "escape")
    os.symlink(outside / "secret.png", masks / "secret.png")
    os.symlink("/dev/zero", images / "zero.png")
    os.mkfifo(images / "fifo.png")
    long_folder(masks)
    (images / "screen.gif").write_bytes(gif_with_screen(13000, 13000))
    for name in ("x[", "[bold red]X", "::error::forged", "a ##[warning]b", "\u202ertl"):
        (images / f"{name}.png").write_bytes(b"")
    (root / "nanaudit.toml").write_text(
        'max_memory = "64M"\nclass_names = ["[red]road", "`car`", "::error::x"]\n'
    )
    work, out = tmp_path / "work", tmp_path / "out"
    cache = out / "cache"  # the outputs and the cache: the only places written
    work.mkdir()
    out.mkdir()
    before = tree_state(tmp_path, skip=(out,))
    cmd = [sys.executable, "-m", "nanaudit", "scan", str(root), "--cache-dir", str(cache)]
    for fmt in ("json", "sarif", "junit", "markdown", "github"):
        cmd += ["-o", f"{fmt}:{out / ('r.' + fmt)}"]
    proc = subprocess.run(
        [*cmd, "--write-baseline", str(out / "b.json"), "--format", "auto"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=work,
        env={**os.environ, "GITHUB_ACTIONS": "true", "HOME": str(work)},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr  # the baseline was written
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert tree_state(tmp_path, skip=(out,)) == before  # no byte written elsewhere
    doc = validate_report_json((out / "r.json").read_text(encoding="utf-8"))
    assert_inside(doc)
    checks = {(f["check"], f["path"]) for f in doc["findings"]}
    assert ("NA002", "images/screen.gif") in checks
    assert ("NA001", "images/fifo.png") in checks
    assert any(c == "NA008" and p.startswith("masks/nnn") for c, p in checks)
    skipped = {s["path"]: s["reason"] for s in doc["skipped"]}
    assert {p for p, r in skipped.items() if r == LINK_OUTSIDE} == {
        "images/escape",
        "images/zero.png",
        "masks/secret.png",
    }
    command = re.compile(
        r"::(?:group::.*|endgroup::|(?:error|warning|notice) file=[^,:]*,title=[^,:]*::.*)"
    )
    for line in (proc.stdout + (out / "r.github").read_text()).split("\n"):
        if line.lstrip().startswith("::"):
            assert command.fullmatch(line), line  # a command nanaudit wrote, whole
        assert "##[" not in line
    for fmt in ("json", "sarif", "junit", "markdown"):
        text = (out / f"r.{fmt}").read_text(encoding="utf-8")
        assert not [ln for ln in text.split("\n") if ln.lstrip().startswith("::")], fmt
        assert "##[" not in text, fmt
    ElementTree.fromstring((out / "r.junit").read_bytes())


def test_a_found_config_that_decides_what_fails_is_named_as_such(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 4)
    a = natural_image(0)[..., 0].astype(np.float32) / 255
    a[1, 1] = np.nan
    (root / "images" / "img_000.png").unlink()
    save(root / "images" / "img_000.tif", a)  # an NA101 error
    (root / "nanaudit.toml").write_text('fail_on = "never"\nignore = ["NA109"]\n')
    code, out, _ = run(str(root))
    assert code == 0 and "NA101" in out  # the dataset's policy applies, and is named:
    warning = " ".join(out.split())
    assert "config found beside the data (" in warning
    assert "sets what fails this scan (fail_on = never, ignore)" in warning
    # what the user decides is theirs: a flag above it, a config they name, or a stricter gate
    code, _, err = run(str(root), "--fail-on", "error", "--ignore", "NA109", "--format", "json")
    assert code == 1 and "config found beside the data" not in err
    (root / "nanaudit.toml").write_text('fail_on = "warning"\n')
    code, out, _ = run(str(root))
    assert code == 1 and "config found beside the data" not in out
    (tmp_path / "mine.toml").write_text('fail_on = "never"\n')
    code, out, _ = run(str(root), "--config", str(tmp_path / "mine.toml"))
    assert code == 0 and "config found beside the data" not in out
