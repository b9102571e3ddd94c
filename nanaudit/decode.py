"""Decode each file once and reduce it to a :class:`FileRecord`.

Pillow reads the raster formats; numpy reads ``.npy``/``.npz`` with pickles refused and
headers checked against the file size before anything is allocated.  8-bit data is
reduced through Pillow's C histogram (exact moments at a fraction of numpy's cost);
numpy reductions serve only 16-bit, integer and float data.  Nothing here raises for a
bad file: :func:`audit_file` turns every failure into a record carrying a DecodeError.
"""

from __future__ import annotations

import math
import os
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from PIL import Image, TiffImagePlugin

from .model import (
    FP16_MAX,
    DecodeError,
    DecodeSettings,
    FileRecord,
    Kind,
    LabelStats,
    PixelStats,
)
from .stats import (
    ChannelStats,
    channel_stats_from_array,
    channel_stats_from_histogram,
    channels_last,
    luminance,
    percentile_from_histogram,
    percentiles,
    sparse_histogram,
)

# Modes whose bands are all 8 bits: Pillow's histogram() gives 256 exact bins per band.
EIGHT_BIT_MODES = {"L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LA", "PA", "RGBX", "LAB", "HSV"}
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
TIFF_JPEG_COMPRESSIONS = {"jpeg", "tiff_jpeg"}
GDAL_NODATA_TAG = 42113
EXIF_ORIENTATION_TAG = 0x0112
# The only Pillow plugins a file may be decoded with, whatever its name says: the formats
# of IMAGE_SUFFIXES. Content of any other kind is NA001; above all PostScript, which
# Pillow's EPS plugin would hand to Ghostscript.
PILLOW_FORMATS = ("PNG", "JPEG", "BMP", "DIB", "GIF", "WEBP", "TIFF", "PPM")


class DecodeFailure(Exception):
    def __init__(self, check: str, reason: str) -> None:
        super().__init__(reason)
        self.check = check
        self.reason = reason


@dataclass(slots=True)
class _Decoded:
    array: npt.NDArray[Any] | None  # H×W or H×W×C; None when the 8-bit route needs no array
    image: Image.Image | None
    format: str
    mode: str
    width: int
    height: int
    channels: int
    dtype: str
    frames: int = 1
    exif_orientation: int | None = None
    nodata: float | None = None
    lossy: str | None = None
    notes: tuple[str, ...] = ()
    bits: int = 0  # bits per sample as stored, when more than the decoded dtype holds

    def pixels(self) -> npt.NDArray[Any]:
        if self.array is None:
            assert self.image is not None
            self.array = np.asarray(self.image)
        return self.array


def audit_file(
    path: Path, rel: str, kind: Kind, split: str, settings: DecodeSettings
) -> FileRecord:
    """Decode ``path`` once and reduce it to a record. Never raises for a bad file."""
    base = FileRecord(path=rel, kind=kind, split=split)
    try:
        st = os.stat(path)
    except OSError as exc:
        reason = "broken symbolic link" if os.path.islink(path) else _os_reason(exc)
        return replace(base, error=DecodeError("NA001", reason))
    base = replace(base, size_bytes=st.st_size)
    if not os.path.isfile(path):
        return replace(base, error=DecodeError("NA001", "not a regular file"))
    if st.st_size == 0:
        return replace(base, error=DecodeError("NA001", "empty file (0 bytes)"))
    try:
        with np.errstate(all="ignore"):  # NaN/Inf in the data are findings, not warnings
            return _audit_decoded(path, base, kind, settings)
    except DecodeFailure as exc:
        return replace(base, error=DecodeError(exc.check, exc.reason))
    except MemoryError:
        return replace(base, error=DecodeError("NA002", "out of memory while decoding"))
    except Image.DecompressionBombError as exc:
        return replace(base, error=DecodeError("NA002", _bomb_reason(exc, settings.max_pixels)))
    except OSError as exc:
        return replace(base, error=DecodeError("NA001", _os_reason(exc, path)))
    except Exception as exc:  # a decoder's failure on hostile bytes is a finding, not a crash
        reason = f"{type(exc).__name__}: {exc}".replace(str(path), path.name)
        return replace(base, error=DecodeError("NA001", reason))


