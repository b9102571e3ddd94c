"""NIfTI volumes and multi-band / georeferenced TIFFs: real files written with nibabel,
tifffile and Pillow in tmp_path, read through the one guarded decode."""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import hits, scan
from PIL import Image, TiffImagePlugin

from nanaudit.decode import audit_file
from nanaudit.decode.georef import crs_of
from nanaudit.decode.nifti import tall
from nanaudit.records import DecodeLimits, FileKind, FileRecord
from nanaudit.severity import Severity

nib = pytest.importorskip("nibabel")
tifffile = pytest.importorskip("tifffile")

UTM33 = (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633)


def save_nifti(
    path: Path,
    data: np.ndarray,
    spacing: tuple[float, ...] = (0.8, 0.8, 2.5),
    origin: tuple[float, ...] = (0.0, 0.0, 0.0),
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = origin
    nib.save(nib.Nifti1Image(data, affine), str(path))
    return path


def audit(path: Path, kind: FileKind = FileKind.IMAGE, **limits: int) -> FileRecord:
    return audit_file(path, path.name, kind, "train", DecodeLimits(**limits))


def volume(seed: int = 0, shape: tuple[int, ...] = (24, 20, 8)) -> np.ndarray:
    return np.random.default_rng(seed).normal(100, 20, shape).astype(np.float32)


# --------------------------------------------------------------------------- NIfTI


@pytest.mark.parametrize("name", ["ct.nii", "ct.nii.gz"])
def test_nifti_volume_statistics_and_geometry(tmp_path: Path, name: str) -> None:
    data = volume()
    data[3, 4, 5] = np.nan
    data[0, 0, 0] = np.inf
    rec = audit(save_nifti(tmp_path / name, data, origin=(-10.0, 5.0, 30.0)))
    assert rec.error is None
    assert (rec.format, rec.width, rec.height, rec.shape) == ("NIfTI-1", 24, 20, (24, 20, 8))
    assert rec.pixels is not None
    (ch,) = rec.pixels.channels
    assert (ch.nan, ch.inf, ch.count) == (1, 1, 24 * 20 * 8 - 2)
    finite = data[np.isfinite(data)]
    assert ch.min == pytest.approx(float(finite.min()))
    assert ch.mean == pytest.approx(float(finite.mean(dtype=np.float64)), rel=1e-9)
    geo = rec.geometry
    assert geo is not None and geo.source == "sform" and geo.size == (24, 20, 8)
    assert geo.spacing == pytest.approx((0.8, 0.8, 2.5))
    assert geo.origin == pytest.approx((-10.0, 5.0, 30.0))


def test_tall_image_is_a_view_of_the_slices() -> None:
    arr = np.asfortranarray(np.arange(2 * 3 * 4).reshape(2, 3, 4))
    flat = tall(arr, 1)
    assert flat.shape == (4 * 3, 2) and np.shares_memory(flat, arr)
    assert np.array_equal(flat[3 * 2 : 3 * 3], arr[:, :, 2].T)  # slice z = 2, rows y, cols x
    four = np.asfortranarray(np.arange(2 * 3 * 4 * 2).reshape(2, 3, 4, 2))
    assert np.array_equal(tall(four, 2)[..., 1], tall(np.asfortranarray(four[..., 1]), 1))


def test_nifti_four_d_modalities_are_channels(tmp_path: Path) -> None:
    data = np.stack([volume(1), volume(2) * 0 + 7.0], axis=-1)  # the 2nd modality constant
    rec = audit(save_nifti(tmp_path / "brats.nii.gz", data))
    assert rec.error is None and rec.channels == 2 and rec.pixels is not None
    assert rec.pixels.channels[1].min == rec.pixels.channels[1].max == 7.0
    assert rec.pixels.channels[0].max > 100


def test_nifti_label_volume_histogram(tmp_path: Path) -> None:
    labels = np.zeros((16, 16, 6), np.uint8)
    labels[4:8, 4:8, 2:4] = 1
    labels[10:12, 10:12, :] = 2
    rec = audit(save_nifti(tmp_path / "seg.nii.gz", labels), FileKind.MASK)
    assert rec.labels is not None
    assert dict(rec.labels.histogram) == {0: 16 * 16 * 6 - 32 - 24, 1: 32, 2: 24}
    as_float = audit(save_nifti(tmp_path / "segf.nii.gz", labels.astype(np.float32)), FileKind.MASK)
    assert as_float.labels is not None and as_float.labels.histogram == rec.labels.histogram


def test_nifti_scaling_is_applied(tmp_path: Path) -> None:
    stored = np.full((8, 8, 4), 1000, np.int16)
    img = nib.Nifti1Image(stored, np.eye(4))
    img.header.set_slope_inter(2.0, -1024.0)
    path = tmp_path / "ct.nii.gz"
    nib.save(img, str(path))
    rec = audit(path)
    assert rec.pixels is not None and rec.dtype == "float32"
    assert rec.pixels.channels[0].min == rec.pixels.channels[0].max == 976.0
    assert any("scl_slope" in n for n in rec.notes)


def test_truncated_nii_gz_is_unreadable(tmp_path: Path) -> None:
    path = save_nifti(tmp_path / "cut.nii.gz", volume())
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    rec = audit(path)
    assert rec.error is not None and rec.error.check == "NA001"
    assert "truncated" in rec.error.reason


def test_truncated_nii_is_unreadable_before_reading(tmp_path: Path) -> None:
    path = save_nifti(tmp_path / "cut.nii", volume())
    path.write_bytes(path.read_bytes()[:1000])
    rec = audit(path)
    assert rec.error is not None and rec.error.check == "NA001"
    assert "header declares" in rec.error.reason


def _hostile_header(dims: tuple[int, ...]) -> bytes:
    """A NIfTI-1 header of float32 voxels declaring ``dims``, followed by a few voxels."""
    hdr = nib.Nifti1Header()
    hdr.set_data_dtype(np.float32)
    hdr["dim"][:] = 1
    hdr["dim"][0] = len(dims)
    hdr["dim"][1 : 1 + len(dims)] = dims
    hdr["vox_offset"] = 352
    return hdr.binaryblock + b"\0" * 4 + b"\0" * 4096


@pytest.mark.parametrize("gz", [False, True])
def test_header_declaring_2_to_the_40_voxels_is_oversized(tmp_path: Path, gz: bool) -> None:
    raw = _hostile_header((16384, 16384, 4096))  # 2^40 voxels, in 4 KiB
    path = tmp_path / ("bomb.nii.gz" if gz else "bomb.nii")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    rec = audit(path)
    assert rec.error is not None and rec.error.check == "NA002"
    assert "1,099,511,627,776 voxels" in rec.error.reason


def test_nifti_over_the_memory_budget_is_refused_before_reading(tmp_path: Path) -> None:
    path = save_nifti(tmp_path / "big.nii.gz", volume(shape=(64, 64, 32)))
    rec = audit(path, max_memory=256 << 10)
    assert rec.error is not None and rec.error.check == "NA002"
    assert "--max-memory" in rec.error.reason


def test_nifti_hostile_fields(tmp_path: Path) -> None:
    good = _hostile_header((4, 4, 4))
    cases = {
        "offset.nii": good[:108] + struct.pack("<f", 3e9) + good[112:],  # vox_offset 3 GB
        "pair.nii": good[:344] + b"ni1\0" + good[348:],  # a .hdr of a .hdr/.img pair
        "short.nii": good[:200],
        "text.nii": b"not a volume at all" * 40,
    }
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        rec = audit(tmp_path / name)
        assert rec.error is not None and rec.error.check == "NA001", (name, rec.error)


def test_without_nibabel_a_volume_names_the_extra(tmp_path: Path) -> None:
    path = save_nifti(tmp_path / "ct.nii.gz", volume())
    code = (
        "import sys; sys.modules['nibabel'] = None\n"  # as if nibabel were not installed
        "from pathlib import Path\n"
        "from nanaudit.decode import audit_file\n"
        "from nanaudit.records import DecodeLimits, FileKind\n"
        f"r = audit_file(Path({str(path)!r}), 'ct.nii.gz', FileKind.IMAGE, 't', DecodeLimits())\n"
        "print(r.error.check, r.error.reason)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("NA001") and "nanaudit[medical]" in out.stdout


def test_scan_of_volumes_audits_them(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for i in range(3):
        data = volume(i)
        if i == 1:
            data[:, :, 0] = np.nan
        save_nifti(root / "images" / f"case{i}.nii.gz", data)
        labels = (np.random.default_rng(i).random((24, 20, 8)) * 3).astype(np.uint8)
        save_nifti(root / "masks" / f"case{i}.nii.gz", labels)
    report = scan(root, num_classes=3)
    assert not hits(report, "NA005") and not hits(report, "NA003")
    nan = hits(report, "NA101")
    assert [f.path for f in nan] == ["images/case1.nii.gz"]


# --------------------------------------------------------------------------- GeoTIFF


def pillow_geotiff(
    path: Path,
    array: np.ndarray,
    origin: tuple[float, float] = (500000.0, 4000000.0),
    pixel: float = 10.0,
    keys: tuple[int, ...] = UTM33,
    nodata: str | None = None,
) -> Path:
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[33550] = (pixel, pixel, 0.0)
    ifd.tagtype[33550] = 12
    ifd[33922] = (0.0, 0.0, 0.0, origin[0], origin[1], 0.0)
    ifd.tagtype[33922] = 12
    ifd[34735] = keys
    ifd.tagtype[34735] = 3
    if nodata is not None:
        ifd[42113] = nodata
        ifd.tagtype[42113] = 2
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, tiffinfo=ifd)
    return path


def test_pillow_written_geotiff_georeference(tmp_path: Path) -> None:
    path = pillow_geotiff(tmp_path / "t.tif", np.zeros((32, 48), np.float32), nodata="nan")
    rec = audit(path)
    geo = rec.geometry
    assert geo is not None and geo.crs == "EPSG:32633" and geo.size == (48, 32)
    assert geo.affine == (10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)
    assert geo.spacing == (10.0, 10.0) and rec.nodata is not None and np.isnan(rec.nodata)


def test_pixel_is_point_is_moved_to_the_corner(tmp_path: Path) -> None:
    point = tuple(v if i != 11 else 2 for i, v in enumerate(UTM33))  # RasterType 2
    rec = audit(pillow_geotiff(tmp_path / "p.tif", np.zeros((8, 8), np.uint8), keys=point))
    assert rec.geometry is not None and rec.geometry.origin == (499995.0, 4000005.0)


def test_geokeys_are_bounded() -> None:
    assert crs_of((1, 1, 0, 60000, 3072, 0, 1, 4326)) == ("EPSG:4326", False)
    assert crs_of((1, 1, 0)) == ("", False)
    user = crs_of((1, 1, 0, 2, 3072, 0, 1, 32767, 3076, 0, 1, 9001))[0]
    assert user.startswith("user-defined") and "3076=9001" in user


@pytest.mark.parametrize("planar", ["separate", "contig"])
def test_multiband_tiff_through_tifffile(tmp_path: Path, planar: str) -> None:
    bands = (np.random.default_rng(0).random((12, 40, 30)) * 4000).astype(np.uint16)
    bands[3] = 0  # one empty band
    data = bands if planar == "separate" else np.moveaxis(bands, 0, -1)
    path = tmp_path / "s2.tif"
    extratags = [
        (34264, 12, 16, (10.0, 0, 0, 3e5, 0, -10.0, 0, 5e6, 0, 0, 0, 0, 0, 0, 0, 1), False),
        (34735, 3, 16, UTM33, False),
    ]
    tifffile.imwrite(path, data, photometric="minisblack", planarconfig=planar, extratags=extratags)
    rec = audit(path)
    assert rec.error is None and (rec.channels, rec.width, rec.height) == (12, 30, 40)
    assert rec.pixels is not None and rec.pixels.channels[3].max == 0
    assert rec.pixels.channels[0].max == float(bands[0].max())
    assert rec.geometry is not None and rec.geometry.origin == (3e5, 5e6)


def test_truncated_multiband_tiff_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "cut.tif"
    tifffile.imwrite(
        path, np.ones((64, 64, 5), np.float32), photometric="minisblack", planarconfig="contig"
    )
    path.write_bytes(path.read_bytes()[:20000])
    rec = audit(path)
    assert rec.error is not None and rec.error.check == "NA001"


def test_multiband_tiff_over_the_pixel_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.tif"
    tifffile.imwrite(
        path, np.ones((64, 64, 5), np.float32), photometric="minisblack", planarconfig="contig"
    )
    rec = audit(path, max_pixels=1000)
    assert rec.error is not None and rec.error.check == "NA002"


def test_without_tifffile_a_multiband_tiff_names_the_extra(tmp_path: Path) -> None:
    path = tmp_path / "s2.tif"
    tifffile.imwrite(
        path, np.ones((16, 16, 6), np.uint16), photometric="minisblack", planarconfig="contig"
    )
    code = (
        "import sys; sys.modules['tifffile'] = None\n"
        "from pathlib import Path\n"
        "from nanaudit.decode import audit_file\n"
        "from nanaudit.records import DecodeLimits, FileKind\n"
        f"r = audit_file(Path({str(path)!r}), 's2.tif', FileKind.IMAGE, 't', DecodeLimits())\n"
        "print(r.error.check, r.error.reason)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("NA001") and "nanaudit[geo]" in out.stdout


def test_declared_nodata_values_are_counted(tmp_path: Path) -> None:
    arr = np.full((16, 16), 5.0, np.float32)
    arr[:4] = -9999.0
    rec = audit(pillow_geotiff(tmp_path / "n.tif", arr, nodata="-9999"))
    assert rec.pixels is not None and rec.pixels.nodata_values == 64
    u8 = np.full((16, 16), 9, np.uint8)
    u8[:, :2] = 0
    rec8 = audit(pillow_geotiff(tmp_path / "n8.tif", u8, nodata="0"))
    assert rec8.pixels is not None and rec8.pixels.nodata_values == 32


# --------------------------------------------------------------------------- NA7xx, NA108/NA120


def nifti_pairs(root: Path, n: int = 4, seed: int = 0) -> Path:
    """A clean set of image/label volumes under root/images and root/masks."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        save_nifti(root / "images" / f"case{i}.nii.gz", volume(i), origin=(-20.0, 10.0, 5.0))
        labels = np.zeros((24, 20, 8), np.uint8)
        x, y = rng.integers(2, 12, size=2)
        labels[x : x + 8, y : y + 6, 2:6] = 1
        labels[x + 2 : x + 4, y + 2 : y + 4, 3:5] = 2
        save_nifti(root / "masks" / f"case{i}.nii.gz", labels, origin=(-20.0, 10.0, 5.0))
    return root


def serious(report, path: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.check for f in report.findings if f.path == path and f.severity is not Severity.INFO}


def test_clean_volumes_report_no_warning_or_error(tmp_path: Path) -> None:
    report = scan(nifti_pairs(tmp_path / "data"), num_classes=3)
    bad = [(f.check, f.path, f.message) for f in report.findings if f.severity is not Severity.INFO]
    assert bad == []


def test_planted_volume_geometry_defects(tmp_path: Path) -> None:
    root = nifti_pairs(tmp_path / "data", n=6)
    labels = np.zeros((24, 20, 8), np.uint8)
    labels[5:10, 5:10, 2:5] = 1
    masks = root / "masks"
    save_nifti(masks / "case0.nii.gz", labels, spacing=(0.8, 0.8, 3.0), origin=(-20.0, 10.0, 5.0))
    save_nifti(masks / "case1.nii.gz", labels, origin=(-20.0, 10.0, 5.0 + 2 * 2.5))
    save_nifti(masks / "case2.nii.gz", labels[:, :, :7], origin=(-20.0, 10.0, 5.0))
    flipped = nib.Nifti1Image(labels, np.diag([-0.8, 0.8, 2.5, 1.0]))
    flipped.affine[:3, 3] = (-20.0, 10.0, 5.0)
    nib.save(nib.Nifti1Image(labels, flipped.affine), str(masks / "case3.nii.gz"))
    save_nifti(masks / "case4.nii.gz", labels, origin=(-20.0 + 0.3, 10.0, 5.0))  # < half a voxel
    report = scan(root, num_classes=3)
    by_check = {f.check: f for f in report.findings if f.check.startswith("NA70")}
    assert {f.path for f in hits(report, "NA702")} == {"images/case0.nii.gz"}
    assert "3" in by_check["NA702"].message and by_check["NA702"].severity is Severity.ERROR
    origin = hits(report, "NA703")
    assert [f.path for f in origin] == ["images/case1.nii.gz"]
    assert "(0, 0, 2) voxels" in origin[0].message
    assert [f.path for f in hits(report, "NA701")] == ["images/case2.nii.gz"]
    assert "24×20×8 but mask grid is 24×20×7" in hits(report, "NA701")[0].message
    assert [f.path for f in hits(report, "NA704")] == ["images/case3.nii.gz"]
    assert serious(report, "images/case4.nii.gz") == set()  # 0.375 voxel: within tolerance
    assert serious(report, "images/case5.nii.gz") == set()


def geotiff_pair(
    root: Path,
    name: str,
    image: np.ndarray,
    mask: np.ndarray,
    offset: tuple[float, float] = (0.0, 0.0),
    mask_keys: tuple[int, ...] = UTM33,
    nodata: str | None = None,
) -> None:
    pillow_geotiff(root / "images" / f"{name}.tif", image, nodata=nodata)
    origin = (500000.0 + offset[0], 4000000.0 + offset[1])
    pillow_geotiff(root / "masks" / f"{name}.tif", mask, origin=origin, keys=mask_keys)


def tile(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.normal(0.3, 0.1, (48, 48)).astype(np.float32)
    mask = np.zeros((48, 48), np.uint8)
    y, x = rng.integers(4, 28, size=2)
    mask[y : y + 16, x : x + 16] = 1
    mask[y + 4 : y + 8, x + 4 : x + 8] = 2
    return image, mask


def test_clean_tiles_report_no_warning_or_error(tmp_path: Path) -> None:
    root = tmp_path / "tiles"
    for i in range(5):
        geotiff_pair(root, f"t{i}", *tile(i), nodata="-9999")  # declared, absent: info
    report = scan(root, num_classes=3)
    bad = [(f.check, f.path, f.message) for f in report.findings if f.severity is not Severity.INFO]
    assert bad == []


def test_planted_tile_defects(tmp_path: Path) -> None:
    root = tmp_path / "tiles"
    for i in range(6):
        geotiff_pair(root, f"t{i}", *tile(i))
    image, mask = tile(0)
    geotiff_pair(root, "t0", image, mask, offset=(100.0, 0.0))  # 10 px east
    wgs84 = tuple(v if v != 32633 else 32634 for v in UTM33)
    geotiff_pair(root, "t1", image, mask, mask_keys=wgs84)
    edges = image.copy()
    edges[:, :6] = np.nan  # NaN nodata over the tile's edge
    geotiff_pair(root, "t2", edges, mask, nodata="nan")
    holes = image.copy()
    holes[10, 10] = np.nan  # NaN data where the nodata value is -9999
    holes[:3] = -9999.0
    geotiff_pair(root, "t3", holes, mask, nodata="-9999")
    geotiff_pair(root, "t4", image, mask, offset=(3.0, -2.0))  # 0.3 px: within tolerance
    report = scan(root, num_classes=3)
    offset = hits(report, "NA703")
    assert [f.path for f in offset] == ["images/t0.tif"]
    assert offset[0].severity is Severity.ERROR and "(10, 0) pixels" in offset[0].message
    assert [f.path for f in hits(report, "NA705")] == ["images/t1.tif"]
    assert not hits(report, "NA703")[1:]  # t1's origins are not compared across CRSs
    nan_nodata = hits(report, "NA120")
    assert [f.path for f in nan_nodata] == ["images/t2.tif"]
    assert nan_nodata[0].severity is Severity.ERROR and "288 values" in nan_nodata[0].message
    assert [f.path for f in hits(report, "NA101")] == ["images/t3.tif"]  # NaN data, apart
    assert "1 NaN values" in hits(report, "NA101")[0].message
    declared = [f for f in hits(report, "NA108") if f.path == "images/t3.tif"]
    assert declared and "144 values hold it" in declared[0].message
    assert declared[0].severity is Severity.WARNING
    assert serious(report, "images/t4.tif") == set()
    assert serious(report, "images/t5.tif") == set()


def test_multiband_pair_offset_by_ten_pixels(tmp_path: Path) -> None:
    root = tmp_path / "s2"
    bands = (np.random.default_rng(1).random((6, 32, 32)) * 3000).astype(np.uint16)
    for i, east in enumerate((0.0, 100.0)):
        transform = (10.0, 0, 0, 3e5, 0, -10.0, 0, 5e6, 0, 0, 0, 0, 0, 0, 0, 1)
        tifffile.imwrite(
            root / "images" / f"s{i}.tif"
            if (root / "images").mkdir(parents=True, exist_ok=True) is None
            else "",
            bands,
            photometric="minisblack",
            planarconfig="separate",
            extratags=[(34264, 12, 16, transform, False), (34735, 3, 16, UTM33, False)],
        )
        _, mask = tile(i)
        keep = (0.0, 0.0, 0.0, 3e5 + east, 5e6, 0.0)
        (root / "masks").mkdir(exist_ok=True)
        ifd = TiffImagePlugin.ImageFileDirectory_v2()
        ifd[33550], ifd.tagtype[33550] = (10.0, 10.0, 0.0), 12
        ifd[33922], ifd.tagtype[33922] = keep, 12
        ifd[34735], ifd.tagtype[34735] = UTM33, 3
        Image.fromarray(mask[:32, :32]).save(root / "masks" / f"s{i}.tif", tiffinfo=ifd)
    report = scan(root, num_classes=3)
    assert [f.path for f in hits(report, "NA703")] == ["images/s1.tif"]


# --------------------------------------------------------------------------- layouts


def decathlon(root: Path, cases: int = 4, channels: int = 2) -> Path:
    """An nnU-Net-shaped dataset: imagesTr/case_000N_000C.nii.gz, labelsTr/, imagesTs/ and
    a dataset.json naming 3 labels."""
    rng = np.random.default_rng(0)
    for i in range(cases):
        for c in range(channels):
            save_nifti(root / "imagesTr" / f"case_{i:03d}_{c:04d}.nii.gz", volume(10 * i + c))
        labels = np.zeros((24, 20, 8), np.uint8)
        x, y = rng.integers(2, 12, size=2)
        labels[x : x + 8, y : y + 6, 2:6] = 1
        labels[x + 2 : x + 4, y + 2 : y + 4, 3:5] = 2
        save_nifti(root / "labelsTr" / f"case_{i:03d}.nii.gz", labels)
    for c in range(channels):
        save_nifti(root / "imagesTs" / f"case_100_{c:04d}.nii.gz", volume(500 + c))
    catalogue = {
        "channel_names": {str(c): f"MR{c}" for c in range(channels)},
        "labels": {"background": 0, "edema": 1, "tumour": 2},
        "numTraining": cases,
        "file_ending": ".nii.gz",
    }
    (root / "dataset.json").write_text(json.dumps(catalogue))
    return root


def test_clean_decathlon_dataset_reports_no_warning_or_error(tmp_path: Path) -> None:
    report = scan(decathlon(tmp_path / "Dataset001_Brain"))
    assert report.layout == "decathlon"
    bad = [(f.check, f.path, f.message) for f in report.findings if f.severity is not Severity.INFO]
    assert bad == []
    assert sum(1 for f in report.files if f.kind is FileKind.IMAGE) == 10  # 4 × 2 channels + 2


def test_decathlon_catalogue_and_planted_defects(tmp_path: Path) -> None:
    root = decathlon(tmp_path / "Task01", cases=5)
    (root / "imagesTr" / "case_002_0001.nii.gz").unlink()  # a modality missing
    labels = np.zeros((24, 20, 8), np.uint8)
    labels[2:6, 2:6, 2:4] = 3  # not in dataset.json's labels
    save_nifti(root / "labelsTr" / "case_003.nii.gz", labels)
    report = scan(root)
    channels = hits(report, "NA707")
    assert [f.path for f in channels] == ["imagesTr/case_002_0000.nii.gz"]
    assert channels[0].severity is Severity.ERROR and "missing channel 0001" in channels[0].message
    out_of_range = hits(report, "NA201")
    assert [f.path for f in out_of_range] == ["labelsTr/case_003.nii.gz"]


def test_original_decathlon_four_d_files(tmp_path: Path) -> None:
    root = tmp_path / "Task01_BrainTumour"
    for i in range(3):
        data = np.stack([volume(i), volume(i + 10)], axis=-1)
        save_nifti(root / "imagesTr" / f"BRATS_{i:03d}.nii.gz", data)
        labels = np.zeros((24, 20, 8), np.uint8)
        labels[4:9, 4:9, 2:5] = 1 + i % 2
        save_nifti(root / "labelsTr" / f"BRATS_{i:03d}.nii.gz", labels)
    (root / "dataset.json").write_text(
        json.dumps({"labels": {"0": "background", "1": "a", "2": "b"}})
    )
    report = scan(root)
    assert report.layout == "decathlon" and len(report.files) == 6
    assert not [f for f in report.findings if f.severity is not Severity.INFO]


@pytest.mark.parametrize(
    "text",
    [
        "{" * 100_000,  # nesting deeper than the parser's recursion
        json.dumps({"labels": {str(i): "x" for i in range(5000)}}),
        json.dumps({"labels": {"background": 0, "huge": 10**12}}),
        "x" * (2 << 20),
    ],
)
def test_hostile_dataset_json_is_a_one_line_error(tmp_path: Path, text: str) -> None:
    from click.testing import CliRunner

    from nanaudit.cli import cli

    root = decathlon(tmp_path / "Task02", cases=2, channels=1)
    (root / "dataset.json").write_text(text)
    result = CliRunner().invoke(cli, ["scan", str(root), "--no-cache", "--no-progress"])
    assert result.exit_code == 2, result.output
    assert "dataset.json" in result.stderr and "Traceback" not in result.stderr


def test_decathlon_normalize_constants_and_class_weights_per_channel(tmp_path: Path) -> None:
    root = tmp_path / "Task03"
    rng = np.random.default_rng(3)
    for i in range(3):  # Decathlon originals: the modalities are the 4-D file's channels
        data = np.stack([volume(i), volume(i + 10) * 10], axis=-1)
        save_nifti(root / "imagesTr" / f"case_{i:03d}.nii.gz", data)
        labels = np.zeros((24, 20, 8), np.uint8)
        x, y = rng.integers(2, 12, size=2)
        labels[x : x + 8, y : y + 6, 2:6] = 1
        labels[x + 2 : x + 4, y + 2 : y + 4, 3:5] = 2
        save_nifti(root / "labelsTr" / f"case_{i:03d}.nii.gz", labels)
    (root / "dataset.json").write_text(json.dumps({"labels": {"0": "bg", "1": "a", "2": "b"}}))
    report = scan(root)
    train = next(s for s in report.splits if s.name == "train")
    assert train.training is not None and train.training.normalize is not None
    norm = train.training.normalize
    assert norm.mean == pytest.approx((100.0, 1000.0), rel=0.01)
    assert norm.std == pytest.approx((20.0, 200.0), rel=0.02)
    weights = dict(train.training.class_weights)
    assert set(weights) == {0, 1, 2} and all(math.isfinite(w) and w > 0 for w in weights.values())
    assert weights[2] > weights[1] > weights[0]  # the rarest class weighs most


def test_html_report_shows_a_volume_s_middle_slice(tmp_path: Path) -> None:
    data = np.zeros((24, 20, 8), np.float32)
    data[:, :, 4] = 500.0  # only the middle slice is bright
    path = save_nifti(tmp_path / "v.nii.gz", data)
    rec = audit_file(path, "v.nii.gz", FileKind.IMAGE, "t", DecodeLimits(), visual=True)
    assert rec.visual is not None and (rec.visual.width, rec.visual.height) == (24, 20)
    thumb = np.asarray(Image.open(io.BytesIO(rec.visual.thumb)).convert("L"))
    assert thumb.mean() > 200  # the bright slice, not the tall stack of dark ones


def test_nii_gz_of_concatenated_members(tmp_path: Path) -> None:
    """gzip -c a b > c (and bgzip) write several members: read as one stream."""
    plain = save_nifti(tmp_path / "v.nii", volume())
    raw = plain.read_bytes()
    path = tmp_path / "multi.nii.gz"
    path.write_bytes(gzip.compress(raw[:5000]) + gzip.compress(raw[5000:]))
    rec, ref = audit(path), audit(plain)
    assert rec.error is None and rec.pixels == ref.pixels


def test_nnunet_channel_files_get_normalize_constants_per_modality(tmp_path: Path) -> None:
    root = decathlon(tmp_path / "Dataset004", cases=3, channels=1)  # channel 0000: ~N(100, 20)
    for i in range(3):  # channel 0001, another modality on another scale
        save_nifti(root / "imagesTr" / f"case_{i:03d}_0001.nii.gz", volume(i) * 10)
    report = scan(root)
    train = next(s for s in report.splits if s.name == "train")
    groups = {g.family: g for g in train.image_groups}
    assert set(groups) == {"gray channel 0000", "gray channel 0001"}
    assert groups["gray channel 0000"].channels[0].mean == pytest.approx(100, rel=0.01)
    assert groups["gray channel 0001"].channels[0].mean == pytest.approx(1000, rel=0.01)
    assert train.training is not None and train.training.normalize is not None
    assert train.training.normalize.mean == pytest.approx((100,), rel=0.01)  # not mixed
    assert not [f for f in report.findings if f.severity is not Severity.INFO]


# --------------------------------------------------------------------------- nnU-Net's CT clip


def ct_decathlon(root: Path, cases: int = 4, catalogue: bool = True) -> Path:
    """CT cases in Hounsfield units (int16): air at -1000 around a body of soft tissue, a
    liver (label 1) and a tumour (label 2) of different sizes per case."""
    rng = np.random.default_rng(7)
    for i in range(cases):
        image = np.full((24, 20, 8), -1000.0)
        image[2:22, 2:18, :] = rng.normal(40, 30, (20, 16, 8))
        labels = np.zeros((24, 20, 8), np.uint8)
        x = 4 + i
        labels[x : x + 6 + 2 * i, 4:14, 1:7] = 1
        labels[x + 1 : x + 3, 6:9, 3:5] = 2
        image[labels == 1] = rng.normal(100 + 10 * i, 20, int((labels == 1).sum()))
        image[labels == 2] = rng.normal(60, 15, int((labels == 2).sum()))
        image[0, 0, 0] = 2000  # a bone-bright voxel outside the labels: not foreground
        save_nifti(
            root / "imagesTr" / f"liver_{i:03d}_0000.nii.gz", np.rint(image).astype(np.int16)
        )
        save_nifti(root / "labelsTr" / f"liver_{i:03d}.nii.gz", labels)
    if catalogue:
        (root / "dataset.json").write_text(
            json.dumps(
                {"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1, "tumour": 2}}
            )
        )
    return root


def _foreground_by_case(root: Path) -> list[np.ndarray]:
    out = []
    for label_path in sorted((root / "labelsTr").iterdir()):
        case = label_path.name.removesuffix(".nii.gz")
        image = np.asanyarray(nib.load(str(root / "imagesTr" / f"{case}_0000.nii.gz")).dataobj)
        labels = np.asanyarray(nib.load(str(label_path)).dataobj)
        out.append(image[labels > 0].astype(np.float64))
    return out


def _equal_weight_percentile(cases: list[np.ndarray], q: float) -> float:
    """The inverted-CDF percentile of the cases' values, each case weighing the same."""
    values = np.concatenate(cases)
    weights = np.concatenate([np.full(c.size, 1 / c.size) for c in cases])
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q / 100 * cum[-1] - 1e-12)])


