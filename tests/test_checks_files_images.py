"""NA001–NA007 (files and pairing) and NA101–NA113 (image pixels) on real files.

Every test writes a clean dataset with ``make_pairs``, overwrites one file with the defect,
scans it with the real decoders and checks the finding (ID, severity, relative path, the
numbers in the message) and that nothing else in the dataset is reported.  Expected
numbers are computed from the arrays written, never typed in.
"""

from __future__ import annotations

import math
import os
import struct
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import clean_mask, hits, make_pairs, natural_image, save, scan
from PIL import Image

from nanaudit.report import Finding, Report
from nanaudit.severity import Severity

TIMES = "\u00d7"  # the multiplication sign nanaudit prints in sizes (W×H)
U8_FULL = 255.0
U16_FULL = 65535.0
PILLOW_DEFAULT_LIMIT = 178_956_970  # CHECKS.md, NA002

# --------------------------------------------------------------------------- helpers


def image_path(
    root: Path, stem: str = "img_000", suffix: str = ".png", split: str | None = None
) -> Path:
    folder = root / "images" / split if split else root / "images"
    return folder / f"{stem}{suffix}"


def mask_path(root: Path, stem: str = "img_000", split: str | None = None) -> Path:
    return root / "masks" / split / f"{stem}.png" if split else root / "masks" / f"{stem}.png"


def replace_image(
    root: Path,
    array: np.ndarray | Image.Image | None = None,
    *,
    stem: str = "img_000",
    suffix: str = ".png",
    split: str | None = None,
    **save_kw: Any,
) -> str:
    """Delete images/<stem>.png of a clean dataset and write the defect in its place.

    Returns the path as nanaudit reports it: relative to the root, POSIX form.
    """
    image_path(root, stem, ".png", split).unlink()
    target = image_path(root, stem, suffix, split)
    if array is not None:
        save(target, array, **save_kw)
    return target.relative_to(root).as_posix()


def replace_mask(root: Path, array: np.ndarray, stem: str = "img_000") -> str:
    target = mask_path(root, stem)
    save(target, array)
    return target.relative_to(root).as_posix()


def checks_at(report: Report, path: str) -> set[str]:
    return {f.check for f in report.findings if f.path == path}


def only(report: Report, path: str, expected: Iterable[str]) -> None:
    """Every finding is on ``path`` and the checks there are exactly ``expected``."""
    elsewhere = [f for f in report.findings if f.path != path]
    assert elsewhere == [], f"unexpected findings on other files: {elsewhere}"
    assert checks_at(report, path) == set(expected), report.findings


def one(report: Report, check_id: str) -> Finding:
    found = hits(report, check_id)
    assert len(found) == 1, found
    return found[0]


def float_image(seed: int = 0, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """A 2-D float32 image in [0, 1] with a natural spread (a reflectance band)."""
    return natural_image(seed, size)[..., 0].astype(np.float32) / np.float32(255.0)


def pillow_luma(array: np.ndarray) -> np.ndarray:
    """The 8-bit luminance a loader (and nanaudit) computes: Pillow's convert("L")."""
    return np.asarray(Image.fromarray(array).convert("L"))


def inverted_cdf(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values.reshape(-1), q, method="inverted_cdf"))


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid PNG signature + IHDR declaring width×height, with a few bytes of data."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )
    return path


