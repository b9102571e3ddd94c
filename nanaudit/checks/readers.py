"""How the loader reads the files (NA011, NA114, NA211-NA216): what a file is depends on the
reader (loaders.py), and a reader can turn a clean file into a fatal one. With a reader
stated (--image-reader, --mask-reader, --reader) the records hold what it yields and these
checks judge that; without one, NA211 flags the masks whose meaning depends on it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..aggregate import DatasetStats, SplitView, mask_kind
from ..findings import FindingData, Marks
from ..kinds import Float, Int
from ..loaders import READERS, Change
from ..records import FileRecord
from ..severity import Severity
from .context import CheckContext
from .registry import Hit, NoOptions, check, threshold
from .scopes import ANY_MASK, DATASET, IMAGE, MASK, SPLIT

Ctx = CheckContext[NoOptions]
ROOT = "."
EIGHT_BIT = frozenset({"uint8", "bool"})
ALPHA_LAST = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


def _hw(rec: FileRecord) -> str:
    return f"{rec.height}×{rec.width}"


def gray_level(colour: int) -> int:
    """Pillow's convert('L') of a colour 0xRRGGBB (ITU-R 601-2 luma, rounded)."""
    r, g, b = (colour >> 16) & 255, (colour >> 8) & 255, colour & 255
    return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16


def _gray_ramp(palette: tuple[tuple[int, int], ...]) -> bool:
    """Whether every index in use has the gray colour (i, i, i): read as gray, it is itself."""
    return all(colour == i * 0x010101 for i, colour in palette)


def _shown(values: list[int], limit: int = 8) -> str:
    text = ", ".join(str(v) for v in values[:limit])
    return text + (f", … {len(values) - limit} more" if len(values) > limit else "")


@dataclass(frozen=True, slots=True)
class ReaderDependentData(FindingData):
    mode: str
    warnings: tuple[str, ...]  # what breaks with the common readers
    notes: tuple[str, ...]  # where they merely differ

    def badness(self) -> float:
        return float(len(self.warnings))


