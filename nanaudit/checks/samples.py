"""NA5xx: what a training pipeline yields (``nanaudit samples``, ``audit_samples``).

These checks judge drawn samples, batches and the draw as a whole; a scan never runs them.
The file checks that apply to a drawn sample (NaN, labels, sizes…) run on its records too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..drawn import Draw, Sample, SampleBatch
from ..findings import FindingData, optional
from ..kinds import Float, Int
from ..severity import Severity
from ..stats import ChannelStats
from .context import CheckContext
from .registry import Hit, NoOptions, check, threshold
from .scopes import BATCH, DRAW, SAMPLE

Ctx = CheckContext[NoOptions]


def _fractional(sample: Sample) -> bool:
    labels = sample.mask.labels
    return labels is not None and labels.non_integer > 0


@dataclass(frozen=True, slots=True)
class FloatMaskData(FindingData):
    dtype: str
    min: float | None = optional()
    max: float | None = optional()


@check("NA501", "float-mask", Severity.ERROR, SAMPLE)
def float_mask(ctx: Ctx, sample: Sample) -> Iterator[Hit]:
    """The mask reaches the training loop as floating-point values, not integer labels (a
    binary target of 0.0 and 1.0 alone, with C unknown or at most 2, is left alone: BCE and
    sigmoid Dice or focal losses take exactly that float mask).

    Why: CrossEntropyLoss wants an integer (long) target: a float mask raises "expected
    scalar type Long", or, shaped like the logits, is read as class probabilities. A float
    mask is most often a ToTensor() (or /255) applied to the mask, whose labels became
    1/255, 2/255…; casting it back with .long() then turns every label into 0.

    Fix: convert the mask with torch.as_tensor(np.array(mask), dtype=torch.long) (or
    PILToTensor, or v2.ToImage/ToDtype on the image only), never ToTensor(); in numpy,
    mask.astype(np.int64).
    """
    dtype = sample.mask.dtype or ""
    if not sample.mask.ok or not dtype.startswith("float"):
        return
    lo_hi = sample.mask_range
    c = ctx.labels.num_classes
    binary = lo_hi is not None and lo_hi[0] >= 0 and lo_hi[1] <= 1 and not _fractional(sample)
    if binary and (c is None or c <= 2):
        return  # a 0/1 float target, as BCE and sigmoid losses take it
    data = FloatMaskData(dtype)
    why = "cast it to integer labels"
    if lo_hi is not None:
        data = FloatMaskData(dtype, *lo_hi)
        if _fractional(sample) and lo_hi[0] >= 0 and lo_hi[1] <= 1:
            why = "its values lie in [0, 1]: labels divided by 255 (ToTensor on the mask)"
    yield Hit(f"the mask is {dtype}, not integer labels: {why}", data)


@dataclass(frozen=True, slots=True)
class UnitRangeData(FindingData):
    masks: int
    min: float
    max: float
    num_classes: int
    fractional: int


@check("NA502", "unit-range-mask", Severity.ERROR, DRAW)
def unit_range_mask(ctx: Ctx, draw: Draw) -> Iterator[Hit]:
    """Every mask value of every sample drawn lies in [0, 1] while C > 2: the labels were
    divided by 255 on the way (ToTensor on the mask), and cast back or not.

    Why: ToTensor() divides an 8-bit mask by 255: label 3 becomes 0.0118. Left as floats the
    labels are garbage; cast back with .long() every label becomes 0 and the ignore index
    255 becomes class 1, so the model learns one class (or NaN with a Dice loss).

    Fix: never pass the mask through ToTensor or Normalize; convert it with
    torch.as_tensor(np.array(mask), dtype=torch.long).
    """
    c = ctx.labels.num_classes
    ranges = [s.mask_range for s in draw.samples if s.mask_range is not None and s.mask.ok]
    if c is None or c <= 2 or not ranges:
        return
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    if lo < 0 or hi > 1:
        return
    fractional = sum(1 for s in draw.samples if _fractional(s))
    how = (
        f"{fractional:,} of them hold fractional values (label / 255)"
        if fractional
        else "integer masks of 0 and 1 only: labels divided by 255, then cast back"
    )
    yield Hit(
        f"every value of the {len(ranges):,} masks drawn lies in [{lo:g}, {hi:g}] while "
        f"C = {c}: {how}",
        UnitRangeData(len(ranges), lo, hi, c, fractional),
    )


@dataclass(frozen=True, slots=True)
class NormalizeRangeOptions:
    max_abs: float = threshold(
        10.0, Float(1.0, 1e9), "normalised values beyond ± this are out of the sane band"
    )


@dataclass(frozen=True, slots=True)
class RangeData(FindingData):
    min: float
    max: float
    limit: float


@check("NA503", "normalize-range", Severity.WARNING, SAMPLE, NormalizeRangeOptions)
def normalize_range(ctx: CheckContext[NormalizeRangeOptions], sample: Sample) -> Iterator[Hit]:
    """A float image holds values beyond ±10 (max_abs) that are not plain 0–255 pixel values
    (which some models scale themselves): out of the band normalised data lives in.

    Why: Normalize(mean, std) with constants for [0, 1] data applied to 0–255 data gives
    values up to 1,100; applied twice, down to about -11 on dark pixels; a near-zero std
    gives huge values. Activations explode, float16 overflows, and the loss turns NaN.

    Fix: scale to [0, 1] before Normalize (ToTensor or A.Normalize with max_pixel_value
    255), apply Normalize once, and check its std has no zero.
    """
    image = sample.image
    p = image.pixels
    if p is None or not (image.dtype or "").startswith("float"):
        return
    finite = [c for c in p.channels if c.count]
    if not finite:
        return
    lo, hi = min(c.min for c in finite), max(c.max for c in finite)
    limit = ctx.options.max_abs
    pixel_values = lo >= 0 and hi <= 255
    if max(-lo, hi) > limit and not pixel_values:
        yield Hit(
            f"float image values reach [{lo:.4g}, {hi:.4g}], beyond ±{limit:g}: Normalize "
            "applied to 0–255 data, applied twice, or with a tiny std",
            RangeData(lo, hi, limit),
        )


@dataclass(frozen=True, slots=True)
class IgnoreOnlyBatchData(FindingData):
    samples: tuple[int, ...]
    ignore_index: int


@check("NA504", "ignore-only-batch", Severity.ERROR, BATCH)
def ignore_only_batch(ctx: Ctx, batch: SampleBatch) -> Iterator[Hit]:
    """No pixel of any mask of a batch is a valid label: the whole batch is the ignore index.

    Why: CrossEntropyLoss(ignore_index=…) with mean reduction divides by the number of valid
    pixels of the batch: 0/0 = NaN, and one NaN step ruins the weights. Random crops of
    padded or sparsely labelled images produce such batches by chance.

    Fix: crop around labelled pixels (retry a crop with no valid pixel), lower the padding,
    or skip a step whose batch has no valid pixel.
    """
    ignore = ctx.labels.ignore_index
    masks = [s.mask.labels for s in batch.samples if s.mask.ok]
    if ignore is None or not masks or any(m is None for m in masks):
        return
    if all(m is not None and m.pixels and m.count(ignore) == m.pixels for m in masks):
        pixels = sum(m.pixels for m in masks if m is not None)
        yield Hit(
            f"all {pixels:,} mask pixels of the batch's {len(masks)} samples are the ignore "
            f"index {ignore}",
            IgnoreOnlyBatchData(tuple(s.index for s in batch.samples), ignore),
        )


def _shape(sample: Sample, kind: str) -> str:
    rec = sample.image if kind == "image" else sample.mask
    return f"{rec.width}×{rec.height}" + (f"×{rec.channels}" if rec.channels > 1 else "")


@dataclass(frozen=True, slots=True)
class ShapesData(FindingData):
    kind: str
    shapes: tuple[tuple[str, int], ...]  # (shape, samples), sorted by shape

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "shapes": dict(self.shapes)}


@check("NA505", "batch-shape-mismatch", Severity.ERROR, BATCH)
def batch_shape_mismatch(ctx: Ctx, batch: SampleBatch) -> Iterator[Hit]:
    """The images (or the masks) of one batch differ in shape.

    Why: the default collate function stacks a batch into one tensor and raises "stack
    expects each tensor to be equal size"; a custom collate that pads hides a resize that
    never happened.

    Fix: end the transform with a fixed-size crop or resize (image and mask together), or
    pad in the collate function on purpose.
    """
    ok = [s for s in batch.samples if s.image.ok and s.mask.ok]
    for kind in ("image", "mask"):
        shapes = Counter(_shape(s, kind) for s in ok)
        if len(shapes) > 1:
            shown = ", ".join(f"{k} ×{n}" for k, n in sorted(shapes.items(), key=lambda kv: -kv[1]))
            yield Hit(
                f"{kind}s of {len(shapes)} shapes (W×H) in one batch: {shown}",
                ShapesData(kind, tuple(sorted(shapes.items()))),
            )


@dataclass(frozen=True, slots=True)
class PipelineErrorData(FindingData):
    error: str
    sample: int


@check("NA506", "pipeline-error", Severity.ERROR, DRAW)
def pipeline_error(ctx: Ctx, draw: Draw) -> Iterator[Hit]:
    """The pipeline raised an exception while a sample was drawn; the draw stopped there.

    Why: the same exception stops training at that sample (a missing file, a transform
    that cannot handle the image's size, a collate error on mixed shapes).

    Fix: the message names the exception; draw that sample alone (dataset[i]) to see the
    traceback.
    """
    failure = draw.failure
    if failure is not None:
        yield Hit(
            f"the pipeline raised {failure.error} (after {len(draw.samples):,} samples)",
            PipelineErrorData(failure.error, failure.index),
            path=failure.label,
        )


@dataclass(frozen=True, slots=True)
class NormalizeSpreadOptions:
    max_std: float = threshold(
        3.0, Float(0.1, 1e9), "a normalised channel's std over the draw above this fires"
    )


@dataclass(frozen=True, slots=True)
class SpreadData(FindingData):
    std: tuple[float, ...]
    channels: tuple[int, ...]
    limit: float


@check("NA507", "normalize-spread", Severity.WARNING, DRAW, NormalizeSpreadOptions)
def normalize_spread(ctx: CheckContext[NormalizeSpreadOptions], draw: Draw) -> Iterator[Hit]:
    """Over every sample drawn, a channel of the normalised float images (they hold negative
    values) has a standard deviation above 3 (max_std), where one Normalize gives about 1.

    Why: Normalize applied twice (in the dataset and again in the transform) multiplies
    the spread by 1/std, about 4.4 with the ImageNet constants; a std constant far too small
    does the same. The model sees inputs it was not initialised or pretrained for, and the
    first layers saturate or overflow in float16.

    Fix: apply Normalize once, with the constants of the data's scale (the report's
    Normalize line gives them for the images on disk).
    """
    limit = ctx.options.max_std
    for family, dtype, group in ctx.here.stats.image_groups:
        finite = [c for c in group.channels if c.count]
        if not dtype.startswith("float") or not finite or min(c.min for c in finite) >= 0:
            continue
        stds = [c.std for c in group.channels]
        wide = [i for i, s in enumerate(stds) if s > limit]
        if wide:
            shown = ", ".join(f"{s:.3g}" for s in stds)
            yield Hit(
                f"normalised {family} {dtype} images ({group.images:,} samples) have channel "
                f"std ({shown}), above {limit:g} in channel{'s' if len(wide) > 1 else ''} "
                f"{', '.join(map(str, wide))}: Normalize applied twice, or a std too small",
                SpreadData(tuple(round(s, 6) for s in stds), tuple(wide), limit),
            )


@dataclass(frozen=True, slots=True)
class InterpolatedOptions:
    min_samples: int = threshold(
        3, Int(1, 1 << 20), "samples that must hold the label, each only as thin lines"
    )


@dataclass(frozen=True, slots=True)
class ThinLabelData(FindingData):
    label: int
    samples: int
    tested: int


@check("NA508", "interpolated-labels", Severity.WARNING, DRAW, InterpolatedOptions)
def interpolated_labels(ctx: CheckContext[InterpolatedOptions], draw: Draw) -> Iterator[Hit]:
    """A label appears in the masks drawn only as thin lines between two other labels: in
    every tested sample that holds it (3 at least: min_samples), it covers under 5% of the
    mask, no pixel of it has four neighbours of its label, and each of its pixels touches
    two other labels. Those are the values in between that a smooth resize of the mask
    writes along every edge (labels 1-3 between a region of 0 and a region of 4). The
    first 64 samples drawn are tested.

    Why: the mask was resized (or rotated, or warped) with bilinear or bicubic
    interpolation, as Pillow's resize does by default for 8-bit images: every edge gets a
    seam of wrong classes. When the in-between values are classes, no label falls out of
    range (NA201) and training runs on quietly corrupted targets.

    Fix: resize and warp masks with nearest-neighbour interpolation only
    (Image.NEAREST, InterpolationMode.NEAREST, cv2.INTER_NEAREST; albumentations'
    mask_interpolation=cv2.INTER_NEAREST).
    """
    ignore = ctx.labels.ignore_index
    tested = [s for s in draw.samples if s.thin_labels is not None and s.mask.labels]
    holders: dict[int, list[Sample]] = {}
    for s in tested:
        assert s.mask.labels is not None
        for v, _ in s.mask.labels.histogram:
            if v != ignore:
                holders.setdefault(v, []).append(s)
    for label, held in sorted(holders.items()):
        if len(held) < ctx.options.min_samples:
            continue
        if all(label in (s.thin_labels or ()) for s in held):
            shown = ", ".join(s.label for s in held[:3])
            yield Hit(
                f"label {ctx.label_name(label)} appears in {len(held):,} of the "
                f"{len(tested):,} samples tested, in each only as thin lines between two "
                f"other labels: the values in between of a smooth resize of the mask "
                f"(e.g. {shown})",
                ThinLabelData(label, len(held), len(tested)),
            )


# NA509: what two Normalize give the images the dataset names. The constants tried: the
# dataset's own (the mean and std of its files, as the report's Normalize line gives them)
# and ImageNet's, each in the files' channel order and reversed (an OpenCV pipeline's BGR).
IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True, slots=True)
class NormalizeTwiceOptions:
    tolerance: float = threshold(
        0.25,
        Float(0.01, 1.0),
        "how far the draw's channel means and stds may lie from what two Normalize give "
        "(relative; a mean within this of max(1, |expected|))",
    )


@dataclass(frozen=True, slots=True)
class TwiceData(FindingData):
    constants: str  # "the dataset's own" or "ImageNet"
    mean: tuple[float, ...]  # per channel, over the draw
    std: tuple[float, ...]
    expected_mean: tuple[float, ...]  # what the constants applied twice give the files
    expected_std: tuple[float, ...]
    source_mean: tuple[float, ...]  # the files', on their 0..1 scale
    source_std: tuple[float, ...]
    scale: float  # the files' full scale (255 for uint8, 65535 for uint16, 1 for float)
    sources: int  # files read


def _scale(dtype: str, lo: float, hi: float) -> float | None:
    """The full scale a Normalize's constants are taken on, for files of ``dtype``."""
    if dtype in ("uint8", "bool"):
        return 255.0 if dtype == "uint8" else 1.0
    if dtype == "uint16":
        return 65535.0
    if dtype.startswith("float") and lo >= 0 and hi <= 1:
        return 1.0
    return None


