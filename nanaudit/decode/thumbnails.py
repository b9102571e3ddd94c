"""Thumbnails for the HTML report, made from the pixels the scan has already decoded.

Only when an HTML report is asked for (the decode task says so): otherwise nothing here
runs. A thumbnail is at most THUMB_MAX pixels on its longer side (an integer reduction
factor, so that every pixel of the thumbnail stands for the same block of the file):

- an image: a JPEG of its pixels as a viewer shows them (16-bit, integer and float data
  stretched to 8 bits from the 0.5th to the 99.5th percentile of its finite values, the
  stretch stated), a PNG of per-pixel flags where the file holds
  NaN, ±Inf, float16 overflow or nodata values (a block is flagged when any of its pixels
  is, so one bad pixel stays visible), and coarse per-channel histograms; a raster of 4
  bands or more as a composite of three of them, each stretched from its 2nd to its 98th
  percentile (composite_bands);
- a mask: a PNG of label indices, reduced so that rare labels survive: in each block the
  rarest label (below RARE_SHARE of the mask) wins, else the block's first pixel. Out-of-
  range labels, interpolated edge labels and JPEG halos are rare, and stay visible at any
  reduction. A colour-coded mask keeps its colours.

Thresholds are not applied here: which labels are offending is decided when the report
is built, from these labels and the findings.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..records import FileKind, FileRecord, Visual
from .readers import Decoded, Raster

THUMB_MAX = 192
JPEG_QUALITY = 80
HIST_BINS = 32
RARE_SHARE = 0.01  # labels below this share of a mask win their block in the reduction
MAX_VALUES = 254  # label values a mask thumbnail indexes; then "other" and "not an integer"
OTHER_INDEX, INVALID_INDEX = 254, 255
FLAG_NAN, FLAG_INF, FLAG_FP16, FLAG_NODATA = 1, 2, 4, 8
FP16_MAX = 65504.0
HIST_SAMPLE = 1 << 18  # pixels a numpy-path histogram is taken over (a regular grid above)
DISPLAY_PERCENTILES = (0.5, 99.5)  # what a thumbnail of 16-bit, int or float data spans


def reduction(width: int, height: int) -> int:
    """The integer factor that brings the longer side to at most THUMB_MAX."""
    return max(1, math.ceil(max(width, height) / THUMB_MAX))


def visual_of(
    decoded: Decoded, record: FileRecord, bands: tuple[int, int, int] | None = None
) -> Visual | None:
    """The thumbnails of a decoded file (``record`` is its record, statistics included;
    ``bands``: a multi-band raster's composite, see composite_bands)."""
    if record.kind is FileKind.IMAGE:
        return image_visual(decoded.raster, record, bands)
    return mask_visual(decoded.raster, record)


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", compress_level=1)  # thumbnails of labels compress well at once
    return buf.getvalue()


def _jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def block_max(a: npt.NDArray[Any], f: int) -> npt.NDArray[Any]:
    """The maximum over f×f blocks (the last blocks padded with zeros): ceil(H/f)×ceil(W/f)."""
    if f == 1:
        return a
    h, w = a.shape
    hb, wb = -(-h // f), -(-w // f)
    padded = np.zeros((hb * f, wb * f), dtype=a.dtype)
    padded[:h, :w] = a
    out: npt.NDArray[Any] = padded.reshape(hb, f, wb, f).max(axis=(1, 3))
    return out


# --------------------------------------------------------------------------- images


def image_visual(
    raster: Raster, record: FileRecord, bands: tuple[int, int, int] | None = None
) -> Visual:
    f = reduction(record.width or 1, record.height or 1)
    if isinstance(raster, Image.Image):
        return _image_visual_8bit(raster, f)
    if raster.ndim == 3 and raster.shape[2] >= COMPOSITE_BANDS:
        return _composite_visual(raster, record, f, bands)
    return _image_visual_array(raster, record, f)


def _image_visual_8bit(im: Image.Image, f: int) -> Visual:
    if im.mode in ("P", "PA"):
        im = im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
    elif im.mode == "1":
        im = im.convert("L")
    bands = len(im.getbands())
    hist = np.asarray(im.histogram(), dtype=np.int64).reshape(bands, HIST_BINS, -1).sum(axis=2)
    histogram = tuple(tuple(int(x) for x in row) for row in hist)
    if im.mode in ("L", "RGB"):
        shown = im
    else:  # alpha dropped, CMYK/YCbCr/LAB… as RGB
        shown = im.convert("L") if im.mode in ("LA", "La") else im.convert("RGB")
    small = shown.reduce(f) if f > 1 else shown
    return Visual(
        _jpeg(small),
        small.width,
        small.height,
        hist_range=(0.0, 256.0),
        histogram=histogram,
    )


def _display_channels(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The channels a viewer shows: gray, or the first three."""
    if arr.ndim == 2:
        return arr
    if arr.shape[2] >= 3:
        return arr[..., :3]
    return arr[..., 0]


def _image_visual_array(arr: npt.NDArray[Any], record: FileRecord, f: int) -> Visual:
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8) * np.uint8(255)
    px = record.pixels
    channels = px.channels if px is not None else ()
    finite = [c for c in channels if c.count]
    lo = min((c.min for c in finite), default=0.0)
    hi = max((c.max for c in finite), default=0.0)
    small = _display_channels(arr[::f, ::f]).astype(np.float64)
    if arr.dtype == np.uint8:
        scaled, stretch = small, ""
    elif arr.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        scaled, stretch = small * 255.0, "float values in [0, 1] shown × 255"
    else:
        a, b = robust_range(small, lo, hi)
        scaled = (small - a) * (255.0 / (b - a if b > a else 1.0))
        stretch = f"{arr.dtype} values stretched from [{a:g}, {b:g}] to 8 bits"
        if (a, b) != (lo, hi):
            stretch += (
                f" (the {DISPLAY_PERCENTILES[0]:g}th to {DISPLAY_PERCENTILES[1]:g}th "
                f"percentiles; the file holds {lo:g} to {hi:g})"
            )
    with np.errstate(invalid="ignore"):
        shown = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0).clip(0, 255)
    im = Image.fromarray(shown.round().astype(np.uint8))
    flags = _flags(arr, record, f)
    hist_lo, hist_hi, histogram = _array_histograms(arr, lo, hi)
    return Visual(
        _jpeg(im),
        im.width,
        im.height,
        flags=_png(Image.fromarray(flags, "L")) if flags is not None else b"",
        stretch=stretch,
        hist_range=(hist_lo, hist_hi),
        histogram=histogram,
    )


COMPOSITE_BANDS = 4  # from 4 bands on, a raster is shown as a band composite
SENTINEL2_BANDS = (12, 13)  # Sentinel-2 L2A and L1C band counts
SENTINEL2_RGB = (4, 3, 2)  # B04, B03, B02: red, green, blue (1-based, in either order)
STRETCH_PERCENTILES = (2.0, 98.0)


def composite_bands(count: int, asked: tuple[int, int, int] | None) -> tuple[tuple[int, ...], str]:
    """The 1-based bands shown as red, green and blue of a raster of ``count`` bands, and
    why: ``asked`` (--bands) when the raster has them, else Sentinel-2's true colour for 12
    or 13 bands, else the first three."""
    if asked is not None and max(asked) <= count:
        return asked, "as --bands asked"
    default = SENTINEL2_RGB if count in SENTINEL2_BANDS else (1, 2, 3)
    why = "Sentinel-2's true colour" if count in SENTINEL2_BANDS else "the first three"
    if asked is not None:
        why += f"; --bands {','.join(map(str, asked))} asks for more than its {count} bands"
    return default, why


def _composite_visual(
    arr: npt.NDArray[Any], record: FileRecord, f: int, asked: tuple[int, int, int] | None
) -> Visual:
    """A multi-band raster as three of its bands, each stretched from its 2nd to its 98th
    percentile (of its finite values, the declared nodata left out): a robust stretch, that
    a few bright or nodata pixels do not flatten."""
    chosen, why = composite_bands(arr.shape[2], asked)
    small = arr[::f, ::f]
    planes = []
    for band in chosen:
        plane = small[..., band - 1].astype(np.float64)
        valid = np.isfinite(plane)
        if record.nodata is not None and math.isfinite(record.nodata):
            valid &= plane != record.nodata
        values = plane[valid]
        lo, hi = (
            (float(v) for v in np.percentile(values, STRETCH_PERCENTILES))
            if values.size
            else (0.0, 1.0)
        )
        span = hi - lo if hi > lo else 1.0
        with np.errstate(invalid="ignore"):
            scaled = np.where(valid, (plane - lo) * (255.0 / span), 0.0)
        planes.append(np.nan_to_num(scaled, nan=0.0).clip(0, 255))
    rgb = np.stack(planes, axis=-1).round().astype(np.uint8)
    im = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
    px = record.pixels
    finite = [c for c in px.channels if c.count] if px is not None else []
    lo = min((c.min for c in finite), default=0.0)
    hi = max((c.max for c in finite), default=0.0)
    flags = _flags(arr, record, f)
    hist_lo, hist_hi, histogram = _array_histograms(arr, lo, hi)
    names = ", ".join(str(b) for b in chosen)
    return Visual(
        _jpeg(im),
        im.width,
        im.height,
        flags=_png(Image.fromarray(flags, "L")) if flags is not None else b"",
        stretch=(
            f"bands {names} of {arr.shape[2]} as red, green, blue ({why}), each stretched "
            f"from its {STRETCH_PERCENTILES[0]:g}th to its {STRETCH_PERCENTILES[1]:g}th "
            "percentile"
        ),
        hist_range=(hist_lo, hist_hi),
        histogram=histogram,
    )


def robust_range(small: npt.NDArray[Any], lo: float, hi: float) -> tuple[float, float]:
    """The values a thumbnail stretches to 0..255: the DISPLAY_PERCENTILES of the finite
    values shown (one hot pixel or a dead column does not turn the rest black), or the
    file's [lo, hi] when they coincide (a mostly flat picture) or nothing is finite."""
    with np.errstate(invalid="ignore"):
        values = small[np.isfinite(small)]
    if values.size == 0:
        return lo, hi
    a, b = (float(x) for x in np.percentile(values, DISPLAY_PERCENTILES))
    if b > a:
        return a, b
    return (lo, hi) if hi > lo else (a, b)


def _flags(arr: npt.NDArray[Any], record: FileRecord, f: int) -> npt.NDArray[np.uint8] | None:
    """Per-pixel flags (NaN, Inf, float16 overflow, nodata), reduced by any-of-block; None
    when the statistics say the file has none (the common case costs nothing)."""
    px = record.pixels
    if px is None or arr.dtype.kind != "f":
        nodata_only = record.nodata is not None and math.isfinite(record.nodata)
        if not nodata_only:
            return None
    nan = any(c.nan for c in px.channels) if px is not None else False
    inf = any(c.inf for c in px.channels) if px is not None else False
    fp16 = bool(px.fp16_overflow) if px is not None else False
    sentinels = [v for v, _ in px.sentinels] if px is not None else []
    if record.nodata is not None and math.isfinite(record.nodata):
        sentinels.append(record.nodata)
    if not (nan or inf or fp16 or sentinels):
        return None
    full = np.zeros(arr.shape[:2], dtype=np.uint8)

    def mark(hit: npt.NDArray[np.bool_], flag: int) -> None:
        full[hit.any(axis=2) if hit.ndim == 3 else hit] |= flag

    with np.errstate(invalid="ignore"):
        if nan:
            mark(np.isnan(arr), FLAG_NAN)
        if inf:
            mark(np.isinf(arr), FLAG_INF)
        if fp16:
            mark(np.isfinite(arr) & (np.abs(arr) >= FP16_MAX), FLAG_FP16)
        for value in sentinels:
            mark(arr == np.asarray(value).astype(arr.dtype), FLAG_NODATA)
    reduced: npt.NDArray[np.uint8] = block_max(full, f)
    return reduced


def _array_histograms(
    arr: npt.NDArray[Any], lo: float, hi: float
) -> tuple[float, float, tuple[tuple[int, ...], ...]]:
    """Per-channel counts in HIST_BINS bins over uint8's natural range, [0, 1] or [-1, 1]
    for float data within them, else the file's own [lo, hi] (16-bit data too: nuclei at a
    few thousand fill the first of 32 bins of 0..65,536); over a regular grid of at most
    HIST_SAMPLE pixels."""
    if arr.dtype == np.uint8:
        a, b = 0.0, 256.0
    elif arr.dtype.kind == "f" and lo >= 0.0 and hi <= 1.0:
        a, b = 0.0, 1.0
    elif arr.dtype.kind == "f" and lo >= -1.0 and hi <= 1.0:
        a, b = -1.0, 1.0
    elif math.isfinite(lo) and math.isfinite(hi) and hi > lo:
        a, b = lo, hi + (1.0 if arr.dtype.kind in "iu" else 0.0)
    else:
        a, b = (lo, lo + 1.0) if math.isfinite(lo) else (0.0, 1.0)
    h, w = arr.shape[:2]
    k = math.ceil(math.sqrt(h * w / HIST_SAMPLE)) if h * w > HIST_SAMPLE else 1
    sample = arr[::k, ::k] if k > 1 else arr
    chans = [sample] if sample.ndim == 2 else [sample[..., c] for c in range(sample.shape[2])]
    out = []
    scale = HIST_BINS / (b - a)
    for c in chans:
        v = c.reshape(-1).astype(np.float64)
        v = v[np.isfinite(v)]
        idx = np.clip(((v - a) * scale).astype(np.int64), 0, HIST_BINS - 1)
        out.append(tuple(int(x) for x in np.bincount(idx, minlength=HIST_BINS)))
    return a, b, tuple(out)


# --------------------------------------------------------------------------- masks


def mask_visual(raster: Raster, record: FileRecord) -> Visual | None:
    f = reduction(record.width or 1, record.height or 1)
    arr = np.asarray(raster) if isinstance(raster, Image.Image) else raster
    if record.channels_differ and arr.ndim == 3:
        colour = arr[..., :3] if arr.shape[2] >= 3 else arr[..., :1]
        small = np.ascontiguousarray(colour[::f, ::f])
        if small.dtype != np.uint8:
            top = float(small.max()) or 1.0
            small = (small.astype(np.float64) * (255.0 / top)).astype(np.uint8)
        im = Image.fromarray(small[..., 0] if small.shape[2] == 1 else small)
        return Visual(_png(im), im.width, im.height, colour=True)
    if arr.ndim == 3:
        arr = arr[..., 0]
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    labels = record.labels
    if labels is None:
        return None
    grid, values = reduce_labels(arr, labels.histogram, labels.pixels, f)
    im = Image.fromarray(grid, "L")
    return Visual(_png(im), im.width, im.height, values=values)


def reduce_labels(
    arr: npt.NDArray[Any], histogram: tuple[tuple[int, int], ...], pixels: int, f: int
) -> tuple[npt.NDArray[np.uint8], tuple[int, ...]]:
    """A label mask reduced by ``f`` to indices into the returned values: in each block the
    rarest label under RARE_SHARE of the pixels wins (a value that is not an integer wins
    over all), else the block's first pixel."""
    invalid: npt.NDArray[np.bool_] | None = None
    if arr.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | (arr != np.floor(arr))
        invalid = bad if bad.any() else None
        ints = np.where(bad, 0, arr).astype(np.int64) if invalid is not None else arr
        arr = ints.astype(np.int64)
    limit = RARE_SHARE * pixels
    rare = sorted((n, v) for v, n in histogram if n < limit)[:MAX_VALUES]
    small_uint = arr.dtype.kind == "u" and arr.dtype.itemsize <= 2 and invalid is None
    if f == 1 and small_uint and len(histogram) <= MAX_VALUES:
        # the common case (8/16-bit labels, no reduction): the histogram has the values
        values = np.asarray([v for v, _ in histogram], dtype=np.int64)
        lut = np.zeros(1 << (8 * arr.dtype.itemsize), dtype=np.uint8)
        lut[values] = np.arange(values.size, dtype=np.uint8)
        return np.ascontiguousarray(lut[arr]), tuple(int(v) for v in values)
    near = arr[::f, ::f].astype(np.int64)
    bad_small = invalid[::f, ::f] if invalid is not None else None
    if f > 1 and (rare or invalid is not None):
        # priority: the rarest label gets len(rare), the most common rare one 1, others 0
        order = np.asarray([v for _, v in rare], dtype=np.int64)
        prio_of = np.arange(len(rare), 0, -1, dtype=np.int64)
        if arr.dtype.kind == "u" and arr.dtype.itemsize <= 2:
            lut = np.zeros(1 << (8 * arr.dtype.itemsize), dtype=np.uint16)
            lut[order] = prio_of
            prio = lut[arr]
        else:
            sorter = np.argsort(order)
            keys, ranks = order[sorter], prio_of[sorter]
            flat = arr.reshape(-1).astype(np.int64)
            pos = np.clip(np.searchsorted(keys, flat), 0, max(len(keys) - 1, 0))
            hit = keys[pos] == flat if len(keys) else np.zeros(flat.shape, dtype=bool)
            prio = np.where(hit, ranks[pos] if len(keys) else 0, 0).reshape(arr.shape)
            prio = prio.astype(np.uint16)
        if invalid is not None:
            prio = np.where(invalid, np.uint16(len(rare) + 1), prio).astype(np.uint16)
            bad_small = block_max(invalid.view(np.uint8), f).astype(bool)
        best = block_max(prio, f).astype(np.int64)
        label_of = np.concatenate([[0], order[::-1]])  # priority → label
        won = (best > 0) & (best <= len(rare))
        near = np.where(won, label_of[np.clip(best, 0, len(rare))], near)
    uniq, counts = np.unique(near, return_counts=True)
    if uniq.size > MAX_VALUES:  # instance ids: the most frequent keep an index
        keep = np.sort(uniq[np.argsort(-counts, kind="stable")[:MAX_VALUES]])
    else:
        keep = uniq
    pos = np.clip(np.searchsorted(keep, near), 0, keep.size - 1)
    grid = np.where(keep[pos] == near, pos, OTHER_INDEX).astype(np.uint8)
    if bad_small is not None:
        grid[bad_small] = INVALID_INDEX
    return np.ascontiguousarray(grid), tuple(int(v) for v in keep)
