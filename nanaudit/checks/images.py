"""NA1xx: image pixels."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np

from ..aggregate import colour_family
from ..findings import FindingData, ImageFlag, Marks, finite, optional
from ..kinds import Float
from ..records import FileRecord, PixelStats
from ..severity import Severity
from .context import CheckContext
from .registry import Hit, NoOptions, check, threshold
from .scopes import IMAGE

FP16_MAX = 65504.0
Ctx = CheckContext[NoOptions]


def _px(rec: FileRecord) -> PixelStats:
    assert rec.pixels is not None
    return rec.pixels


def _total(p: PixelStats) -> int:
    return sum(c.pixels for c in p.channels)


def _finite_range(p: PixelStats) -> tuple[float, float]:
    lo = min(c.min for c in p.channels)
    hi = max(c.max for c in p.channels)
    return lo, hi


@dataclass(frozen=True, slots=True)
class FlaggedData(FindingData):
    """Values the decoder flagged pixel by pixel (NaN, Inf): the gallery marks them."""

    FLAG: ClassVar[ImageFlag] = ""
    WHAT: ClassVar[str] = ""

    def marks(self) -> Marks:
        return Marks(self.WHAT, image_flag=self.FLAG)


@dataclass(frozen=True, slots=True)
class NanData(FlaggedData):
    FLAG: ClassVar[ImageFlag] = "nan"
    WHAT: ClassVar[str] = "NaN pixels"
    nan: int
    values: int

    def badness(self) -> float:
        return self.nan


@check("NA101", "nan-pixels", Severity.ERROR, IMAGE, samples=True)
def nan_pixels(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The image holds NaN values (float TIFF, NPY, NPZ…).

    Why: one NaN pixel makes every logit of the batch NaN through BatchNorm's statistics,
    then the gradients, then the weights: the loss is NaN from that step on.

    Fix: fill the holes (np.nan_to_num, inpainting, or the nodata value you normalise
    away) before saving, or mask them out of the loss with the ignore index.
    """
    p = _px(rec)
    nan = sum(c.nan for c in p.channels)
    if nan and not _nan_is_nodata(rec):  # declared nodata: NA120's, counted apart
        total = _total(p)
        yield Hit(f"{nan:,} NaN values ({nan / total:.2%} of {total:,})", NanData(nan, total))


def _nan_is_nodata(rec: FileRecord) -> bool:
    return rec.nodata is not None and math.isnan(rec.nodata)


@dataclass(frozen=True, slots=True)
class NanNodataData(FlaggedData):
    FLAG: ClassVar[ImageFlag] = "nan"
    WHAT: ClassVar[str] = "NaN nodata pixels"
    nodata: int
    values: int

    def badness(self) -> float:
        return self.nodata


