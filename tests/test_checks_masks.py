"""NA201–NA210: mask checks, on real masks written with numpy and Pillow."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import clean_mask, hits, natural_image, save, scan
from PIL import Image, features

from nanaudit.report import Finding
from nanaudit.severity import Severity

MASK_IDS = [f"NA2{i:02d}" for i in range(1, 11)]


def one_pair(root: Path, mask: np.ndarray | Image.Image, name: str = "m.png", **kw: Any) -> Path:
    """root/images/<stem>.png (a natural image of the mask's size) + root/masks/<name>."""
    if isinstance(mask, Image.Image):
        h, w = mask.height, mask.width
    else:
        h, w = mask.shape[:2]
    save(root / "images" / f"{Path(name).stem}.png", natural_image(3, (h, w)))
    save(root / "masks" / name, mask, **kw)
    return root


def only(report: Any, check_id: str) -> Finding:
    found = hits(report, check_id)
    assert len(found) == 1, [f.message for f in report.findings]
    return found[0]


def mask_ids(report: Any) -> set[str]:
    return {f.check for f in report.findings if f.check.startswith("NA2")}


def labels_of(report: Any, path: str) -> tuple[tuple[int, int], ...]:
    rec = next(r for r in report.files if r.path == path)
    assert rec.labels is not None, rec
    return rec.labels.histogram


# --------------------------------------------------------------------------- clean


def test_clean_dataset_has_no_mask_findings(dataset: Callable[..., Path]) -> None:
    root = dataset()
    report = scan(root, num_classes=3)
    assert mask_ids(report) == set()
    report = scan(root)  # no C: nothing to say either
    assert mask_ids(report) == set()


# --------------------------------------------------------------------------- NA201


def test_na201_label_above_num_classes(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=4)
    m[:2, :5] = 7  # 10 px
    report = scan(one_pair(tmp_path, m), num_classes=4)
    f = only(report, "NA201")
    assert f.severity is Severity.ERROR
    assert f.path == "masks/m.png"
    assert f.mask == "masks/m.png" and f.image == "images/m.png"
    assert "outside [0, 4)" in f.message and "7 ×10" in f.message and "10 px" in f.message
    assert f.data.to_json()["labels"] == {"7": 10}
    assert f.data.to_json()["pixels"] == 10 and f.data.to_json()["num_classes"] == 4


def test_na201_quiet_when_labels_in_range(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=4)  # 0..3: exactly [0, 4)
    report = scan(one_pair(tmp_path, m), num_classes=4)
    assert hits(report, "NA201") == []


@pytest.mark.parametrize("dtype", [np.int16, np.int32])
def test_na201_negative_labels_without_num_classes(tmp_path: Path, dtype: type) -> None:
    m = clean_mask(0, (32, 32), classes=3).astype(dtype)
    m[0, :3] = -1
    m[1, 0] = -5
    report = scan(one_pair(tmp_path, m, "m.npy"))
    f = only(report, "NA201")
    assert f.severity is Severity.ERROR
    assert f.path == "masks/m.npy"
    assert "2 label values negative" in f.message
    assert "-5 ×1" in f.message and "-1 ×3" in f.message
    assert f.data.to_json()["labels"] == {"-5": 1, "-1": 3}
    assert f.data.to_json()["pixels"] == 4 and f.data.to_json()["num_classes"] is None


def test_na201_ignore_index_255_is_not_out_of_range(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=4)
    m[:4] = 255
    report = scan(one_pair(tmp_path, m), num_classes=4)
    assert hits(report, "NA201") == []


def test_na201_ignore_none_makes_255_out_of_range(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=4)
    m[:4] = 255  # 128 px
    report = scan(one_pair(tmp_path, m), num_classes=4, ignore_index="none")
    f = only(report, "NA201")
    assert "255 ×128" in f.message and "no ignore index" in f.message
    assert f.data.to_json()["labels"] == {"255": 128} and f.data.to_json()["ignore_index"] is None


def test_na201_custom_ignore_index(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=4)
    m[:4] = 250
    assert hits(scan(one_pair(tmp_path, m), num_classes=4, ignore_index=250), "NA201") == []
    f = only(scan(tmp_path, num_classes=4), "NA201")  # default ignore 255: 250 is out of range
    assert f.data.to_json()["labels"] == {"250": 128}


# --------------------------------------------------------------------------- NA202


def test_na202_all_ignore(tmp_path: Path) -> None:
    m = np.full((32, 32), 255, np.uint8)
    report = scan(one_pair(tmp_path, m))
    f = only(report, "NA202")
    assert f.severity is Severity.ERROR and f.path == "masks/m.png"
    assert "1,024 pixels" in f.message and "255" in f.message
    assert f.data.to_json()["ignore_index"] == 255
    assert hits(report, "NA203") == []  # 0 valid pixels is NA202's case, not NA203's


def test_na202_quiet_without_ignore_index(tmp_path: Path) -> None:
    m = np.full((32, 32), 255, np.uint8)
    report = scan(one_pair(tmp_path, m), ignore_index="none")
    assert hits(report, "NA202") == []
    assert hits(report, "NA203") == []


def test_na202_quiet_with_one_valid_pixel(tmp_path: Path) -> None:
    m = np.full((32, 32), 255, np.uint8)
    m[5, 5] = 1
    report = scan(one_pair(tmp_path, m))
    assert hits(report, "NA202") == []


# --------------------------------------------------------------------------- NA203


def test_na203_mostly_ignore(tmp_path: Path) -> None:
    m = np.full((100, 100), 255, np.uint8)
    m[:5, :10] = 1  # 50 of 10,000 px = 0.5%
    report = scan(one_pair(tmp_path, m))
    f = only(report, "NA203")
    assert f.severity is Severity.WARNING and f.path == "masks/m.png"
    assert "50 of 10,000" in f.message and "0.500%" in f.message
    assert f.data.to_json()["valid_pixels"] == 50
    assert f.data.to_json()["valid_fraction"] == pytest.approx(0.005)
    assert hits(report, "NA202") == []


def test_na203_quiet_at_exactly_one_percent(tmp_path: Path) -> None:
    m = np.full((100, 100), 255, np.uint8)
    m[:10, :10] = 1  # 100 of 10,000 = 1%: not fewer than 1%
    assert hits(scan(one_pair(tmp_path, m)), "NA203") == []


def test_na203_threshold_is_configurable(tmp_path: Path) -> None:
    m = np.full((100, 100), 255, np.uint8)
    m[:10, :10] = 1  # 1%
    report = scan(one_pair(tmp_path, m), checks={"NA203": {"min_valid_fraction": 0.05}})
    assert only(report, "NA203").data.to_json()["valid_pixels"] == 100


# --------------------------------------------------------------------------- NA204


def test_na204_only_background_and_ignore(tmp_path: Path) -> None:
    m = np.zeros((32, 32), np.uint8)
    m[:8] = 254
    report = scan(one_pair(tmp_path, m), ignore_index=254)
    f = only(report, "NA204")
    assert f.severity is Severity.INFO and f.path == "masks/m.png"
    assert f.message == "only background (0) and ignore (254) pixels"
    assert f.data.to_json()["background"] == 0


def test_na204_leaves_a_0_255_mask_to_na208(tmp_path: Path) -> None:
    m = np.zeros((32, 32), np.uint8)
    m[:8] = 255
    report = scan(one_pair(tmp_path, m))
    assert only(report, "NA208").path == "masks/m.png"  # one finding, not NA204 besides


def test_na204_all_background(tmp_path: Path) -> None:
    report = scan(one_pair(tmp_path, np.zeros((32, 32), np.uint8)))
    f = only(report, "NA204")
    assert f.severity is Severity.INFO and f.message == "only background (0) pixels"


def test_na204_quiet_with_one_foreground_pixel(tmp_path: Path) -> None:
    m = np.zeros((32, 32), np.uint8)
    m[:8] = 255
    m[20, 20] = 1
    assert hits(scan(one_pair(tmp_path, m)), "NA204") == []


def test_na204_quiet_without_background(tmp_path: Path) -> None:
    assert (
        hits(scan(one_pair(tmp_path, np.zeros((32, 32), np.uint8)), background="none"), "NA204")
        == []
    )


# --------------------------------------------------------------------------- NA205


def test_na205_rgb_colour_mask(tmp_path: Path) -> None:
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:16] = (128, 0, 0)  # VOC aeroplane
    rgb[16:, :16] = (0, 128, 0)  # bicycle; the rest stays black
    report = scan(one_pair(tmp_path, rgb))
    f = only(report, "NA205")
    assert f.severity is Severity.ERROR and f.path == "masks/m.png"
    assert "RGB" in f.message and "3 distinct colours" in f.message
    assert f.data.to_json() == {"mode": "RGB", "colours": 3}
    # a colour mask has no label statistics: no label check may misread it
    assert mask_ids(report) == {"NA205"}


