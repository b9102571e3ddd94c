"""NA2xx: masks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..findings import FindingData, Marks, optional
from ..kinds import Float, Int
from ..records import BOUNDARY_SCOPE, FileRecord, LabelStats
from ..severity import Severity
from .context import CheckContext
from .registry import Hit, NoOptions, check, threshold
from .scopes import ANY_MASK, MASK

Ctx = CheckContext[NoOptions]


def _labels(rec: FileRecord) -> LabelStats:
    assert rec.labels is not None
    return rec.labels


def _list(ctx: CheckContext[Any], pairs: list[tuple[int, int]], limit: int = 6) -> str:
    shown = ", ".join(f"{ctx.label_name(v)} ×{n:,}" for v, n in pairs[:limit])
    if len(pairs) > limit:
        shown += f", … {len(pairs) - limit} more"
    return shown


def _valid(ctx: CheckContext[Any], labels: LabelStats) -> int:
    return labels.pixels - labels.count(ctx.labels.ignore_index)


@dataclass(frozen=True, slots=True)
class OutOfRangeData(FindingData):
    labels: tuple[tuple[int, int], ...]  # (label, pixels); JSON: {"label": pixels}
    pixels: int
    num_classes: int | None
    ignore_index: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": {str(v): n for v, n in self.labels},
            "pixels": self.pixels,
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
        }

    def badness(self) -> float:
        return self.pixels

    def marks(self) -> Marks:
        return Marks("out-of-range labels", labels=frozenset(v for v, _ in self.labels))


@check("NA201", "label-out-of-range", Severity.ERROR, MASK, samples=True)
def label_out_of_range(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """A label lies outside [0, C) and is not the ignore index, or is negative. The range
    test needs C (--num-classes, the config or a layout preset); negative labels are
    reported without it.

    Why: CrossEntropyLoss indexes the logits with the label: on the CPU an IndexError, on
    CUDA a "device-side assert triggered" that kills the process; TensorFlow on the GPU
    returns NaN instead of failing.

    Fix: remap the labels to 0..C-1 (and the ignore index), or set --num-classes to the
    real class count.
    """
    labels = _labels(rec)
    c = ctx.labels.num_classes
    ignore = ctx.labels.ignore_index
    unused = set(ctx.labels.unused_ids)
    bad = [
        (v, n)
        for v, n in labels.histogram
        if v != ignore and (v < 0 or (c is not None and v >= c) or v in unused)
    ]
    if not bad:
        return
    pixels = sum(n for _, n in bad)
    where = f"outside [0, {c})" if c is not None else "negative"
    if unused and any(v in unused for v, _ in bad):
        where += " or unused ids"
    ign = f"; ignore index {ignore}" if ignore is not None else "; no ignore index"
    hint = ctx.explain([v for v, _ in bad])
    yield Hit(
        f"{len(bad)} label value{'s' if len(bad) > 1 else ''} {where}: {_list(ctx, bad)} "
        f"({pixels:,} px, {pixels / labels.pixels:.2%}){ign}" + (f". {hint}" if hint else ""),
        OutOfRangeData(tuple(bad), pixels, c, ignore),
    )


@dataclass(frozen=True, slots=True)
class AllIgnoreData(FindingData):
    ignore_index: int

    def marks(self) -> Marks:
        return Marks("ignore pixels", ignore=True)


@check("NA202", "all-ignore", Severity.ERROR, MASK, samples=True)
def all_ignore(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """Every pixel of the mask is the ignore index.

    Why: CrossEntropyLoss(ignore_index=…) with mean reduction divides by the number of
    non-ignored pixels: 0/0 = NaN. One such validation sample makes the validation loss
    average NaN.

    Fix: drop the sample, or annotate it; exclude it from validation at least.
    """
    labels = _labels(rec)
    ignore = ctx.labels.ignore_index
    if ignore is not None and labels.pixels and labels.count(ignore) == labels.pixels:
        binary = " (a binary mask saved as 0/255 whose foreground fills it reads the same)"
        yield Hit(
            f"all {labels.pixels:,} pixels are the ignore index {ignore}"
            + (binary if ignore == 255 and not ctx.labels.transformed else ""),
            AllIgnoreData(ignore),
        )


@dataclass(frozen=True, slots=True)
class MostlyIgnoreOptions:
    min_valid_fraction: float = threshold(
        0.01, Float(0.0, 1.0), "share of pixels that are not ignore, below which it fires"
    )


@dataclass(frozen=True, slots=True)
class MostlyIgnoreData(FindingData):
    valid_pixels: int
    valid_fraction: float

    def badness(self) -> float:
        return -self.valid_fraction  # the fewest valid pixels first

    def marks(self) -> Marks:
        return Marks("ignore pixels", ignore=True)


@check("NA203", "mostly-ignore", Severity.WARNING, MASK, MostlyIgnoreOptions, samples=True)
def mostly_ignore(ctx: CheckContext[MostlyIgnoreOptions], rec: FileRecord) -> Iterator[Hit]:
    """Fewer than 1% of the mask's pixels are not the ignore index (min_valid_fraction),
    but some are.

    Why: random crops of this mask are often entirely ignore, which is NA202's 0/0 = NaN
    at training time.

    Fix: crop around the labelled region, or drop the sample.
    """
    labels = _labels(rec)
    ignore = ctx.labels.ignore_index
    if ignore is None or not labels.pixels:
        return
    valid = _valid(ctx, labels)
    fraction = valid / labels.pixels
    if 0 < fraction < ctx.options.min_valid_fraction:
        yield Hit(
            f"only {valid:,} of {labels.pixels:,} pixels ({fraction:.3%}) are not ignore",
            MostlyIgnoreData(valid, fraction),
        )


@dataclass(frozen=True, slots=True)
class EmptyMaskData(FindingData):
    background: int
    loss: str | None = optional()  # "dice": the declared loss computes 0/0 on it


@check("NA204", "empty-mask", Severity.INFO, MASK)
def empty_mask(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The mask holds no pixel other than background and ignore (a mask of 0 and 255 with
    255 the ignore index is left to NA208, which says what it is).

    Why: Dice and IoU losses without a smoothing term compute 0/0 on it; per-image
    foreground metrics are undefined.

    Fix: nothing, if negatives are intended; otherwise add the smoothing term or check the
    annotation export. With --loss dice the finding is a warning: the declared loss does
    compute 0/0 on it unless it smooths.
    """
    labels = _labels(rec)
    bg, ignore = ctx.labels.background, ctx.labels.ignore_index
    if bg is None or labels.nan or labels.non_integer:
        return
    present = {v for v, _ in labels.histogram}
    if present == {0, 255} and ignore == 255 and not ctx.labels.transformed:
        return  # a 0/255 mask: NA208 says what it is (255 read as the ignore index)
    if bg in present and present <= {bg, ignore}:
        also = f" and ignore ({ignore})" if ignore in present else ""
        if "dice" in ctx.training.losses:  # the declared loss computes 0/0 on it
            yield Hit(
                f"only background ({bg}){also} pixels, and the loss is Dice: without a "
                "smoothing term its 2|X∩Y| / (|X|+|Y|) is 0/0 on this mask",
                EmptyMaskData(bg, "dice"),
                severity=Severity.WARNING,
            )
            return
        yield Hit(f"only background ({bg}){also} pixels", EmptyMaskData(bg))