@check("NA120", "nan-nodata", Severity.ERROR, IMAGE)
def nan_nodata(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The raster declares NaN as its nodata value (GDAL_NODATA "nan") and holds NaN
    values: counted here, apart from NaN in data that declares another nodata value or
    none (NA101).

    Why: the tile edges and gaps that carry no data reach the model as NaN unless the
    pipeline masks them: the per-channel mean and std come out NaN, then the first
    convolution and the loss.

    Fix: mask it (the ignore index in the label at the same pixels, and a valid-pixel mask
    in the loader), or fill it (with the band mean, or 0 after normalising) before the
    normalisation statistics are computed.
    """
    p = _px(rec)
    nan = sum(c.nan for c in p.channels)
    if nan and _nan_is_nodata(rec):
        total = _total(p)
        yield Hit(
            f"{nan:,} values are the declared NaN nodata ({nan / total:.2%} of {total:,}): "
            "mask them or fill them before normalising",
            NanNodataData(nan, total),
        )


@dataclass(frozen=True, slots=True)
class InfData(FlaggedData):
    FLAG: ClassVar[ImageFlag] = "inf"
    WHAT: ClassVar[str] = "±Inf pixels"
    inf: int
    values: int

    def badness(self) -> float:
        return self.inf


@check("NA102", "inf-pixels", Severity.ERROR, IMAGE, samples=True)
def inf_pixels(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The image holds +Inf or -Inf values.

    Why: the same as NaN: inf - inf and 0 × inf are NaN in the first normalisation or
    convolution, and the loss follows.

    Fix: clip or replace the infinite values before saving.
    """
    p = _px(rec)
    inf = sum(c.inf for c in p.channels)
    if inf:
        total = _total(p)
        yield Hit(
            f"{inf:,} infinite values ({inf / total:.2%} of {total:,})",
            InfData(inf, total),
        )


@dataclass(frozen=True, slots=True)
class ConstantData(FindingData):
    value: tuple[float, ...]


@check("NA103", "constant-image", Severity.ERROR, IMAGE, samples=True)
def constant_image(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """Every channel holds a single value (max == min in each channel; a gray image, or a
    flat colour).

    Why: per-image standardisation (x - mean) / std and min-max scaling divide by zero, per
    image or per channel, and produce NaN or Inf for the whole image.

    Fix: remove the blank capture, or guard the normalisation with an epsilon.
    """
    p = _px(rec)
    if _is_constant(p):
        values = [c.min for c in p.channels]
        shown = (
            f"{values[0]:g}"
            if len(set(values)) == 1
            else "(" + ", ".join(f"{v:g}" for v in values) + ")"
        )
        yield Hit(f"every pixel is {shown}", ConstantData(tuple(values)))


def _is_constant(p: PixelStats) -> bool:
    return all(c.count and c.min == c.max for c in p.channels)


@dataclass(frozen=True, slots=True)
class LowVarianceOptions:
    min_std_ratio: float = threshold(
        0.005, Float(0.0, 1.0), "every channel's std below this share of full scale"
    )
    min_relative_std: float = threshold(
        0.02,
        Float(0.0, 1.0),
        "and below this share of the median std of the dataset's other images of its dtype "
        "(0: full scale alone)",
    )


@dataclass(frozen=True, slots=True)
class LowVarianceData(FindingData):
    std: tuple[float, ...]
    limit: float
    typical_std: float | None = optional()


@check("NA104", "low-variance", Severity.WARNING, IMAGE, LowVarianceOptions, samples=True)
def low_variance(ctx: CheckContext[LowVarianceOptions], rec: FileRecord) -> Iterator[Hit]:
    """Every channel's standard deviation is below 0.5% of full scale (min_std_ratio; full
    scale from the bits the data uses: 4095 for 12-bit data in 16-bit files), while the image
    is not constant, and, when the dataset holds 4 or more other images of its dtype, below
    2% of their median std (min_relative_std; 0 turns this comparison off): a frame with
    nothing but sensor noise is caught, dim images of a modality that is dark by nature
    are not.

    Why: near-constant input gives tiny denominators in per-image normalisation (huge
    values) and collapses BatchNorm's running variance.

    Fix: check the capture or the export (a wrong window/level, an all-dark frame); drop
    the file if it carries no signal.
    """
    p = _px(rec)
    if _is_constant(p):
        return
    scale = ctx.scale(rec)
    ratio = ctx.options.min_std_ratio
    limit = ratio * scale.span
    stds = [c.std for c in p.channels if c.count]
    if not stds or not all(s < limit for s in stds):
        return
    share = ctx.options.min_relative_std
    typical = ctx.dataset.typical_std(rec.dtype, max(stds)) if share else None
    if typical is not None and max(stds) >= share * typical:
        return  # as varied as this dataset's images are: the signal of a dim modality
    against = f"; the other {rec.dtype} images' median std is {typical:.4g}" if typical else ""
    yield Hit(
        f"std {max(stds):.4g} in every channel, under {ratio:.2%} of "
        f"full scale ({scale.basis}){against}",
        LowVarianceData(tuple(round(s, 6) for s in stds), limit, typical),
    )


@dataclass(frozen=True, slots=True)
class MostlyZeroOptions:
    min_zero_fraction: float = threshold(
        0.95, Float(0.0, 1.0), "share of exact zeros in every channel"
    )


@dataclass(frozen=True, slots=True)
class MostlyZeroData(FindingData):
    zero_fraction: tuple[float, ...]


@check("NA105", "mostly-zero", Severity.WARNING, IMAGE, MostlyZeroOptions, samples=True)
def mostly_zero(ctx: CheckContext[MostlyZeroOptions], rec: FileRecord) -> Iterator[Hit]:
    """At least 95% of the pixels are exactly 0 in every channel (min_zero_fraction),
    while the image is not constant.

    Why: blank or heavily padded captures: the same tiny-denominator failures as NA104,
    and a model that learns the padding.

    Fix: crop the padding, or drop the blank capture.
    """
    p = _px(rec)
    if _is_constant(p):
        return
    fractions = [c.zeros / c.pixels for c in p.channels if c.pixels]
    least = ctx.options.min_zero_fraction
    if fractions and all(f >= least for f in fractions):
        yield Hit(
            f"{min(fractions):.1%} or more of each channel is exactly 0",
            MostlyZeroData(tuple(round(f, 6) for f in fractions)),
        )


@dataclass(frozen=True, slots=True)
class Fp16Options:
    limit: float = threshold(FP16_MAX, Float(0.0, 3.5e38), "the absolute value that overflows")


@dataclass(frozen=True, slots=True)
class Fp16Data(FlaggedData):
    """Values the decoder counted (and flagged) beyond the largest float16."""

    FLAG: ClassVar[ImageFlag] = "fp16"
    WHAT: ClassVar[str] = "values beyond float16"
    count: int
    min: float
    max: float

    def badness(self) -> float:
        return self.count


@dataclass(frozen=True, slots=True)
class Fp16LimitData(FlaggedData):
    """A configured limit: the range proves it (the gallery marks the values beyond
    float16 that the decoder flagged)."""

    FLAG: ClassVar[ImageFlag] = "fp16"
    WHAT: ClassVar[str] = "values beyond float16"
    limit: float
    min: float
    max: float


@check("NA106", "fp16-overflow", Severity.ERROR, IMAGE, Fp16Options, samples=True)
def fp16_overflow(ctx: CheckContext[Fp16Options], rec: FileRecord) -> Iterator[Hit]:
    """A float pixel has an absolute value of at least 65504, the largest float16 (limit).

    Why: under mixed precision (autocast, .half()) the value becomes inf, then NaN.

    Fix: rescale the data to a sane range before saving or in the loader, before any
    half-precision cast.
    """
    p = _px(rec)
    lo, hi = _finite_range(p)
    limit = ctx.options.limit
    if limit == FP16_MAX:  # the decoder counted these values exactly
        if p.fp16_overflow:
            yield Hit(
                f"{p.fp16_overflow:,} values with |x| ≥ 65504 (range {lo:g} to {hi:g}) "
                "overflow float16",
                Fp16Data(p.fp16_overflow, lo, hi),
            )
    elif (rec.dtype or "").startswith("float") and math.isfinite(lo) and max(-lo, hi) >= limit:
        yield Hit(  # a configured limit: the finite range proves it, without a count
            f"values with |x| ≥ {limit:g} (range {lo:g} to {hi:g}); float16 overflows at 65504",
            Fp16LimitData(limit, lo, hi),
        )


@dataclass(frozen=True, slots=True)
class DepthData(FindingData):
    dtype: str
    max: float


@dataclass(frozen=True, slots=True)
class StoredBitsData(FindingData):
    bits: int
    dtype: str


@check("NA107", "high-bit-depth", Severity.WARNING, IMAGE, samples=True)
def high_bit_depth(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """An integer image deeper than 8 bits (16-bit PNG/TIFF, int32; also a 16-bit RGB PNG
    that Pillow itself reduces to 8 bits), or a float image whose maximum exceeds 255.
    Info, not a warning, when every image of its split has its dtype: a dataset that is 16-bit
    by design (microscopy), whose scale the Normalize constants give.

    Why: pipelines written for 8-bit data divide by 255 (ToTensor only scales uint8), so
    16-bit input reaches the network at values up to 65535: activations explode, ReLUs
    die, and float16 overflows.

    Fix: scale by the true full scale (x / 65535, or a per-dataset mean and std) in the
    loader, or convert to 8 bits if the depth carries nothing.
    """
    p = _px(rec)
    dtype = rec.dtype or ""
    _, hi = _finite_range(p)
    dtypes = ctx.here.stats.dtypes
    by_design = len(dtypes) == 1 and dtypes[0][0] == dtype
    severity = Severity.INFO if by_design else None
    whole = f" (every image of split {ctx.here.name!r} is {dtype})" if by_design else ""
    if dtype in ("uint16", "int16", "uint32", "int32", "uint64", "int64"):
        yield Hit(
            f"{dtype} image (max value {hi:g}): not 8-bit{whole}",
            DepthData(dtype, hi),
            severity,
        )
    elif rec.bits > 8:
        yield Hit(
            f"stored with {rec.bits} bits per channel: Pillow decodes it to 8 bits (the statistics "
            "here), OpenCV's IMREAD_UNCHANGED to uint16, up to 65535",
            StoredBitsData(rec.bits, dtype),
        )
    elif dtype.startswith("float") and math.isfinite(hi) and hi > 255:
        yield Hit(
            f"{dtype} image with max value {hi:g} > 255: un-normalised{whole}",
            DepthData(dtype, hi),
            severity,
        )


@dataclass(frozen=True, slots=True)
class NodataTagData(FlaggedData):
    FLAG: ClassVar[ImageFlag] = "nodata"
    WHAT: ClassVar[str] = "nodata values"
    nodata: float
    values: int  # how many values hold it

    def badness(self) -> float:
        return self.values


@dataclass(frozen=True, slots=True)
class SentinelData(FlaggedData):
    FLAG: ClassVar[ImageFlag] = "nodata"
    WHAT: ClassVar[str] = "nodata values"
    sentinels: tuple[tuple[float, int], ...]


@check("NA108", "nodata-sentinel", Severity.WARNING, IMAGE, samples=True)
def nodata_sentinel(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """Values equal to the nodata value a GeoTIFF's GDAL_NODATA tag declares, or common
    nodata sentinels (-9999, -32768, the lowest float32) in float data. A declared value
    that no pixel holds is only info; a declared NaN is NA120's.

    Why: nodata pixels pass through normalisation as extreme values and dominate the
    statistics, the activations and the loss.

    Fix: mask them (the ignore index in the label at the same pixels) or fill them before
    the normalisation statistics are computed.
    """
    p = _px(rec)
    declared = rec.nodata
    if declared is not None and not math.isnan(declared):
        found = p.nodata_values
        total = _total(p)
        tag = f"GDAL_NODATA tag declares nodata value {declared:g}"
        if found:
            yield Hit(
                f"{tag}: {found:,} values hold it ({found / total:.2%} of {total:,})",
                NodataTagData(declared, found),
            )
        else:
            yield Hit(f"{tag}; no value holds it", NodataTagData(declared, 0), Severity.INFO)
    sentinels = [(v, n) for v, n in p.sentinels if v != declared]  # not counted twice
    if sentinels:
        parts = ", ".join(f"{v:g} ×{n:,}" for v, n in sentinels)
        yield Hit(
            f"nodata sentinel values present: {parts}",
            SentinelData(tuple(sentinels)),
        )


@dataclass(frozen=True, slots=True)
class ModeData(FindingData):
    mode: str | None
    family: str
    majority: str


@check("NA109", "inconsistent-mode", Severity.WARNING, IMAGE, samples=True)
def inconsistent_mode(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The image's colour mode or channel count differs from its split's majority
    (grayscale, RGBA, CMYK or palette among RGB).

    Why: the loader stacks tensors of different shapes and crashes, or an implicit
    convert("RGB") silently changes the values (CMYK, palette, alpha).

    Fix: convert the odd files to the majority mode once, offline, and check the result.
    """
    family = colour_family(rec)
    split = ctx.here
    major = split.stats.family
    if major is not None and family != major:
        n = dict(split.stats.families).get(major, 0)
        yield Hit(
            f"mode {rec.mode} ({family}, {rec.channels} channel{'s' if rec.channels != 1 else ''}) "
            f"while {n} of {split.stats.images} images in {split.name!r} are {major}",
            ModeData(rec.mode, family, major),
        )


@dataclass(frozen=True, slots=True)
class DtypeData(FindingData):
    dtype: str | None
    majority: str


@check("NA110", "inconsistent-dtype", Severity.WARNING, IMAGE, samples=True)
def inconsistent_dtype(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The image's bit depth / dtype differs from its split's majority.

    Why: one image is scaled differently from the rest (a uint16 file divided by 255 is
    256 times too bright), which the network sees as an outlier batch.

    Fix: convert the file to the majority dtype with the right scaling.
    """
    split = ctx.here
    major = split.stats.dtype
    if major is not None and rec.dtype != major:
        n = dict(split.stats.dtypes).get(major, 0)
        yield Hit(
            f"dtype {rec.dtype} while {n} of {split.stats.images} images in {split.name!r} "
            f"are {major}",
            DtypeData(rec.dtype, major),
        )


@dataclass(frozen=True, slots=True)
class OddSizeOptions:
    iqr_factor: float = threshold(3.0, Float(0.0, 1000.0), "fences at this many IQRs")
    min_aspect: float = threshold(0.35, Float(0.0, 1.0), "short side / long side below this")


@lru_cache(maxsize=64)
def size_fences(
    sizes: tuple[tuple[tuple[int, int], int], ...], iqr_factor: float
) -> tuple[float, float] | None:
    """The split's fences on √area (5 or more images); the IQR counts as at least 10% of
    the median, so that a split of one size does not flag every other size."""
    if sum(n for _, n in sizes) < 5:
        return None
    roots = np.repeat(
        np.sqrt(np.array([w * h for (w, h), _ in sizes], dtype=np.float64)),
        [n for _, n in sizes],
    )
    q1, median, q3 = np.percentile(roots, [25, 50, 75])
    iqr = max(q3 - q1, 0.1 * median)
    return (float(q1 - iqr_factor * iqr), float(q3 + iqr_factor * iqr))


@dataclass(frozen=True, slots=True)
class OddSizeData(FindingData):
    width: int
    height: int
    fences: tuple[float, float] | None = optional()
    aspect: float | None = optional()


@check("NA111", "odd-size", Severity.INFO, IMAGE, OddSizeOptions)
def odd_size(ctx: CheckContext[OddSizeOptions], rec: FileRecord) -> Iterator[Hit]:
    """The image's √area lies outside the split's 3×IQR fences (iqr_factor; needs 5 or
    more images; the IQR counts as at least 10% of the median √area, so that a split of
    one size does not flag every other size), or its aspect ratio (short side / long side)
    is below 0.35 (min_aspect).

    Why: extreme resizing distorts objects, and fixed-size crops of a thin strip are
    mostly padding.

    Fix: check for thumbnails, panoramas or stitched captures; crop or tile them.
    """
    root = math.sqrt(rec.width * rec.height)
    fences = size_fences(ctx.here.stats.sizes, ctx.options.iqr_factor)
    if fences is not None and not (fences[0] <= root <= fences[1]):
        yield Hit(
            f"{rec.height}×{rec.width} (H×W, √area {root:.0f}) outside the split's size fences "
            f"[{fences[0]:.0f}, {fences[1]:.0f}]",
            OddSizeData(rec.width, rec.height, fences=fences),
        )
        return
    aspect = min(rec.width, rec.height) / max(rec.width, rec.height, 1)
    if aspect < ctx.options.min_aspect:
        yield Hit(
            f"{rec.height}×{rec.width} (H×W): aspect ratio {aspect:.2f}",
            OddSizeData(rec.width, rec.height, aspect=aspect),
        )


@dataclass(frozen=True, slots=True)
class DarkOptions:
    max_p99_ratio: float = threshold(
        0.32, Float(0.0, 1.0), "99th percentile of luminance below this share of full scale"
    )


@dataclass(frozen=True, slots=True)
class DarkData(FindingData):
    p99: float
    limit: float

    def badness(self) -> float:
        return -finite(self.p99)  # the darkest first


@check("NA112", "dark-image", Severity.INFO, IMAGE, DarkOptions)
def dark_image(ctx: CheckContext[DarkOptions], rec: FileRecord) -> Iterator[Hit]:
    """The 99th percentile of the image's luminance is below 0.32 × full scale
    (max_p99_ratio). Exact for 8- and 16-bit gray images; for colour and float images of
    more than 65,536 pixels, taken over a regular grid of about that many (every k-th row
    and column), which lands between the exact 98.5th and 99.5th percentiles on natural
    images (a pattern aligned with the grid can mislead it).

    Why: under-exposed captures: little signal, and a distribution shift against the rest
    of the data. The same rule as image auditors use.

    Fix: review the capture; drop it or correct the exposure consistently.
    """
    p = _px(rec)
    if _is_constant(p):  # NA103 already says it
        return
    scale = ctx.scale(rec)
    limit = scale.at(ctx.options.max_p99_ratio)
    if math.isfinite(p.luma_p99) and p.luma_p99 < limit:
        yield Hit(
            f"99th percentile of luminance {p.luma_p99:.4g} < {limit:.4g} ({scale.basis})",
            DarkData(p.luma_p99, limit),
        )


@dataclass(frozen=True, slots=True)
class BrightOptions:
    min_p5_ratio: float = threshold(
        0.95, Float(0.0, 1.0), "5th percentile of luminance above this share of full scale"
    )


@dataclass(frozen=True, slots=True)
class BrightData(FindingData):
    p5: float
    limit: float

    def badness(self) -> float:
        return finite(self.p5)  # the brightest first


@check("NA113", "bright-image", Severity.INFO, IMAGE, BrightOptions)
def bright_image(ctx: CheckContext[BrightOptions], rec: FileRecord) -> Iterator[Hit]:
    """The 5th percentile of the image's luminance is above 0.95 × full scale
    (min_p5_ratio). Exact for 8- and 16-bit gray images; for colour and float images of
    more than 65,536 pixels, taken over a regular grid of about that many (every k-th row
    and column), which lands between the exact 4.5th and 5.5th percentiles on natural
    images (a pattern aligned with the grid can mislead it).

    Why: over-exposed or blank-white captures carry little signal.

    Fix: review the capture; drop it or correct the exposure consistently.
    """
    p = _px(rec)
    if _is_constant(p):  # NA103 already says it
        return
    scale = ctx.scale(rec)
    limit = scale.at(ctx.options.min_p5_ratio)
    if math.isfinite(p.luma_p5) and p.luma_p5 > limit:
        yield Hit(
            f"5th percentile of luminance {p.luma_p5:.4g} > {limit:.4g} ({scale.basis})",
            BrightData(p.luma_p5, limit),
        )