def test_na205_rgba_colour_mask(tmp_path: Path) -> None:
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[:16, :, 0] = 200
    report = scan(one_pair(tmp_path, rgba))
    f = only(report, "NA205")
    assert f.data.to_json()["mode"] == "RGBA" and f.data.to_json()["colours"] == 2


def test_na205_gray_rgb_mask_is_read_as_labels(tmp_path: Path) -> None:
    labels = clean_mask(0, (32, 32), classes=3)
    rgb = np.repeat(labels[..., None], 3, axis=2)  # R = G = B
    report = scan(one_pair(tmp_path, rgb), num_classes=3)
    assert hits(report, "NA205") == []
    expected = tuple(
        (int(v), int(n)) for v, n in zip(*np.unique(labels, return_counts=True), strict=True)
    )
    assert labels_of(report, "masks/m.png") == expected
    assert [v for v, _ in expected] == [0, 1, 2]
    # np.asarray(Image.open(p)) yields the three channels: without a reader stated, NA211
    assert mask_ids(report) == {"NA211"}
    read_as_gray = scan(one_pair(tmp_path, rgb), num_classes=3, mask_reader="cv2-gray")
    assert mask_ids(read_as_gray) == set()


def test_na205_quiet_on_palette_mask(tmp_path: Path) -> None:
    report = scan(one_pair(tmp_path, voc_palette_mask()))
    assert hits(report, "NA205") == []


