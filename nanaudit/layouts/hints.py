"""What a layout knows about its own traps: explanations of out-of-range labels.

A hint takes the out-of-range label values (and C) and returns one sentence, or None.
"""

from __future__ import annotations

from collections.abc import Sequence

from .classes import VOC_LUMA


def palette_luma_hint(bad: Sequence[int], num_classes: int | None = None) -> str | None:
    """Out-of-range values that are all luma values of VOC palette colours."""
    if bad and all(v in VOC_LUMA for v in bad) and any(v not in (0, 255) for v in bad):
        return (
            "these values are the gray levels (luma) of VOC palette colours: palette masks "
            "read as gray (Image.open(p).convert('L'), cv2.imread(p, 0), detectron2's "
            "read_image(p, 'L')) or saved so; read the palette indices "
            "(np.asarray(Image.open(p)); --mask-reader pillow), or map each palette colour "
            "to its index"
        )
    return None


def cityscapes_hint(bad: Sequence[int], num_classes: int | None) -> str | None:
    if num_classes == 19 and bad and max(bad) <= 33 and min(bad) >= 0:
        return (
            "values up to 33 are Cityscapes labelIds, not trainIds: convert with "
            "cityscapesscripts' createTrainIdLabelImgs.py (writes *_labelTrainIds.png), or "
            "declare the 34-id encoding with --label-encoding labelIds"
        )
    return None


def pets_hint(bad: Sequence[int], num_classes: int | None) -> str | None:
    if 3 in bad:
        return (
            "Oxford-IIIT Pet trimaps hold 1, 2, 3 (no 0): subtract 1 (mask - 1) before "
            "training, and audit that with --label-offset -1"
        )
    if -1 in bad:
        return "a trimap holds 0, which the -1 shift turns into -1: the file is not a trimap"
    return None


def ade_hint(bad: Sequence[int], num_classes: int | None) -> str | None:
    if 150 in bad:
        return (
            "ADE20K masks hold 0 (other) and 1–150: with 150 classes, apply "
            "reduce_zero_label (0 → ignore, 1–150 → 0–149), or use 151 classes"
        )
    return None


def coco_hint(bad: Sequence[int], num_classes: int | None) -> str | None:
    if 182 in bad:
        return (
            "COCO-Stuff stuffthingmaps hold 0–181 with 255 unlabeled; 182 means 1-based "
            "labels (the cocostuff-10k .mat convention): subtract 1 and map 0 to 255"
        )
    return None


def camvid_hint(bad: Sequence[int], num_classes: int | None) -> str | None:
    if 11 in bad:
        return "CamVid's 11 is void: use --ignore-index 11 (the camvid preset's default)"
    return None
