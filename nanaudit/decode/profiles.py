"""Reader profiles: a file as the training code reads it, emulated with Pillow and numpy.

A profile (loaders.py) names one call of the training code; :func:`read_as` turns the
pixels Pillow decoded (the scan's one decode) into what that call returns: its channels,
values, dtype, shape and orientation. The reduction then runs on that, so the checks judge
what the loss will meet. tests/test_reader_profiles.py compares every profile with the real library.

``pillow`` (the default) is the decode nanaudit has always made and is not handled here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

from ..loaders import READERS, Change
from ..records import DecodeLimits

# --------------------------------------------------------------------------- emulation


@dataclass(frozen=True, slots=True)
class Read:
    """What a reader returned: 8-bit data as a Pillow image (its bands in the reader's
    order), anything else as an array; and what it changed."""

    raster: Image.Image | npt.NDArray[Any]
    shape: tuple[int, ...]
    dtype: str
    changes: tuple[Change, ...]
    pages: int = 1


class ReaderFailed(Exception):
    """The reader returns nothing usable for this file (cv2.imread's None)."""


def read_as(im: Image.Image, reader: str, fmt: str, limits: DecodeLimits) -> Read:
    """The loaded Pillow image ``im`` (of format ``fmt``) as ``reader`` returns it."""
    profile = READERS[reader]
    changes: list[Change] = []
    if profile.exif and fmt != "TIFF":  # Pillow turns a TIFF by its tag when it loads it
        turned = ImageOps.exif_transpose(im)
        if turned is not im and turned.size != (0, 0):
            if _orientation(im) not in (None, 1):
                changes.append(Change.EXIF_TURNED)
            im = turned
    if reader.startswith("pillow-uint8"):
        return _pillow_uint8(im, changes)
    if reader.startswith("pillow-L"):
        return _pillow_convert(im, "L", changes)
    if reader.startswith("pillow-RGB"):
        return _pillow_convert(im, "RGB", changes)
    if reader.startswith("pillow"):
        return _done(_pillow_array(im), changes)
    if reader == "tifffile":
        return _tifffile(im, fmt, limits)
    if reader == "cv2-unchanged":
        return _cv2_unchanged(im, changes)
    gray = reader == "cv2-gray"
    return _cv2_8bit(im, gray=gray, bgr=reader == "cv2", changes=changes)


def _orientation(im: Image.Image) -> int | None:
    try:
        value = im.getexif().get(0x0112)
    except Exception:
        return None
    return int(value) if isinstance(value, int) else None


def _done(raster: Image.Image | npt.NDArray[Any], changes: list[Change], pages: int = 1) -> Read:
    if isinstance(raster, Image.Image):
        w, h = raster.size
        bands = len(raster.getbands())
        shape: tuple[int, ...] = (h, w) if bands == 1 else (h, w, bands)
        dtype = "bool" if raster.mode == "1" else "uint8"
        return Read(raster, shape, dtype, tuple(changes), pages)
    shape = tuple(int(x) for x in raster.shape)
    return Read(raster, shape, str(raster.dtype), tuple(changes), pages)


def _pillow_array(im: Image.Image) -> Image.Image | npt.NDArray[Any]:
    """np.asarray(im): 8-bit modes stay a Pillow image (the reduction's fast path)."""
    if im.mode in ("L", "P", "RGB", "RGBA", "LA", "CMYK", "1", "PA", "RGBX", "YCbCr"):
        return im
    return _native(np.asarray(im))


def _native(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    return arr.astype(arr.dtype.newbyteorder("=")) if arr.dtype.byteorder == ">" else arr


COLOUR_MODES = frozenset({"RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"})


def _pillow_convert(im: Image.Image, mode: str, changes: list[Change]) -> Read:
    source = im.mode
    if source in ("P", "PA"):
        changes.append(Change.PALETTE_GRAY if mode == "L" else Change.PALETTE_COLOURS)
    elif mode == "L" and source in COLOUR_MODES and _colours_differ(im):
        changes.append(Change.COLOUR_GRAY)
    if source == "1":
        changes.append(Change.ONE_BIT_255)
    if mode == "RGB" and source in ("L", "1", "I;16", "I;16B", "I;16L", "I", "F", "LA"):
        changes.append(Change.GRAY_TO_3)
    if source in ("RGBA", "LA", "PA") or (source == "P" and "transparency" in im.info):
        changes.append(Change.ALPHA_DROPPED)
    if source.startswith("I;16") or source in ("I", "F"):
        changes.append(Change.CLIPPED_8)
    return _done(im.convert(mode), changes)


def _pillow_uint8(im: Image.Image, changes: list[Change]) -> Read:
    """mmcv's imfrombytes(flag='unchanged', backend='pillow') as mmseg's LoadAnnotations
    uses it: np.array(img), RGB to BGR for three channels or more, squeeze, astype(uint8)."""
    arr = np.array(im)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if arr.ndim >= 3 and arr.shape[2] >= 3:
        arr[:, :, :3] = arr[:, :, (2, 1, 0)]
        changes.append(Change.BGR)
    arr = arr.squeeze()
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255 or arr.dtype.kind == "f"):
            changes.append(Change.WRAPPED_8)
        with np.errstate(all="ignore"):
            arr = arr.astype(np.uint8)
    if arr.ndim == 0:
        arr = arr.reshape(1, 1)
    return _done(arr, changes)


def _to_8bit(im: Image.Image, changes: list[Change]) -> Image.Image:
    """The 8-bit gray or RGB image OpenCV's IMREAD_COLOR / IMREAD_GRAYSCALE start from:
    alpha dropped, a palette's colours, 16 bits divided by 256, 1-bit as 0/255. 32-bit
    samples (int32, float32) make cv2.imread return None."""
    mode = im.mode
    if mode in ("I", "F") or mode.startswith("I;32"):
        raise ReaderFailed(
            f"cv2.imread returns None: OpenCV's 8-bit modes cannot read 32-bit samples "
            f"({'float32' if mode == 'F' else 'int32'}); read them with IMREAD_UNCHANGED"
        )
    if mode.startswith("I;16"):
        changes.append(Change.SCALED_16_TO_8)
        arr = _native(np.asarray(im))
        return Image.fromarray((arr >> 8).astype(np.uint8), "L")
    if mode == "1":
        changes.append(Change.ONE_BIT_255)
        return im.convert("L")
    if mode == "L":
        return im
    if mode == "LA":
        changes.append(Change.ALPHA_DROPPED)
        return im.getchannel(0)
    if mode in ("P", "PA"):
        changes.append(Change.PALETTE_COLOURS)
        if mode == "PA" or "transparency" in im.info:
            changes.append(Change.ALPHA_DROPPED)
        return im.convert("RGB")
    if mode in ("RGBA", "RGBa"):
        changes.append(Change.ALPHA_DROPPED)
    return im.convert("RGB") if mode != "RGB" else im


def _cv2_8bit(im: Image.Image, *, gray: bool, bgr: bool, changes: list[Change]) -> Read:
    base = _to_8bit(im, changes)
    if gray:
        if base.mode == "L":
            return _done(base, changes)
        if Change.PALETTE_COLOURS in changes:
            changes[changes.index(Change.PALETTE_COLOURS)] = Change.PALETTE_GRAY
        elif _colours_differ(base):
            changes.append(Change.COLOUR_GRAY)
        return _done(Image.fromarray(cv2_gray(np.asarray(base)), "L"), changes)
    if base.mode == "L":
        changes.append(Change.GRAY_TO_3)
        return _done(Image.merge("RGB", (base, base, base)), changes)
    if bgr:
        changes.append(Change.BGR)
        r, g, b = base.split()
        return _done(Image.merge("RGB", (b, g, r)), changes)
    return _done(base, changes)


def _colours_differ(im: Image.Image) -> bool:
    """Whether an image's colour channels (alpha aside) differ: gray stored as colour
    (R = G = B) reads as the same values in gray."""
    if im.mode not in ("RGB", "RGBA", "RGBX"):
        return True
    r, g, b = im.split()[:3]
    return r.tobytes() != g.tobytes() or g.tobytes() != b.tobytes()


def cv2_gray(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """OpenCV's RGB → gray in fixed point (Y = 0.299 R + 0.587 G + 0.114 B, 14 bits,
    rounded). libpng and libjpeg, which OpenCV lets convert PNG and JPEG files, differ from
    it by at most 1 on some pixels (tests/test_reader_profiles.py states the tolerance)."""
    r = rgb[..., 0].astype(np.uint32)
    g = rgb[..., 1].astype(np.uint32)
    b = rgb[..., 2].astype(np.uint32)
    out: npt.NDArray[np.uint8] = ((r * 4899 + g * 9617 + b * 1868 + 8192) >> 14).astype(np.uint8)
    return out


def _cv2_unchanged(im: Image.Image, changes: list[Change]) -> Read:
    mode = im.mode
    if mode == "1":
        changes.append(Change.ONE_BIT_255)
        return _done(im.convert("L"), changes)
    if mode in ("L", "I", "F") or mode.startswith("I;16"):
        return _done(_pillow_array(im), changes)
    if mode in ("P", "PA"):
        changes.append(Change.PALETTE_COLOURS)
        alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if alpha else "RGB")
        mode = im.mode
    elif mode == "LA":
        changes.append(Change.GRAY_TO_3)
        im = im.convert("RGBA")
        mode = "RGBA"
    elif mode == "CMYK":
        # OpenCV converts CMYK: JPEG to BGR, TIFF (through libtiff's RGBA) to BGRA
        im = im.convert("RGBA" if im.format == "TIFF" else "RGB")
        mode = im.mode
    elif mode not in ("RGB", "RGBA"):
        im = im.convert("RGB")
        mode = "RGB"
    changes.append(Change.BGR)
    bands = im.split()
    ordered = (bands[2], bands[1], bands[0], *bands[3:])
    return _done(Image.merge(mode, ordered), changes)


def _tifffile(im: Image.Image, fmt: str, limits: DecodeLimits) -> Read:
    """tifffile.imread: a TIFF's stored samples, every page of the first series (pages of
    the first page's size and mode) stacked pages first. Other formats: as pillow."""
    if fmt != "TIFF":
        return _done(_pillow_array(im), [])
    first = _tiff_samples(im)
    if not getattr(im, "is_animated", False):
        return _done(first, [])
    pages = [first]
    size, mode = im.size, im.mode
    total = first.size
    index = 1
    while True:
        try:
            im.seek(index)
        except EOFError:
            break
        if im.size != size or im.mode != mode:
            break
        total += first.size
        if total > 4 * limits.max_pixels:  # bounded by the pixel limit, as one page is
            raise ReaderFailed(
                f"tifffile.imread stacks more than {4 * limits.max_pixels:,} samples of pages"
            )
        pages.append(_tiff_samples(im))
        index += 1
    im.seek(0)
    if len(pages) == 1:
        return _done(first, [])
    return _done(np.stack(pages), [Change.PAGES_STACKED], pages=len(pages))


def _tiff_samples(im: Image.Image) -> npt.NDArray[Any]:
    arr = _native(np.asarray(im))
    return arr


@cache
def yields(reader: str, mode: str, fmt: str = "PNG", transparency: bool = False) -> Read:
    """What ``reader`` returns for a 2×2 file of ``mode``: its shape, dtype and changes
    (the reader table and the checks that name what each reader yields)."""
    im = _specimen(mode, transparency)
    im.format = fmt
    try:
        return read_as(im, reader, fmt, DecodeLimits())
    except ReaderFailed:
        return Read(np.zeros((0,), np.uint8), (), "None", ())


def _specimen(mode: str, transparency: bool) -> Image.Image:
    if mode == "P":
        im = Image.new("P", (2, 2), 1)
        im.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0])
        if transparency:
            im.info["transparency"] = 0
        return im
    if mode.startswith("I;16"):
        return Image.new("I;16", (2, 2), 300)
    return Image.new(mode, (2, 2))