@check("NA211", "reader-dependent-mask", Severity.WARNING, MASK)
def reader_dependent_mask(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """No mask reader is stated and what this mask holds depends on the reader: alpha or
    extra channels (LA, RGBA, a label copied into three channels), several pages, 16 or 32
    bits, 1 bit, or a palette whose gray levels are not its indices. A warning where the
    common readers break the loss (np.asarray(Image.open(p)), cv2.imread, tifffile.imread);
    a note (info) where they merely yield other values (a palette read as gray by cv2 or
    convert('L'), which NA213 judges once the reader is stated).

    Why: the same file is class indices to one loader and something else to another: an
    RGBA mask is (H, W, 4) to Pillow ("only batches of spatial targets supported"), a 1-bit
    mask is 0/255 to OpenCV (every foreground pixel ignored with ignore_index=255), a 16-bit
    mask is divided by 256 by cv2.imread (ids below 256 all become 0), a multi-page TIFF
    is a (pages, H, W) stack to tifffile.

    Fix: state how your training code reads masks (--mask-reader pillow, cv2-gray, …, or
    --reader FRAMEWORK) and nanaudit audits what that reader yields; or store the masks as
    single-channel 8-bit PNGs of class indices, which every reader reads alike.
    """
    if ctx.training.mask_reader is not None or rec.channels_differ or rec.reader:
        return
    warn: list[str] = []
    note: list[str] = []
    mode = rec.mode or ""
    if rec.channels > 1:
        alpha = " with alpha" if mode in ALPHA_LAST else ""
        warn.append(
            f"{mode} mask{alpha}: np.asarray(Image.open(p)) yields {_hw(rec)}×{rec.channels} "
            "(the loss wants H×W), cv2.imread(p) yields 3 BGR channels; cv2.imread(p, 0) "
            "and Image.open(p).convert('L') yield one"
        )
    if rec.frames > 1:
        warn.append(
            "several pages: Pillow and cv2 read the first, tifffile.imread stacks them all "
            f"into (pages, {rec.height}, {rec.width})"
        )
    labels = rec.labels
    top = max((v for v, _ in labels.histogram), default=0) if labels is not None else 0
    if rec.dtype == "uint16":
        low = " (every id here is below 256: all become 0)" if top < 256 else ""
        warn.append(
            "16-bit mask: cv2.imread(p) and cv2.imread(p, 0) divide it by 256"
            f"{low}, mmseg's astype(np.uint8) wraps ids above 255; Pillow, "
            "cv2 IMREAD_UNCHANGED and tifffile keep the ids"
        )
    elif rec.dtype in ("int32", "float32") and mode in ("I", "F"):
        warn.append(
            f"32-bit mask ({rec.dtype}): cv2.imread(p) and cv2.imread(p, 0) return None; "
            "Pillow, cv2 IMREAD_UNCHANGED and tifffile read it"
        )
    if mode == "1":
        warn.append(
            "1-bit mask: Pillow and tifffile yield 0/1, cv2.imread and convert('L') yield "
            "0/255 (255 is the ignore index or out of range)"
        )
    if mode in ("P", "PA") and rec.palette and not _gray_ramp(rec.palette):
        indices = [i for i, _ in rec.palette]
        grays = sorted({gray_level(c) for _, c in rec.palette})
        note.append(
            f"palette mask: Pillow yields its indices ({_shown(indices)}); cv2.imread(p, 0) "
            f"and convert('L') yield the gray levels of their colours ({_shown(grays)}), "
            "cv2.imread(p) their BGR colours"
        )
    if not warn and not note:
        return
    yield Hit(
        "; ".join(warn + note) + ". State yours: --mask-reader NAME (or --reader FRAMEWORK)",
        ReaderDependentData(mode, tuple(warn), tuple(note)),
        severity=None if warn else Severity.INFO,
    )


def _stated(ctx: CheckContext[Any], rec: FileRecord) -> str | None:
    """The stated reader of a record's kind, or None."""
    t = ctx.training
    return t.mask_reader if rec.kind.value == "mask" else t.image_reader


def _call(reader: str) -> str:
    return READERS[reader].code.split("  #")[0].split(" (")[0]


@dataclass(frozen=True, slots=True)
class ReaderShapeData(FindingData):
    reader: str
    shape: tuple[int, ...]


@check("NA212", "mask-not-2d", Severity.ERROR, MASK)
def mask_not_2d(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The stated mask reader yields more than one value per pixel: channels (alpha, a
    label copied into three BGR channels, LA's two) or a stack of pages. (Colour-coded
    masks, whose channels differ, are NA205's.)

    Why: the loss takes one class index per pixel: CrossEntropyLoss raises "only batches
    of spatial targets supported (3D tensors) but got targets of dimension: 4", and a
    (pages, H, W) target misaligns every crop.

    Fix: read the mask as one channel (cv2.imread(p, 0), Image.open(p).convert('L'),
    mask[..., 0]) or save it as a single-channel PNG; pick one page of a multi-page mask.
    """
    reader = _stated(ctx, rec)
    if reader is None or rec.channels_differ:
        return
    shape = rec.shape or ((rec.height, rec.width, rec.channels) if rec.channels > 1 else ())
    if len(shape) <= 2:
        return
    pages = Change.PAGES_STACKED.value in rec.changes
    what = f"{shape[0]} pages" if pages else f"{shape[-1]} channels"
    yield Hit(
        f"{_call(reader)} yields a {'×'.join(str(x) for x in shape)} mask ({what}) from this "
        f"{rec.mode} file: the loss wants {_hw(rec)}",
        ReaderShapeData(reader, tuple(shape)),
    )


LABEL_CHANGES = {
    Change.PALETTE_GRAY.value: "the gray levels of the palette's colours, not its indices",
    Change.COLOUR_GRAY.value: "the luma of colour-coded classes, not class indices",
    Change.SCALED_16_TO_8.value: "16-bit ids divided by 256 (ids below 256 become 0)",
    Change.WRAPPED_8.value: "ids cast to uint8 (256 becomes 0, 300 becomes 44)",
    Change.CLIPPED_8.value: "ids above 255 clipped to 255",
}


@dataclass(frozen=True, slots=True)
class ReaderChangesData(FindingData):
    reader: str
    changes: tuple[str, ...]
    labels: tuple[int, ...]  # the values it yields

    def marks(self) -> Marks:
        return Marks("values the reader made", labels=frozenset(self.labels))


@check("NA213", "reader-changes-labels", Severity.ERROR, MASK)
def reader_changes_labels(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The stated mask reader turns the stored labels into other values: a palette's gray
    levels instead of its indices (cv2.imread(p, 0), convert('L'), detectron2's "L"),
    colours into luma, 16-bit ids divided by 256 (cv2.imread) or cast to uint8 (mmseg's
    astype), ids clipped to 255.

    Why: the loss receives the changed values: gray levels 38, 75, 113… are "Target 220 is
    out of bounds" or wrong classes, 16-bit ids below 256 all become background.

    Fix: read the masks with a reader that keeps the stored ids (np.asarray(Image.open(p)),
    cv2.IMREAD_UNCHANGED), or re-save them as 8-bit single-channel index PNGs.
    """
    reader = _stated(ctx, rec)
    if reader is None:
        return
    found = [c for c in rec.changes if c in LABEL_CHANGES]
    if Change.PALETTE_GRAY.value in found and _gray_ramp(rec.palette):
        found.remove(Change.PALETTE_GRAY.value)  # each index's gray level is the index
    if Change.CLIPPED_8.value in found and Change.PALETTE_GRAY.value in found:
        found.remove(Change.CLIPPED_8.value)
    if not found:
        return
    labels = rec.labels
    values = [v for v, _ in labels.histogram] if labels is not None else []
    seen = f"; it yields {_shown(values)}" if values else ""
    yield Hit(
        f"{_call(reader)} reads this {rec.mode} mask as "
        + "; ".join(LABEL_CHANGES[c] for c in found)
        + seen,
        ReaderChangesData(reader, tuple(found), tuple(values)),
    )


def _majority_colours(split: SplitView) -> dict[int, tuple[int, int, int]]:
    """Per palette index used with two colours or more in the split: (majority colour, its
    masks, the masks of the index in all)."""
    by_index: dict[int, list[tuple[int, int]]] = {}
    for (index, colour), n in split.stats.palettes:
        by_index.setdefault(index, []).append((colour, n))
    out = {}
    for index, colours in by_index.items():
        if len(colours) > 1:
            colour, n = min(colours, key=lambda cn: (-cn[1], cn[0]))
            out[index] = (colour, n, sum(m for _, m in colours))
    return out


@dataclass(frozen=True, slots=True)
class PaletteData(FindingData):
    indices: tuple[int, ...]  # indices in use whose colour differs from the split's

    def badness(self) -> float:
        return float(len(self.indices))

    def marks(self) -> Marks:
        return Marks("indices whose colour differs", labels=frozenset(self.indices))


@check("NA214", "palette-differs", Severity.ERROR, MASK)
def palette_differs(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """A palette mask gives an index it uses another colour than most masks of its split
    do: the palettes differ from file to file (index 0 is "land" here and "building"
    there).

    Why: a Pillow loader reads palette indices and never looks at the colours: the classes
    are permuted from one file to the next and the model learns noise for them.

    Fix: remap every mask to one palette (by colour: index = position of its colour in the
    reference palette) and save them again; then read indices.
    """
    if not rec.palette:
        return
    majority = _majority_colours(ctx.here)
    bad = [(i, c, majority[i]) for i, c in rec.palette if i in majority and c != majority[i][0]]
    if not bad:
        return
    shown = "; ".join(
        f"index {i} is #{c:06x} here, #{m:06x} in {n:,} of the {total:,} masks using it"
        for i, c, (m, n, total) in bad[:4]
    )
    yield Hit(
        f"the palette differs from the split's: {shown}"
        + (f"; {len(bad) - 4} more indices" if len(bad) > 4 else ""),
        PaletteData(tuple(i for i, _, _ in bad)),
    )


@dataclass(frozen=True, slots=True)
class MaskKindsData(FindingData):
    palette_masks: int
    colour_masks: int


@check("NA215", "palette-and-colour-masks", Severity.ERROR, ANY_MASK)
def palette_and_colour_masks(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The split mixes palette masks (class indices behind a palette) and RGB colour masks;
    this mask is of the kind fewer masks have.

    Why: one loader cannot read both: a Pillow loader yields indices from the palette files
    and three colour channels from the others; a colour-to-class mapping misreads the
    palette files' indices.

    Fix: convert the minority to the majority's encoding (colours to indices with the
    dataset's palette, or the reverse) and save them again.
    """
    kinds = dict(ctx.here.stats.mask_kinds)
    palette, colour = kinds.get("palette", 0), kinds.get("colour", 0)
    if not palette or not colour:
        return
    mine = mask_kind(rec)
    minority = "palette" if palette < colour else "colour"
    if mine != minority:
        return
    yield Hit(
        f"split {ctx.here.name!r} holds {palette:,} palette mask{'s' if palette > 1 else ''} "
        f"and {colour:,} RGB colour mask{'s' if colour > 1 else ''}; this one is a {mine} mask",
        MaskKindsData(palette, colour),
    )


def _mask_dtypes(ds: DatasetStats) -> set[str]:
    return {d for s in ds.splits for d, _ in s.stats.mask_dtypes}


def ids_beyond_storage(num_classes: int | None, ds: DatasetStats) -> bool:
    """C needs ids above 255 while every mask holds 8 bits (NA216; NA301 then says nothing
    of the classes from 256 on)."""
    dtypes = _mask_dtypes(ds)
    return num_classes is not None and num_classes > 256 and bool(dtypes) and dtypes <= EIGHT_BIT


@dataclass(frozen=True, slots=True)
class StorageData(FindingData):
    num_classes: int
    masks: int


@check("NA216", "ids-beyond-8-bit-masks", Severity.ERROR, DATASET)
def ids_beyond_8_bit_masks(ctx: Ctx, ds: DatasetStats) -> Iterator[Hit]:
    """C is above 256 while every mask holds 8 bits per pixel: class ids from 256 on
    cannot be stored.

    Why: a class id of 300 saved in a uint8 mask wraps to 44 (or clips to 255, the ignore
    index): those classes are lost or merged into others, silently.

    Fix: save the masks as 16-bit PNGs (uint16) or .npy, and read them with a reader that
    keeps 16 bits (np.asarray(Image.open(p)), cv2.IMREAD_UNCHANGED).
    """
    c = ctx.labels.num_classes
    if not ids_beyond_storage(c, ds):
        return
    masks = sum(n for s in ds.splits for _, n in s.stats.mask_dtypes)
    yield Hit(
        f"C = {c} but all {masks:,} masks are 8-bit: ids 256 to {(c or 0) - 1} cannot be "
        "stored (id 300 is read as 44)",
        StorageData(c or 0, masks),
        path=ROOT,
    )


@dataclass(frozen=True, slots=True)
class BetweenData(FindingData):
    between: int  # pixels of an in-between label across an edge
    crossings: int
    share: float

    def badness(self) -> float:
        return self.share


@dataclass(frozen=True, slots=True)
class SmoothResizeOptions:
    min_share: float = threshold(
        0.05, Float(0.0, 1.0), "in-between pixels per edge crossing from which it fires"
    )
    min_pixels: int = threshold(32, Int(1, 1 << 40), "in-between pixels it needs at least")


RAMP_SHARE = 0.25  # in-between pixels beyond this share of the mask: a ramp, not edge strips


@check("NA218", "smoothly-resized-mask", Severity.WARNING, MASK, SmoothResizeOptions)
def smoothly_resized_mask(ctx: CheckContext[SmoothResizeOptions], rec: FileRecord) -> Iterator[Hit]:
    """Along the mask's edges, labels lie between their two neighbours' (1 between 0 and 2,
    on a one-pixel strip) on 5% or more of the edge crossings (min_share): the mask was
    resized with bilinear or bicubic interpolation (Pillow's default resize, a bilinear
    resize in a pipeline), and the in-between values are real classes, so no label is out
    of range. (Rare in-between labels and values beyond C are NA209's, a lossy mask's
    in-between values NA206's; a mask whose pixels are mostly in-between is a ramp of ids,
    not edge strips.)

    Why: about 1-1.5% of the pixels change class along every edge, silently: the model is
    taught a strip of a wrong class around each object.

    Fix: resize masks with nearest-neighbour interpolation only (Image.NEAREST,
    cv2.INTER_NEAREST, InterpolationMode.NEAREST), from the original annotation.
    """
    labels = rec.labels
    if labels is None or not labels.crossings or rec.lossy:  # compression: NA206's
        return
    share = labels.between / labels.crossings
    o = ctx.options
    strips = labels.between <= RAMP_SHARE * labels.pixels  # not a ramp of ids (NA210's)
    if share >= o.min_share and labels.between >= o.min_pixels and strips:
        yield Hit(
            f"{labels.between:,} pixels lie between the labels on either side of an edge "
            f"({share:.1%} of {labels.crossings:,} edge crossings): a smooth resize",
            BetweenData(labels.between, labels.crossings, share),
        )


@dataclass(frozen=True, slots=True)
class NumberedData(FindingData):
    masks: int
    smallest: int
    largest: int


MIN_NUMBERED = 16  # the largest count of ids from which numbering 1..N looks like instances


@check("NA217", "instance-numbered-masks", Severity.WARNING, SPLIT)
def instance_numbered_masks(ctx: Ctx, split: SplitView) -> Iterator[Hit]:
    """Every mask of the split that holds labels numbers them 1..N (besides background and
    ignore), N varies from mask to mask and reaches 16 or more, and no C (--num-classes)
    above the largest is stated: instance ids (one id per object, counted per image) with
    fewer than 256 ids, which NA210 does not see.

    Why: taken for classes, id k is "the k-th object of this image": the same class gets
    a different id in every image, the class count looks like the largest N ("C is at least
    178"), and the loss learns to count objects, not to recognise them.

    Fix: map each instance id to its semantic class with the dataset's instance-to-class
    table (or to 1 for a foreground/background task) and save those masks.
    """
    st = split.stats
    if not split.labeled or st.foreground_masks < 3:
        return
    numbered = dict(st.numbered)
    masks = sum(numbered.values())
    if masks != st.foreground_masks or len(numbered) < 3:
        return
    lo, hi = min(numbered), max(numbered)
    c = ctx.labels.num_classes
    if hi < MIN_NUMBERED or (c is not None and c > hi + 1):
        return
    yield Hit(
        f"all {masks:,} masks of split {split.name!r} with labels number them 1..N, N from "
        f"{lo} to {hi}: instance ids, not classes",
        NumberedData(masks, lo, hi),
    )


@dataclass(frozen=True, slots=True)
class HiddenFilesData(FindingData):
    hidden_files: int  # in the split


@check("NA012", "hidden-image-files", Severity.WARNING, SPLIT)
def hidden_image_files(ctx: Ctx, split: SplitView) -> Iterator[Hit]:
    """A hidden file with an image suffix sits in the split's folders: macOS's AppleDouble
    companions (._img_001.png), editor or sync leftovers. nanaudit skips hidden files; a
    loader that lists the folder does not.

    Why: os.listdir and pathlib.Path.glob("*.png") list them, and the loader crashes on
    the first one it opens ("cannot identify image file"), or pairs it with a mask.

    Fix: delete them (find DIR -name '._*' -delete; dot_clean on macOS), or list the files
    with glob.glob, which skips hidden names.
    """
    files = split.hidden_images
    if not files:
        return
    for path in files[:20]:
        yield Hit(
            "hidden file with an image suffix: nanaudit skipped it, os.listdir and "
            "Path.glob list it and the loader fails on it",
            HiddenFilesData(len(files)),
            path=path,
        )
    if len(files) > 20:
        yield Hit(
            f"{len(files) - 20:,} more hidden files with an image suffix in split {split.name!r}",
            HiddenFilesData(len(files)),
        )


@dataclass(frozen=True, slots=True)
class CmykData(FindingData):
    images: int


@check("NA011", "cmyk-images", Severity.WARNING, SPLIT)
def cmyk_images(ctx: Ctx, split: SplitView) -> Iterator[Hit]:
    """Every image of the split is CMYK, and the image reader keeps four channels (none
    stated, or one that does not convert them). (A mix of modes is NA109's.)

    Why: torchvision.io.decode_jpeg raises "Unsupported color conversion request" on CMYK
    JPEGs; np.asarray(Image.open(p)) yields four channels, which a three-channel model
    refuses (or reads inverted colours).

    Fix: convert the images to RGB once (Image.open(p).convert('RGB').save(...)), or read
    them with a converting reader (--image-reader pillow-RGB or cv2).
    """
    reader = ctx.training.image_reader
    if reader is not None and reader not in ("pillow", "pillow+exif", "pillow-uint8", "tifffile"):
        return
    st = split.stats
    cmyk = dict(st.modes).get("CMYK", 0)
    if st.images and cmyk == st.images:
        yield Hit(
            f"all {cmyk:,} images of split {split.name!r} are CMYK: decode_jpeg refuses them, "
            "np.asarray(Image.open(p)) yields 4 channels",
            CmykData(cmyk),
        )


@dataclass(frozen=True, slots=True)
class ChannelData(FindingData):
    channels: tuple[int, ...]  # the constant ones, from 0


@check("NA114", "constant-channel", Severity.WARNING, IMAGE)
def constant_channel(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """One channel of the image is constant (a dead band) while others vary. An alpha
    channel is not counted. (Every channel constant is NA103's.)

    Why: per-channel normalisation, (x - mean_c) / std_c over the image, divides that
    channel by a zero std: NaN in every pixel of the input, then in the loss.

    Fix: drop or repair the band; normalise with the dataset's constants, or add an
    epsilon to the std.
    """
    p = rec.pixels
    if p is None or len(p.channels) < 2:
        return
    chans = list(p.channels)
    if rec.mode in ALPHA_LAST:
        chans = chans[:-1]
    flat = [
        k for k, c in enumerate(chans) if c.count and c.min == c.max and not c.nan and not c.inf
    ]
    varying = [c for c in chans if c.count and c.min != c.max]
    if not flat or not varying:
        return
    shown = ", ".join(f"{k} (all {chans[k].min:g})" for k in flat)
    yield Hit(
        f"channel{'s' if len(flat) > 1 else ''} {shown} of {len(chans)} "
        f"{'are' if len(flat) > 1 else 'is'} constant: its std is 0",
        ChannelData(tuple(flat)),
    )