def _audit_decoded(
    path: Path, base: FileRecord, kind: Kind, settings: DecodeSettings
) -> FileRecord:
    decoded = _decode(path, settings)
    record = replace(
        base,
        format=decoded.format,
        mode=decoded.mode,
        dtype=decoded.dtype,
        width=decoded.width,
        height=decoded.height,
        channels=decoded.channels,
        frames=decoded.frames,
        exif_orientation=decoded.exif_orientation,
        nodata=decoded.nodata,
        bits=decoded.bits,
        lossy=decoded.lossy,
        notes=decoded.notes,
    )
    if kind is Kind.IMAGE:
        return replace(record, pixels=_pixel_stats(decoded, settings))
    return _mask_record(record, decoded, settings)


def _bomb_reason(exc: Exception, limit: int) -> str:
    """Pillow raises past twice its MAX_IMAGE_PIXELS and names that doubled figure: state
    the configured limit instead, with the pixel count Pillow found."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    if found is None:
        return f"{exc} (limit {limit:,} pixels)"
    return f"header declares {int(found.group(1)):,} pixels, over the limit of {limit:,}"


def _os_reason(exc: OSError, path: Path | None = None) -> str:
    if exc.strerror:
        return exc.strerror.lower()
    text = str(exc) or type(exc).__name__
    if path is not None:  # Pillow quotes the absolute path: reports must not depend on it
        text = text.replace(f" {str(path)!r}", "").replace(str(path), path.name)
    return text


# --------------------------------------------------------------------------- decoding


def _decode(path: Path, settings: DecodeSettings) -> _Decoded:
    suffix = path.suffix.lower()
    if suffix == ".npy":
        with open(path, "rb") as fh:
            arr = _read_npy(fh, os.fstat(fh.fileno()).st_size, settings.max_pixels)
        return _from_array(arr, "NPY")
    if suffix == ".npz":
        return _read_npz(path, settings.max_pixels)
    return _read_pillow(path, settings)


def _read_pillow(path: Path, settings: DecodeSettings) -> _Decoded:
    Image.MAX_IMAGE_PIXELS = max(settings.max_pixels, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bombs are ours to report; Pillow's warnings are noise
        im = Image.open(path, formats=PILLOW_FORMATS)
        try:
            width, height = im.size
            if width * height > settings.max_pixels:
                raise DecodeFailure(
                    "NA002",
                    f"header declares {width}×{height} = {width * height:,} pixels, "
                    f"over the limit of {settings.max_pixels:,}",
                )
            fmt = im.format or path.suffix.lstrip(".").upper()
            frames = int(getattr(im, "n_frames", 1) or 1)
            notes: list[str] = []
            if frames > 1:
                notes.append(f"{frames} frames/pages: the first was audited")
            bits = _stored_bits(im)  # before getexif(), which loads a PNG
            orientation = _exif_orientation(im)
            if fmt == "TIFF" and orientation in (5, 6, 7, 8):
                # Pillow reports (and loads) a TIFF already turned by its Orientation tag;
                # the record keeps the stored size, as for every other format (NA006/NA007)
                width, height = height, width
            nodata = _gdal_nodata(im)
            lossy = _lossy_reason(im, path)
            if fmt == "TIFF":
                _check_tiff_strips(im)
            im.load()
        except BaseException:
            im.close()
            raise
    mode = im.mode
    if mode == "P" and "transparency" in im.info:
        notes.append("palette with transparency")
    if mode in EIGHT_BIT_MODES:
        bands = len(im.getbands())
        if bits > 8:
            notes.append(f"stored with {bits} bits per channel; Pillow decodes it to 8 bits")
        return _Decoded(
            None,
            im,
            fmt,
            mode,
            width,
            height,
            bands,
            "uint8",
            frames,
            orientation,
            nodata,
            lossy,
            tuple(notes),
            bits if bits > 8 else 0,
        )
    arr = np.asarray(im)
    im.close()
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    channels = 1 if arr.ndim == 2 else int(arr.shape[2])
    return _Decoded(
        arr,
        None,
        fmt,
        mode,
        width,
        height,
        channels,
        str(arr.dtype),
        frames,
        orientation,
        nodata,
        lossy,
        tuple(notes),
    )


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


def _gdal_nodata(im: Image.Image) -> float | None:
    tags = getattr(im, "tag_v2", None)
    if not isinstance(tags, TiffImagePlugin.ImageFileDirectory_v2):
        return None
    raw = tags.get(GDAL_NODATA_TAG)
    if raw is None:
        return None
    try:
        return float(str(raw).strip("\x00 "))
    except ValueError:
        return math.nan


def _lossy_reason(im: Image.Image, path: Path) -> str | None:
    fmt = im.format
    if fmt in ("JPEG", "MPO"):
        return "JPEG"
    if fmt == "TIFF" and str(im.info.get("compression", "")).lower() in TIFF_JPEG_COMPRESSIONS:
        return "JPEG-compressed TIFF"
    if fmt == "WEBP" and not _webp_is_lossless(path):
        return "lossy WebP"
    return None


def _webp_is_lossless(path: Path) -> bool:
    """True when the RIFF container's image chunk is VP8L (lossless), not VP8 (lossy)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
            return False
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                return False
            tag, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if tag == b"VP8L":
                return True
            if tag == b"VP8 ":
                return False
            if tag == b"ALPH":  # lossy colour with alpha still uses VP8
                pass
            fh.seek(size + (size & 1), os.SEEK_CUR)


