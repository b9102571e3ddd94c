"""NA4xx: the data against the training settings (crop, resize, scale range, padding, loss,
batch size), from per-file records and merged statistics. They apply to the training
splits only, and only once the settings name what they need (no crop size: no NA401);
NA404 needs the pipeline described at all (batch_size alone still serves NA308 only).

Sizes in messages are height x width (HxW), as --crop-size and --resize take them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..aggregate import DatasetStats, SplitView
from ..crops import all_ignore_batch_probability, below_crop_share, extreme_sizes, scaled_size
from ..findings import FindingData, json_key
from ..kinds import ChoiceList, Float, Int
from ..layouts.training import LOSSES
from ..records import FileRecord
from ..severity import Severity
from .context import CheckContext
from .registry import Hit, NoOptions, check, threshold
from .scopes import DATASET, IMAGE

ROOT = "."  # split-wide findings point at the scanned root, as the NA3xx do
MAX_NAMED = 6
BACKGROUND_NAMES = frozenset({"background", "_background_", "bg", "backdrop"})
Ctx = CheckContext[NoOptions]


def _hw(size: tuple[int, int]) -> str:
    return f"{size[0]}x{size[1]}"


def _in_training(ctx: CheckContext[Any]) -> bool:
    return ctx.split is not None and any(s.name == ctx.split.name for s in ctx.dataset.training)


def _training(ds: DatasetStats) -> list[SplitView]:
    return [s for s in ds.training if s.labeled]


def _scale_words(ctx: CheckContext[Any], which: str) -> str:
    t = ctx.training
    if not t.resizes:
        return ""
    if t.scale_range is None:  # one fixed resize: there is no smallest or largest scale
        return " after the resize"
    lo, hi = t.scales
    return f" at the {which} training scale ({lo if which == 'smallest' else hi:g})"


@dataclass(frozen=True, slots=True)
class CropExceedsData(FindingData):
    size: tuple[int, int]  # HxW, as everything here
    scaled: tuple[int, int]
    crop: tuple[int, int]
    scale_share_below: float


@check("NA401", "crop-exceeds-image", Severity.ERROR, IMAGE)
def crop_exceeds_image(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """An image of the training split is smaller than the crop (--crop-size) at the
    smallest training scale, and padding is off (no --pad).

    Why: albumentations' RandomCrop raises "Requested crop size is larger than the image
    size"; mmseg and torchvision crop what there is, and the batch then fails to collate
    with "stack expects each tensor to be equal size".

    Fix: pad up to the crop (--pad: mmseg's Pad or SegDataPreProcessor(size=crop_size),
    albumentations' PadIfNeeded), raise the smallest scale, or choose a smaller crop.
    """
    t = ctx.training
    if t.crop_size is None or t.pad or not _in_training(ctx) or not rec.height:
        return
    (h, w), _ = extreme_sizes(rec.height, rec.width, t)
    ch, cw = t.crop_size
    if h <= 0 or w <= 0 or (h >= ch and w >= cw):
        return  # a collapsed side is NA405's
    share = below_crop_share(rec.height, rec.width, t)
    part = f"; smaller than the crop over {share:.0%} of the scale range" if share < 1 else ""
    yield Hit(
        f"image {_hw((rec.height, rec.width))} (HxW) is {_hw((h, w))}"
        f"{_scale_words(ctx, 'smallest')}, below the crop {_hw(t.crop_size)} with padding "
        f"off{part}",
        CropExceedsData((rec.height, rec.width), (h, w), t.crop_size, share),
    )


@dataclass(frozen=True, slots=True)
class IgnoreOnlyOptions:
    min_fraction: float = threshold(
        0.01,
        Float(0.0, 1.0),
        "share of a mask's crops holding no valid pixel, from which it is named",
    )
    max_batch_probability: float = threshold(
        1e-6, Float(0.0, 1.0), "probability of an all-ignore batch from which it is an error"
    )


@dataclass(frozen=True, slots=True)
class IgnoreOnlyMaskData(FindingData):
    estimate: float
    low: float
    high: float
    crop: tuple[int, int]


@dataclass(frozen=True, slots=True)
class IgnoreOnlySplitData(FindingData):
    expected_per_epoch: float
    batch_size: int
    batch_probability: float
    batches_per_epoch: float
    masks: int
    samples: int


@check("NA402", "ignore-only-crops", Severity.WARNING, DATASET, IgnoreOnlyOptions)
def ignore_only_crops(ctx: CheckContext[IgnoreOnlyOptions], ds: DatasetStats) -> Iterator[Hit]:
    """Random crops (--crop-size) of training masks hold no valid pixel: masks whose crops
    do so at least 1% of the time (min_fraction) are named, and the split gets the expected
    number of such crops per epoch and the chance of a batch of nothing else (an error
    from 1e-6: max_batch_probability; --batch-size, else batches of 1).

    The share of a mask's crops is estimated over the scale range from the 32x32 grid of
    its uniform cells kept in its record: it lies between the crops that meet no cell with
    a valid pixel and those that cover no such cell whole, and the estimate is their
    middle. Ignore padding counts as ignore. A batch is a random draw without replacement.

    Why: CrossEntropyLoss(ignore_index=…) averages over the valid pixels: over none it is
    0/0 = NaN (PyTorch ≥ 1.11), and the NaN reaches the weights. A batch of such crops does
    it for a batch-mean loss; one crop suffices for per-image losses (Lovasz per_image,
    per-sample Dice). Padding with the ignore index makes it likelier for small images.

    Fix: crop where the labels are (mmseg's RandomCrop(cat_max_ratio=…) retries a crop
    without two classes; albumentations' CropNonEmptyMaskIfExists), drop or re-annotate
    the named masks, or make the loss safe over zero pixels (mmseg's avg_non_ignore=False
    averages over all pixels).
    """
    t = ctx.training
    if t.crop_size is None:
        return
    batch = t.batch_size or 1
    for s in _training(ds):
        st = s.stats
        if not st.crop_masks:
            continue
        shares = [e for _, e, _, _ in st.ignore_only_crops]
        expected = sum(shares)
        p_batch = all_ignore_batch_probability(shares, st.samples, batch)
        named = 0
        for path, estimate, low, high in st.ignore_only_crops:
            if low >= 1.0 or estimate < ctx.options.min_fraction:
                continue  # a mask that is ignore everywhere is NA202's
            named += 1
            band = f" (between {low:.1%} and {high:.1%})" if high - low > 0.01 else ""
            yield Hit(
                f"{estimate:.1%} of its random {_hw(t.crop_size)} crops"
                f"{' over the scale range' if t.resizes else ''} hold no valid pixel{band}",
                IgnoreOnlyMaskData(estimate, low, high, t.crop_size),
                path=path,
                split=s.name,
            )
        error = p_batch >= ctx.options.max_batch_probability and p_batch > 0
        if not named and not error:
            continue
        full = st.samples // batch
        last = st.samples % batch if not t.drop_last else 0
        per_epoch = full * p_batch + (
            all_ignore_batch_probability(shares, st.samples, last) if last else 0.0
        )
        given = "" if t.batch_size else " (no --batch-size: batches of 1)"
        yield Hit(
            f"split {s.name!r}: {expected:.3g} of {st.samples:,} random crops per epoch are "
            f"expected to hold no valid pixel ({len(shares):,} mask"
            f"{'' if len(shares) == 1 else 's'} can yield one); a batch "
            f"of {batch}{given} is all-ignore with probability {p_batch:.2g}, "
            f"{per_epoch:.2g} such batches per epoch",
            IgnoreOnlySplitData(expected, batch, p_batch, per_epoch, len(shares), st.samples),
            severity=Severity.ERROR if error else None,
            path=ROOT,
            split=s.name,
        )


@dataclass(frozen=True, slots=True)
class LossOptions:
    honouring: tuple[str, ...] = threshold(
        (), ChoiceList(tuple(LOSSES)), "losses your implementation makes honour the ignore index"
    )


@dataclass(frozen=True, slots=True)
class LossData(FindingData):
    losses: tuple[str, ...]
    ignore_index: int
    ignore_pixels: int
    masks: int
    padded_images: int


@check("NA403", "loss-ignores-nothing", Severity.ERROR, DATASET, LossOptions)
def loss_ignores_nothing(ctx: CheckContext[LossOptions], ds: DatasetStats) -> Iterator[Hit]:
    """The training masks hold the ignore index (or padding writes it into the crops)
    while a declared loss (--loss) does not honour an ignore index as the common libraries
    ship it: dice, focal and bce (docs/guides/training.md: the loss table and its sources).

    Why: one-hot and Dice losses index or compare the target as it is: 255 with 19
    classes gives "class values must be smaller than num_classes", a CUDA device-side
    assert or an illegal memory access; BCE treats 255 as a target far outside [0, 1].

    Fix: pass the ignore index to the loss (SMP's DiceLoss(ignore_index=…), mmseg's
    DiceLoss) and declare it ([checks.NA403] honouring = ["dice"]), mask the ignore pixels
    out before the loss, or map them to a class.
    """
    t = ctx.training
    ignore = ctx.labels.ignore_index
    losses = [n for n in t.losses if not LOSSES[n] and n not in ctx.options.honouring]
    if not losses or ignore is None:
        return
    pad_value = t.pad_value if t.pad_value is not None else ignore
    for s in _training(ds):
        st = s.stats
        pixels = st.label_count(ignore)
        padded = 0
        if t.crop_size is not None and t.pad and pad_value == ignore:
            ch, cw = t.crop_size
            for (w, h), n in st.sizes:
                (sh, sw), _ = extreme_sizes(h, w, t)
                padded += n if 0 < sh < ch or 0 < sw < cw else 0
        if not pixels and not padded:
            continue
        found = []
        if pixels:
            masks = f"{st.ignore_masks:,} mask{'' if st.ignore_masks == 1 else 's'}"
            hold = "holds" if st.ignore_masks == 1 else "hold"
            found.append(f"{masks} {hold} {pixels:,} pixels of the ignore index {ignore}")
        if padded:
            found.append(f"padding writes {ignore} into the crops of {padded:,} images")
        yield Hit(
            f"split {s.name!r}: {'; '.join(found)}, while the loss "
            f"{', '.join(losses)} does not honour an ignore index",
            LossData(tuple(losses), ignore, pixels, st.ignore_masks, padded),
            path=ROOT,
            split=s.name,
        )


def _names(sizes: Sequence[tuple[tuple[int, int], int]]) -> str:
    shown = ", ".join(f"{_hw(k)} ×{n:,}" for k, n in sizes[:MAX_NAMED])
    return shown + (f", … {len(sizes) - MAX_NAMED} more" if len(sizes) > MAX_NAMED else "")


@dataclass(frozen=True, slots=True)
class RandomScaleData(FindingData):
    batch_size: int
    scale_range: tuple[float, float]


@dataclass(frozen=True, slots=True)
class SizesData(FindingData):
    sizes: tuple[tuple[str, int], ...]  # ("HxW", images), the most common first
    batch_size: int

    def to_json(self) -> dict[str, Any]:
        return {"sizes": dict(self.sizes), "batch_size": self.batch_size}


@check("NA404", "unbatchable-sizes", Severity.ERROR, DATASET)
def unbatchable_sizes(ctx: Ctx, ds: DatasetStats) -> Iterator[Hit]:
    """The samples of a training batch (--batch-size above 1) do not all have one size:
    the images differ in size and no crop or fixed-size resize evens them out, or a random
    scale without a crop gives every sample its own size. With a batch size alone (no
    other training setting), images of several sizes are a warning: the loader must resize
    or crop them, which nanaudit cannot see.

    Why: the default collate stacks the batch: "stack expects each tensor to be equal size,
    but got [3, 480, 640] at entry 0 and [3, 512, 512] at entry 1".

    Fix: add a random crop (with padding) or a fixed-size resize, or use batch size 1.
    """
    t = ctx.training
    if t.batch_size is None or t.batch_size < 2 or t.crop_size is not None:
        return
    lo, hi = t.scales
    for s in ds.training:
        st = s.stats
        if not st.images:
            continue
        if lo < hi:
            yield Hit(
                f"split {s.name!r}: the random scale {lo:g}-{hi:g} without a crop gives "
                f"every sample its own size; batch size {t.batch_size}",
                RandomScaleData(t.batch_size, (lo, hi)),
                path=ROOT,
                split=s.name,
            )
            continue
        counts: dict[tuple[int, int], int] = {}
        for (w, h), n in st.sizes:
            out = scaled_size(h, w, t, lo)
            counts[out] = counts.get(out, 0) + n
        if len(counts) < 2:
            continue
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if not t.described:  # a batch size alone: the loader must even the sizes out
            yield Hit(
                f"split {s.name!r}: {len(counts)} image sizes (HxW: {_names(ordered)}) with "
                f"batch size {t.batch_size} and no resize or crop stated: the loader must "
                "resize or crop them to one size (say how: --crop-size, --resize)",
                SizesData(tuple((_hw(k), n) for k, n in ordered), t.batch_size),
                severity=Severity.WARNING,
                path=ROOT,
                split=s.name,
            )
            continue
        how = " after the resize" if t.resizes else ""
        yield Hit(
            f"split {s.name!r}: {len(counts)} sizes{how} (HxW: {_names(ordered)}) with "
            f"batch size {t.batch_size} and no crop or fixed-size resize",
            SizesData(tuple((_hw(k), n) for k, n in ordered), t.batch_size),
            path=ROOT,
            split=s.name,
        )


@dataclass(frozen=True, slots=True)
class CollapseOptions:
    min_side: int = threshold(1, Int(1, 65536), "a side below this many pixels collapses")


@dataclass(frozen=True, slots=True)
class CollapseData(FindingData):
    size: tuple[int, int]
    scaled: tuple[int, int]


@check("NA405", "collapsed-resize", Severity.ERROR, IMAGE, CollapseOptions)
def collapsed_resize(ctx: CheckContext[CollapseOptions], rec: FileRecord) -> Iterator[Hit]:
    """The resize (--resize, --scale-range) rounds a side of a training image to 0 pixels
    (below 1: min_side) at the smallest training scale: an extreme aspect ratio under a
    ratio-keeping resize, or a small image under a small scale.

    An image that ends below the crop without padding is NA401's; with padding that is how
    mmseg trains, and NA402 counts the padding.

    Why: the resize fails ("height and width must be > 0", a ZeroDivisionError), or an
    empty tensor reaches the network.

    Fix: drop or re-cut the image (a strip of 1 pixel is rarely meant to be trained on),
    or resize without keeping the ratio.
    """
    t = ctx.training
    if not t.resizes or not _in_training(ctx) or not rec.height or not rec.width:
        return
    (h, w), _ = extreme_sizes(rec.height, rec.width, t)
    if min(h, w) >= ctx.options.min_side:
        return
    yield Hit(
        f"image {_hw((rec.height, rec.width))} (HxW) becomes {_hw((h, w))}"
        f"{_scale_words(ctx, 'smallest')}",
        CollapseData((rec.height, rec.width), (h, w)),
    )


@dataclass(frozen=True, slots=True)
class VanishingOptions:
    max_share: float = threshold(
        0.5, Float(0.0, 1.0), "share of the masks holding a class in which it may vanish"
    )


@dataclass(frozen=True, slots=True)
class VanishingData(FindingData):
    class_: int = field(metadata=json_key("class"))
    masks: int
    masks_with_class: int


@check("NA406", "vanishing-class", Severity.WARNING, DATASET, VanishingOptions)
def vanishing_class(ctx: CheckContext[VanishingOptions], ds: DatasetStats) -> Iterator[Hit]:
    """A class covers less than one pixel at the largest training scale (--resize,
    --scale-range), or its regions are under half a pixel thick there, in more than half
    (max_share) of the training masks that hold it.

    The test takes the class's pixel count in each mask times the resize's area factor (an
    upper bound of its largest region), and the mean thickness of its regions, 4 × pixels /
    the pixel edges it shares with other labels (a square of side s: s), times the linear
    factor: a class of many small specks vanishes while its pixel total looks fine.

    Why: a nearest-neighbour resize of the mask keeps a region below one pixel with a
    chance equal to its area at best: the model is almost never shown the class, and its
    IoU stays near 0.

    Fix: train at a larger scale (or crop instead of resizing), or merge the class into
    another.
    """
    if not ctx.training.resizes:
        return
    for s in _training(ds):
        holding = dict(s.stats.masks_per_label)
        for label, n in s.stats.vanishing:
            total = holding.get(label, 0)
            if total and n / total > ctx.options.max_share:
                yield Hit(
                    f"class {ctx.label_name(label)} covers less than one pixel"
                    f"{_scale_words(ctx, 'largest')} in {n:,} of the {total:,} masks that "
                    f"hold it in split {s.name!r}",
                    VanishingData(label, n, total),
                    path=ROOT,
                    split=s.name,
                )


@dataclass(frozen=True, slots=True)
class ReducedOptions:
    min_share: float = threshold(
        0.2, Float(0.0, 1.0), "share of the pixels that label 0 covers, from which it fires"
    )


@dataclass(frozen=True, slots=True)
class BackgroundNameData(FindingData):
    class_name: str


@dataclass(frozen=True, slots=True)
class ReducedData(FindingData):
    share: float
    pixels: int
    classes_left: int


@check("NA407", "background-reduced-away", Severity.WARNING, DATASET, ReducedOptions)
def background_reduced_away(ctx: CheckContext[ReducedOptions], ds: DatasetStats) -> Iterator[Hit]:
    """reduce_zero_label is on while label 0 is a real class: in a two-class dataset (one
    class is left after the reduction) label 0 covers at least 20% of the training pixels
    (min_share), or the class names call class 0 background.

    Why: reduce_zero_label (ADE20K's convention, where 0 is "other") turns label 0 into the
    ignore index: binary data loses its background, and the model learns to predict the
    foreground everywhere.

    Fix: turn it off (--no-reduce-zero-label; mmseg LoadAnnotations(reduce_zero_label=
    False)) unless 0 really is "unlabeled" in your data.
    """
    rules = ctx.labels
    if not rules.reduce_zero_label:
        return
    names = rules.class_names
    if names and names[0].strip().lower() in BACKGROUND_NAMES:
        yield Hit(
            f"reduce_zero_label maps label 0 to the ignore index, while the class names "
            f"call class 0 {names[0]!r}",
            BackgroundNameData(names[0]),
            path=ROOT,
        )
    for s in _training(ds):
        st = s.stats
        if not st.mask_pixels or not st.reduced_pixels:
            continue
        share = st.reduced_pixels / st.mask_pixels
        left = [v for v, _ in st.labels if v not in (rules.ignore_index, rules.reduced_to)]
        two_class = len(left) <= 1 or rules.num_classes == 1
        into = (
            "the ignore index"
            if rules.ignore_index is not None
            else f"{rules.reduced_to} (with no ignore index set, a label out of range)"
        )
        if two_class and share >= ctx.options.min_share:
            yield Hit(
                f"split {s.name!r}: reduce_zero_label turned label 0, {share:.1%} of the "
                f"pixels, into {into}, leaving {len(left)} class"
                f"{'' if len(left) == 1 else 'es'}",
                ReducedData(share, st.reduced_pixels, len(left)),
                path=ROOT,
                split=s.name,
            )