class _CreatesFile:
    """Unpickling this object calls open(marker, "w"): proof that a pickle was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def write_pickle_payload(path: Path, marker: Path) -> None:
    payload = np.array([_CreatesFile(marker)], dtype=object)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npz":
        np.savez(path, payload=payload)
    else:
        np.save(path, payload, allow_pickle=True)


# --------------------------------------------------------------------------- clean data


def test_clean_dataset_has_no_findings(dataset: Callable[..., Path]) -> None:
    root = dataset()
    report = scan(root, num_classes=3)
    assert report.findings == ()
    assert len(report.files) == 12
    assert all(r.ok and r.pixels is not None for r in report.files if r.kind == "image")


def test_clean_split_dataset_has_no_findings(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "data", 6, "train")
    make_pairs(root, 5, "val")
    report = scan(root, num_classes=3)
    assert [s.name for s in report.splits] == ["train", "val"]
    assert report.findings == ()


def test_clean_float_tiff_dataset_has_no_findings(tmp_path: Path) -> None:
    """Float data in [0, 1] is measured against full scale 1.0 and stays quiet."""
    root = tmp_path / "data"
    for i in range(6):
        save(image_path(root, f"img_{i:03d}", ".tif"), float_image(i))
        save(mask_path(root, f"img_{i:03d}"), clean_mask(i))
    report = scan(root, num_classes=3)
    assert {r.dtype for r in report.files if r.kind == "image"} == {"float32"}
    assert report.findings == ()


# --------------------------------------------------------------------------- NA001


def _assert_unreadable(report: Report, path: str, kind: str = "image") -> Finding:
    only(report, path, {"NA001"})
    f = one(report, "NA001")
    assert f.severity == Severity.ERROR
    assert f.name == "unreadable-file"
    assert f.message.startswith(f"cannot read {kind}: ")
    return f


def test_na001_zero_byte_image(dataset: Callable[..., Path]) -> None:
    root = dataset()
    rel = replace_image(root)
    (root / rel).write_bytes(b"")
    f = _assert_unreadable(scan(root), rel)
    assert "0 bytes" in f.message


@pytest.mark.parametrize("kind", ["image", "mask"])
def test_na001_truncated_png(dataset: Callable[..., Path], kind: str) -> None:
    root = dataset()
    target = image_path(root) if kind == "image" else mask_path(root)
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError), Image.open(target) as im:  # precondition: Pillow chokes too
        im.load()
    rel = target.relative_to(root).as_posix()
    f = _assert_unreadable(scan(root), rel, kind)
    assert "truncated" in f.message


def test_na001_random_bytes_behind_png_suffix(dataset: Callable[..., Path]) -> None:
    root = dataset()
    rel = replace_image(root)
    noise = np.random.default_rng(0).integers(0, 256, 2048, dtype=np.uint8)
    (root / rel).write_bytes(noise.tobytes())
    f = _assert_unreadable(scan(root), rel)
    assert "cannot identify" in f.message


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_na001_pickled_object_array_is_refused(dataset: Callable[..., Path], suffix: str) -> None:
    root = dataset()
    rel = replace_image(root, suffix=suffix)
    if suffix == ".npy":
        np.save(root / rel, np.array([{}], dtype=object), allow_pickle=True)
    else:
        np.savez(root / rel, a=np.array([{}], dtype=object))
    f = _assert_unreadable(scan(root), rel)
    assert "refused" in f.message and "pickle" in f.message


@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_na001_pickle_payload_is_never_executed(tmp_path: Path, suffix: str) -> None:
    # Control: the payload is live, numpy with allow_pickle=True runs it.
    control_marker = tmp_path / "control_marker"
    control = tmp_path / f"control{suffix}"
    write_pickle_payload(control, control_marker)
    loaded = np.load(control, allow_pickle=True)
    if suffix == ".npz":
        loaded["payload"]
    assert control_marker.exists()

    root = make_pairs(tmp_path / "data")
    marker = tmp_path / "marker"
    rel = replace_image(root, suffix=suffix)
    write_pickle_payload(root / rel, marker)
    report = scan(root)
    assert not marker.exists()
    _assert_unreadable(report, rel)


def test_na001_dangling_symlink(dataset: Callable[..., Path], tmp_path: Path) -> None:
    root = dataset()
    rel = replace_image(root)
    # dangling inside the scanned folder (one leading outside is skipped, not followed)
    os.symlink(root / "does_not_exist.png", root / rel)
    f = _assert_unreadable(scan(root), rel)
    assert "broken symbolic link" in f.message


def test_na001_array_that_is_not_an_image(dataset: Callable[..., Path]) -> None:
    root = dataset()
    rel = replace_image(root, np.arange(10, dtype=np.uint8), suffix=".npy")
    f = _assert_unreadable(scan(root), rel)
    assert "(10,)" in f.message


# --------------------------------------------------------------------------- NA002


def test_na002_npy_header_larger_than_file(dataset: Callable[..., Path]) -> None:
    root = dataset()
    rel = replace_image(root, suffix=".npy")
    shape = (100_000, 100_000)
    payload = b"\x00" * 8
    with open(root / rel, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh,
            {
                "descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                "fortran_order": False,
                "shape": shape,
            },
        )
        fh.write(payload)
    report = scan(root)
    only(report, rel, {"NA002"})
    f = one(report, "NA002")
    assert f.severity == Severity.ERROR
    assert f.name == "oversized-image"
    assert str(shape) in f.message
    assert f"{math.prod(shape):,}" in f.message  # bytes declared (uint8: 1 byte per pixel)
    assert f"holds only {len(payload):,} bytes" in f.message


@pytest.mark.parametrize("size", [(40, 40), (64, 64)], ids=["under-2x-limit", "over-2x-limit"])
def test_na002_png_over_max_pixels(tmp_path: Path, size: tuple[int, int]) -> None:
    limit = 1000
    root = make_pairs(tmp_path / "data", size=(25, 40))  # 1,000 pixels: exactly at the limit
    rel = replace_image(root, natural_image(0, size))
    report = scan(root, max_pixels=limit)
    only(report, rel, {"NA002"})  # the mask (25×40) is read; NA006 needs both files
    f = one(report, "NA002")
    assert f.severity == Severity.ERROR
    assert f"{size[0] * size[1]:,} pixels" in f.message
    assert f"{limit:,}" in f.message
    assert f"{2 * limit:,}" not in f.message and f"{2 * limit}" not in f.message


def test_na002_limit_from_the_max_pixels_option(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "data", size=(32, 32))
    report = scan(root, max_pixels=32 * 32 - 1)
    flagged = {f.path for f in hits(report, "NA002")}
    assert len(flagged) == 12  # every image and mask is one pixel over
    assert {f.check for f in report.findings} == {"NA002"}


@pytest.mark.parametrize("size", [(15_000, 15_000), (20_000, 20_000)])
def test_na002_png_header_bomb_at_default_limit(
    dataset: Callable[..., Path], size: tuple[int, int]
) -> None:
    root = dataset()
    rel = replace_image(root)
    png_header_only(root / rel, *size)
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # precondition: the header is valid and opens lazily
    try:
        with Image.open(root / rel) as im:
            assert im.size == size
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    report = scan(root)
    only(report, rel, {"NA002"})
    f = one(report, "NA002")
    assert f"{size[0] * size[1]:,} pixels" in f.message
    assert f"{PILLOW_DEFAULT_LIMIT:,}" in f.message


def test_na002_npy_over_max_pixels(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = natural_image(0)
    rel = replace_image(root, arr, suffix=".npy")
    report = scan(root, max_pixels=64 * 64 - 1)
    # the PNG masks and images are over the limit too: only the .npy message is checked here
    f = next(f for f in hits(report, "NA002") if f.path == rel)
    assert f"{64 * 64:,} pixels" in f.message and f"{64 * 64 - 1:,}" in f.message
    assert str(arr.shape) in f.message


# --------------------------------------------------------------------------- NA003–NA006


def test_na003_missing_mask(dataset: Callable[..., Path]) -> None:
    root = dataset()
    mask_path(root, "img_002").unlink()
    report = scan(root)
    rel = "images/img_002.png"
    only(report, rel, {"NA003"})
    f = one(report, "NA003")
    assert (f.severity, f.name, f.image, f.mask) == (Severity.ERROR, "missing-mask", rel, None)
    assert "no mask" in f.message


def test_na003_is_info_in_a_split_declared_unlabeled(dataset: Callable[..., Path]) -> None:
    root = dataset()
    mask_path(root, "img_002").unlink()
    report = scan(root, unlabeled_splits=["all"])
    only(report, "images/img_002.png", {"NA003"})
    f = one(report, "NA003")
    assert f.severity == Severity.INFO
    assert "unlabeled" in f.message


def test_na003_is_info_for_a_test_split_without_mask_folder(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "data", 6, "train")
    n_test = 3
    for i in range(n_test):
        save(image_path(root, f"t_{i:03d}", split="test"), natural_image(10 + i))
    report = scan(root)
    found = hits(report, "NA003")
    assert sorted(f.path for f in found) == [f"images/test/t_{i:03d}.png" for i in range(n_test)]
    assert {f.severity for f in found} == {Severity.INFO}
    assert {f.split for f in found} == {"test"}
    assert {f.check for f in report.findings} == {"NA003"}


def test_na004_orphan_mask(dataset: Callable[..., Path]) -> None:
    root = dataset()
    save(mask_path(root, "img_999"), clean_mask(9))
    report = scan(root)
    rel = "masks/img_999.png"
    only(report, rel, {"NA004"})
    f = one(report, "NA004")
    assert (f.severity, f.name, f.image, f.mask) == (Severity.WARNING, "orphan-mask", None, rel)
    assert "no image" in f.message


def test_na005_split_without_images(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "data", 6, "train")
    (root / "images" / "val").mkdir()
    n_masks = 2
    for i in range(n_masks):
        save(mask_path(root, f"v_{i:03d}", "val"), clean_mask(i))
    report = scan(root)
    f = one(report, "NA005")
    assert (f.severity, f.name) == (Severity.ERROR, "no-images")
    assert (f.path, f.split) == ("images/val", "val")
    assert "'val'" in f.message and f.data.to_json()["images"] == 0
    # the val masks are orphans; train stays quiet
    assert sorted(f.path for f in hits(report, "NA004")) == [
        f"masks/val/v_{i:03d}.png" for i in range(n_masks)
    ]
    assert {f.check for f in report.findings} == {"NA004", "NA005"}


def test_na005_root_without_images(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "images").mkdir(parents=True)
    save(mask_path(root), clean_mask(0))
    report = scan(root)
    f = one(report, "NA005")
    assert (f.severity, f.path, f.split) == (Severity.ERROR, "images", "all")
    assert checks_at(report, "masks/img_000.png") == {"NA004"}


def test_na005_counts_unreadable_images_as_present(tmp_path: Path) -> None:
    """A split of unreadable images is not empty: NA001, not NA005."""
    root = make_pairs(tmp_path / "data", 1)
    image_path(root).write_bytes(b"")
    report = scan(root)
    assert hits(report, "NA005") == []
    assert {f.check for f in report.findings} == {"NA001"}


def test_na006_size_mismatch(dataset: Callable[..., Path]) -> None:
    root = dataset()
    h, w = 48, 64
    rel_mask = replace_mask(root, clean_mask(1, (h, w)), "img_001")
    report = scan(root)
    rel = "images/img_001.png"
    only(report, rel, {"NA006"})
    f = one(report, "NA006")
    assert (f.severity, f.name, f.image, f.mask) == (Severity.ERROR, "size-mismatch", rel, rel_mask)
    assert f"image is 64{TIMES}64 but mask is {h}{TIMES}{w} (H{TIMES}W" in f.message
    assert f.data.to_json() == {"image_size": [64, 64], "mask_size": [w, h]}


# --------------------------------------------------------------------------- NA007


def _exif_jpeg(root: Path, orientation: int, size: tuple[int, int], suffix: str = ".jpg") -> str:
    exif = Image.Exif()
    exif[0x0112] = orientation
    rel = replace_image(root, Image.fromarray(natural_image(0, size)), suffix=suffix, exif=exif)
    with Image.open(root / rel) as im:  # precondition: the tag was written
        assert im.getexif().get(0x0112) == orientation
    return rel


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".webp"])
def test_na007_rotation_breaks_mask_size_is_error(
    dataset: Callable[..., Path], suffix: str
) -> None:
    root = dataset()
    h, w = 48, 64
    rel = _exif_jpeg(root, 6, (h, w), suffix)
    replace_mask(root, clean_mask(0, (h, w)))  # matches the stored, unrotated size
    report = scan(root)
    only(report, rel, {"NA007"})
    f = one(report, "NA007")
    assert (f.severity, f.name) == (Severity.ERROR, "exif-orientation")
    assert "orientation 6" in f.message
    assert f"{h}{TIMES}{w} image into {w}{TIMES}{h}" in f.message  # H×W
    assert f"mask's {h}{TIMES}{w} (H{TIMES}W)" in f.message
    assert f.data.to_json()["rotated_size"] == [h, w]


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_na007_square_image_is_warning(dataset: Callable[..., Path], orientation: int) -> None:
    root = dataset()
    rel = _exif_jpeg(root, orientation, (64, 64))
    report = scan(root)
    only(report, rel, {"NA007"})
    f = one(report, "NA007")
    assert f.severity == Severity.WARNING
    assert f"orientation {orientation}" in f.message
    assert f.data.to_json() == {"orientation": orientation}


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_na007_mask_already_rotated_is_warning_plus_na006(
    dataset: Callable[..., Path], suffix: str
) -> None:
    root = dataset()
    h, w = 48, 64
    rel = _exif_jpeg(root, 6, (h, w), suffix)
    replace_mask(root, clean_mask(0, (w, h)))  # the mask follows the EXIF-rotated picture
    report = scan(root)
    only(report, rel, {"NA006", "NA007"})
    assert one(report, "NA007").severity == Severity.WARNING
    mismatch = one(report, "NA006")
    assert f"image is {h}{TIMES}{w} but mask is {w}{TIMES}{h}" in mismatch.message
    assert "EXIF-rotated" in mismatch.message


def test_na007_quiet_for_orientation_1(dataset: Callable[..., Path]) -> None:
    root = dataset()
    _exif_jpeg(root, 1, (48, 64))
    replace_mask(root, clean_mask(0, (48, 64)))
    assert scan(root).findings == ()


# --------------------------------------------------------------------------- NA101–NA102

# A float image among the uint8 RGB PNGs of make_pairs is also gray (NA109) and float32
# (NA110): the tests state those two as expected rather than hide them.
FLOAT_AMONG_RGB = {"NA109", "NA110"}


@pytest.mark.parametrize("suffix", [".tif", ".npy"])
def test_na101_nan_pixels(dataset: Callable[..., Path], suffix: str) -> None:
    root = dataset()
    arr = float_image(0)
    arr[5:8, 10:20] = np.nan
    rel = replace_image(root, arr, suffix=suffix)
    report = scan(root)
    only(report, rel, {"NA101"} | FLOAT_AMONG_RGB)
    f = one(report, "NA101")
    nan, total = int(np.isnan(arr).sum()), arr.size
    assert (f.severity, f.name) == (Severity.ERROR, "nan-pixels")
    assert f"{nan:,}" in f.message and f"{total:,}" in f.message  # the numbers, not the wording
    assert f.data.to_json() == {"nan": nan, "values": total}


def test_na101_all_nan_image_is_only_nan(dataset: Callable[..., Path]) -> None:
    """No finite value at all: NA101 says it; the range-based checks must not crash or guess."""
    root = dataset()
    arr = np.full((64, 64), np.nan, dtype=np.float32)
    rel = replace_image(root, arr, suffix=".npy")
    report = scan(root)
    only(report, rel, {"NA101"} | FLOAT_AMONG_RGB)
    assert one(report, "NA101").data.to_json() == {"nan": arr.size, "values": arr.size}


def test_na101_nan_in_one_channel_of_rgb_npy(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = natural_image(0).astype(np.float32) / np.float32(255)
    arr[0, 0, 2] = np.nan
    rel = replace_image(root, arr, suffix=".npy")
    report = scan(root)
    only(report, rel, {"NA101", "NA110"})  # 3 channels: RGB like the rest, but float32
    assert one(report, "NA101").data.to_json() == {"nan": 1, "values": arr.size}


def test_na102_inf_pixels(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = float_image(0)
    arr[0, :7] = np.inf
    arr[1, :3] = -np.inf
    rel = replace_image(root, arr, suffix=".tif")
    report = scan(root)
    only(report, rel, {"NA102"} | FLOAT_AMONG_RGB)
    f = one(report, "NA102")
    inf, total = int(np.isinf(arr).sum()), arr.size
    assert (f.severity, f.name) == (Severity.ERROR, "inf-pixels")
    assert f.data.to_json() == {"inf": inf, "values": total}
    assert f"{inf:,}" in f.message and f"{total:,}" in f.message


# --------------------------------------------------------------------------- NA103–NA105


@pytest.mark.parametrize(
    ("array", "extra", "shown"),
    [
        (np.full((64, 64, 3), (10, 200, 30), dtype=np.uint8), set(), "(10, 200, 30)"),
        (np.full((64, 64, 3), 128, dtype=np.uint8), set(), "128"),
        (np.full((64, 64), 128, dtype=np.uint8), {"NA109"}, "128"),  # mode L among RGB
        (np.zeros((64, 64, 3), dtype=np.uint8), set(), "0"),  # not also NA105 / NA112
        (np.full((64, 64, 3), 255, dtype=np.uint8), set(), "255"),  # not also NA113
    ],
    ids=["flat-colour", "flat-gray-rgb", "flat-gray-L", "black", "white"],
)
def test_na103_constant_image(
    dataset: Callable[..., Path], array: np.ndarray, extra: set[str], shown: str
) -> None:
    root = dataset()
    rel = replace_image(root, array)
    report = scan(root)
    only(report, rel, {"NA103"} | extra)
    f = one(report, "NA103")
    assert (f.severity, f.name) == (Severity.ERROR, "constant-image")
    assert shown in f.message


def test_na103_quiet_when_one_pixel_differs(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = np.full((64, 64, 3), 128, dtype=np.uint8)
    arr[0, 0] = 129
    rel = replace_image(root, arr)
    report = scan(root)
    assert hits(report, "NA103") == []
    only(report, rel, {"NA104"})  # near-constant instead: std far under 0.5% of 255


def _channel_stds(arr: np.ndarray) -> list[float]:
    return [float(arr[..., c].astype(np.float64).std()) for c in range(arr.shape[2])]


def test_na104_low_variance(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = np.random.default_rng(1).integers(100, 102, (64, 64, 3), dtype=np.uint8)  # 100..101
    stds = _channel_stds(arr)
    limit = 0.005 * U8_FULL
    assert max(stds) < limit  # precondition
    rel = replace_image(root, arr)
    report = scan(root)
    only(report, rel, {"NA104"})
    f = one(report, "NA104")
    assert (f.severity, f.name) == (Severity.WARNING, "low-variance")
    assert f"{max(stds):.4g}" in f.message and "255" in f.message
    assert f.data.to_json()["limit"] == pytest.approx(limit)
    assert f.data.to_json()["std"] == pytest.approx(stds, abs=1e-6)


def test_na104_quiet_just_above_threshold(dataset: Callable[..., Path]) -> None:
    root = dataset()
    values = np.array([100, 103], dtype=np.uint8)
    arr = values[np.random.default_rng(2).integers(0, 2, (64, 64, 3))]
    stds = _channel_stds(arr)
    limit = 0.005 * U8_FULL
    assert limit < min(stds) < 1.5 * limit  # precondition: a near miss in every channel
    replace_image(root, arr)
    assert scan(root).findings == ()


def test_na104_quiet_when_one_channel_varies(dataset: Callable[..., Path]) -> None:
    """Fires only when EVERY channel is below the limit."""
    root = dataset()
    rng = np.random.default_rng(3)
    arr = rng.integers(100, 102, (64, 64, 3), dtype=np.uint8)
    arr[..., 1] = natural_image(3)[..., 1]
    replace_image(root, arr)
    assert hits(scan(root), "NA104") == []


def _mostly_zero(zero_fraction: float, seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = 64 * 64
    nonzero = round(n * (1 - zero_fraction))
    flat = np.zeros((n, 3), dtype=np.uint8)
    idx = rng.choice(n, nonzero, replace=False)
    flat[idx] = rng.integers(150, 256, (nonzero, 3), dtype=np.uint8)  # bright: not NA112
    return flat.reshape(64, 64, 3)


def test_na105_mostly_zero(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = _mostly_zero(0.97)
    fractions = [float(np.mean(arr[..., c] == 0)) for c in range(3)]
    assert min(fractions) >= 0.95  # precondition
    rel = replace_image(root, arr)
    report = scan(root)
    only(report, rel, {"NA105"})
    f = one(report, "NA105")
    assert (f.severity, f.name) == (Severity.WARNING, "mostly-zero")
    assert f"{min(fractions):.1%}" in f.message
    assert f.data.to_json()["zero_fraction"] == pytest.approx(fractions, abs=1e-6)


def test_na105_quiet_at_90_percent_zeros(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = _mostly_zero(0.90)
    assert 0.89 < float(np.mean(arr == 0)) < 0.95  # precondition
    replace_image(root, arr)
    assert scan(root).findings == ()


def test_na105_quiet_when_one_channel_is_not_zero(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = _mostly_zero(0.97)
    arr[..., 2] = natural_image(5)[..., 2]
    assert float(np.mean(arr[..., 2] == 0)) < 0.95  # precondition
    replace_image(root, arr)
    assert hits(scan(root), "NA105") == []


# --------------------------------------------------------------------------- NA106–NA108


@pytest.mark.parametrize("value", [70000.0, -70000.0, 65504.0])
def test_na106_fp16_overflow(dataset: Callable[..., Path], value: float) -> None:
    root = dataset()
    arr = float_image(0) * np.float32(100)
    # 256 of 4,096 pixels (6.25%): past both the 1% and the 5% tails, so that the outlier
    # sets the luminance percentile that NA112/NA113 measure against the observed range
    arr[:8, :32] = value
    rel = replace_image(root, arr, suffix=".tif")
    report = scan(root)
    expected = {"NA106"} | FLOAT_AMONG_RGB | ({"NA107"} if value > 255 else set())
    only(report, rel, expected)
    f = one(report, "NA106")
    count = int(np.count_nonzero(np.abs(arr) >= 65504))
    assert (f.severity, f.name) == (Severity.ERROR, "fp16-overflow")
    assert f"{float(arr.min()):g}" in f.message and f"{float(arr.max()):g}" in f.message
    assert f.data.to_json()["count"] == count


def test_na106_quiet_just_below_fp16_max(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = float_image(0) * np.float32(100)
    arr[:8, :16] = 65503.0
    assert float(np.abs(arr).max()) < 65504  # precondition (float32 holds 65503 exactly)
    replace_image(root, arr, suffix=".tif")
    report = scan(root)
    assert hits(report, "NA106") == []
    assert len(hits(report, "NA107")) == 1  # still > 255


def test_na106_quiet_for_integer_images(dataset: Callable[..., Path]) -> None:
    """Only float pixels count: a uint16 65535 is NA107's business."""
    root = dataset()
    arr = np.full((64, 64), 65535, dtype=np.uint16)
    arr[:32] = natural_image(0)[:32, :, 0].astype(np.uint16) * 257
    rel = replace_image(root, Image.fromarray(arr))
    report = scan(root)
    assert hits(report, "NA106") == []
    assert "NA107" in checks_at(report, rel)


