"""How training code reads image and mask files: the reader profiles and the framework
presets that choose them, as data (a leaf module: options.py offers the names,
decode/profiles.py emulates each reader, the docs print the table).

The same PNG is class indices to ``np.asarray(Image.open(p))``, gray levels to
``cv2.imread(p, 0)``, three BGR channels to ``cv2.imread(p)`` and a stack of pages to
``tifffile.imread``: ``--image-reader``/``--mask-reader`` name the call the training code
makes, ``--reader`` the framework whose loading code makes it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

DEFAULT_READER = "pillow"


class Change(enum.StrEnum):
    """What a reader does to the stored values (the record's ``changes``)."""

    PALETTE_COLOURS = "palette-colours"  # a palette's indices become its colours
    PALETTE_GRAY = "palette-gray"  # ... the gray levels of its colours
    COLOUR_GRAY = "colour-gray"  # colour channels become one gray level
    SCALED_16_TO_8 = "16-to-8-bit"  # 16-bit values divided by 256
    ONE_BIT_255 = "1-bit-255"  # a 1-bit file read as 0/255 (Pillow: 0/1)
    ALPHA_DROPPED = "alpha-dropped"
    GRAY_TO_3 = "gray-to-3-channels"  # one channel copied into three
    BGR = "bgr"  # colour channels in B, G, R order
    EXIF_TURNED = "exif-turned"  # the pixels turned by the EXIF Orientation tag
    PAGES_STACKED = "pages-stacked"  # every page of a multi-page file, pages first
    WRAPPED_8 = "wrapped-to-uint8"  # values cast to uint8 (256 becomes 0)
    CLIPPED_8 = "clipped-to-255"  # values above 255 become 255 (Pillow's convert)


@dataclass(frozen=True, slots=True)
class ReaderProfile:
    name: str
    code: str  # the call it stands for
    yields: str  # what it returns, in a few words
    exif: bool = False  # it turns the pixels by the EXIF Orientation tag


READERS: dict[str, ReaderProfile] = {
    p.name: p
    for p in (
        ReaderProfile(
            "pillow",
            "np.asarray(Image.open(p))",
            "the stored values: palette indices, 0/1 for 1-bit, every channel (alpha too), "
            "16-bit as uint16, the first page",
        ),
        ReaderProfile(
            "pillow+exif",
            "np.asarray(ImageOps.exif_transpose(Image.open(p)))",
            "as pillow, turned by the EXIF orientation",
            exif=True,
        ),
        ReaderProfile(
            "pillow-L",
            "np.asarray(Image.open(p).convert('L'))",
            "one 8-bit gray channel: a palette's gray levels, colour as luma, 1-bit as 0/255",
        ),
        ReaderProfile(
            "pillow-L+exif",
            "np.asarray(ImageOps.exif_transpose(Image.open(p)).convert('L'))",
            "as pillow-L, turned by the EXIF orientation",
            exif=True,
        ),
        ReaderProfile(
            "pillow-RGB",
            "np.asarray(Image.open(p).convert('RGB'))",
            "three 8-bit channels: a palette's colours, gray copied, alpha dropped",
        ),
        ReaderProfile(
            "pillow-RGB+exif",
            "np.asarray(ImageOps.exif_transpose(Image.open(p)).convert('RGB'))",
            "as pillow-RGB, turned by the EXIF orientation",
            exif=True,
        ),
        ReaderProfile(
            "pillow-uint8",
            "np.array(Image.open(p)).squeeze().astype(np.uint8) (mmcv 'unchanged', pillow)",
            "as pillow, colour channels in BGR order, cast to uint8 (16-bit ids wrap: 256 is 0)",
        ),
        ReaderProfile(
            "cv2",
            "cv2.imread(p)  # IMREAD_COLOR",
            "three 8-bit channels in BGR order, turned by EXIF: a palette's colours, gray "
            "copied, alpha dropped, 16-bit divided by 256, 1-bit as 0/255; None for 32-bit",
            exif=True,
        ),
        ReaderProfile(
            "cv2-RGB",
            "cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB)",
            "as cv2, in RGB order",
            exif=True,
        ),
        ReaderProfile(
            "cv2-gray",
            "cv2.imread(p, 0)  # IMREAD_GRAYSCALE",
            "one 8-bit channel, turned by EXIF: a palette's gray levels, colour as luma, "
            "16-bit divided by 256, 1-bit as 0/255; None for 32-bit",
            exif=True,
        ),
        ReaderProfile(
            "cv2-unchanged",
            "cv2.imread(p, cv2.IMREAD_UNCHANGED)",
            "the stored depth (uint16, int32, float32), BGR(A) order, alpha kept, a palette's "
            "colours, 1-bit as 0/255, no EXIF turn",
        ),
        ReaderProfile(
            "tifffile",
            "tifffile.imread(p)  # TIFF; other formats as pillow",
            "the stored values of every page: (pages, H, W) for a multi-page TIFF",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Framework:
    """The readers of a framework's own loading code, and the file that does it."""

    name: str
    image: str
    mask: str
    source: str  # the file whose code the readers follow
    code: str  # the lines that read the image and the mask


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework(
            "mmsegmentation",
            "cv2",
            "pillow-uint8",
            "mmseg/datasets/transforms/loading.py (LoadAnnotations: imdecode_backend "
            "'pillow'); mmcv/transforms/loading.py (LoadImageFromFile: cv2, 'color')",
            "mmcv.imfrombytes(img, flag='color', backend='cv2'); mmcv.imfrombytes(seg, "
            "flag='unchanged', backend='pillow').squeeze().astype(np.uint8)",
        ),
        Framework(
            "detectron2",
            "pillow-RGB+exif",
            "pillow-L+exif",
            "detectron2/data/dataset_mapper.py and detectron2/data/detection_utils.py "
            "(read_image: _apply_exif_orientation, then convert)",
            "utils.read_image(file_name, format='BGR'); utils.read_image(sem_seg_file_name, "
            "'L').squeeze(2)",
        ),
        Framework(
            "torchvision",
            "pillow-RGB",
            "pillow",
            "torchvision/datasets/voc.py (VOCSegmentation.__getitem__)",
            "Image.open(image).convert('RGB'); Image.open(mask)",
        ),
        Framework(
            "hf-datasets",
            "pillow+exif",
            "pillow+exif",
            "src/datasets/features/image.py (Image.decode_example: exif_transpose when the "
            "tag is set; convert only with Image(mode=...))",
            "np.array(example['image']); np.array(example['label'])",
        ),
        Framework(
            "smp",
            "cv2-RGB",
            "cv2-gray",
            "segmentation_models.pytorch examples/cars segmentation (camvid).ipynb (Dataset)",
            "cv2.cvtColor(cv2.imread(image), cv2.COLOR_BGR2RGB); cv2.imread(mask, 0)",
        ),
    )
}


def reader_names() -> tuple[str, ...]:
    return tuple(READERS)


def canonical(name: str) -> str | None:
    """The reader called ``name`` (case does not matter), or None."""
    low = name.strip().lower()
    return next((r for r in READERS if r.lower() == low), None)