@dataclass(frozen=True, slots=True)
class ColourMaskData(FindingData):
    mode: str | None
    colours: int


@check("NA205", "color-mask", Severity.ERROR, ANY_MASK, samples=True)
def color_mask(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """A mask has more than one channel and the channels differ: colour-coded classes
    (RGB/RGBA), not class indices.

    Why: the loss needs one class index per pixel. Stacking three channels fails on the
    shape; converting the colours to gray yields luma values, not classes.

    Fix: map each colour to its class index with the dataset's palette and save a
    single-channel (or palette "P") PNG.
    """
    if rec.channels_differ:
        yield Hit(
            f"{rec.mode} mask with {rec.channels} differing channels and "
            f"{rec.colours:,} distinct colours",
            ColourMaskData(rec.mode, rec.colours),
        )


@dataclass(frozen=True, slots=True)
class LossyData(FindingData):
    encoding: str


@check("NA206", "lossy-mask", Severity.ERROR, MASK)
def lossy_mask(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """A mask is stored in a lossy format: JPEG, lossy WebP or JPEG-compressed TIFF.

    Why: compression invents new label values along every class edge (out-of-range labels,
    or the wrong class), even at quality 100.

    Fix: re-export the masks losslessly (PNG) from the source annotations; converting the
    JPEG to PNG keeps the damage.
    """
    if rec.lossy:
        yield Hit(f"mask stored as {rec.lossy}", LossyData(rec.lossy))


@dataclass(frozen=True, slots=True)
class NonIntegerData(FindingData):
    fractional: int
    nan: int
    inf: int

    def marks(self) -> Marks:
        return Marks("values that are not integers", non_integer=True)


@check("NA207", "non-integer-mask", Severity.ERROR, MASK, samples=True)
def non_integer_mask(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """A float mask holds fractional, NaN or Inf values.

    Why: labels must be integers: casting truncates (0.999 becomes 0) or wraps, NaN casts
    to an arbitrary integer, and the loss reads garbage classes.

    Fix: round the mask before casting and store it as an integer PNG or uint8/int64 array.
    """
    labels = _labels(rec)
    bad = labels.non_integer + labels.nan + labels.inf
    if bad:
        yield Hit(
            f"{bad:,} non-integer values ({labels.non_integer:,} fractional, {labels.nan:,} NaN, "
            f"{labels.inf:,} Inf) in a {rec.dtype} mask",
            NonIntegerData(labels.non_integer, labels.nan, labels.inf),
        )


@dataclass(frozen=True, slots=True)
class Binary255Data(FindingData):
    pixels_255: int

    def badness(self) -> float:
        return self.pixels_255

    def marks(self) -> Marks:
        return Marks("pixels of 255", labels=frozenset({255}))


@check("NA208", "binary-255", Severity.ERROR, MASK)
def binary_255(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The mask's values are exactly {0, 255}, while 255 is the ignore index or C == 2: a
    binary mask saved as 0/255. (A mask of 255 alone is NA202's; labels mapped by
    --label-map or shifted by --label-offset or reduce_zero_label are not judged by their
    stored values.)

    Why: with ignore_index=255 every foreground pixel is silently ignored and the model
    learns "everything is background"; without it, 255 is out of range (NA201).

    Fix: divide the mask by 255 (mask // 255) so the foreground is class 1. If your loader
    already does (or thresholds), audit what it yields: --label-map 255:1 -C 2
    --ignore-index none.
    """
    labels = _labels(rec)
    values = {v for v, _ in labels.histogram}
    if values != {0, 255} or ctx.labels.transformed:
        return
    if ctx.labels.ignore_index == 255:
        why = "255 is the ignore index, so every foreground pixel is ignored"
    elif ctx.labels.num_classes == 2:
        why = "C = 2, so 255 is out of range"
    else:
        return
    fg = labels.count(255)
    yield Hit(f"binary mask stored as 0/255 ({fg:,} px of 255): {why}", Binary255Data(fg))


@dataclass(frozen=True, slots=True)
class InterpolationOptions:
    max_fraction: float = threshold(
        0.0001,
        Float(0.0, BOUNDARY_SCOPE),
        "labels rarer than this share of the mask get the boundary test",
    )


@dataclass(frozen=True, slots=True)
class BoundaryLabelsData(FindingData):
    labels: tuple[int, ...]

    def marks(self) -> Marks:
        return Marks("interpolated edge labels", labels=frozenset(self.labels))


@dataclass(frozen=True, slots=True)
class TooManyValuesData(FindingData):
    distinct: int
    num_classes: int

    def badness(self) -> float:
        return self.distinct

    def marks(self) -> Marks:
        # the labels found only between two others are the interpolated ones the check
        # can point at (none: nothing is marked)
        return Marks("interpolated edge labels", boundary_labels=True)


@check(
    "NA209",
    "interpolation-artifacts",
    Severity.WARNING,
    MASK,
    InterpolationOptions,
    samples=True,
)
def interpolation_artifacts(
    ctx: CheckContext[InterpolationOptions], rec: FileRecord
) -> Iterator[Hit]:
    """A label holds fewer than 0.01% of the mask's pixels (max_fraction) and occurs only on
    boundaries between two other labels, or the mask holds more distinct values than C + 1.

    Why: the mask was resized with bilinear or bicubic interpolation instead of nearest:
    the in-between values are wrong classes (or out of range) along every edge.

    Fix: resize masks with nearest-neighbour interpolation only (Image.NEAREST,
    InterpolationMode.NEAREST), from the original annotation.
    """
    labels = _labels(rec)
    limit = ctx.options.max_fraction * labels.pixels
    rare = [v for v in labels.boundary_labels if labels.count(v) < limit]
    if rare:
        shown = ", ".join(ctx.label_name(v) for v in rare[:8])
        yield Hit(
            f"label{'s' if len(rare) > 1 else ''} {shown} "
            f"occur{'' if len(rare) > 1 else 's'} only on boundaries between two other labels",
            BoundaryLabelsData(tuple(rare)),
        )
        return
    c = ctx.labels.num_classes
    if c is not None and labels.distinct > c + 1:
        yield Hit(
            f"{labels.distinct} distinct values in a mask of C = {c} classes (at most {c + 1} "
            "with the ignore index)",
            TooManyValuesData(labels.distinct, c),
        )


@dataclass(frozen=True, slots=True)
class InstanceIdsOptions:
    max_distinct: int = threshold(255, Int(1, 1 << 31), "more distinct values than this")


@lru_cache(maxsize=64)
def instance_split(
    masks_per_label: tuple[tuple[int, int], ...], max_distinct: int
) -> tuple[int, int] | None:
    """Whether a split's masks together hold instance ids: more than ``max_distinct`` values,
    or values above 255, that two or more masks share (one corrupt mask does not make a
    split of instance ids). (shared values, largest shared value) or None."""
    shared = [v for v, n in masks_per_label if n >= 2]
    if shared and (len(shared) > max_distinct or shared[-1] > 255):
        return len(shared), shared[-1]
    return None


@dataclass(frozen=True, slots=True)
class InstanceIdsData(FindingData):
    distinct: int
    max: int
    split_values: int | None = optional()
    split_max: int | None = optional()

    def badness(self) -> float:
        return self.distinct


@check("NA210", "instance-ids", Severity.WARNING, MASK, InstanceIdsOptions, samples=True)
def instance_ids(ctx: CheckContext[InstanceIdsOptions], rec: FileRecord) -> Iterator[Hit]:
    """A mask holds more than 255 distinct values (max_distinct) or values above 255, or its
    split's masks do (values shared by two or more masks: instance ids are numbered per
    split, so most masks of such a split stay under 255 themselves), and no C admits them.

    Why: instance IDs (or a panoptic encoding) were given where semantic class indices are
    expected; every instance becomes its own out-of-range "class", and instance id 255 is
    silently read as the ignore index.

    Fix: convert instance IDs to their semantic class (panoptic: id // 1000 or the
    dataset's segments_info); for a foreground/background task, map every id above 0 to 1.
    """
    labels = _labels(rec)
    c = ctx.labels.num_classes
    ignore = ctx.labels.ignore_index
    values = [v for v, _ in labels.histogram if v != ignore]  # the ignore index is admitted
    high = [v for v in values if v > 255]
    top = max(values, default=0)
    split = ctx.here.stats
    split_top = max((v for v, _ in split.labels if v != ignore), default=top)
    if c is not None and split_top < c:
        return
    data = InstanceIdsData(labels.distinct, top)
    as_ignore = (
        "; its 255 is read as the ignore index"
        if ignore == 255 and labels.count(255) and not ctx.labels.transformed
        else ""
    )
    if labels.distinct > ctx.options.max_distinct or high:
        yield Hit(
            f"{labels.distinct:,} distinct values, maximum {top:,}: looks like instance "
            f"IDs{as_ignore}",
            data,
        )
        return
    found = instance_split(split.masks_per_label, ctx.options.max_distinct)
    if found is None or labels.distinct < 2:
        return
    shared, largest = found
    yield Hit(
        f"the masks of split {ctx.here.name!r} share {shared:,} label values up to "
        f"{largest:,}: instance IDs, not classes; this mask holds {labels.distinct:,} values "
        f"up to {max(v for v, _ in labels.histogram):,}{as_ignore}",
        InstanceIdsData(labels.distinct, top, shared, largest),
    )