# --------------------------------------------------------------------------- NA206


def test_na206_jpeg_mask(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=3)
    report = scan(one_pair(tmp_path, m, "m.jpg", quality=95))
    f = only(report, "NA206")
    assert f.severity is Severity.ERROR and f.path == "masks/m.jpg"
    assert f.image == "images/m.png"
    assert "JPEG" in f.message and f.data.to_json() == {"encoding": "JPEG"}


def test_na206_lossy_webp_mask(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=3)
    report = scan(one_pair(tmp_path, m, "m.webp", lossless=False, quality=90))
    f = only(report, "NA206")
    assert f.path == "masks/m.webp" and f.data.to_json() == {"encoding": "lossy WebP"}


def test_na206_quiet_on_lossless_webp_mask(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=3)
    report = scan(one_pair(tmp_path, m, "m.webp", lossless=True), num_classes=3)
    assert hits(report, "NA206") == []
    assert [v for v, _ in labels_of(report, "masks/m.webp")] == [0, 1, 2]


def _tiff_jpeg_supported() -> bool:
    if not features.check("libtiff"):
        return False
    try:
        Image.new("L", (16, 16)).save(io.BytesIO(), format="TIFF", compression="jpeg")
    except (OSError, ValueError, KeyError):
        return False
    return True


@pytest.mark.skipif(
    not _tiff_jpeg_supported(), reason="this Pillow cannot write JPEG-compressed TIFF"
)
def test_na206_jpeg_compressed_tiff_mask(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=3)
    report = scan(one_pair(tmp_path, m, "m.tif", compression="jpeg"))
    f = only(report, "NA206")
    assert f.path == "masks/m.tif" and f.data.to_json() == {"encoding": "JPEG-compressed TIFF"}


def test_na206_quiet_on_lossless_tiff_and_png(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=3)
    one_pair(tmp_path, m, "a.tif", compression="tiff_lzw")
    one_pair(tmp_path, m, "b.png")
    report = scan(tmp_path)
    assert hits(report, "NA206") == []


# --------------------------------------------------------------------------- NA207


def test_na207_fractional_float_mask(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=3).astype(np.float32)
    m[0, :6] = 0.5
    report = scan(one_pair(tmp_path, m, "m.npy"))
    f = only(report, "NA207")
    assert f.severity is Severity.ERROR and f.path == "masks/m.npy"
    assert "6 non-integer values" in f.message and "6 fractional" in f.message
    assert "float32" in f.message
    assert f.data.to_json() == {"fractional": 6, "nan": 0, "inf": 0}