def _ct_clip(report):  # type: ignore[no-untyped-def]
    train = next(s for s in report.splits if s.name == "train")
    assert train.training is not None and train.training.normalize is not None
    return train.training.normalize.nnunet_ct


def test_ct_volumes_get_nnunets_clipping_range_from_their_foreground(tmp_path: Path) -> None:
    root = ct_decathlon(tmp_path / "Dataset003_Liver", catalogue=False)  # Hounsfield-like
    clip = _ct_clip(scan(root))
    cases = _foreground_by_case(root)
    assert clip is not None and clip.cases == 4 and clip.voxels == sum(c.size for c in cases)
    # each case weighs the same (their foreground sizes differ 3:1)
    assert clip.mean[0] == pytest.approx(np.mean([c.mean() for c in cases]), rel=1e-9)
    second = np.mean([c.var() + c.mean() ** 2 for c in cases])
    assert clip.std[0] == pytest.approx(math.sqrt(second - clip.mean[0] ** 2), rel=1e-9)
    # integer HU: the histogram's 1-HU bins give the percentiles of the values themselves
    assert clip.lo[0] == pytest.approx(_equal_weight_percentile(cases, 0.5), abs=1.0)
    assert clip.hi[0] == pytest.approx(_equal_weight_percentile(cases, 99.5), abs=1.0)
    assert clip.hi[0] < 2000  # the bright voxel outside the labels is not foreground


