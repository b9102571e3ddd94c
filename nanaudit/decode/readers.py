"""Readers: a file's bytes → pixels (a Pillow image or a numpy array) and a header.

Pillow reads the raster formats, restricted to the plugins nanaudit accepts; numpy reads
``.npy``/``.npz`` with pickles refused and headers checked against the file size before
anything is allocated.  Every guard against hostile files lives here; a refusal raises
:class:`DecodeFailure` naming the check (NA001 unreadable, NA002 oversized).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import math
import os
import re
import stat
import struct
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from PIL import Image, TiffImagePlugin

from ..loaders import DEFAULT_READER, Change
from ..memory import format_bytes
from ..records import DecodeLimits, FileKind, Geometry, Header
from .georef import GDAL_NODATA, geometry_from_tags, nodata_of, pillow_tags
from .profiles import ReaderFailed, read_as

# Modes whose bands are all 8 bits: Pillow's histogram() gives 256 exact bins per band.
EIGHT_BIT_MODES = {"L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LA", "PA", "RGBX", "LAB", "HSV"}
TIFF_JPEG_COMPRESSIONS = {"jpeg", "tiff_jpeg"}
EXIF_ORIENTATION_TAG = 0x0112
# The only Pillow plugins a file may be decoded with, whatever its name says: the formats
# of IMAGE_SUFFIXES. Content of any other kind is NA001; above all PostScript, which
# Pillow's EPS plugin would hand to Ghostscript.
PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "DIB", "GIF", "WEBP", "TIFF", "PPM")

Raster = Image.Image | npt.NDArray[Any]


class DecodeFailure(Exception):
    def __init__(self, check: str, reason: str) -> None:
        super().__init__(reason)
        self.check = check
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Decoded:
    """The pixels, as an 8-bit Pillow image (reduced through its C histograms) or an
    H×W(×C) numpy array, and what the file's header said."""

    raster: Raster
    header: Header


@contextlib.contextmanager
def pillow_limit(max_pixels: int) -> Iterator[None]:
    """Pillow's bomb limit for one decode, then back to what the caller had."""
    before = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max(max_pixels, 1)
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = before


