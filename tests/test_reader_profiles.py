"""Every reader profile against the real library it emulates (decode/profiles.py).

A corpus of files in every mode a dataset ships (P, P with transparency, L, LA, RGB, RGBA,
1-bit, 16-bit, 32-bit integer and float, CMYK, multi-page, EXIF-rotated) is written with
Pillow (and OpenCV for a 16-bit colour PNG, which Pillow cannot write); each is then read by
nanaudit with each reader and by the real call: OpenCV's cv2.imread, tifffile.imread,
Pillow's own calls. The arrays must be equal, except where a tolerance is stated:

- cv2-gray on colour (RGB, palette, CMYK): at most 1 gray level on some pixels. OpenCV
  leaves the conversion to libpng for PNG, which rounds differently from OpenCV's own
  fixed-point formula, which nanaudit uses. (A colour JPEG is decoded straight to gray,
  by libjpeg, as OpenCV asks it to.)
- JPEG through OpenCV (cv2, cv2-RGB, cv2-unchanged): at most 1, two builds of libjpeg-turbo
  (Pillow's and OpenCV's) apart; the CMYK to RGB conversion likewise.
- cv2-unchanged on a 16-bit colour PNG: at most 255. Pillow decodes its high bytes only;
  the uint16 OpenCV returns is approximated as high byte × 257.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from nanaudit.decode.readers import DecodeFailure, read
from nanaudit.loaders import FRAMEWORKS, READERS
from nanaudit.records import DecodeLimits, FileKind

cv2 = pytest.importorskip("cv2")
tifffile = pytest.importorskip("tifffile")

VOC = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128, 128, 0, 128, 0, 128, 128]


def _corpus(root: Path) -> dict[str, Path]:
    rng = np.random.default_rng(7)
    h, w = 24, 37
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (h, w), dtype=np.uint8)
    files: dict[str, Path] = {}

    def put(name: str, im: Image.Image, **kw: Any) -> None:
        files[name] = root / name
        im.save(root / name, **kw)

    pal = Image.fromarray(rng.integers(0, 7, (h, w), dtype=np.uint8), "P")
    pal.putpalette(VOC)
    put("p.png", pal)
    put("p_transparent.png", pal, transparency=0)
    put("p.tif", pal)
    put("l.png", Image.fromarray(gray))
    put("l.tif", Image.fromarray(gray))
    put("la.png", Image.merge("LA", (Image.fromarray(gray), Image.fromarray(gray[::-1]))))
    put("rgb.png", Image.fromarray(rgb))
    put("rgb.tif", Image.fromarray(rgb))
    put("rgb.jpg", Image.fromarray(rgb), quality=95)
    put("rgba.png", Image.fromarray(np.dstack([rgb, gray])))
    put("one.png", Image.fromarray(rng.integers(0, 2, (h, w)).astype(bool)))
    put("one.tif", Image.fromarray(rng.integers(0, 2, (h, w)).astype(bool)))
    put("i16.png", Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16)))
    put("i16.tif", Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16)))
    put("i32.tif", Image.fromarray(rng.integers(-5, 1 << 20, (h, w)).astype(np.int32)))
    put("f.tif", Image.fromarray(rng.random((h, w)).astype(np.float32)))
    put("cmyk.jpg", Image.fromarray(rgb).convert("CMYK"), quality=95)
    put("cmyk.tif", Image.fromarray(rgb).convert("CMYK"))
    pages = [Image.fromarray(rng.integers(0, 5, (h, w), dtype=np.uint8)) for _ in range(3)]
    files["pages.tif"] = root / "pages.tif"
    pages[0].save(root / "pages.tif", save_all=True, append_images=pages[1:])
    for orientation in (3, 6, 8):
        im = Image.fromarray(rgb)
        exif = im.getexif()
        exif[0x0112] = orientation
        put(f"exif{orientation}.jpg", im, exif=exif, quality=95)
        put(f"exif{orientation}.png", im, exif=exif)
    files["rgb16.png"] = root / "rgb16.png"
    cv2.imwrite(str(root / "rgb16.png"), rng.integers(0, 65536, (h, w, 3), dtype=np.uint16))
    return files


def _real(reader: str, path: Path) -> np.ndarray | None:
    """What the real call returns (None: it returns None)."""
    p = str(path)
    if reader == "cv2":
        return cv2.imread(p, cv2.IMREAD_COLOR)
    if reader == "cv2-RGB":
        got = cv2.imread(p, cv2.IMREAD_COLOR)
        return None if got is None else cv2.cvtColor(got, cv2.COLOR_BGR2RGB)
    if reader == "cv2-gray":
        return cv2.imread(p, 0)
    if reader == "cv2-unchanged":
        return cv2.imread(p, cv2.IMREAD_UNCHANGED)
    if reader == "tifffile":
        if path.suffix != ".tif":
            return np.asarray(Image.open(p))
        return tifffile.imread(p)
    im = Image.open(p)
    if reader.endswith("+exif"):
        im = ImageOps.exif_transpose(im)
    if reader.startswith("pillow-L"):
        return np.asarray(im.convert("L"))
    if reader.startswith("pillow-RGB"):
        return np.asarray(im.convert("RGB"))
    if reader == "pillow-uint8":  # mmcv imfrombytes(flag='unchanged', backend='pillow')
        arr = np.array(im)
        if arr.ndim >= 3 and arr.shape[2] >= 3:
            arr[:, :, :3] = arr[:, :, (2, 1, 0)]
        return arr.squeeze().astype(np.uint8)
    return np.asarray(im)


def _emulated(reader: str, path: Path) -> np.ndarray | None:
    """What nanaudit decodes with ``reader`` (None: the reader fails, NA001)."""
    try:
        decoded = read(path, DecodeLimits(image_reader=reader), FileKind.IMAGE)
    except DecodeFailure as exc:
        assert exc.check == "NA001"
        return None
    arr = np.asarray(decoded.raster)
    shape = decoded.header.shape
    return arr.reshape(shape) if shape else arr


def _tolerance(reader: str, name: str) -> int:
    if reader == "cv2-unchanged" and name == "rgb16.png":
        return 255
    jpeg = name.endswith(".jpg")
    colour = not name.startswith(("l.", "la.", "one.", "i16.", "pages."))
    if reader.startswith("cv2") and (jpeg or (reader == "cv2-gray" and colour)):
        return 1
    return 0


READER_NAMES = tuple(READERS)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _corpus(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize("reader", READER_NAMES)
def test_each_reader_yields_what_the_real_library_returns(
    reader: str, corpus: dict[str, Path]
) -> None:
    for name, path in corpus.items():
        if reader.startswith("pillow") and name == "rgb16.png":
            continue  # Pillow itself reads its 8 high bits: nothing to compare
        real = _real(reader, path)
        got = _emulated(reader, path)
        if real is None or got is None:
            assert real is None and got is None, f"{reader} on {name}: {real is None=}"
            continue
        assert got.shape == real.shape, f"{reader} on {name}"
        assert got.dtype == real.dtype, f"{reader} on {name}"
        diff = np.abs(got.astype(np.int64) - real.astype(np.int64))
        assert int(diff.max()) <= _tolerance(reader, name), f"{reader} on {name}"


def test_the_corpus_covers_every_mode_the_issue_names(corpus: dict[str, Path]) -> None:
    modes = {Image.open(p).mode for p in corpus.values()}
    assert {"P", "L", "LA", "RGB", "RGBA", "1", "I;16", "I", "F", "CMYK"} <= modes
    assert getattr(Image.open(corpus["pages.tif"]), "n_frames", 1) == 3
    assert Image.open(corpus["exif6.jpg"]).getexif()[0x0112] == 6


def test_cv2_returns_none_for_32_bit_samples_and_nanaudit_says_so(
    corpus: dict[str, Path],
) -> None:
    for name in ("i32.tif", "f.tif"):
        assert cv2.imread(str(corpus[name])) is None
        with pytest.raises(DecodeFailure, match=r"cv2\.imread returns None"):
            read(corpus[name], DecodeLimits(image_reader="cv2"), FileKind.IMAGE)


def test_the_readme_tables_list_every_reader_and_framework() -> None:
    readme = (Path(__file__).parent.parent / "docs" / "guides" / "training.md").read_text(
        encoding="utf-8"
    )
    for r in READERS.values():
        assert f"| `{r.name}` | `{r.code}` | {r.yields} |" in readme, r.name
    for f in FRAMEWORKS.values():
        assert f"| `{f.name}` | `{f.image}` | `{f.mask}` | {f.source} |" in readme, f.name
        assert f.image in READERS and f.mask in READERS
    rows = re.findall(r"^\| `([a-zA-Z0-9+-]+)` \| `(?:np|cv2|tifffile)\.", readme, re.MULTILINE)
    assert set(rows) == set(READERS)