@pytest.mark.parametrize(("limit", "fires"), [(1000.0, True), (100_000.0, False)])
def test_na106_limit_from_check_options(
    dataset: Callable[..., Path], limit: float, fires: bool
) -> None:
    root = dataset()
    arr = float_image(0) * np.float32(5000)  # max 5000 under the default 65504
    arr[:8, :32] = 70000.0 if not fires else arr[:8, :32]
    rel = replace_image(root, arr, suffix=".tif")
    peak = float(np.abs(arr).max())
    assert (peak >= limit) == fires  # precondition
    report = scan(root, checks={"NA106": {"limit": limit}})
    found = hits(report, "NA106")
    assert len(found) == int(fires)
    if fires:
        assert found[0].path == rel
        assert f"|x| \u2265 {limit:g}" in found[0].message
        assert f"range {float(arr.min()):g} to {peak:g}" in found[0].message


def test_na107_16_bit_png(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = (natural_image(0)[..., 0].astype(np.uint16) * 257).astype(np.uint16)
    im = Image.fromarray(arr)
    assert im.mode == "I;16"  # precondition: a real 16-bit grayscale PNG
    rel = replace_image(root, im)
    report = scan(root)
    only(report, rel, {"NA107", "NA109", "NA110"})  # also gray and uint16 among RGB uint8
    f = one(report, "NA107")
    assert (f.severity, f.name) == (Severity.WARNING, "high-bit-depth")
    assert f.message.startswith(f"uint16 image (max value {int(arr.max())})")
    assert f.data.to_json() == {"dtype": "uint16", "max": float(arr.max())}


def test_na107_float_over_255(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = float_image(0) * np.float32(1000)
    rel = replace_image(root, arr, suffix=".tif")
    report = scan(root)
    only(report, rel, {"NA107"} | FLOAT_AMONG_RGB)
    f = one(report, "NA107")
    assert f"float32 image with max value {float(arr.max()):g} > 255" in f.message


def test_na107_quiet_for_float_max_255(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = float_image(0) * np.float32(255)
    assert float(arr.max()) == 255.0  # precondition: at the limit, not over it
    rel = replace_image(root, arr, suffix=".tif")
    only(scan(root), rel, FLOAT_AMONG_RGB)


@pytest.mark.parametrize("sentinel", [-9999.0, -32768.0, float(np.finfo(np.float32).min)])
def test_na108_sentinel_in_float_data(dataset: Callable[..., Path], sentinel: float) -> None:
    root = dataset()
    arr = float_image(0)
    arr[:, :8] = sentinel  # a nodata border strip, 12.5% of the pixels
    rel = replace_image(root, arr, suffix=".tif")
    report = scan(root)
    overflow = {"NA106"} if abs(sentinel) >= 65504 else set()  # float32 lowest: -3.4e38
    only(report, rel, {"NA108"} | FLOAT_AMONG_RGB | overflow)
    f = one(report, "NA108")
    count = int(np.count_nonzero(arr == np.float32(sentinel)))
    assert (f.severity, f.name) == (Severity.WARNING, "nodata-sentinel")
    assert f"{sentinel:g} {TIMES}{count:,}" in f.message
    assert f.data.to_json() == {"sentinels": [[sentinel, count]]}


def test_na108_gdal_nodata_tag(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = float_image(0)
    rel = replace_image(root, arr, suffix=".tif", tiffinfo={42113: "-9999"})
    with Image.open(root / rel) as im:  # precondition: Pillow wrote and reads back the tag
        assert str(im.tag_v2[42113]).strip("\x00 ") == "-9999"
    report = scan(root)
    only(report, rel, {"NA108"} | FLOAT_AMONG_RGB)
    f = one(report, "NA108")
    # declared, and no pixel holds it: only info (a clean tile set declares nodata too)
    assert f.message == "GDAL_NODATA tag declares nodata value -9999; no value holds it"
    assert f.severity is Severity.INFO
    assert f.data.to_json() == {"nodata": -9999.0, "values": 0}


def test_na108_quiet_for_ordinary_negative_floats(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = float_image(0) * np.float32(2) - np.float32(1)  # [-1, 1], no sentinel
    rel = replace_image(root, arr, suffix=".tif")
    only(scan(root), rel, FLOAT_AMONG_RGB)


# --------------------------------------------------------------------------- NA109–NA110


@pytest.mark.parametrize(
    ("make", "mode", "family"),
    [
        (lambda: Image.fromarray(natural_image(0)[..., 0]), "L", "gray"),
        (lambda: Image.fromarray(natural_image(0)).convert("RGBA"), "RGBA", "RGBA"),
        (lambda: Image.fromarray(natural_image(0)).convert("P"), "P", "palette"),
    ],
    ids=["gray", "rgba", "palette"],
)
def test_na109_inconsistent_mode(
    dataset: Callable[..., Path], make: Callable[[], Image.Image], mode: str, family: str
) -> None:
    n = 6
    root = dataset(n)
    im = make()
    assert im.mode == mode  # precondition
    rel = replace_image(root, im)
    report = scan(root)
    only(report, rel, {"NA109"})
    f = one(report, "NA109")
    assert (f.severity, f.name) == (Severity.WARNING, "inconsistent-mode")
    assert f.message.startswith(f"mode {mode} ({family}, {len(im.getbands())} channel")
    assert f"{n - 1} of {n} images in 'all' are RGB" in f.message


def test_na110_inconsistent_dtype(dataset: Callable[..., Path]) -> None:
    n = 6
    root = dataset(n)
    arr = natural_image(0).astype(np.uint16) * np.uint16(257)  # RGB, so only the dtype differs
    rel = replace_image(root, arr, suffix=".npy")
    report = scan(root)
    only(report, rel, {"NA110", "NA107"})
    f = one(report, "NA110")
    assert (f.severity, f.name) == (Severity.WARNING, "inconsistent-dtype")
    assert f.message == f"dtype uint16 while {n - 1} of {n} images in 'all' are uint8"


def test_na109_na110_compare_within_a_split(tmp_path: Path) -> None:
    """A split of gray uint16 images is consistent, even beside an RGB uint8 split."""
    root = make_pairs(tmp_path / "data", 5, "train")
    for i in range(5):
        save(
            image_path(root, f"v_{i:03d}", split="val"),
            Image.fromarray(natural_image(i)[..., 0].astype(np.uint16) * 257),
        )
        save(mask_path(root, f"v_{i:03d}", "val"), clean_mask(i))
    report = scan(root)
    assert hits(report, "NA109") == [] and hits(report, "NA110") == []
    assert {f.check for f in report.findings} == {"NA107"}  # 16 bits: still worth saying


# --------------------------------------------------------------------------- NA111


def _fences(sizes: list[tuple[int, int]], factor: float = 3.0) -> tuple[float, float]:
    roots = np.sqrt(np.array([w * h for w, h in sizes], dtype=np.float64))
    q1, median, q3 = np.percentile(roots, [25, 50, 75])
    iqr = max(q3 - q1, 0.1 * median)
    return float(q1 - factor * iqr), float(q3 + factor * iqr)


@pytest.mark.parametrize("size", [(256, 256), (8, 64), (16, 16)], ids=["huge", "strip", "tiny"])
def test_na111_size_outside_fences(dataset: Callable[..., Path], size: tuple[int, int]) -> None:
    n = 6
    root = dataset(n)
    h, w = size
    rel = replace_image(root, natural_image(0, size))
    replace_mask(root, clean_mask(0, size))
    lo, hi = _fences([(w, h)] + [(64, 64)] * (n - 1))
    assert not lo <= math.sqrt(w * h) <= hi  # precondition
    report = scan(root)
    only(report, rel, {"NA111"})
    f = one(report, "NA111")
    assert (f.severity, f.name) == (Severity.INFO, "odd-size")
    assert f.message.startswith(f"{h}{TIMES}{w} (H{TIMES}W, \u221aarea {math.sqrt(w * h):.0f})")
    assert f"[{lo:.0f}, {hi:.0f}]" in f.message
    assert f.data.to_json()["fences"] == pytest.approx([lo, hi])


def test_na111_aspect_ratio(dataset: Callable[..., Path]) -> None:
    root = dataset()
    h, w = 32, 96
    rel = replace_image(root, natural_image(0, (h, w)))
    replace_mask(root, clean_mask(0, (h, w)))
    lo, hi = _fences([(w, h)] + [(64, 64)] * 5)
    assert lo <= math.sqrt(w * h) <= hi  # precondition: the area is ordinary
    aspect = h / w
    assert aspect < 0.35
    report = scan(root)
    only(report, rel, {"NA111"})
    f = one(report, "NA111")
    assert f.message == f"{h}{TIMES}{w} (H{TIMES}W): aspect ratio {aspect:.2f}"
    assert f.data.to_json()["aspect"] == pytest.approx(aspect)


def test_na111_quiet_just_above_min_aspect(dataset: Callable[..., Path]) -> None:
    root = dataset()
    h, w = 34, 96
    assert h / w >= 0.35  # precondition
    replace_image(root, natural_image(0, (h, w)))
    replace_mask(root, clean_mask(0, (h, w)))
    assert scan(root).findings == ()


def test_na111_no_size_fences_under_five_images(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "data", 4)
    replace_image(root, natural_image(0, (256, 256)))
    replace_mask(root, clean_mask(0, (256, 256)))
    assert scan(root).findings == ()


# --------------------------------------------------------------------------- NA112–NA113


def _gray_rgb(values: np.ndarray) -> np.ndarray:
    """An RGB image whose three channels are equal, so its luminance is the value itself."""
    return np.repeat(values[..., None], 3, axis=2).astype(np.uint8)


@pytest.mark.parametrize("rgb", [False, True], ids=["random-colour", "gray-rgb"])
def test_na112_dark_image(dataset: Callable[..., Path], rgb: bool) -> None:
    root = dataset()
    rng = np.random.default_rng(6)
    arr = (
        _gray_rgb(rng.integers(0, 41, (64, 64)))
        if rgb
        else rng.integers(0, 41, (64, 64, 3), dtype=np.uint8)
    )
    p99 = inverted_cdf(pillow_luma(arr), 99)
    limit = 0.32 * U8_FULL
    assert p99 < limit  # precondition
    rel = replace_image(root, arr)
    report = scan(root)
    only(report, rel, {"NA112"})
    f = one(report, "NA112")
    assert (f.severity, f.name) == (Severity.INFO, "dark-image")
    assert f.message.startswith(f"99th percentile of luminance {p99:.4g} < {limit:.4g}")
    assert f.data.to_json() == {"p99": p99, "limit": pytest.approx(limit)}


@pytest.mark.parametrize(("top", "fires"), [(81, True), (82, False)])
def test_na112_boundary(dataset: Callable[..., Path], top: int, fires: bool) -> None:
    """p99 = 81 is under 0.32 × 255 = 81.6; p99 = 82 is not."""
    root = dataset()
    arr = _gray_rgb(np.random.default_rng(7).integers(0, top + 1, (64, 64)))
    p99 = inverted_cdf(pillow_luma(arr), 99)
    assert p99 == top and (p99 < 0.32 * U8_FULL) == fires  # precondition
    replace_image(root, arr)
    assert len(hits(scan(root), "NA112")) == int(fires)


def test_na113_bright_image(dataset: Callable[..., Path]) -> None:
    root = dataset()
    arr = np.random.default_rng(8).integers(245, 256, (64, 64, 3), dtype=np.uint8)
    p5 = inverted_cdf(pillow_luma(arr), 5)
    limit = 0.95 * U8_FULL
    assert p5 > limit  # precondition
    rel = replace_image(root, arr)
    report = scan(root)
    only(report, rel, {"NA113"})
    f = one(report, "NA113")
    assert (f.severity, f.name) == (Severity.INFO, "bright-image")
    assert f.message.startswith(f"5th percentile of luminance {p5:.4g} > {limit:.4g}")
    assert f.data.to_json() == {"p5": p5, "limit": pytest.approx(limit)}


@pytest.mark.parametrize(("bottom", "fires"), [(243, True), (242, False)])
def test_na113_boundary(dataset: Callable[..., Path], bottom: int, fires: bool) -> None:
    """p5 = 243 is over 0.95 × 255 = 242.25; p5 = 242 is not."""
    root = dataset()
    arr = _gray_rgb(np.random.default_rng(9).integers(bottom, 256, (64, 64)))
    p5 = inverted_cdf(pillow_luma(arr), 5)
    assert p5 == bottom and (p5 > 0.95 * U8_FULL) == fires  # precondition
    replace_image(root, arr)
    assert len(hits(scan(root), "NA113")) == int(fires)


def test_na112_uses_uint16_full_scale(dataset: Callable[..., Path]) -> None:
    """A 16-bit image at 8-bit values (max 255 of 65535) is dark, and of low variance."""
    root = dataset()
    arr = natural_image(0)[..., 0].astype(np.uint16)
    assert float(arr.std()) < 0.005 * U16_FULL  # precondition for NA104
    rel = replace_image(root, Image.fromarray(arr))
    report = scan(root)
    assert checks_at(report, rel) == {"NA104", "NA107", "NA109", "NA110", "NA112"}
    f = one(report, "NA112")
    assert f"< {0.32 * U16_FULL:.4g}" in f.message and "65535" in f.message


# --------------------------------------------------------------------------- configuration


def test_config_threshold_makes_na104_fire_on_normal_images(dataset: Callable[..., Path]) -> None:
    n = 6
    root = dataset(n)
    ratio = 0.5
    for i in range(n):  # precondition: every channel's std is under 50% of 255
        assert max(_channel_stds(natural_image(i))) < ratio * U8_FULL
    # min_relative_std 0: against full scale alone (the images are as varied as each other)
    report = scan(root, checks={"NA104": {"min_std_ratio": ratio, "min_relative_std": 0}})
    found = hits(report, "NA104")
    assert sorted(f.path for f in found) == [f"images/img_{i:03d}.png" for i in range(n)]
    assert all("50.00%" in f.message for f in found)
    assert {f.check for f in report.findings} == {"NA104"}


def test_config_threshold_makes_na105_fire_at_90_percent(dataset: Callable[..., Path]) -> None:
    root = dataset()
    rel = replace_image(root, _mostly_zero(0.90))
    report = scan(root, checks={"NA105": {"min_zero_fraction": 0.85}})
    only(report, rel, {"NA105"})


def test_config_min_aspect(dataset: Callable[..., Path]) -> None:
    root = dataset()
    h, w = 34, 96
    rel = replace_image(root, natural_image(0, (h, w)))
    replace_mask(root, clean_mask(0, (h, w)))
    report = scan(root, checks={"NA111": {"min_aspect": 0.5}})
    only(report, rel, {"NA111"})
    assert f"aspect ratio {h / w:.2f}" in one(report, "NA111").message


def _nan_dataset(root: Path) -> str:
    arr = float_image(0)
    arr[0, 0] = np.nan
    return replace_image(root, arr, suffix=".tif")


def test_config_severity_override(dataset: Callable[..., Path]) -> None:
    root = dataset()
    rel = _nan_dataset(root)
    report = scan(root, checks={"NA101": {"severity": "warning"}})
    f = one(report, "NA101")
    assert (f.path, f.severity) == (rel, Severity.WARNING)
    assert report.exit_code == 0  # nothing at error any more (NA109/NA110 are warnings)


def test_config_severity_off_disables(dataset: Callable[..., Path]) -> None:
    root = dataset()
    rel = _nan_dataset(root)
    assert len(hits(scan(root), "NA101")) == 1  # precondition: on by default
    report = scan(root, checks={"NA101": {"severity": "off"}})
    assert hits(report, "NA101") == []
    assert checks_at(report, rel) == FLOAT_AMONG_RGB


def test_config_severity_overrides_na007_escalation(dataset: Callable[..., Path]) -> None:
    root = dataset()
    rel = _exif_jpeg(root, 6, (48, 64))
    replace_mask(root, clean_mask(0, (48, 64)))
    report = scan(root, checks={"NA007": {"severity": "info"}})
    f = one(report, "NA007")
    assert (f.path, f.severity) == (rel, Severity.INFO)