def _source_moments(
    draw: Draw,
) -> tuple[list[tuple[float, float]], float, int] | None:
    """Per-channel (mean, std) of the files behind the draw on their 0..1 scale, with the
    scale and the number of files: those of the most common dtype and channel count."""
    groups: dict[tuple[str, int], list[tuple[ChannelStats, ...]]] = {}
    for record in draw.sources:
        if record.pixels is not None and record.dtype:
            chans = record.pixels.channels
            groups.setdefault((record.dtype, len(chans)), []).append(chans)
    if not groups:
        return None
    (dtype, _), files = max(groups.items(), key=lambda kv: len(kv[1]))
    merged = [ChannelStats.empty() for _ in files[0]]
    for chans in files:
        merged = [m.merge(c) for m, c in zip(merged, chans, strict=True)]
    if any(c.count == 0 for c in merged):
        return None
    scale = _scale(dtype, min(c.min for c in merged), max(c.max for c in merged))
    if scale is None:
        return None
    return [(c.mean / scale, c.std / scale) for c in merged], scale, len(files)


def _applied(
    moments: Sequence[tuple[float, float]], mean: Sequence[float], std: Sequence[float]
) -> list[tuple[float, float]]:
    return [((m - a) / s, d / s) for (m, d), a, s in zip(moments, mean, std, strict=True)]