def _read_npy(fh: IO[bytes], available: int, max_pixels: int) -> npt.NDArray[Any]:
    """Read one .npy stream, refusing pickles and headers the bytes cannot back."""
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
        return math.prod(_hwc_shape(shape)[:2])
    return math.prod(shape)


def _read_npz(path: Path, max_pixels: int) -> _Decoded:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DecodeFailure("NA001", f"not a valid .npz archive: {exc}") from None
    with zf:
        members = sorted(n for n in zf.namelist() if n.endswith(".npy"))
        if not members:
            raise DecodeFailure("NA001", "the .npz archive holds no arrays")
        name = members[0]
        info = zf.getinfo(name)
        # A compressed member is not backed by bytes on disk: a few hundred bytes can expand
        # to gigabytes within the pixel limit (8 float64 channels). Bound the expansion by
        # 16 bytes per pixel of the limit (4 float32 channels); zipfile never reads past it.
        if info.compress_type != zipfile.ZIP_STORED and info.file_size > 16 * max_pixels:
            raise DecodeFailure(
                "NA002",
                f"compressed array {name!r} expands to {info.file_size:,} bytes, over 16 bytes "
                f"per pixel of the limit of {max_pixels:,} pixels",
            )
        with zf.open(info) as member:
            arr = _read_npy(member, info.file_size, max_pixels)
    decoded = _from_array(arr, "NPZ")
    if len(members) > 1:
        decoded.notes = (*decoded.notes, f"{len(members)} arrays: {name[:-4]!r} was audited")
    return decoded