def bomb_reason(exc: Exception, limit: int) -> str:
    """Pillow raises past twice its MAX_IMAGE_PIXELS and names that doubled figure: state
    the configured limit instead, with the pixel count Pillow found."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    if found is None:
        return f"{exc} (limit {limit:,} pixels)"
    return f"header declares {int(found.group(1)):,} pixels, over the limit of {limit:,}"


def os_reason(exc: OSError, path: Path | None = None) -> str:
    if exc.strerror:
        return exc.strerror.lower()
    text = str(exc) or type(exc).__name__
    # Pillow names the stream by its Python repr ("cannot identify image file
    # <_io.BufferedReader name='a.png'>"): the finding names the file already
    text = STREAM_REPR.sub("", text)
    if path is not None:  # Pillow quotes the absolute path: reports must not depend on it
        text = text.replace(f" {str(path)!r}", "").replace(str(path), path.name)
    return text


STREAM_REPR = re.compile(r" <_io\.\w+ name=[^>]*>$")


# --------------------------------------------------------------------------- opening


@contextlib.contextmanager
def open_regular(path: Path) -> Iterator[IO[bytes]]:
    """The file, opened without blocking and checked through the opened descriptor: a
    FIFO or a device swapped in after the walk is refused, never read (a FIFO would block
    the scan forever, /dev/zero would never end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise DecodeFailure("NA001", "not a regular file")
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        raw = io.FileIO(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    raw.name = os.fspath(path)  # decoders' messages name the path (os_reason drops it)
    with io.BufferedReader(raw) as fh:
        yield fh


# --------------------------------------------------------------------------- memory

# Bytes per pixel at the peak of a decode and its statistics, beyond the decoded pixels,
# measured with benchmarks/bench_memory.py: Pillow keeps 8-bit colour as 4 bytes a pixel,
# the 8-bit reductions add a gray copy and the bytes of the content hash; a numpy array is
# read strip by strip beside Pillow's copy (2× decoded), colour luminance adds float64
# planes, and a mask's labels add a sorted int64 copy.
PALETTE_TO_RGB = 4


def peak_bytes(width: int, height: int, mode: str, dtype: np.dtype[Any], kind: FileKind) -> int:
    """The estimated peak memory of decoding and reducing a file, from its header."""
    pixels = width * height
    channels = max(1, Image.getmodebands(mode)) if mode in EIGHT_BIT_MODES else 1
    if mode in EIGHT_BIT_MODES or mode == "1":
        stored = 1 if channels == 1 else 4
        if kind is FileKind.IMAGE:
            if mode in ("P", "PA"):  # seen through its colours: converted to RGB(A)
                return pixels * (stored + PALETTE_TO_RGB + 1 + 2 * 4)
            return pixels * (stored + 1 + 2 * channels)
        return pixels * (stored + 2 * channels + 2)
    return array_peak_bytes(pixels, channels, dtype, kind, from_pillow=True)


def array_peak_bytes(
    pixels: int, channels: int, dtype: np.dtype[Any], kind: FileKind, from_pillow: bool = False
) -> int:
    decoded = pixels * channels * dtype.itemsize
    reading = decoded if from_pillow else 0  # Pillow's own copy while the array fills
    if kind is FileKind.IMAGE:
        # float64 planes of the weighted sum (3, 4 channels) or of the mean (more)
        luma = pixels * (8 * max(channels, 3) + 16) if channels >= 3 else 0
        return decoded + max(reading, luma) + pixels
    if dtype.kind == "f":
        return decoded + max(reading, pixels * 26)
    if dtype.itemsize > 2:
        return decoded + max(reading, pixels * 16)
    return decoded + max(reading, decoded) + pixels


class NeedsWorker(Exception):
    """The decode would take more memory than this process risks (``in_process_max``):
    the caller decodes the file again in a worker process of its own."""


def check_budget(need: int, what: str, limits: DecodeLimits) -> None:
    """Refuse a decode over the memory budget (NA002); one over ``in_process_max`` is
    handed to a worker (NeedsWorker). Both before anything is allocated."""
    if limits.max_memory and need > limits.max_memory:
        raise DecodeFailure(
            "NA002",
            f"decoding {what} needs about {format_bytes(need)} of memory, over the budget "
            f"of {format_bytes(limits.max_memory)} (--max-memory)",
        )
    if limits.in_process_max and need > limits.in_process_max:
        raise NeedsWorker(need)


def _array_estimate(shape: tuple[int, ...], dtype: np.dtype[Any], kind: FileKind) -> int:
    hwc = hwc_shape(shape)
    channels = int(hwc[2]) if len(hwc) == 3 else 1
    return array_peak_bytes(math.prod(shape) // max(channels, 1), channels, dtype, kind)


def _pillow_dtype(mode: str) -> np.dtype[Any]:
    if mode.startswith("I;16"):
        return np.dtype(np.uint16)
    if mode == "F":
        return np.dtype(np.float32)
    if mode in EIGHT_BIT_MODES or mode == "1":
        return np.dtype(np.uint8)
    return np.dtype(np.int32)


# --------------------------------------------------------------------------- decoding


def read(path: Path, limits: DecodeLimits, kind: FileKind = FileKind.IMAGE) -> Decoded:
    with open_regular(path) as fh:
        return read_from(fh, path, os.fstat(fh.fileno()).st_size, limits, kind)


def read_from(
    fh: IO[bytes], path: Path, size: int, limits: DecodeLimits, kind: FileKind = FileKind.IMAGE
) -> Decoded:
    """The pixels of an open, seekable file of ``size`` bytes: a local file, or an object
    streamed from remote storage (storage.py); ``path`` names it and its format."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return from_array(_read_npy(fh, size, limits, kind), "NPY")
    if suffix == ".npz":
        return _read_npz(fh, limits, kind)
    with pillow_limit(limits.max_pixels):
        return _read_pillow(fh, path, limits, kind)


def _read_pillow(fh: IO[bytes], path: Path, limits: DecodeLimits, kind: FileKind) -> Decoded:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bombs are ours to report; Pillow's warnings are noise
        im = Image.open(fh, formats=PILLOW_FORMATS)
        try:
            width, height = im.size
            if width * height > limits.max_pixels:
                raise DecodeFailure(
                    "NA002",
                    f"header declares {width}×{height} = {width * height:,} pixels, "
                    f"over the limit of {limits.max_pixels:,}",
                )
            need = peak_bytes(width, height, im.mode, _pillow_dtype(im.mode), kind)
            reader = limits.image_reader if kind is FileKind.IMAGE else limits.mask_reader
            if reader != DEFAULT_READER:  # the reader's converted copy, in 8-byte pixels
                need += width * height * READER_COPY
            check_budget(need, f"{width}×{height} {im.mode} pixels", limits)
            fmt = im.format or path.suffix.lstrip(".").upper()
            # Counting every page costs time quadratic in the pages (Pillow's TIFF seek):
            # the count stops at the second, which is all the note needs to say.
            frames = 2 if getattr(im, "is_animated", False) else 1
            notes: list[str] = []
            if frames > 1:
                notes.append("several frames/pages: the first was audited")
            bits = _stored_bits(im)  # before getexif(), which loads a PNG
            orientation = _exif_orientation(im)
            if fmt == "TIFF" and orientation in (5, 6, 7, 8):
                # Pillow reports (and loads) a TIFF already turned by its Orientation tag;
                # the record keeps the stored size, as for every other format (NA006/NA007)
                width, height = height, width
            nodata = _gdal_nodata(im)
            geometry = _tiff_geometry(im, notes) if fmt == "TIFF" else None
            lossy = _lossy_reason(im, fh)
            if fmt == "TIFF":
                _check_tiff_strips(im)
            stored_mode = im.mode
            if reader == "cv2-gray" and fmt == "JPEG" and im.mode == "RGB":
                # OpenCV has libjpeg decode a colour JPEG straight to gray (its Y plane)
                im.draft("L", im.size)
            im.load()
        except BaseException:
            im.close()
            raise
    mode = im.mode
    if mode == "P" and "transparency" in im.info:
        notes.append("palette with transparency")
    palette = _palette_in_use(im) if kind is FileKind.MASK and mode == "P" else ()
    # what every header of this file says; each branch adds what it decoded
    basics = Header(
        format=fmt,
        mode=stored_mode,
        frames=frames,
        exif_orientation=orientation,
        nodata=nodata,
        bits=bits if bits > 8 else 0,
        lossy=lossy,
        notes=tuple(notes),
        palette=palette,
        geometry=geometry,
    )
    if reader != DEFAULT_READER:
        return _read_with(im, reader, basics, limits)
    if mode in EIGHT_BIT_MODES:
        if bits > 8:
            notes.append(f"stored with {bits} bits per channel; Pillow decodes it to 8 bits")
        header = replace(
            basics,
            mode=mode,
            dtype="uint8",
            width=width,
            height=height,
            channels=len(im.getbands()),
            notes=tuple(notes),
        )
        return Decoded(im, header)
    arr = _pixels(im)
    im.close()
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    channels = 1 if arr.ndim == 2 else int(arr.shape[2])
    header = replace(
        basics,
        mode=mode,
        dtype=str(arr.dtype),
        width=width,
        height=height,
        channels=channels,
        bits=0,  # the array's dtype states its depth
        notes=tuple(notes),
        palette=(),
    )
    return Decoded(arr, header)


READER_COPY = 8  # bytes a pixel of the copy a reader profile makes (decode/profiles.py)


def _read_with(im: Image.Image, reader: str, basics: Header, limits: DecodeLimits) -> Decoded:
    """The loaded image as ``reader`` returns it (decode/profiles.py): the header says what
    it yields (size, channels, dtype, shape, changes); a stack of pages is reduced as one
    tall image."""
    try:
        got = read_as(im, reader, basics.format or "", limits)
    except ReaderFailed as exc:
        im.close()
        raise DecodeFailure("NA001", str(exc)) from None
    if basics.mode != im.mode:  # decoded straight to gray (a colour JPEG for cv2-gray)
        got = replace(got, changes=(*got.changes, Change.COLOUR_GRAY))
    raster: Raster = got.raster
    if isinstance(raster, Image.Image) and raster.mode not in EIGHT_BIT_MODES:
        raster = _pixels(raster)
    if reader == "cv2-unchanged" and basics.bits == 16 and isinstance(raster, Image.Image):
        # Pillow decodes 16-bit colour PNGs to 8 bits (their high bytes): the uint16 OpenCV
        # returns is approximated as high byte × 257 (within 255 of the stored value)
        raster = np.asarray(raster).astype(np.uint16) * np.uint16(257)
    shape = got.shape
    page = shape[1:] if got.pages > 1 else shape
    if got.pages > 1 and isinstance(raster, np.ndarray):
        raster = raster.reshape(-1, *raster.shape[2:])
    dtype = "uint16" if isinstance(raster, np.ndarray) and raster.dtype == np.uint16 else got.dtype
    if got.raster is not im:
        im.close()
    header = replace(
        basics,
        dtype=dtype,
        width=int(page[1]),
        height=int(page[0]),
        channels=int(page[2]) if len(page) == 3 else 1,
        reader=reader,
        shape=shape,
        changes=tuple(str(c) for c in got.changes),
    )
    return Decoded(raster, header)


def _palette_in_use(im: Image.Image) -> tuple[tuple[int, int], ...]:
    """A palette image's (index, colour 0xRRGGBB) for each index in use."""
    hist = im.histogram()
    colours = im.getpalette("RGB") or []
    out = []
    for i, n in enumerate(hist[:256]):
        if n:
            rgb = colours[3 * i : 3 * i + 3]
            out.append((i, (rgb[0] << 16) | (rgb[1] << 8) | rgb[2] if len(rgb) == 3 else 0))
    return tuple(out)


STRIP_BYTES = 8 << 20


def _pixels(im: Image.Image) -> npt.NDArray[Any]:
    """The loaded image as a numpy array. np.asarray goes through tobytes(), which holds
    the pixels twice more (its chunks, then their join) beside Pillow's own copy; a large
    image is copied strip by strip instead, so the peak stays at twice the decoded size."""
    width, height = im.size
    probe = np.asarray(im.crop((0, 0, 1, 1)))  # the dtype and channels Pillow exports
    row_bytes = width * probe.itemsize * (probe.size or 1)
    if row_bytes * height <= 2 * STRIP_BYTES:
        return np.asarray(im)
    out = np.empty((height, width, *probe.shape[2:]), probe.dtype)
    rows = max(1, STRIP_BYTES // row_bytes)
    for y in range(0, height, rows):
        end = min(height, y + rows)
        out[y:end] = np.asarray(im.crop((0, y, width, end)))
    return out


def _stored_bits(im: Image.Image) -> int:
    """Bits per sample as the file stores them. Pillow reduces 16-bit RGB(A) PNGs (and some
    TIFFs) to 8 bits; OpenCV's IMREAD_UNCHANGED reads them as uint16."""
    try:
        tile = getattr(im, "tile", None)  # cleared by load(): ask before anything loads
        if im.format == "PNG" and tile:
            # the decoder's raw mode says what the file stores: "RGB;16B" is 16 bits a sample
            raw = str(tile[0][3])
            found = re.search(r";(\d+)", raw)
            return int(found.group(1)) if found else 8
        tags = getattr(im, "tag_v2", None)
        if im.format == "TIFF" and tags is not None:
            value = tags.get(258)  # BitsPerSample
            values = value if isinstance(value, tuple) else (value,)
            return max(int(v) for v in values if v is not None)
    except (IndexError, TypeError, ValueError):
        pass
    return 0


def _check_tiff_strips(im: Image.Image) -> None:
    """A TIFF whose strips or tiles cover less than its declared size (ImageLength patched
    up, strips missing) would load "fine", the rest left zero, after allocating the whole
    declared image: refuse it before anything is allocated."""
    tiles = getattr(im, "tile", None)
    if not tiles:
        return
    covered = 0
    for tile in tiles:
        extents = tile[1]
        if extents is None:
            return
        x0, y0, x1, y1 = extents
        covered += max(x1 - x0, 0) * max(y1 - y0, 0)
    width, height = im.size
    if covered < width * height:
        raise DecodeFailure(
            "NA001",
            f"the TIFF's strips/tiles hold {covered:,} of its {width}×{height} = "
            f"{width * height:,} pixels (a corrupt or truncated header)",
        )


def _exif_orientation(im: Image.Image) -> int | None:
    try:
        value = im.getexif().get(EXIF_ORIENTATION_TAG)
    except Exception:
        return None
    return int(value) if isinstance(value, int) else None


def _tiff_geometry(im: Image.Image, notes: list[str]) -> Geometry | None:
    """A GeoTIFF's georeference (decode/georef.py), its orientation as stored."""
    width, height = im.size
    geometry, note = geometry_from_tags(pillow_tags(im), width, height)
    if note:
        notes.append(note)
    return geometry


def _gdal_nodata(im: Image.Image) -> float | None:
    tags = getattr(im, "tag_v2", None)
    if not isinstance(tags, TiffImagePlugin.ImageFileDirectory_v2):
        return None
    return nodata_of(tags.get(GDAL_NODATA))


def _lossy_reason(im: Image.Image, fh: IO[bytes]) -> str | None:
    fmt = im.format
    if fmt in ("JPEG", "MPO"):
        return "JPEG"
    if fmt == "TIFF" and str(im.info.get("compression", "")).lower() in TIFF_JPEG_COMPRESSIONS:
        return "JPEG-compressed TIFF"
    if fmt == "WEBP" and not _webp_is_lossless(fh):
        return "lossy WebP"
    return None


def _read_at(fh: IO[bytes], n: int, offset: int) -> bytes:
    """``n`` bytes at ``offset``, leaving the position Pillow reads from alone: pread on a
    local file, a seek and back on a remote stream (which has no descriptor)."""
    try:
        fd = fh.fileno()
    except (OSError, ValueError):
        where = fh.tell()
        try:
            fh.seek(offset)
            return fh.read(n)
        finally:
            fh.seek(where)
    return os.pread(fd, n, offset)


def _webp_is_lossless(fh: IO[bytes]) -> bool:
    """True when the RIFF container's image chunk is VP8L (lossless), not VP8 (lossy)."""
    head = _read_at(fh, 12, 0)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return False
    offset = 12
    while True:
        chunk = _read_at(fh, 8, offset)
        if len(chunk) < 8:
            return False
        tag, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if tag == b"VP8L":
            return True
        if tag == b"VP8 ":
            return False
        # other chunks (ALPH: lossy colour with alpha still uses VP8; VP8X, ICCP…): skip
        offset += 8 + size + (size & 1)


def _npy_header(fh: IO[bytes]) -> tuple[tuple[int, ...], np.dtype[Any], bool]:
    """Shape, dtype and order of a .npy stream, refusing pickles and odd dtypes."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise DecodeFailure("NA001", f"unsupported .npy version {version}")
    except DecodeFailure:
        raise
    except Exception as exc:
        raise DecodeFailure("NA001", f"not a valid .npy file: {exc}") from None
    if dtype.hasobject:
        raise DecodeFailure("NA001", "refused: the array holds Python objects (a pickle)")
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise DecodeFailure("NA001", f"unsupported array dtype {dtype}")
    return tuple(shape), dtype, bool(fortran)


def _read_npy(
    fh: IO[bytes], available: int, limits: DecodeLimits, kind: FileKind
) -> npt.NDArray[Any]:
    """Read one .npy stream, refusing pickles and headers the bytes cannot back."""
    max_pixels = limits.max_pixels
    shape, dtype, fortran = _npy_header(fh)
    count = math.prod(shape)
    need = count * dtype.itemsize
    header_end = fh.tell()
    if need > available - header_end:
        raise DecodeFailure(
            "NA002",
            f"header declares shape {tuple(shape)} of {dtype} ({need:,} bytes) but the file "
            f"holds only {max(available - header_end, 0):,} bytes of data",
        )
    spatial = _spatial_pixels(tuple(shape))
    if spatial > max_pixels or count > 8 * max_pixels:
        raise DecodeFailure(
            "NA002", f"array of shape {tuple(shape)} has {spatial:,} pixels, over {max_pixels:,}"
        )
    check_budget(_array_estimate(shape, dtype, kind), f"an array of shape {shape}", limits)
    # Read straight into the array: no intermediate bytes object of the whole payload.
    arr = np.empty(count, dtype=dtype)
    view = memoryview(arr.view(np.uint8))  # type: ignore[arg-type]  # ndarray is a buffer
    got = 0
    while got < need:
        n = fh.readinto(view[got:]) if hasattr(fh, "readinto") else 0
        if not n:
            break
        got += n
    if got != need:
        raise DecodeFailure("NA001", f"truncated .npy data: {got:,} of {need:,} bytes")
    return arr.reshape(shape, order="F" if fortran else "C")


def _spatial_pixels(shape: tuple[int, ...]) -> int:
    if len(shape) == 3:
        return math.prod(hwc_shape(shape)[:2])
    return math.prod(shape)


def _npz_member(zf: zipfile.ZipFile) -> zipfile.ZipInfo:
    """The member audited: the first array by name."""
    members = sorted(n for n in zf.namelist() if n.endswith(".npy"))
    if not members:
        raise DecodeFailure("NA001", "the .npz archive holds no arrays")
    return zf.getinfo(members[0])


def _read_npz(fh: IO[bytes], limits: DecodeLimits, kind: FileKind) -> Decoded:
    max_pixels = limits.max_pixels
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DecodeFailure("NA001", f"not a valid .npz archive: {exc}") from None
    with zf:
        members = sorted(n for n in zf.namelist() if n.endswith(".npy"))
        info = _npz_member(zf)
        name = info.filename
        # A compressed member is not backed by bytes on disk: a few hundred bytes can expand
        # to gigabytes within the pixel limit (8 float64 channels). Bound the expansion by
        # 16 bytes per pixel of the limit (4 float32 channels); zipfile never reads past
        # the declared size, and the array's header is held to the memory budget below.
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > 16 * max_pixels:
            raise DecodeFailure(
                "NA002",
                f"compressed array {name!r} expands to {info.file_size:,} bytes, over 16 "
                f"bytes per pixel of the limit of {max_pixels:,} pixels",
            )
        with zf.open(info) as member:
            arr = _read_npy(member, info.file_size, limits, kind)
    decoded = from_array(arr, "NPZ")
    if len(members) > 1:
        note = f"{len(members)} arrays: {name[:-4]!r} was audited"
        decoded = Decoded(
            decoded.raster, replace(decoded.header, notes=(*decoded.header.notes, note))
        )
    return decoded


def hwc_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Channels-first (C,H,W) with a small C is read as H×W×C."""
    if len(shape) == 3 and shape[0] in (1, 2, 3, 4) and shape[2] not in (1, 2, 3, 4):
        return (shape[1], shape[2], shape[0])
    return shape


def from_array(arr: npt.NDArray[Any], fmt: str) -> Decoded:
    notes: tuple[str, ...] = ()
    if arr.ndim == 3 and hwc_shape(arr.shape) != arr.shape:
        arr = np.moveaxis(arr, 0, 2)
        notes = ("channels-first array read as height×width×channels",)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or 0 in arr.shape:
        raise DecodeFailure("NA001", f"array of shape {arr.shape} is not an image")
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    channels = 1 if arr.ndim == 2 else int(arr.shape[2])
    header = Header(
        format=fmt,
        mode=f"array{channels}",
        dtype=str(arr.dtype),
        width=int(arr.shape[1]),
        height=int(arr.shape[0]),
        channels=channels,
        notes=notes,
    )
    return Decoded(arr, header)