def _fits(
    observed: Sequence[tuple[float, float]], expected: Sequence[tuple[float, float]], tol: float
) -> bool:
    return all(
        abs(om - em) <= tol * max(1.0, abs(em)) and abs(od - ed) <= tol * ed
        for (om, od), (em, ed) in zip(observed, expected, strict=True)
    )


@check("NA509", "normalize-twice", Severity.ERROR, DRAW, NormalizeTwiceOptions)
def normalize_twice(ctx: CheckContext[NormalizeTwiceOptions], draw: Draw) -> Iterator[Hit]:
    """The drawn float images have, channel by channel, the mean and std that a Normalize
    applied twice gives the image files the dataset names (with the dataset's own
    constants, or ImageNet's), and not those of one Normalize: means around -3 and stds
    around 2-4, where one Normalize gives about 0 and 1.

    Why: Normalize in the dataset and again in the transform (or a Normalize whose
    constants were taken of already normalised samples) shifts every input by -mean/std and
    scales it by 1/std: the model trains, or fine-tunes pretrained weights, on inputs far
    from the distribution its first layers expect, converges slowly or diverges, and
    reports no error.

    Fix: apply Normalize once: remove it from the dataset or from the transform. The
    constants are those of the files on disk (a scan's Normalize line gives them), never
    those of samples drawn after a Normalize. Needs the files: the dataset names them
    (``filenames``/``files``, or a name with each sample), and the first 8 are read.
    """
    source = _source_moments(draw)
    if source is None:
        return
    moments, scale, files = source
    drawn = [
        (group, dtype)
        for _, dtype, group in ctx.here.stats.image_groups
        if dtype.startswith("float") and all(c.count for c in group.channels)
    ]
    if not drawn:
        return
    group, dtype = max(drawn, key=lambda gd: gd[0].images)
    k = len(group.channels)
    if len(moments) == 1:  # a gray file drawn as 3 channels
        moments = moments * k
    if len(moments) > k:  # RGBA drawn as RGB
        moments = moments[:k]
    if len(moments) != k:
        return
    observed = [(c.mean, c.std) for c in group.channels]
    tol = ctx.options.tolerance
    candidates: list[tuple[str, list[tuple[float, float]]]] = []
    for order in (moments, moments[::-1]):
        own = ([m for m, _ in order], [s for _, s in order])
        candidates.append(("the dataset's own", _twice_and_once(order, *own)))
        if k == 3:
            candidates.append(("ImageNet", _twice_and_once(order, *IMAGENET)))
    for name, expected in candidates:
        twice, once = expected[:k], expected[k:]
        if _fits(observed, twice, tol) and not _fits(observed, once, tol):
            shown = ", ".join
            yield Hit(
                f"the {group.images:,} drawn {dtype} images have channel means "
                f"({shown(f'{m:.3g}' for m, _ in observed)}) and stds "
                f"({shown(f'{d:.3g}' for _, d in observed)}): what {name} Normalize constants "
                f"applied twice give the dataset's files (means "
                f"({shown(f'{m:.3g}' for m, _ in twice)}), stds "
                f"({shown(f'{d:.3g}' for _, d in twice)}); {files:,} files read, on their "
                f"0..{scale:g} scale), where one Normalize gives means "
                f"({shown(f'{m:.3g}' for m, _ in once)}): the images are normalised twice",
                TwiceData(
                    name,
                    tuple(round(m, 6) for m, _ in observed),
                    tuple(round(d, 6) for _, d in observed),
                    tuple(round(m, 6) for m, _ in twice),
                    tuple(round(d, 6) for _, d in twice),
                    tuple(round(m, 6) for m, _ in moments),
                    tuple(round(d, 6) for _, d in moments),
                    scale,
                    files,
                ),
            )
            return


def _twice_and_once(
    moments: Sequence[tuple[float, float]], mean: Sequence[float], std: Sequence[float]
) -> list[tuple[float, float]]:
    """What the constants applied twice, then once, give data of these moments."""
    once = _applied(moments, mean, std)
    return [*_applied(once, mean, std), *once]
