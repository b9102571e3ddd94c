"""Hostile input: a corpus generated here (never committed binaries) mixed into a clean
dataset. Every hostile file is named by an NA001/NA002 finding (or counted as skipped), the
scan never raises, nothing is unpickled or executed, and the clean pairs are still audited."""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import stat
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import clean_mask, make_pairs, natural_image, save, scan, validate_report_json
from PIL import Image

from nanaudit.cli import cli
from nanaudit.decode import audit_file
from nanaudit.layouts.walk import LINK_OUTSIDE
from nanaudit.records import DecodeLimits as DecodeSettings
from nanaudit.records import FileKind as Kind

SIZE = (64, 64)
CLEAN_PAIRS = 24  # 48 clean files: with the corpus, enough tasks for the process pool
TIMEOUT = 60


# --------------------------------------------------------------------------- payloads


class Payload:
    """Creates ``marker`` when unpickled: proof that a pickle was (or was never) loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.marker, "w"))


def pickled_npy(marker: Path) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.array([Payload(str(marker)), 1], dtype=object), allow_pickle=True)
    return buf.getvalue()


def pickled_npz(marker: Path) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, a=np.array([Payload(str(marker))], dtype=object))
    return buf.getvalue()


def png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def huge_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose IHDR (with a correct CRC) declares width×height 8-bit gray pixels,
    followed by a few bytes of image data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def huge_tiff(width: int = 15_000, height: int = 15_000) -> bytes:
    """A minimal little-endian TIFF whose tags declare width×height 8-bit gray pixels in one
    strip, with 16 bytes of data. 225 M pixels: past the limit, under Pillow's own 2× bomb
    error, so it is nanaudit's header check that refuses it."""
    data = b"\0" * 16
    entries = [  # tag, type (3 SHORT, 4 LONG), value
        (256, 4, width),
        (257, 4, height),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 0),
        (277, 3, 1),
        (278, 4, height),
        (279, 4, width * height),
    ]
    ifd_offset = 8
    data_offset = ifd_offset + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, typ, value in entries:
        if tag == 273:
            value = data_offset
        packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, 1) + packed
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + ifd + data


def npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buf.getvalue()


def huge_npy(shape: tuple[int, ...] = (1_000_000, 1_000_000)) -> bytes:
    return npy_header(shape) + b"\0" * 64


def huge_npz() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.npy", npy_header((200_000, 200_000, 3), "<u1") + b"\0" * 64)
    return buf.getvalue()


def encoded(array: np.ndarray | Image.Image, fmt: str, **kw: Any) -> bytes:
    im = array if isinstance(array, Image.Image) else Image.fromarray(array)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n%%EndComments\n"
    b"0 0 moveto 16 16 lineto stroke\nshowpage\n%%EOF\n"
)


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Hostile:
    name: str  # file name; its stem is unique in the corpus
    make: Callable[[Path], None]  # writes the entry at the given path
    check: str  # NA001 or NA002
    reason: str  # a substring of the finding's reason ("" for any)