def test_ct_clip_agrees_with_nnunets_own_sampling(tmp_path: Path) -> None:
    """nnU-Net's fingerprint (collect_foreground_intensities): per case the same number of
    foreground voxels drawn with replacement, then np.percentile, mean and std of them all."""
    root = ct_decathlon(tmp_path / "Dataset003_Liver")
    clip = _ct_clip(scan(root))
    rs = np.random.RandomState(1234)
    drawn = np.concatenate([rs.choice(c, 200_000, replace=True) for c in _foreground_by_case(root)])
    assert clip is not None
    assert clip.lo[0] == pytest.approx(np.percentile(drawn, 0.5), abs=2.0)
    assert clip.hi[0] == pytest.approx(np.percentile(drawn, 99.5), abs=2.0)
    assert clip.mean[0] == pytest.approx(drawn.mean(), abs=0.3)
    assert clip.std[0] == pytest.approx(drawn.std(), abs=0.3)


def test_mr_volumes_get_no_ct_clip_unless_dataset_json_says_ct(tmp_path: Path) -> None:
    root = decathlon(tmp_path / "Dataset001_Brain", cases=3, channels=1)  # MR0, values ~ 100
    assert _ct_clip(scan(root)) is None
    catalogue = json.loads((root / "dataset.json").read_text())
    catalogue["channel_names"] = {"0": "CT"}
    (root / "dataset.json").write_text(json.dumps(catalogue))
    clip = _ct_clip(scan(root))
    assert clip is not None and clip.cases == 3 and 40 < clip.mean[0] < 160


