"""Real examples for the check pages: small datasets and pipelines, audited for real.

Each scenario says what it audits and how; the first finding of a check in the first
scenario where the check fires is that check's example, quoted as nanaudit reports it.
The datasets are written with numpy and Pillow into a temporary folder, the pipelines are
plain functions of numpy arrays whose source the page shows. Nothing here is hand-written
output: when a check's wording or threshold changes, the example follows (and the
docs test asks for the pages to be regenerated).
"""

from __future__ import annotations

import inspect
import json
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DATA = REPO / "sample_data"
WIDTH = 76  # the site's code blocks show about 80 columns


# --------------------------------------------------------------------------- scans


@dataclass(frozen=True)
class ScanScenario:
    """``nanaudit scan`` run on a dataset; ``args`` are the command's as shown."""

    intro: str
    dataset: str  # "sample_data", or a builder's name below
    args: tuple[str, ...] = ()


def _save(path: Path, array: np.ndarray, **kw: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kw)


def _noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def _picture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth picture with a few blobs: structure a perceptual hash can see."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    out = 60 + 40 * np.sin(x / 7) + 30 * np.cos(y / 5)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(4, 12)
        out = np.where((y - cy) ** 2 + (x - cx) ** 2 < r * r, 220.0, out)
    return np.repeat(np.clip(out, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _labels(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Labels 0-2 in the quadrants (class 3 is the rare one, on one pixel of one mask)."""
    mask = np.zeros((h, w), np.uint8)
    mask[: h // 2, w // 2 :] = 1
    mask[h // 2 :, :] = 2
    return mask


def synthetic(root: Path) -> None:
    """A dataset of 64x64 pairs in images/{train,val} + masks/{train,val}, C = 4 (its
    nanaudit.toml), with one defect per file where the name says which."""
    rng = np.random.default_rng(0)
    (root / "nanaudit.toml").parent.mkdir(parents=True, exist_ok=True)
    (root / "nanaudit.toml").write_text("num_classes = 4\n")
    img, msk = root / "images", root / "masks"
    for k in range(8):
        _save(img / "train" / f"clean_{k}.png", _noise(rng, 64, 64))
        _save(msk / "train" / f"clean_{k}.png", _labels(rng, 64, 64))
    for k in range(3):
        _save(img / "val" / f"val_{k}.png", _noise(rng, 64, 64))
        _save(msk / "val" / f"val_{k}.png", _labels(rng, 64, 64))
    (root / "classes.txt").write_text("background\nroad\ncar\nsky\n")

    def pair(name: str, image: np.ndarray | None, mask: np.ndarray | None = None) -> None:
        if image is not None:
            _save(
                img / "train" / f"{name}.tif"
                if image.dtype == np.float32
                else img / "train" / f"{name}.png",
                image,
            )
        _save(msk / "train" / f"{name}.png", _labels(rng, 64, 64) if mask is None else mask)

    (img / "train").mkdir(parents=True, exist_ok=True)
    (img / "train" / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    _save(msk / "train" / "truncated.png", _labels(rng, 64, 64))
    inf = rng.random((64, 64), dtype=np.float32)
    inf[3, 5] = np.inf
    pair("inf_float", inf)
    overflow = rng.random((64, 64), dtype=np.float32)
    overflow[10:12, 10:12] = 70000.0
    pair("fp16_overflow", overflow)
    nodata = rng.random((64, 64), dtype=np.float32)
    nodata[:8] = -9999.0
    pair("nodata", nodata)
    flat = np.full((64, 64, 3), 100, np.uint8) + rng.integers(0, 2, (64, 64, 3), dtype=np.uint8)
    pair("low_variance", flat)
    zeros = np.zeros((64, 64, 3), np.uint8)
    zeros[:2, :30] = 200
    pair("mostly_zero", zeros)
    pair("dark", rng.integers(0, 40, (64, 64, 3), dtype=np.uint8))
    pair("bright", rng.integers(250, 256, (64, 64, 3), dtype=np.uint8))
    pair("odd_size", _noise(rng, 64, 16), _labels(rng, 64, 16))
    ignore = np.full((64, 64), 255, np.uint8)
    ignore[:2, :10] = 1
    pair("mostly_ignore", _noise(rng, 64, 64), ignore)
    fractional = _labels(rng, 64, 64).astype(np.float32)
    fractional[20:24, 20:24] = 1.5
    _save(img / "train" / "float_mask.png", _noise(rng, 64, 64))
    _save(msk / "train" / "float_mask.tif", fractional)
    instances = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) // 8) + 256
    pair("instance_ids", _noise(rng, 64, 64), instances)
    large = _labels(rng, 512, 512)  # class 3 on one pixel of 262,144
    large[0, 0] = 3
    _save(img / "train" / "rare_class.png", _noise(rng, 512, 512))
    _save(msk / "train" / "rare_class.png", large)
    copy = _noise(rng, 64, 64)
    pair("copy_a", copy)
    pair("copy_b", copy)
    leaked = _noise(rng, 64, 64)
    pair("leaked", leaked)
    _save(img / "val" / "leaked.png", leaked)
    _save(msk / "val" / "leaked.png", _labels(rng, 64, 64))
    photo = _picture(rng, 64, 64)
    pair("photo", photo)
    _save(img / "val" / "photo_reencoded.jpg", photo, quality=60)
    _save(msk / "val" / "photo_reencoded.png", _labels(rng, 64, 64))
    (img / "test").mkdir(parents=True, exist_ok=True)
    (img / "test" / "README.txt").write_text("the test images were never exported\n")


VOC_PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128, 128, 0, 128]


def _palette_mask(path: Path, labels: np.ndarray, palette: list[int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(labels, "P")
    im.putpalette(palette)
    im.save(path)


def readers(root: Path) -> None:
    """A dataset of 32x32 pairs whose masks are read differently by different loaders
    (palette PNGs, an RGBA and an LA mask, an RGB colour mask, a swapped palette), an image
    with a dead band, and a val split of CMYK JPEGs; C = 4 (its nanaudit.toml)."""
    rng = np.random.default_rng(1)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    (root / "nanaudit.toml").write_text("num_classes = 4\n")
    img, msk = root / "images", root / "masks"
    labels = _labels(rng, 32, 32)
    for k in range(4):
        _save(img / "train" / f"clean_{k}.png", _noise(rng, 32, 32))
        _palette_mask(msk / "train" / f"clean_{k}.png", labels, VOC_PALETTE)
    swapped = list(VOC_PALETTE)
    swapped[3:6], swapped[6:9] = VOC_PALETTE[6:9], VOC_PALETTE[3:6]
    _save(img / "train" / "palette_differs.png", _noise(rng, 32, 32))
    _palette_mask(msk / "train" / "palette_differs.png", labels, swapped)
    _save(img / "train" / "reader_changes_labels.png", _noise(rng, 32, 32))
    _palette_mask(msk / "train" / "reader_changes_labels.png", labels, VOC_PALETTE)
    colours = np.array(VOC_PALETTE, np.uint8).reshape(-1, 3)
    _save(img / "train" / "palette_and_colour_masks.png", _noise(rng, 32, 32))
    _save(msk / "train" / "palette_and_colour_masks.png", colours[labels])
    alpha = np.full((32, 32), 255, np.uint8)
    _save(img / "train" / "reader_dependent_mask.png", _noise(rng, 32, 32))
    _save(msk / "train" / "reader_dependent_mask.png", np.dstack([labels] * 3 + [alpha]))
    _save(img / "train" / "mask_not_2d.png", _noise(rng, 32, 32))
    Image.merge("LA", (Image.fromarray(labels), Image.fromarray(alpha))).save(
        msk / "train" / "mask_not_2d.png"
    )
    big = np.zeros((24, 24), np.uint8)  # labels 2 and 0 side by side, resized smoothly
    big[3:18, 2:13] = 2
    big[9:22, 15:23] = 1
    smooth = np.asarray(Image.fromarray(big).resize((32, 32), Image.Resampling.BILINEAR))
    _save(img / "train" / "smoothly_resized_mask.png", _noise(rng, 32, 32))
    _save(msk / "train" / "smoothly_resized_mask.png", smooth)
    # macOS's AppleDouble companion of a file copied from a Mac: a hidden ._ file
    appledouble = b"\x00\x05\x16\x07\x00\x02\x00\x00" + b"Mac OS X        " + bytes(60)
    (img / "train" / "._hidden_image_files.png").write_bytes(appledouble)
    dead = _noise(rng, 32, 32)
    dead[..., 2] = 17
    _save(img / "train" / "constant_channel.png", dead)
    _save(msk / "train" / "constant_channel.png", labels)
    for k in range(2):
        cmyk = Image.fromarray(_noise(rng, 32, 32)).convert("CMYK")
        (img / "val").mkdir(parents=True, exist_ok=True)
        cmyk.save(img / "val" / f"cmyk_{k}.jpg", quality=90)
        _save(msk / "val" / f"cmyk_{k}.png", labels)


def instances(root: Path) -> None:
    """Four 64x64 pairs whose masks number their objects 1..N (N = 16 to 22)."""
    rng = np.random.default_rng(2)
    for k, n in enumerate((16, 18, 20, 22)):
        mask = np.zeros((64, 64), np.uint8)
        for i in range(n):
            y, x = divmod(i, 6)
            mask[y * 10 + 1 : y * 10 + 8, x * 10 + 1 : x * 10 + 8] = i + 1
        _save(root / "images" / f"instance_numbered_masks_{k}.png", _noise(rng, 64, 64))
        _save(root / "masks" / f"instance_numbered_masks_{k}.png", mask)


UTM33N = (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 32633)


def volumes(root: Path) -> None:
    """An nnU-Net-shaped dataset of NIfTI volumes (imagesTr/case_0000.nii.gz, labelsTr/,
    dataset.json) with one geometry defect per case, and GeoTIFF tiles beside it in
    tiles/images + tiles/masks (written with nibabel and Pillow)."""
    import importlib

    from PIL import TiffImagePlugin

    nib: Any = importlib.import_module("nibabel")  # nanaudit[medical]; untyped

    rng = np.random.default_rng(0)

    def nifti(path: Path, data: np.ndarray, spacing: float = 1.0, z: float = 0.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        affine = np.diag([1.0, 1.0, spacing, 1.0])
        affine[2, 3] = z
        nib.save(nib.Nifti1Image(data, affine), str(path))

    labels = np.zeros((32, 32, 8), np.uint8)
    labels[8:20, 8:20, 2:6] = 1
    labels[12:16, 12:16, 3:5] = 2
    for case in ("clean", "spacing_mismatch", "origin_mismatch", "grid_mismatch"):
        for channel in (0, 1):
            scan = rng.normal(100, 20, (32, 32, 8)).astype(np.float32)
            nifti(root / "imagesTr" / f"{case}_{channel:04d}.nii.gz", scan)
        mask = labels[:, :, :6] if case == "grid_mismatch" else labels
        spacing = 1.5 if case == "spacing_mismatch" else 1.0
        nifti(
            root / "labelsTr" / f"{case}.nii.gz", mask, spacing, 3.0 * (case == "origin_mismatch")
        )
    scan = rng.normal(100, 20, (32, 32, 8)).astype(np.float32)
    nifti(root / "imagesTr" / "channels_per_case_0000.nii.gz", scan)  # its _0001 is missing
    nifti(root / "labelsTr" / "channels_per_case.nii.gz", labels)
    flipped = nib.Nifti1Image(labels, np.diag([-1.0, 1.0, 1.0, 1.0]))
    for channel in (0, 1):
        scan = rng.normal(100, 20, (32, 32, 8)).astype(np.float32)
        nifti(root / "imagesTr" / f"direction_mismatch_{channel:04d}.nii.gz", scan)
    nib.save(flipped, str(root / "labelsTr" / "direction_mismatch.nii.gz"))
    catalogue = '{"labels": {"background": 0, "liver": 1, "tumour": 2}, "file_ending": ".nii.gz"}'
    (root / "dataset.json").write_text(catalogue)

    tiles = root.parent / "tiles"

    def geotiff(
        path: Path, array: np.ndarray, east: float, keys: tuple[int, ...], **tags: str
    ) -> None:
        ifd = TiffImagePlugin.ImageFileDirectory_v2()
        ifd[33550], ifd.tagtype[33550] = (10.0, 10.0, 0.0), 12
        ifd[33922], ifd.tagtype[33922] = (0.0, 0.0, 0.0, 500000.0 + east, 4e6, 0.0), 12
        ifd[34735], ifd.tagtype[34735] = keys, 3
        if "nodata" in tags:
            ifd[42113], ifd.tagtype[42113] = tags["nodata"], 2
        _save(path, array, tiffinfo=ifd)

    tile_mask = np.zeros((48, 48), np.uint8)
    tile_mask[10:30, 10:30] = 1
    other_crs = tuple(32634 if v == 32633 else v for v in UTM33N)
    for name, east, keys in (
        ("clean", 0.0, UTM33N),
        ("origin_mismatch", 100.0, UTM33N),
        ("crs_mismatch", 0.0, other_crs),
        ("nan_nodata", 0.0, UTM33N),
    ):
        band = rng.normal(0.3, 0.05, (48, 48)).astype(np.float32)
        nodata = {}
        if name == "nan_nodata":
            band[:, :6] = np.nan
            nodata = {"nodata": "nan"}
        geotiff(tiles / "images" / f"{name}.tif", band, 0.0, UTM33N, **nodata)
        geotiff(tiles / "masks" / f"{name}.tif", tile_mask, east, keys)
    band = rng.normal(0.3, 0.05, (48, 48)).astype(np.float32)
    geotiff(tiles / "images" / "georeference_missing.tif", band, 0.0, UTM33N)
    _save(tiles / "masks" / "georeference_missing.png", tile_mask)


BUILDERS: dict[str, Callable[[Path], None]] = {
    "data": synthetic,
    "readers": readers,
    "instances": instances,
    "volumes": volumes,
}
READERS_INTRO = (
    "A small dataset whose files different loaders read differently, written by "
    "`nanaudit/docexamples.py` (palette masks, one with another palette, an RGBA, an LA and "
    "an RGB colour mask, a bilinear-resized mask, an image with a dead band, an AppleDouble "
    "`._` file, a val split "
    "of CMYK JPEGs; C = 4)"
)
VOLUMES_INTRO = (
    "An nnU-Net-shaped dataset of NIfTI volumes with one geometry defect per case, written "
    "by `nanaudit/docexamples.py` with nibabel"
)
TILES_INTRO = (
    "GeoTIFF tiles with one defect per tile, written by `nanaudit/docexamples.py` with Pillow"
)
DATA_INTRO = (
    "A small dataset of 64x64 pairs with one defect per file, written by "
    "`nanaudit/docexamples.py` (its `nanaudit.toml` says `num_classes = 4`)"
)
SAMPLE_INTRO = (
    "The bundled sample data ([`sample_data/`](../getting-started.md#sample-data), one "
    "planted defect per file)"
)

SCANS: tuple[ScanScenario, ...] = (
    ScanScenario(SAMPLE_INTRO, "sample_data"),
    ScanScenario(
        SAMPLE_INTRO + ", against training settings",
        "sample_data",
        (
            "--crop-size",
            "48x48",
            "--scale-range",
            "0.5,1.5",
            "--loss",
            "ce,dice",
            "--batch-size",
            "4",
        ),
    ),
    ScanScenario(
        SAMPLE_INTRO + ", against training settings",
        "sample_data",
        ("--resize", "2x2000", "--scale-range", "0.5,1.0", "--batch-size", "3"),
    ),
    ScanScenario(
        SAMPLE_INTRO + ", with ADE20K's label reduction",
        "sample_data",
        ("--reduce-zero-label", "--batch-size", "13"),
    ),
    ScanScenario(
        SAMPLE_INTRO + ", with a pixel limit below its 64x64 images",
        "sample_data",
        ("--max-pixels", "4000"),
    ),
    ScanScenario(DATA_INTRO, "data"),
    ScanScenario(VOLUMES_INTRO, "volumes"),
    ScanScenario(TILES_INTRO, "tiles"),
    ScanScenario(
        DATA_INTRO + ", against training settings",
        "data",
        ("--crop-size", "32x32", "--pad", "--scale-range", "0.02,1.0", "--batch-size", "4"),
    ),
    ScanScenario(
        DATA_INTRO + ", whose `classes.txt` names class 0 background",
        "data",
        ("--reduce-zero-label", "--class-names", "data/classes.txt"),
    ),
    ScanScenario(READERS_INTRO + ", no reader stated", "readers"),
    ScanScenario(
        READERS_INTRO + ", read by a Pillow loader", "readers", ("--reader", "torchvision")
    ),
    ScanScenario(READERS_INTRO + ", read by detectron2", "readers", ("--reader", "detectron2")),
    ScanScenario(SAMPLE_INTRO + ", with 300 classes", "sample_data", ("-C", "300")),
    ScanScenario(
        "Four pairs whose masks number their objects 1..N, written by `nanaudit/docexamples.py`",
        "instances",
    ),
)


def _run_scan(scenario: ScanScenario, root: Path) -> list[dict[str, Any]]:
    from click.testing import CliRunner

    from .cli import cli

    path = SAMPLE_DATA if scenario.dataset == "sample_data" else root / scenario.dataset
    prefix = scenario.dataset + "/"
    args = [str(root / a) if a.startswith(prefix) else a for a in scenario.args]
    argv = [
        "scan",
        str(path),
        *args,
        "--format",
        "json",
        "--no-cache",
        "--no-progress",
        "--jobs",
        "1",
    ]
    result = CliRunner().invoke(cli, argv, env={"NO_COLOR": "1"})
    if result.exit_code not in (0, 1):
        raise RuntimeError(f"docs example scan failed: {argv}: {result.stderr}")
    findings: list[dict[str, Any]] = json.loads(result.stdout)["findings"]
    return findings


def _command(scenario: ScanScenario) -> str:
    return " ".join(["nanaudit", "scan", scenario.dataset, *scenario.args])


# --------------------------------------------------------------------------- samples


def to_tensor_mask(k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(k)
    image = rng.random((3, 32, 32), dtype=np.float32)
    mask = rng.integers(0, 21, (32, 32)).astype(np.float32) / 255  # ToTensor() on the mask
    return image, mask


def normalize_on_0_255(k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(k)
    pixels = rng.integers(0, 256, (3, 32, 32)).astype(np.float32)  # never divided by 255
    image = (pixels - 0.45) / 0.225  # Normalize(mean, std) meant for [0, 1] data
    return image, rng.integers(0, 5, (32, 32), dtype=np.uint8)


def ignore_border_crops(k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(k)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    mask = rng.integers(0, 5, (32, 32), dtype=np.uint8)
    if k < 4:  # crops that fell on the padding: only the ignore index
        mask[:] = 255
    return image, mask


def mixed_sizes(k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(k)
    side = 32 if k % 2 == 0 else 40  # no crop or resize: sizes differ within a batch
    image = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    return image, rng.integers(0, 5, (side, side), dtype=np.uint8)


def missing_file(k: int) -> tuple[np.ndarray, np.ndarray]:
    if k == 5:
        raise FileNotFoundError("images/train/0005.png")
    rng = np.random.default_rng(k)
    image = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return image, rng.integers(0, 5, (32, 32), dtype=np.uint8)


def bilinear_mask_resize(k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(k)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    small = np.zeros((32, 32), np.uint8)
    y, x = rng.integers(4, 16, 2)
    small[y : y + 12, x : x + 12] = 4  # a square of class 4 on class 0
    mask = Image.fromarray(small).resize((64, 64), Image.Resampling.BILINEAR)  # not NEAREST
    return image, np.asarray(mask)


PHOTOS = Path()  # a folder of 8 photographs (photo_0.png …), written by write_photos


def write_photos(folder: Path) -> None:
    """The files behind normalize_twice's samples (NA509 compares the draw with them)."""
    global PHOTOS
    rng = np.random.default_rng(9)
    for i in range(8):
        _save(folder / f"photo_{i}.png", _picture(rng, 32, 32))
    PHOTOS = folder


def normalize_twice(k: int) -> tuple[np.ndarray, np.ndarray, str]:
    path = PHOTOS / f"photo_{k % 8}.png"  # PHOTOS: a folder of 8 photographs
    files = [np.asarray(Image.open(PHOTOS / f"photo_{i}.png")) / 255 for i in range(8)]
    mean, std = np.mean(files, axis=(0, 1, 2)), np.std(files, axis=(0, 1, 2))  # its own
    image = np.asarray(Image.open(path), np.float32) / 255
    image = (image - mean) / std  # Normalize in the dataset ...
    image = (image - mean) / std  # ... and again in the transform
    return image, np.zeros((32, 32), np.uint8), str(path)  # the file it names


@dataclass(frozen=True)
class SampleScenario:
    """``nanaudit.audit_samples`` on what ``pipeline(k)`` yields for k < ``count``
    (after ``setup`` wrote its files in a temporary folder, when it has one)."""

    pipeline: Callable[[int], tuple[Any, ...]]
    count: int
    options: tuple[tuple[str, Any], ...]
    setup: Callable[[Path], None] | None = None


SAMPLES: tuple[SampleScenario, ...] = (
    SampleScenario(to_tensor_mask, 16, (("num_classes", 21),)),
    SampleScenario(normalize_on_0_255, 16, (("num_classes", 5),)),
    SampleScenario(ignore_border_crops, 16, (("num_classes", 5), ("batch_size", 4))),
    SampleScenario(mixed_sizes, 8, (("num_classes", 5), ("batch_size", 4))),
    SampleScenario(missing_file, 8, (("num_classes", 5),)),
    SampleScenario(bilinear_mask_resize, 16, (("num_classes", 5),)),
    SampleScenario(normalize_twice, 16, (("num_classes", 2),), write_photos),
)


def _samples_generator(scenario: SampleScenario) -> Iterator[tuple[Any, ...]]:
    for k in range(scenario.count):
        yield scenario.pipeline(k)


def _run_samples(scenario: SampleScenario) -> list[dict[str, Any]]:
    from .api import audit_samples

    with tempfile.TemporaryDirectory(prefix="nanaudit-docs-") as tmp:
        if scenario.setup is not None:
            scenario.setup(Path(tmp))
        report = audit_samples(_samples_generator(scenario), **dict(scenario.options))
    return [
        {
            "check": f.check,
            "name": f.name,
            "severity": f.severity.label,
            "path": f.path,
            "message": f.message,
        }
        for f in report.findings
    ]


def _call(name: str, count: int, kwargs: str) -> str:
    """The audit_samples call, laid out as ruff formats it (line length 100)."""
    args = f"({name}(k) for k in range({count})), {kwargs}"
    line = f"report = nanaudit.audit_samples({args})"
    return line if len(line) <= 100 else f"report = nanaudit.audit_samples(\n    {args}\n)"


def _samples_intro(scenario: SampleScenario) -> str:
    source = inspect.getsource(scenario.pipeline).rstrip()
    name = scenario.pipeline.__name__
    kwargs = ", ".join(f"{k}={v!r}" for k, v in scenario.options)
    return (
        "What a pipeline yields, audited from Python (`nanaudit samples` runs the same "
        "audit on a `Dataset` or `DataLoader`):\n\n"
        "```python\n"
        "import nanaudit\nimport numpy as np\nfrom PIL import Image\n\n\n"
        f"{source}\n\n\n"
        f"{_call(name, scenario.count, kwargs)}\n"
        "```\n\n"
        "It"
    )


# --------------------------------------------------------------------------- the examples


def _quote(finding: dict[str, Any]) -> str:
    head = f"{finding['check']} {finding['name']}  {finding['severity']}"
    body = textwrap.fill(
        f"- {finding['path']}: {finding['message']}",
        width=WIDTH,
        initial_indent="  ",
        subsequent_indent="    ",
        break_on_hyphens=False,
        break_long_words=False,
    )
    return f"{head}\n{body}"


def examples() -> dict[str, str]:
    """Each check's example (markdown), from the first scenario in which it fires."""
    out: dict[str, str] = {}

    def take(findings: list[dict[str, Any]], intro: str) -> None:
        # a file named after the check (low_variance.png) is where a scenario planted its
        # defect: that finding is the example (others may trip it too: a float image's full
        # scale makes it look flat)
        planted = [f for f in findings if f["name"].replace("-", "_") in f["path"]]
        for f in planted + findings:
            if f["check"] not in out:
                out[f["check"]] = f"{intro} reports:\n\n```text\n{_quote(f)}\n```"

    with tempfile.TemporaryDirectory(prefix="nanaudit-docs-") as tmp:
        root = Path(tmp)
        for name, build in BUILDERS.items():
            build(root / name)
        for scan in SCANS:
            take(_run_scan(scan, root), f"{scan.intro}; `{_command(scan)}`")
    for samples in SAMPLES:
        take(_run_samples(samples), _samples_intro(samples))
    try:  # the training guard's checks: real torch loops with a planted cause
        from .guard.scenarios import run as guard_scenarios
    except ImportError:  # no torch here: their pages say so
        return out
    for intro, found in guard_scenarios():
        take(found, intro)
    return out