def _bytes(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(data() if callable(data) else data)

    return make


def _symlink(target: str | Callable[[Path], str]) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        os.symlink(target(path) if callable(target) else target, path)

    return make


def _loop(path: Path) -> None:  # a.png -> b.png -> a.png
    other = path.with_name(path.stem + "_other.dat")
    os.symlink(other.name, path)
    os.symlink(path.name, other)


def _directory(path: Path) -> None:
    path.mkdir()


def corpus(marker: Path) -> list[Hostile]:
    rng = np.random.default_rng(7)
    png = encoded(natural_image(1, SIZE), "PNG")
    jpeg = encoded(natural_image(2, SIZE), "JPEG", quality=90)
    noise = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    text = b"this is not an image\n" * 20
    items = [
        Hostile("zero_png.png", _bytes(b""), "NA001", "empty file"),
        Hostile("zero_jpg.jpg", _bytes(b""), "NA001", "empty file"),
        Hostile("zero_tif.tif", _bytes(b""), "NA001", "empty file"),
        Hostile("zero_npy.npy", _bytes(b""), "NA001", "empty file"),
        Hostile("zero_npz.npz", _bytes(b""), "NA001", "empty file"),
        Hostile("trunc_png.png", _bytes(png[: len(png) // 2]), "NA001", "truncated"),
        Hostile("trunc_jpg.jpg", _bytes(jpeg[: len(jpeg) // 2]), "NA001", "truncated"),
        Hostile("rand_png.png", _bytes(noise), "NA001", "cannot identify"),
        Hostile("rand_jpg.jpg", _bytes(noise), "NA001", "cannot identify"),
        Hostile("rand_tif.tiff", _bytes(noise), "NA001", "cannot identify"),
        Hostile("rand_webp.webp", _bytes(noise), "NA001", "cannot identify"),
        Hostile("rand_npy.npy", _bytes(noise), "NA001", "not a valid .npy"),
        Hostile("rand_npz.npz", _bytes(noise), "NA001", "not a valid .npz"),
        Hostile("text_png.png", _bytes(text), "NA001", "cannot identify"),
        Hostile("text_jpeg.jpeg", _bytes(text), "NA001", "cannot identify"),
        Hostile("text_npy.npy", _bytes(text), "NA001", "not a valid .npy"),
        Hostile("eps_png.png", _bytes(EPS), "NA001", ""),
        Hostile("bomb_png.png", _bytes(huge_png()), "NA002", "header declares"),
        Hostile("bomb_tif.tif", _bytes(huge_tiff()), "NA002", "header declares"),
        Hostile("pickle_npy.npy", _bytes(lambda: pickled_npy(marker)), "NA001", "pickle"),
        Hostile("pickle_npz.npz", _bytes(lambda: pickled_npz(marker)), "NA001", "pickle"),
        Hostile("bigshape_npy.npy", _bytes(huge_npy()), "NA002", "header declares shape"),
        Hostile(
            "bigshape_u8_npy.npy",
            _bytes(huge_npy((10_000, 10_000))),
            "NA002",
            "header declares shape",
        ),
        Hostile("bigshape_npz.npz", _bytes(huge_npz), "NA002", "header declares shape"),
        Hostile("dir_png.png", _directory, "NA001", "not a regular file"),
    ]
    if hasattr(os, "symlink"):
        items += [
            Hostile("dangling_png.png", _symlink("does-not-exist.png"), "NA001", "symbolic link"),
            Hostile("loop_png.png", _loop, "NA001", "symbolic link"),
        ]
    return items


# Valid files of unusual kinds, on the image side: each is audited, none is NA001.
def exotic(root: Path) -> dict[str, dict[str, Any]]:
    rgb = natural_image(3, SIZE)
    gray = rgb[..., 0]
    frames = [Image.fromarray(natural_image(10 + i, SIZE)).convert("P") for i in range(3)]
    images = root / "images"
    Image.fromarray(rgb).convert("CMYK").save(images / "x_cmyk.jpg", quality=95)
    Image.fromarray(gray > 128).save(images / "x_bilevel.png")
    Image.fromarray(np.stack([gray, 255 - gray], axis=-1), mode="LA").save(images / "x_la.png")
    frames[0].save(images / "x_anim.gif", save_all=True, append_images=frames[1:], duration=50)
    save(images / "x_int32.tif", gray.astype(np.int32) * 1000 - 50_000)
    save(images / "x_float.tif", gray.astype(np.float32) / 255)
    for stem in ("x_cmyk", "x_bilevel", "x_la", "x_anim", "x_int32", "x_float"):
        save(root / "masks" / f"{stem}.png", clean_mask(4, SIZE))
    return {
        "images/x_cmyk.jpg": {"mode": "CMYK", "channels": 4},
        "images/x_bilevel.png": {"mode": "1"},
        "images/x_la.png": {"mode": "LA", "channels": 2},
        "images/x_anim.gif": {"frames": 2},  # counting stops at the second frame
        "images/x_int32.tif": {"mode": "I", "dtype": "int32"},
        "images/x_float.tif": {"mode": "F", "dtype": "float32"},
    }


# Valid pairs under awkward names; the last is not valid UTF-8 (written through bytes).
ODD_NAMES = ["with space.png", "café.png", "日本.png", "-x.png"]
BAD_UTF8 = b"bad\xff.png"
BAD_UTF8_DISPLAY = "bad\\xff.png"  # how reports name it: a backslash escape


def write_odd_names(root: Path) -> None:
    for i, name in enumerate(ODD_NAMES):
        save(root / "images" / name, natural_image(40 + i, SIZE))
        save(root / "masks" / name, clean_mask(40 + i, SIZE))
    for side, data in (
        ("images", encoded(natural_image(50, SIZE), "PNG")),
        ("masks", encoded(clean_mask(50, SIZE), "PNG")),
    ):
        with open(os.fsencode(root / side) + b"/" + BAD_UTF8, "wb") as fh:
            fh.write(data)


@dataclass(frozen=True)
class Corpus:
    root: Path
    marker: Path
    expected: dict[str, tuple[str, str]]  # display path -> (check, reason substring)
    exotic: dict[str, dict[str, Any]]
    clean: list[str]  # display paths of files that must be audited without error
    outside: list[str]  # links leading out of the root: skipped, never read


def build(root: Path, marker: Path) -> Corpus:
    """A clean dataset plus every hostile entry on both sides: images/h_<name> (paired
    with a clean mask) and masks/m_<name> (paired with a clean image)."""
    make_pairs(root, CLEAN_PAIRS, size=SIZE)
    expected: dict[str, tuple[str, str]] = {}
    clean = [f"{side}/img_{i:03d}.png" for i in range(CLEAN_PAIRS) for side in ("images", "masks")]
    for seed, item in enumerate(corpus(marker)):
        stem = item.name.rsplit(".", 1)[0]
        item.make(root / "images" / f"h_{item.name}")
        save(root / "masks" / f"h_{stem}.png", clean_mask(seed, SIZE))
        item.make(root / "masks" / f"m_{item.name}")
        save(root / "images" / f"m_{stem}.png", natural_image(100 + seed, SIZE))
        expected[f"images/h_{item.name}"] = (item.check, item.reason)
        expected[f"masks/m_{item.name}"] = (item.check, item.reason)
        clean += [f"masks/h_{stem}.png", f"images/m_{stem}.png"]
    # a directory symbolic-link loop: walked once, and said so in the layout notes
    outside = []
    if hasattr(os, "symlink"):
        os.symlink(".", root / "images" / "h_dirloop")
        # links out of the root (a device, a folder of the system): skipped, never read
        for side, name in (("images", "h_devzero_png.png"), ("masks", "m_devzero_png.png")):
            os.symlink("/dev/zero", root / side / name)
            outside.append(f"{side}/{name}")
        os.symlink("/etc", root / "masks" / "m_etc")
        outside.append("masks/m_etc")
    (root / "images" / "notes.txt").write_bytes(b"\xff\xfe junk")  # skipped: not an image
    # an empty image whose name is not UTF-8, beside a clean mask of the same name
    with open(os.fsencode(root / "images") + b"/h_" + BAD_UTF8, "wb"):
        pass
    with open(os.fsencode(root / "masks") + b"/h_" + BAD_UTF8, "wb") as fh:
        fh.write(encoded(clean_mask(60, SIZE), "PNG"))
    expected[f"images/h_{BAD_UTF8_DISPLAY}"] = ("NA001", "empty file")
    clean.append(f"masks/h_{BAD_UTF8_DISPLAY}")
    write_odd_names(root)
    clean += [f"{side}/{n}" for n in ODD_NAMES for side in ("images", "masks")]
    clean += [f"{side}/{BAD_UTF8_DISPLAY}" for side in ("images", "masks")]
    return Corpus(root, marker, expected, exotic(root), clean, outside)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    base = tmp_path_factory.mktemp("hostile")
    return build(base / "data", base / "PWNED")


# --------------------------------------------------------------------------- assertions


def assert_report_doc(doc: dict[str, Any], c: Corpus) -> None:
    """The JSON report names every hostile file and fully audits every clean one."""
    findings = doc["findings"]
    for path, (check, reason) in c.expected.items():
        named = [f for f in findings if f["path"] == path and f["check"] in ("NA001", "NA002")]
        assert named, f"no NA001/NA002 finding names {path}"
        assert [f["check"] for f in named] == [check], (path, named)
        assert reason.lower() in named[0]["data"]["reason"].lower(), (path, named[0])
        assert named[0]["data"]["reason"] in named[0]["message"]
    files = {f["path"]: f for f in doc["files"]}
    for path in c.clean:
        rec = files[path]
        assert "error" not in rec, rec
        assert ("pixels" if path.startswith("images/") else "labels") in rec, rec
    for path, want in c.exotic.items():
        rec = files[path]
        assert "error" not in rec and "pixels" in rec, rec
        for key, value in want.items():
            assert rec[key] == value, (path, key, rec)
    assert any("frames" in n for n in files["images/x_anim.gif"]["notes"])
    skipped = {s["path"]: s["reason"] for s in doc["skipped"]}
    assert skipped.get("images/notes.txt") == "not an image"
    for path in c.outside:
        assert skipped.get(path) == LINK_OUTSIDE, path
    assert not [p for p in [*files, *skipped] if p.startswith("masks/m_etc/")]
    if hasattr(os, "symlink"):
        assert any("symbolic-link loop" in n for n in doc["layout"]["notes"])
    # every file the scan saw is accounted for: audited, or an error named by a finding
    errors = {f["path"] for f in doc["files"] if "error" in f}
    assert errors == set(c.expected)
    assert not c.marker.exists(), "a pickle in the corpus was unpickled"


def cli_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["scan", *args, "--format", "json", "--no-progress"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, validate_report_json(result.stdout)


# --------------------------------------------------------------------------- tests


def test_api_scan_names_every_hostile_file(hostile: Corpus) -> None:
    from nanaudit.formats import Format, render

    report = scan(hostile.root, jobs=1)  # conftest's scan validates the JSON against the schema
    assert report.exit_code == 1
    assert_report_doc(json.loads(render(report, Format.JSON)), hostile)


def test_cli_jobs_1_and_2_give_identical_findings(hostile: Corpus) -> None:
    code1, doc1 = cli_json(str(hostile.root), "--jobs", "1", "--no-cache")
    code2, doc2 = cli_json(str(hostile.root), "--jobs", "2", "--no-cache")
    assert code1 == code2 == 1
    assert len(doc1["files"]) >= 48  # the process pool was really used with --jobs 2
    assert doc1["findings"] == doc2["findings"]
    assert doc1["files"] == doc2["files"]
    assert_report_doc(doc1, hostile)
    assert_report_doc(doc2, hostile)


def test_real_subprocess_exits_1_with_valid_json(hostile: Corpus) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nanaudit",
            "scan",
            str(hostile.root),
            "--format",
            "json",
            "--jobs",
            "2",
            "--no-cache",
        ],
        capture_output=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr.decode(errors="replace")
    text = proc.stdout.decode("utf-8")  # strictly UTF-8: the bad name is an escape
    doc = validate_report_json(text)
    assert_report_doc(doc, hostile)
    assert f"images/{BAD_UTF8_DISPLAY}" in {f["path"] for f in doc["files"]}
    assert "Traceback" not in proc.stderr.decode(errors="replace")


def test_cached_rescan_gives_the_same_report(hostile: Corpus, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    _, cold = cli_json(str(hostile.root), "--jobs", "1", "--cache-dir", cache)
    _, warm = cli_json(str(hostile.root), "--jobs", "1", "--cache-dir", cache)
    assert cold["findings"] == warm["findings"] and cold["files"] == warm["files"]


def test_reasons_do_not_depend_on_where_the_dataset_lies(hostile: Corpus, tmp_path: Path) -> None:
    """The same corpus at another place gives the same findings: no reason quotes the
    absolute path of its file (it would also change every baseline fingerprint)."""
    import shutil

    moved = tmp_path / "elsewhere" / "data"
    shutil.copytree(hostile.root, moved, symlinks=True)
    _, here = cli_json(str(hostile.root), "--jobs", "1", "--no-cache")
    _, there = cli_json(str(moved), "--jobs", "1", "--no-cache")
    for doc, root in ((here, hostile.root), (there, moved)):
        leaks = [f["message"] for f in doc["findings"] if str(root) in f["message"]]
        assert not leaks, leaks
    assert here["findings"] == there["findings"]


def test_leading_dash_names_are_not_options(tmp_path: Path) -> None:
    """A dataset folder whose name starts with a dash is scanned after ``--`` or as
    ``./-d``; the file -x.png inside it is an ordinary file."""
    root = make_pairs(tmp_path / "-d", 3, size=SIZE)
    save(root / "images" / "-x.png", natural_image(9, SIZE))
    save(root / "masks" / "-x.png", clean_mask(9, SIZE))
    for args in (["--", "-d"], ["./-d"]):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "nanaudit",
                "scan",
                "--format",
                "json",
                "--no-cache",
                "-C",
                "3",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            cwd=tmp_path,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        files = {f["path"]: f for f in validate_report_json(proc.stdout)["files"]}
        assert "error" not in files["images/-x.png"] and "labels" in files["masks/-x.png"]
    result = CliRunner().invoke(cli, ["scan", "--format", "json", "-C", "3", "--", str(root)])
    assert result.exit_code == 0, result.output
    assert "images/-x.png" in {f["path"] for f in validate_report_json(result.stdout)["files"]}


def test_pickles_are_never_unpickled_and_the_control_would_fire(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    root = make_pairs(tmp_path / "data", 2, size=SIZE)
    (root / "images" / "p.npy").write_bytes(pickled_npy(marker))
    (root / "masks" / "p.npz").write_bytes(pickled_npz(marker))
    report = scan(root, jobs=1)
    reasons = {f.path: f.data.to_json()["reason"] for f in report.findings if f.check == "NA001"}
    assert set(reasons) == {"images/p.npy", "masks/p.npz"}
    assert all("pickle" in r for r in reasons.values())
    assert not marker.exists()
    # control: numpy with pickles allowed really runs the payload
    np.load(root / "images" / "p.npy", allow_pickle=True)
    assert marker.exists()
    marker.unlink()
    with np.load(root / "masks" / "p.npz", allow_pickle=True) as z:
        z["a"]
    assert marker.exists()


def test_huge_npy_headers_are_refused_without_allocating(tmp_path: Path) -> None:
    cases = {
        "a.npy": huge_npy((1_000_000, 1_000_000)),  # 8 TB of float64
        "b.npy": huge_npy((2**40, 2**40, 3)),
        "c.npy": npy_header((10_000, 10_000), "<u1") + b"\0" * 10,  # under the pixel limit
        "d.npz": huge_npz(),
    }
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    start = time.perf_counter()
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        for kind in Kind:
            rec = audit_file(path, name, kind, "all", DecodeSettings())
            assert rec.error is not None and rec.error.check == "NA002", (name, rec.error)
            assert "header declares shape" in rec.error.reason
    assert time.perf_counter() - start < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 64 * 1024


def compressed_npz(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    """A bzip2 .npz whose one member is a header and all-zero data: a few hundred bytes
    that expand to the full array."""
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_BZIP2) as zf,
        zf.open("a.npy", "w", force_zip64=True) as member,
    ):
        member.write(npy_header(shape, descr))
        left = int(np.prod(shape)) * np.dtype(descr).itemsize
        block = bytes(1 << 22)
        while left > 0:
            member.write(block[: min(left, len(block))])
            left -= len(block)
    return buf.getvalue()


def test_npz_decompression_bomb_within_the_pixel_limit_is_refused(tmp_path: Path) -> None:
    """1,000,000 pixels (the limit here) × 8 channels of float64: 64 MB from ~200 bytes.
    The member's expanded size, not only its pixel count, must be bounded."""
    settings = DecodeSettings(max_pixels=1_000_000)
    bomb = tmp_path / "bomb.npz"
    bomb.write_bytes(compressed_npz((1000, 1000, 8)))
    assert bomb.stat().st_size < 4096
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    rec = audit_file(bomb, "bomb.npz", Kind.IMAGE, "all", settings)
    assert rec.error is not None and rec.error.check == "NA002", rec
    assert "expands to 64,000,128 bytes" in rec.error.reason  # header included
    assert time.perf_counter() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 32 * 1024
    # a compressed .npz of ordinary size is still read: a mask, and an RGB float image
    for name, array in (
        ("mask.npz", clean_mask(1, (1000, 1000))),
        ("image.npz", natural_image(1, (500, 500)).astype(np.float32)),
    ):
        path = tmp_path / name
        np.savez_compressed(path, a=array)
        rec = audit_file(
            path, name, Kind.MASK if name == "mask.npz" else Kind.IMAGE, "all", settings
        )
        assert rec.ok, rec.error


def test_huge_image_headers_are_refused(tmp_path: Path) -> None:
    for name, data, pixels in (
        ("a.png", huge_png(), "10,000,000,000"),
        ("b.tif", huge_tiff(), "225,000,000"),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        rec = audit_file(path, name, Kind.IMAGE, "all", DecodeSettings())
        assert rec.error is not None and rec.error.check == "NA002", rec.error
        assert pixels in rec.error.reason and "178,956,970" in rec.error.reason


def patch_tiff_tag(data: bytes, tag: int, value: int) -> bytes:
    """Set a tag of the first IFD of a little-endian TIFF to one LONG value."""
    assert data[:4] == b"II*\x00"
    buf = bytearray(data)
    ifd = struct.unpack_from("<I", buf, 4)[0]
    for i in range(struct.unpack_from("<H", buf, ifd)[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from("<H", buf, entry)[0] == tag:
            struct.pack_into("<HII", buf, entry + 2, 4, 1, value)  # one LONG
            return bytes(buf)
    raise AssertionError(f"tag {tag} not found")


@pytest.mark.parametrize("compression", ["raw", "tiff_lzw"])
def test_tiff_taller_than_its_strips_is_na001(tmp_path: Path, compression: str) -> None:
    """ImageLength patched from 24 to 4,194,328 rows (a mutation the fuzz test found): the
    one strip holds 24 rows. Pillow would allocate 134 M float pixels and report the image
    as read, the rest zero; it must be NA001, found before anything is allocated."""
    good = encoded(
        natural_image(3, (24, 32))[..., 0].astype(np.float32), "TIFF", compression=compression
    )
    path = tmp_path / "tall.tif"
    path.write_bytes(patch_tiff_tag(good, 257, 4_194_328))
    start = time.perf_counter()
    for kind in Kind:
        rec = audit_file(path, "tall.tif", kind, "all", DecodeSettings())
        assert rec.error is not None and rec.error.check == "NA001", rec
    assert time.perf_counter() - start < 2.0
    path.write_bytes(good)  # control: the unpatched file is read
    assert audit_file(path, "tall.tif", Kind.IMAGE, "all", DecodeSettings()).ok


def test_eps_content_never_runs_ghostscript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostScript behind an image extension must not reach Ghostscript: a stand-in gs that
    leaves a marker proves whether Pillow's EPS plugin would have run it."""
    from PIL import EpsImagePlugin

    marker = tmp_path / "gs-ran"
    fake_gs = tmp_path / "gs"
    fake_gs.write_text(f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    fake_gs.chmod(0o755)
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", str(fake_gs))
    for name in ("x.png", "x.jpg", "x.tif"):
        path = tmp_path / name
        path.write_bytes(EPS)
        for kind in Kind:
            rec = audit_file(path, name, kind, "all", DecodeSettings())
            assert rec.error is not None and rec.error.check == "NA001", rec
    assert not marker.exists(), "Ghostscript was run on a file named like an image"


def test_directory_named_like_an_image_is_na001(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 2, size=SIZE)
    (root / "images" / "dir.png").mkdir()
    save(root / "images" / "img_009.png", natural_image(9, SIZE))
    (root / "masks" / "img_009.png").mkdir()
    save(root / "masks" / "img_009.png" / "inner.png", clean_mask(9, SIZE))
    report = scan(root, jobs=1)
    na001 = {f.path: f.data.to_json()["reason"] for f in report.findings if f.check == "NA001"}
    assert na001 == {
        "images/dir.png": "not a regular file",
        "masks/img_009.png": "not a regular file",
    }
    # masks/img_009.png/ pairs with its image like a file; images/dir.png has no mask
    pairing = [(f.check, f.path) for f in report.findings if f.check in ("NA003", "NA004")]
    assert pairing == [("NA003", "images/dir.png")]


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() == 0,
    reason="running as root: permission bits do not stop root from reading, "
    "so an unreadable file cannot be made",
)
def test_unreadable_file_is_na001(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 2, size=SIZE)
    locked = root / "images" / "img_000.png"
    locked.chmod(0)
    try:
        report = scan(root, jobs=1)
    finally:
        locked.chmod(stat.S_IRUSR | stat.S_IWUSR)
    reasons = {f.path: f.data.to_json()["reason"] for f in report.findings if f.check == "NA001"}
    assert reasons == {"images/img_000.png": "permission denied"}


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="simulates an unreadable file by dropping root with setpriv",
)
def test_unreadable_file_is_na001_when_root_drops_privileges() -> None:
    """As root, permissions are moot: run the scan as an unprivileged user instead."""
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="nanaudit-unreadable-"))  # pytest's tmp is 0700
    tmp_path.chmod(0o755)
    try:
        _scan_as_nobody(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _scan_as_nobody(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 2, size=SIZE)
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    (root / "images" / "img_000.png").chmod(0)
    save(root / "images" / "locked" / "x.png", natural_image(3, SIZE))
    (root / "images" / "locked").chmod(0)  # a folder it cannot list: NA008
    cmd = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        sys.executable,
        "-m",
        "nanaudit",
        "scan",
        str(root),
        "--format",
        "json",
        "--no-cache",
        "--jobs",
        "1",
    ]
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)
    if proc.returncode == 2 and "Permission denied" in proc.stderr:
        pytest.skip(f"the unprivileged user cannot run this Python: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    reasons = {f["path"]: f["data"]["reason"] for f in doc["findings"] if f["check"] == "NA001"}
    assert reasons == {"images/img_000.png": "permission denied"}
    folders = {f["path"]: f["data"]["reason"] for f in doc["findings"] if f["check"] == "NA008"}
    assert folders == {"images/locked": "permission denied"}
    # and a folder it cannot read at all is a one-line error, exit 2
    root.chmod(0o700)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, check=False)
    root.chmod(0o755)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert "cannot read" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("fmt", ["sarif", "junit", "github", "markdown", "rich"])
def test_every_format_renders_the_corpus(hostile: Corpus, fmt: str) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "scan",
            str(hostile.root),
            "--format",
            fmt,
            "--no-cache",
            "--jobs",
            "1",
            "--verbose",
            "--no-progress",
        ],
    )
    assert result.exit_code == 1 and result.exception is not None
    assert isinstance(result.exception, SystemExit), result.output
    text = result.stdout
    if fmt == "sarif":  # URIs percent-encode the file's own bytes: compare them decoded
        from urllib.parse import unquote_to_bytes

        uris = [
            unquote_to_bytes(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
            for r in json.loads(text)["runs"][0]["results"]
        ]
        assert any(u.endswith(b"/h_bad\xff.png") for u in uris), uris
        text = "\n".join(u.decode("utf-8", "backslashreplace") for u in uris)
    for name in ("h_bomb_png.png", "m_pickle_npz.npz", f"h_{BAD_UTF8_DISPLAY}"):
        assert name in text, name
    assert not hostile.marker.exists()


# A file name (legal on Linux) that tries to inject a GitHub workflow command on a line of
# its own and to drive the terminal: ESC [2J clears the screen, ESC ] 0; … BEL sets the title.
EVIL_NAME = "evil\n::warning::injected\x1b[2J\x1b]0;title\x07.png"


@pytest.mark.parametrize(
    "fmt",
    [
        "json",
        "sarif",
        "junit",
        "github",
        "markdown",
        "rich",
    ],
)
def test_control_characters_in_names_cannot_inject(tmp_path: Path, fmt: str) -> None:
    root = make_pairs(tmp_path / "d", 3, size=SIZE)
    (root / "images" / EVIL_NAME).write_bytes(b"")  # NA001 and NA003 name it
    result = CliRunner().invoke(
        cli,
        [
            "scan",
            str(root),
            "--format",
            fmt,
            "--no-cache",
            "--max-annotations",
            "0",
            "--verbose",
            "--no-progress",
        ],
    )
    assert result.exit_code == 1, result.output
    out = result.stdout
    if fmt == "junit":
        import xml.etree.ElementTree as ET

        ET.fromstring(out.encode("utf-8"))
    elif fmt in ("json", "sarif"):
        json.loads(out)
    assert "\x1b" not in out and "\x07" not in out, "raw terminal control characters"
    injected = [line for line in out.splitlines() if line.lstrip().startswith("::warning::inj")]
    assert not injected, injected