def test_ct_clip_follows_a_changed_label_through_the_cache(tmp_path: Path) -> None:
    root = ct_decathlon(tmp_path / "Dataset003_Liver", cases=2)
    cache = tmp_path / "cache"
    first = _ct_clip(scan(root, cache_dir=cache))
    labels = np.zeros((24, 20, 8), np.uint8)
    labels[0:2, 0:2, 0:2] = 1  # now over the air and the bright voxel
    save_nifti(root / "labelsTr" / "liver_000.nii.gz", labels)
    second = _ct_clip(scan(root, cache_dir=cache))
    assert first is not None and second is not None
    assert second.lo[0] == -1000 and second.hi[0] == 2000 and first.lo[0] > -1000


def test_ct_clip_is_in_every_format(tmp_path: Path) -> None:
    from nanaudit.formats import Format, render

    report = scan(ct_decathlon(tmp_path / "Dataset003_Liver", cases=2))
    data = json.loads(render(report, Format.JSON))
    ct = data["splits"]["train"]["summary"]["normalize"]["nnunet_ct"]
    assert ct["cases"] == 2 and "CTNormalization" in ct["scheme"]
    assert "nnU-Net CT" in render(report, Format.RICH)
    assert "ct_clip_0 = (" in render(report, Format.HTML)