def test_na207_nan_and_inf_float_mask(tmp_path: Path) -> None:
    m = clean_mask(0, (32, 32), classes=3).astype(np.float32)
    m[0, :3] = np.nan
    m[1, 0] = np.inf
    report = scan(one_pair(tmp_path, m, "m.npy"))
    f = only(report, "NA207")
    assert "4 non-integer values" in f.message and "3 NaN" in f.message and "1 Inf" in f.message
    assert f.data.to_json() == {"fractional": 0, "nan": 3, "inf": 1}


def test_na207_quiet_on_integral_float_mask(tmp_path: Path) -> None:
    labels = clean_mask(0, (32, 32), classes=3)
    report = scan(one_pair(tmp_path, labels.astype(np.float32), "m.npy"), num_classes=3)
    assert hits(report, "NA207") == []
    assert [v for v, _ in labels_of(report, "masks/m.npy")] == [0, 1, 2]
    assert mask_ids(report) == set()


# --------------------------------------------------------------------------- NA208


def binary_255(size: tuple[int, int] = (32, 32)) -> np.ndarray:
    m = np.zeros(size, np.uint8)
    m[8:24, 8:24] = 255  # 256 px
    return m


def test_na208_binary_255_with_default_ignore(tmp_path: Path) -> None:
    report = scan(one_pair(tmp_path, binary_255()))
    f = only(report, "NA208")
    assert f.severity is Severity.ERROR and f.path == "masks/m.png"
    assert "256 px of 255" in f.message and "ignore index" in f.message
    assert f.data.to_json() == {"pixels_255": 256}


def test_na208_binary_255_with_two_classes(tmp_path: Path) -> None:
    report = scan(one_pair(tmp_path, binary_255()), ignore_index="none", num_classes=2)
    f = only(report, "NA208")
    assert "C = 2" in f.message and f.data.to_json() == {"pixels_255": 256}
    assert only(report, "NA201").data.to_json()["labels"] == {"255": 256}


def test_na208_quiet_without_ignore_and_classes(tmp_path: Path) -> None:
    report = scan(one_pair(tmp_path, binary_255()), ignore_index="none")
    assert hits(report, "NA208") == []


def test_na208_quiet_on_0_1_mask_and_on_three_values(tmp_path: Path) -> None:
    zero_one = binary_255() // 255
    three = binary_255()
    three[0, 0] = 1
    one_pair(tmp_path, zero_one, "a.png")
    one_pair(tmp_path, three, "b.png")
    report = scan(tmp_path)
    assert hits(report, "NA208") == []


# --------------------------------------------------------------------------- NA209


def boundary_mask(n_rare: int, on_boundary: bool = True) -> np.ndarray:
    """400×400: label 0 left, 2 right; n_rare isolated pixels of label 1."""
    m = np.zeros((400, 400), np.uint8)
    m[:, 200:] = 2
    col = 199 if on_boundary else 50
    for i in range(n_rare):
        m[10 + 3 * i, col] = 1
    return m


def test_na209_rare_label_on_boundary(tmp_path: Path) -> None:
    m = boundary_mask(10)  # 10 px < 0.01% × 160,000 = 16 px
    report = scan(one_pair(tmp_path, m))
    f = only(report, "NA209")
    assert f.severity is Severity.WARNING and f.path == "masks/m.png"
    assert "label 1 occur" in f.message and "boundaries" in f.message
    assert f.data.to_json() == {"labels": [1]}


def test_na209_quiet_when_rare_label_is_inside_one_region(tmp_path: Path) -> None:
    report = scan(one_pair(tmp_path, boundary_mask(10, on_boundary=False)))
    assert hits(report, "NA209") == []


def test_na209_quiet_when_label_is_not_rare(tmp_path: Path) -> None:
    report = scan(one_pair(tmp_path, boundary_mask(20)))  # 20 px > 16 px
    assert hits(report, "NA209") == []


def test_na209_rare_fraction_is_configurable(tmp_path: Path) -> None:
    m = boundary_mask(20)
    report = scan(one_pair(tmp_path, m), checks={"NA209": {"max_fraction": 0.001}})
    assert only(report, "NA209").data.to_json() == {"labels": [1]}


def test_na209_more_distinct_values_than_classes(tmp_path: Path) -> None:
    m = np.zeros((30, 60), np.uint8)
    for i, v in enumerate((0, 1, 2, 3, 4, 5)):
        m[:, i * 10 : (i + 1) * 10] = v
    report = scan(one_pair(tmp_path, m), num_classes=3)
    f = only(report, "NA209")
    assert f.severity is Severity.WARNING
    assert "6 distinct values" in f.message and "C = 3" in f.message and "at most 4" in f.message
    assert f.data.to_json() == {"distinct": 6, "num_classes": 3}