def _hwc_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Channels-first (C,H,W) with a small C is read as H×W×C."""
    if len(shape) == 3 and shape[0] in (1, 2, 3, 4) and shape[2] not in (1, 2, 3, 4):
        return (shape[1], shape[2], shape[0])
    return shape


def _from_array(arr: npt.NDArray[Any], fmt: str) -> _Decoded:
    notes: tuple[str, ...] = ()
    if arr.ndim == 3 and _hwc_shape(arr.shape) != arr.shape:
        arr = np.moveaxis(arr, 0, 2)
        notes = ("channels-first array read as height×width×channels",)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or 0 in arr.shape:
        raise DecodeFailure("NA001", f"array of shape {arr.shape} is not an image")
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    channels = 1 if arr.ndim == 2 else int(arr.shape[2])
    return _Decoded(
        arr,
        None,
        fmt,
        f"array{channels}",
        int(arr.shape[1]),
        int(arr.shape[0]),
        channels,
        str(arr.dtype),
        notes=notes,
    )


# --------------------------------------------------------------------------- images


def _pixel_stats(d: _Decoded, settings: DecodeSettings) -> PixelStats:
    im = d.image
    if im is not None:
        if im.mode in ("P", "PA"):  # a palette image is seen by loaders through its colours
            im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
        return _pixel_stats_8bit(im, settings.hashes)
    arr = d.pixels()
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8) * np.uint8(255)
    chans = channels_last(arr)
    stats = tuple(channel_stats_from_array(c) for c in chans)
    luma = luminance(arr)
    p5, p99 = _luma_percentiles(luma)
    content_hash, phash = "", 0
    if settings.hashes:
        content = zlib.crc32(np.ascontiguousarray(arr).data, _hash_seed(arr.dtype.str, arr.shape))
        gray = luma.astype(np.float32)
        if any(c.nan or c.inf for c in stats) or not np.isfinite(gray).all():
            f32 = float(np.finfo(np.float32).max)
            gray = np.nan_to_num(np.clip(luma, -f32, f32), nan=0.0).astype(np.float32)
        content_hash, phash = f"{content:08x}", _phash(Image.fromarray(gray, "F"))
    overflow = 0
    sentinels: tuple[tuple[float, int], ...] = ()
    if arr.dtype.kind == "f":
        lo = min(s.min for s in stats)
        hi = max(s.max for s in stats)
        if max(abs(lo), abs(hi)) >= FP16_MAX:
            overflow = int(np.count_nonzero(np.abs(arr[np.isfinite(arr)]) >= FP16_MAX))
        if math.isfinite(lo):
            found = []
            for value in settings.sentinels:
                if lo <= value:
                    n = int(np.count_nonzero(arr == np.asarray(value, dtype=arr.dtype)))
                    if n:
                        found.append((value, n))
            sentinels = tuple(found)
    return PixelStats(stats, p5, p99, overflow, sentinels, content_hash, phash)


PERCENTILE_SAMPLE = 1 << 16


def _luma_percentiles(luma: npt.NDArray[Any]) -> tuple[float, float]:
    """5th and 99th percentiles of the luminance. One 8- or 16-bit integer channel: exact,
    from its histogram. Otherwise (float, or a 16-bit colour image's weighted luma): exact
    up to 65,536 pixels, and above that over a regular grid of every k-th row and column
    that keeps at most 65,536 of them — a full selection over millions of floats would
    cost more than the decode, for two informational checks (NA112/NA113)."""
    if luma.dtype.kind in "ui" and luma.dtype.itemsize <= 2:
        flat = luma.reshape(-1)
        offset = 0 if luma.dtype.kind == "u" else -(1 << (8 * luma.dtype.itemsize - 1))
        hist = np.bincount((flat.astype(np.int64) - offset) if offset else flat)
        return (
            percentile_from_histogram(hist, 5, offset),
            percentile_from_histogram(hist, 99, offset),
        )
    if luma.size > PERCENTILE_SAMPLE and luma.ndim == 2:
        k = math.ceil(math.sqrt(luma.size / PERCENTILE_SAMPLE))
        luma = luma[::k, ::k]
    p5, p99 = percentiles(luma, (5, 99))
    return p5, p99


_PHASH_N = 32
_K = np.arange(_PHASH_N)
_DCT = np.sqrt(2 / _PHASH_N) * np.cos(np.pi * (2 * _K[None, :] + 1) * _K[:, None] / (2 * _PHASH_N))
_DCT[0] /= np.sqrt(2)  # orthonormal DCT-II matrix
_DCT8 = np.ascontiguousarray(_DCT[:8])


def _hash_seed(dtype: str, shape: tuple[int, ...]) -> int:
    """The content hash starts from dtype and shape, the same for Pillow and numpy, so that
    the same pixels in a PNG and in a .npy match."""
    return zlib.crc32(repr((dtype, tuple(int(x) for x in shape))).encode())


def _phash(gray: Image.Image) -> int:
    """64-bit perceptual hash (pHash): the signs, against their median, of the 8×8 lowest
    frequencies of the DCT of a 32×32 thumbnail. Resizes and re-encodes move few bits;
    unlike a difference hash, smooth gradients do not make unrelated pictures collide."""
    small = gray.resize((_PHASH_N, _PHASH_N), Image.Resampling.BILINEAR, reducing_gap=2.0)
    a = np.asarray(small, dtype=np.float64)
    # only the 8 lowest frequencies; einsum keeps BLAS (and its threads) out of the hot path
    low = np.einsum("ij,jk,lk->il", _DCT8, a, _DCT8).reshape(-1)
    bits = low > np.median(low[1:])  # the DC term is left out of the median
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def _pixel_stats_8bit(im: Image.Image, hashes: bool = True) -> PixelStats:
    if im.mode == "1":
        im = im.convert("L")
    hist = im.histogram()
    bands = len(im.getbands())
    stats = tuple(channel_stats_from_histogram(hist[256 * b : 256 * (b + 1)]) for b in range(bands))
    if bands == 1:
        luma, gray = hist, im
    elif im.mode in ("RGB", "RGBA", "RGBX"):
        gray = im.convert("L")
        luma = gray.histogram()
    else:  # LA, CMYK, YCbCr…: the first band is the best single stand-in
        gray = im.getchannel(0)
        luma = hist[:256]
    content_hash, phash = "", 0
    if hashes:
        # The content hash covers the decoded pixels, so a lossless re-encode matches too;
        # NA305/NA306 compare it together with size and the exact moments.
        w, h = im.size
        shape = (h, w) if bands == 1 else (h, w, bands)
        content = zlib.crc32(im.tobytes(), _hash_seed(np.dtype(np.uint8).str, shape))
        content_hash, phash = f"{content:08x}", _phash(gray)
    return PixelStats(
        stats,
        percentile_from_histogram(luma, 5),
        percentile_from_histogram(luma, 99),
        content_hash=content_hash,
        phash=phash,
    )


# --------------------------------------------------------------------------- masks


def _mask_record(record: FileRecord, d: _Decoded, settings: DecodeSettings) -> FileRecord:
    im = d.image
    if im is not None and im.mode in ("L", "P"):
        hist = im.histogram()
        labels = LabelStats(sparse_histogram(hist), d.width * d.height)
        if _has_rare(labels, settings):
            labels = replace(labels, boundary_labels=_boundary_labels(d.pixels(), labels, settings))
        return replace(record, labels=labels)
    arr = d.pixels()
    if im is not None:
        im.close()
    if arr.ndim == 3:
        colour = arr[..., :3] if record.mode in ALPHA_MODES or arr.shape[2] == 4 else arr
        if record.mode in ("LA", "PA"):
            colour = arr[..., :1]
        first = colour[..., 0]
        differ = any(not np.array_equal(first, colour[..., c]) for c in range(1, colour.shape[2]))
        if differ:
            return replace(record, channels_differ=True, colours=_count_colours(colour))
        arr = first
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    labels = _label_stats(arr)
    if _has_rare(labels, settings):
        labels = replace(labels, boundary_labels=_boundary_labels(arr, labels, settings))
    return replace(record, labels=labels)


def _label_stats(arr: npt.NDArray[Any]) -> LabelStats:
    pixels = int(arr.size)
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        nan = int(np.count_nonzero(np.isnan(arr)))
        inf = pixels - int(np.count_nonzero(finite)) - nan
        values = arr[finite] if nan or inf else arr.reshape(-1)
        integral = values == np.floor(values)
        non_integer = int(values.size - np.count_nonzero(integral))
        whole = values[integral] if non_integer else values
        if whole.size and (whole.min() < -(2**62) or whole.max() > 2**62):
            raise DecodeFailure("NA001", "float mask values beyond the integer range")
        uniq, counts = np.unique(whole.astype(np.int64), return_counts=True)
        hist = tuple((int(u), int(c)) for u, c in zip(uniq, counts, strict=True))
        return LabelStats(hist, pixels, non_integer, nan, inf)
    flat = arr.reshape(-1)
    if flat.dtype.kind == "u" and flat.dtype.itemsize <= 2:
        return LabelStats(sparse_histogram(np.bincount(flat)), pixels)
    uniq, counts = np.unique(flat, return_counts=True)
    return LabelStats(tuple((int(u), int(c)) for u, c in zip(uniq, counts, strict=True)), pixels)


def _has_rare(labels: LabelStats, settings: DecodeSettings) -> bool:
    limit = settings.rare_label_fraction * labels.pixels
    return labels.distinct >= 3 and any(c < limit for _, c in labels.histogram)


def _boundary_labels(
    arr: npt.NDArray[Any], labels: LabelStats, settings: DecodeSettings
) -> tuple[int, ...]:
    """Rare labels every pixel of which touches two different other labels (NA209)."""
    if arr.ndim != 2:
        return ()
    limit = settings.rare_label_fraction * labels.pixels
    rare = [v for v, c in labels.histogram if c < limit][:64]
    if not rare:
        return ()
    ys, xs = np.nonzero(np.isin(arr, np.asarray(rare)))
    values = arr[ys, xs]
    padded = np.pad(arr, 1, mode="edge")
    offsets = [(dy, dx) for dy in (0, 1, 2) for dx in (0, 1, 2) if (dy, dx) != (1, 1)]
    neighbours = np.stack([padded[ys + dy, xs + dx] for dy, dx in offsets]).astype(np.int64)
    # per rare pixel, the number of distinct other labels around it, without a Python loop:
    # its own label becomes a sentinel, the column is sorted, and the changes are counted
    sentinel = np.int64(np.iinfo(np.int64).max)
    nb = np.where(neighbours == values.astype(np.int64)[None, :], sentinel, neighbours)
    nb.sort(axis=0)
    real = nb != sentinel
    changes = (nb[1:] != nb[:-1]) & real[1:]
    distinct = real[0].astype(np.int64) + changes.sum(axis=0)
    found: list[int] = []
    for v in rare:  # at most 64 labels
        here = values == v
        if here.any() and bool((distinct[here] >= 2).all()):
            found.append(int(v))
    return tuple(found)


def _count_colours(colour: npt.NDArray[Any]) -> int:
    flat = colour.reshape(-1, colour.shape[-1])
    if flat.dtype == np.uint8 and flat.shape[1] <= 4:
        packed = np.zeros(flat.shape[0], dtype=np.uint32)
        for c in range(flat.shape[1]):
            packed |= flat[:, c].astype(np.uint32) << np.uint32(8 * c)
        return int(np.unique(packed).size)
    return int(np.unique(flat, axis=0).shape[0])


def load_for_tests(path: Path) -> Sequence[ChannelStats]:  # pragma: no cover - debug helper
    rec = audit_file(path, path.name, Kind.IMAGE, "all", DecodeSettings())
    return rec.pixels.channels if rec.pixels else ()