# --------------------------------------------------------------------------- band composites


def sentinel2_tile(path: Path, count: int = 13, seed: int = 0) -> np.ndarray:
    """A count-band uint16 raster: band 4 bright on the left half, band 3 on the top half,
    band 2 everywhere dim but for one very bright pixel (a glint), the other bands noise."""
    rng = np.random.default_rng(seed)
    bands = rng.integers(0, 3000, (count, 40, 60)).astype(np.uint16)
    bands[3] = 200
    bands[3][:, :30] = 3000  # B04 (red): the left half
    bands[2] = 200
    bands[2][:20] = 3000  # B03 (green): the top half
    bands[1] = 500
    bands[1][0, 0] = 60000  # B02 (blue): a glint a min-max stretch would darken the rest by
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(
        path, np.moveaxis(bands, 0, -1), photometric="minisblack", planarconfig="contig"
    )
    return bands


def _thumb(path: Path, bands: tuple[int, int, int] | None = None) -> tuple[np.ndarray, str]:
    rec = audit_file(path, path.name, FileKind.IMAGE, "t", DecodeLimits(), visual=True, bands=bands)
    assert rec.visual is not None
    return np.asarray(Image.open(io.BytesIO(rec.visual.thumb)).convert("RGB")).astype(
        int
    ), rec.visual.stretch