def test_na209_count_rule_quiet_at_c_plus_one(tmp_path: Path) -> None:
    m = np.zeros((30, 40), np.uint8)
    for i, v in enumerate((0, 1, 2, 255)):
        m[:, i * 10 : (i + 1) * 10] = v
    report = scan(one_pair(tmp_path, m), num_classes=3)
    assert hits(report, "NA209") == []
    assert hits(report, "NA201") == []


# --------------------------------------------------------------------------- NA210


def instance_mask() -> np.ndarray:
    """uint16, 300 distinct values 0..1000 in blocks."""
    values = np.linspace(0, 1000, 300).round().astype(np.uint16)
    assert np.unique(values).size == 300
    flat = np.repeat(values, 4)  # 1,200 px
    return flat.reshape(30, 40)


def test_na210_instance_ids_in_uint16_png(tmp_path: Path) -> None:
    arr = instance_mask()
    report = scan(one_pair(tmp_path, Image.fromarray(arr.astype(np.uint16))))
    f = only(report, "NA210")
    assert f.severity is Severity.WARNING and f.path == "masks/m.png"
    assert "300 distinct values" in f.message and "maximum 1,000" in f.message
    assert f.data.to_json() == {"distinct": 300, "max": 1000}


def test_na210_quiet_when_num_classes_admits_values(tmp_path: Path) -> None:
    report = scan(one_pair(tmp_path, Image.fromarray(instance_mask())), num_classes=2000)
    assert hits(report, "NA210") == []
    assert hits(report, "NA201") == []


def test_na210_quiet_when_num_classes_admits_all_but_the_ignore_index(tmp_path: Path) -> None:
    m = instance_mask()
    m[0, :4] = 65535  # the ignore index, above C: admitted anyway
    report = scan(one_pair(tmp_path, Image.fromarray(m)), num_classes=2000, ignore_index=65535)
    assert hits(report, "NA210") == []
    assert hits(report, "NA201") == []


def test_na210_values_above_255_with_few_distinct(tmp_path: Path) -> None:
    m = np.zeros((32, 32), np.uint16)
    m[:16] = 1000
    report = scan(one_pair(tmp_path, Image.fromarray(m)))
    assert only(report, "NA210").data.to_json() == {"distinct": 2, "max": 1000}


def test_na210_quiet_on_255_distinct_values_up_to_254(tmp_path: Path) -> None:
    m = np.repeat(np.arange(255, dtype=np.uint8), 4).reshape(30, 34)
    report = scan(one_pair(tmp_path, m), ignore_index="none")
    assert hits(report, "NA210") == []


# --------------------------------------------------------------------------- palette


def voc_palette_mask() -> Image.Image:
    idx = np.zeros((32, 32), np.uint8)
    idx[:, 8:16] = 1
    idx[:, 16:24] = 2
    idx[:, 24:] = 255  # VOC's "void" border colour
    im = Image.frombytes("P", (32, 32), idx.tobytes())  # the indices, untouched
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0, 0, 0] * 252 + [224, 224, 192]
    im.putpalette(palette)
    return im


def test_palette_mask_histogram_holds_indices(tmp_path: Path) -> None:
    im = voc_palette_mask()
    path = save(tmp_path / "masks" / "m.png", im)
    save(tmp_path / "images" / "m.png", natural_image(1, (32, 32)))
    assert Image.open(path).mode == "P"
    report = scan(tmp_path, num_classes=3)
    assert labels_of(report, "masks/m.png") == ((0, 256), (1, 256), (2, 256), (255, 256))
    # without a reader stated, a note: cv2.imread(p, 0) would read gray levels (NA211)
    assert mask_ids(report) == {"NA211"}
    assert {f.severity for f in report.findings if f.check == "NA211"} == {Severity.INFO}
    assert mask_ids(scan(tmp_path, num_classes=3, mask_reader="pillow")) == set()


@pytest.mark.parametrize("check_id", MASK_IDS)
def test_every_mask_check_is_registered(check_id: str) -> None:
    from nanaudit.checks.registry import get_check

    spec = get_check(check_id)
    assert spec is not None and spec.scope.name == "mask"
