"""NA0xx: files and pairing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..aggregate import SplitView
from ..findings import FindingData, Marks, optional
from ..loaders import READERS
from ..records import FileRecord, Pair
from ..severity import Severity
from .context import CheckContext
from .registry import Hit, NoOptions, check
from .scopes import FILE, PAIR, SPLIT

Ctx = CheckContext[NoOptions]

# EXIF orientations 5–8 swap width and height; 2–4 flip or turn the picture in place.
SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
ORIENTATION_NAMES = {
    2: "mirrored horizontally",
    3: "rotated 180°",
    4: "mirrored vertically",
    5: "mirrored and rotated 90° CW",
    6: "rotated 90° CW",
    7: "mirrored and rotated 90° CCW",
    8: "rotated 90° CCW",
}


@dataclass(frozen=True, slots=True)
class Reason(FindingData):
    reason: str


@check("NA001", "unreadable-file", Severity.ERROR, FILE, samples=True)
def unreadable_file(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """A file cannot be decoded: corrupt, truncated, zero bytes, unknown format, a pickled
    .npy/.npz (refused, never unpickled) or unreadable.

    Why: the data loader crashes mid-epoch when it reaches the file, or a forgiving loader
    silently skips the sample and the epoch is not what you think it is.

    Fix: re-export or re-download the file, or delete the pair. Arrays must be saved with
    numeric dtypes (np.save of a plain array), never as Python objects.
    """
    if rec.error is not None and rec.error.check == "NA001":
        yield Hit(f"cannot read {rec.kind.value}: {rec.error.reason}", Reason(rec.error.reason))


@check("NA002", "oversized-image", Severity.ERROR, FILE)
def oversized_image(ctx: Ctx, rec: FileRecord) -> Iterator[Hit]:
    """The header declares more pixels than the limit (default 178,956,970, Pillow's
    decompression-bomb threshold), or a .npy header declares more data than the file holds.
    The pixels are never allocated.

    Why: decompression bombs exhaust memory and kill the data-loader workers (or the machine).

    Fix: tile or downscale the image; raise the limit with --max-pixels only for files you
    trust.
    """
    if rec.error is not None and rec.error.check == "NA002":
        yield Hit(f"refused to decode: {rec.error.reason}", Reason(rec.error.reason))


@check("NA003", "missing-mask", Severity.ERROR, PAIR)
def missing_mask(ctx: Ctx, pair: Pair) -> Iterator[Hit]:
    """An image has no mask. In a split declared unlabeled (for example a test split
    without annotations) this is only info.

    Why: the sample is dropped, or a loader that pairs by sorted order pairs every later
    image with the wrong mask.

    Fix: add the mask, remove the image, or declare the split unlabeled (--unlabeled NAME
    or unlabeled_splits in the config). Use --pair-key when masks are named differently.
    """
    if pair.image is not None and pair.mask is None:
        if pair.labeled:
            yield Hit("image has no mask")
        else:
            yield Hit("image has no mask (split declared unlabeled)", severity=Severity.INFO)


@check("NA004", "orphan-mask", Severity.WARNING, PAIR)
def orphan_mask(ctx: Ctx, pair: Pair) -> Iterator[Hit]:
    """A mask has no image.

    Why: usually an image was renamed or deleted, so pairing by name or by sorted order is
    off for the rest of the folder.

    Fix: restore the image or delete the mask; use --pair-key when names differ by a
    pattern.
    """
    if pair.mask is not None and pair.image is None:
        yield Hit("mask has no image")


@dataclass(frozen=True, slots=True)
class NoImagesData(FindingData):
    images: int


@check("NA005", "no-images", Severity.ERROR, SPLIT, samples=True)
def no_images(ctx: Ctx, split: SplitView) -> Iterator[Hit]:
    """A scanned root or split holds no images.

    Why: an empty split yields NaN averages (0/0) for its loss and metrics, or a
    DataLoader that raises on its first batch.

    Fix: check the folder names and the --split / --images arguments; remove the split if
    it is not meant to exist.
    """
    if split.stats.image_files == 0:
        yield Hit(f"split {split.name!r} holds no images", NoImagesData(0))


def _rotated(rec: FileRecord) -> tuple[int, int]:
    if rec.exif_orientation in SWAPPING_ORIENTATIONS:
        return rec.height, rec.width
    return rec.width, rec.height


@dataclass(frozen=True, slots=True)
class SizeMismatchData(FindingData):
    image_size: tuple[int, int]
    mask_size: tuple[int, int]

    def marks(self) -> Marks:
        return Marks("where image and mask do not overlap", overlap=True)


@check("NA006", "size-mismatch", Severity.ERROR, PAIR, samples=True)
def size_mismatch(ctx: Ctx, pair: Pair) -> Iterator[Hit]:
    """A mask's height×width differs from its image's.

    Why: the loss raises a shape error, or random crops and resizes misalign the image and
    its labels without any error at all.

    Fix: regenerate the mask at the image's size (nearest-neighbour resize only), or fix
    the pairing.
    """
    img, mask = pair.image, pair.mask
    if img is None or mask is None or not img.ok or not mask.ok:
        return
    if (img.width, img.height) == (mask.width, mask.height):
        return
    data = SizeMismatchData((img.width, img.height), (mask.width, mask.height))
    note = ""
    if "exif-turned" in img.changes and (img.height, img.width) == (mask.width, mask.height):
        note = " (the image reader turns the image by its EXIF orientation; the mask is not)"
    elif img.exif_orientation in SWAPPING_ORIENTATIONS and _rotated(img) == (
        mask.width,
        mask.height,
    ):
        note = " (the mask matches the EXIF-rotated image; loaders that ignore EXIF see a mismatch)"
    yield Hit(
        f"image is {img.height}×{img.width} but mask is {mask.height}×{mask.width} (H×W, as "
        f"--crop-size takes it){note}",
        data,
    )


@dataclass(frozen=True, slots=True)
class OrientationData(FindingData):
    orientation: int
    rotated_size: tuple[int, int] | None = optional()
    reader: str | None = optional()  # the stated image reader

    def marks(self) -> Marks:
        return Marks(exif_turn=True)


@check("NA007", "exif-orientation", Severity.WARNING, PAIR)
def exif_orientation(ctx: Ctx, pair: Pair) -> Iterator[Hit]:
    """An image carries an EXIF Orientation other than 1. It is an error when the rotated
    image no longer matches its mask's size, or when the stated image reader turns the
    image and the mask reader does not; a note (info) when the stated image reader does not
    turn it.

    Why: readers disagree. cv2.imread (IMREAD_COLOR, IMREAD_GRAYSCALE),
    ImageOps.exif_transpose, detectron2's read_image and Hugging Face datasets' Image turn
    the image; np.asarray(Image.open(p)), cv2.IMREAD_UNCHANGED, tifffile and
    torchvision.io.decode_image (by default) do not; none turns a PNG mask without the
    tag. Labels land on the wrong pixels, or the shapes stop matching.

    Fix: bake the rotation into the pixels (ImageOps.exif_transpose, then save without the
    tag) and regenerate or rotate the mask the same way.
    """
    img = pair.image
    if img is None or not img.ok or img.exif_orientation in (None, 0, 1):
        return
    orientation = img.exif_orientation or 0
    desc = ORIENTATION_NAMES.get(orientation, "unknown orientation")
    mask = pair.mask
    reader = ctx.training.image_reader
    if reader is not None:
        mask_turned = mask is not None and "exif-turned" in mask.changes
        if not READERS[reader].exif:
            yield Hit(
                f"EXIF orientation {orientation} ({desc}): your image reader ({reader}) does "
                "not turn it, the pixels stay as stored",
                OrientationData(orientation, reader=reader),
                severity=Severity.INFO,
                path=img.path,
            )
        elif not mask_turned:
            mask_reader = ctx.training.mask_reader or "pillow"
            yield Hit(
                f"EXIF orientation {orientation} ({desc}): your image reader ({reader}) turns "
                f"the image, your mask reader ({mask_reader}) does not turn the mask: the "
                "labels land on other pixels",
                OrientationData(orientation, reader=reader),
                severity=Severity.ERROR,
                path=img.path,
            )
        return
    if mask is not None and mask.ok:
        rw, rh = _rotated(img)
        if (rw, rh) != (mask.width, mask.height) and (img.width, img.height) == (
            mask.width,
            mask.height,
        ):
            yield Hit(
                f"EXIF orientation {orientation} ({desc}): EXIF-aware loaders (cv2.imread, "
                f"exif_transpose) turn the {img.height}×{img.width} image into {rh}×{rw}, no "
                f"longer the mask's {mask.height}×{mask.width} (H×W)",
                OrientationData(orientation, (rw, rh)),
                severity=Severity.ERROR,
                path=img.path,
            )
            return
    yield Hit(
        f"EXIF orientation {orientation} ({desc}): cv2.imread and exif_transpose turn the "
        "image, np.asarray(Image.open(p)) does not; the mask is not turned with it (state "
        "your reader: --image-reader)",
        OrientationData(orientation),
        path=img.path,
    )


@check("NA008", "unreadable-folder", Severity.ERROR, SPLIT)
def unreadable_folder(ctx: Ctx, split: SplitView) -> Iterator[Hit]:
    """A folder below the scanned root cannot be listed (permissions, a path too long), so
    none of the images or masks in it was audited.

    Why: its files vanish from the audit without a word, while the training job, run as
    another user or on another machine, may read them: their NaNs, out-of-range labels and
    missing masks go unreported.

    Fix: give the auditing user read and execute permission on the folder (chmod u+rx), or
    shorten the path; or remove the folder from the dataset.

    Example: a folder images/train/batch_7 left at chmod 700 by another user is reported as
    "images/train/batch_7: folder cannot be listed (permission denied): the files in it
    were not audited" (not run for the docs: a scan as root lists every folder).
    """
    for path, reason in split.unreadable_folders:
        yield Hit(
            f"folder cannot be listed ({reason}): the files in it were not audited",
            Reason(reason),
            path=path,
        )