def test_a_sentinel2_raster_is_shown_in_true_colour_with_a_percentile_stretch(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s2.tif"
    sentinel2_tile(path)
    rgb, stretch = _thumb(path)
    assert "bands 4, 3, 2 of 13" in stretch and "Sentinel-2" in stretch and "98th" in stretch
    left_top, right_bottom = rgb[5, 5], rgb[35, 55]
    assert left_top[0] > 200 and left_top[1] > 200  # red and green where B04 and B03 are
    assert right_bottom[0] < 50 and right_bottom[1] < 50
    # blue: 500 everywhere but the glint; its 2nd..98th percentiles are both 500, so the
    # plane is flat, not darkened to nothing by the glint's 60000
    assert abs(rgb[35, 55, 2] - rgb[5, 55, 2]) < 30


def test_bands_option_picks_the_composite_and_falls_back_beyond_the_band_count(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s2.tif"
    sentinel2_tile(path)
    rgb, stretch = _thumb(path, (3, 4, 4))  # green band as red, red band as green and blue
    assert "bands 3, 4, 4 of 13" in stretch and "--bands" in stretch
    assert rgb[5, 55][0] > 200 and rgb[35, 5][1] > 200  # top right: B03; bottom left: B04
    four = tmp_path / "rgbn.tif"
    sentinel2_tile(four, count=4)
    _, fallback = _thumb(four, (8, 4, 3))
    assert "bands 1, 2, 3 of 4" in fallback and "more than its 4 bands" in fallback


def test_html_report_pictures_a_13_band_tile_and_takes_bands(tmp_path: Path) -> None:
    import nanaudit
    from nanaudit.formats import Format, render

    root = tmp_path / "tiles"
    (root / "masks").mkdir(parents=True)
    for i in range(3):
        sentinel2_tile(root / "images" / f"t{i}.tif", seed=i)
        mask = np.zeros((40, 60), np.uint8)
        mask[5:20, 5:30] = 1
        mask[0, 0] = 7  # out of range with 2 classes: a finding, whose pictures the page shows
        Image.fromarray(mask).save(root / "masks" / f"t{i}.png")
    html = render(nanaudit.scan(root, num_classes=2, format="html"), Format.HTML)
    assert "bands 4, 3, 2 of 13 as red, green, blue" in html
    html = render(nanaudit.scan(root, num_classes=2, format="html", bands=(5, 6, 7)), Format.HTML)
    assert "bands 5, 6, 7 of 13" in html


@pytest.mark.parametrize("value", ["4,3", "0,1,2", "4,3,99", "red,green,blue"])
def test_bands_out_of_bounds_is_a_one_line_usage_error(tmp_path: Path, value: str) -> None:
    from click.testing import CliRunner

    from nanaudit.cli import cli

    result = CliRunner().invoke(cli, ["scan", str(tmp_path), "--bands", value, "--no-cache"])
    assert result.exit_code == 2, result.output
    assert "bands" in result.stderr and "Traceback" not in result.stderr


def test_ct_clip_of_two_shards_merged_is_the_whole_scan_s(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from nanaudit.cli import cli

    root = ct_decathlon(tmp_path / "Dataset003_Liver", cases=5)
    runner = CliRunner()
    whole = runner.invoke(cli, ["scan", str(root), "--no-cache", "--format", "json"])
    parts = [str(tmp_path / f"p{i}.json") for i in (1, 2)]
    for i, part in enumerate(parts, 1):
        shard = runner.invoke(
            cli, ["scan", str(root), "--no-cache", "--shard", f"{i}/2", "-o", f"partial:{part}"]
        )
        assert shard.exit_code == 0, shard.stderr
    merged = runner.invoke(cli, ["merge", *parts, "--format", "json"])
    assert whole.exit_code == merged.exit_code == 0, merged.stderr

    def clip(text: str) -> dict:  # type: ignore[type-arg]
        return json.loads(text)["splits"]["train"]["summary"]["normalize"]["nnunet_ct"]  # type: ignore[no-any-return]

    assert clip(whole.stdout)["cases"] == 5 and clip(merged.stdout) == clip(whole.stdout)


@pytest.mark.parametrize(
    ("catalogue", "expected"),
    [
        ({"modality": {"0": "CT"}}, {0}),  # the Decathlon's key
        ({"channel_names": {"0": "ct", "1": "PET"}}, {0}),  # nnU-Net v2's, any case
        ({"channel_names": {"0": "T1", "1": "T2"}}, set()),
        ({"modality": ["CT"]}, set()),  # not a mapping: nothing declared
        ({"modality": {"x": "CT", "99999": "CT"}}, set()),  # not channel numbers
    ],
)
def test_dataset_json_declares_the_ct_channels(
    tmp_path: Path,
    catalogue: dict,
    expected: set[int],  # type: ignore[type-arg]
) -> None:
    from nanaudit.layouts.volumes import ct_channels

    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(catalogue))
    assert ct_channels(path) == expected
