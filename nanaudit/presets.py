"""Layout presets: the public datasets as people download them.

A preset recognises a dataset's folder structure, pairs its files the way the dataset
does, and supplies its label convention (C, ignore index, background, class names, label
encoding). Every setting it supplies gives way to one the user gave (flag, variable or
config). Presets only list folders and read the split list files; they open no image.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .discovery import (
    DiscoveryError,
    Layout,
    PairPaths,
    SplitFiles,
    discover,
    split_role,
    walk_files,
)

if TYPE_CHECKING:
    from .config import Settings

# --------------------------------------------------------------------------- class names


def _names(text: str) -> tuple[str, ...]:
    return tuple(" ".join(name.split()) for name in text.split(","))


VOC_CLASSES = _names(
    """
    background, aeroplane, bicycle, bird, boat, bottle, bus, car, cat, chair, cow,
    diningtable, dog, horse, motorbike, person, pottedplant, sheep, sofa, train, tvmonitor
    """
)
CITYSCAPES_TRAIN_IDS = _names(
    """
    road, sidewalk, building, wall, fence, pole, traffic light, traffic sign, vegetation,
    terrain, sky, person, rider, car, truck, bus, train, motorcycle, bicycle
    """
)
CITYSCAPES_LABEL_IDS = _names(
    """
    unlabeled, ego vehicle, rectification border, out of roi, static, dynamic, ground, road,
    sidewalk, parking, rail track, building, wall, fence, guard rail, bridge, tunnel, pole,
    polegroup, traffic light, traffic sign, vegetation, terrain, sky, person, rider, car,
    truck, bus, caravan, trailer, train, motorcycle, bicycle
    """
)
ADE20K_CLASSES = _names(
    """
    wall, building, sky, floor, tree, ceiling, road, bed, windowpane, grass, cabinet,
    sidewalk, person, earth, door, table, mountain, plant, curtain, chair, car, water,
    painting, sofa, shelf, house, sea, mirror, rug, field, armchair, seat, fence, desk,
    rock, wardrobe, lamp, bathtub, railing, cushion, base, box, column, signboard, chest of
    drawers, counter, sand, sink, skyscraper, fireplace, refrigerator, grandstand, path,
    stairs, runway, case, pool table, pillow, screen door, stairway, river, bridge,
    bookcase, blind, coffee table, toilet, flower, book, hill, bench, countertop, stove,
    palm, kitchen island, computer, swivel chair, boat, bar, arcade machine, hovel, bus,
    towel, light, truck, tower, chandelier, awning, streetlight, booth, television receiver,
    airplane, dirt track, apparel, pole, land, bannister, escalator, ottoman, bottle,
    buffet, poster, stage, van, ship, fountain, conveyer belt, canopy, washer, plaything,
    swimming pool, stool, barrel, basket, waterfall, tent, bag, minibike, cradle, oven,
    ball, food, step, tank, trade name, microwave, pot, animal, bicycle, lake, dishwasher,
    screen, blanket, sculpture, hood, sconce, vase, traffic light, tray, ashcan, fan, pier,
    crt screen, plate, monitor, bulletin board, shower, radiator, glass, clock, flag
    """
)
_COCO_THINGS = {
    1: "person",
    2: "bicycle",
    3: "car",
    4: "motorcycle",
    5: "airplane",
    6: "bus",
    7: "train",
    8: "truck",
    9: "boat",
    10: "traffic light",
    11: "fire hydrant",
    13: "stop sign",
    14: "parking meter",
    15: "bench",
    16: "bird",
    17: "cat",
    18: "dog",
    19: "horse",
    20: "sheep",
    21: "cow",
    22: "elephant",
    23: "bear",
    24: "zebra",
    25: "giraffe",
    27: "backpack",
    28: "umbrella",
    31: "handbag",
    32: "tie",
    33: "suitcase",
    34: "frisbee",
    35: "skis",
    36: "snowboard",
    37: "sports ball",
    38: "kite",
    39: "baseball bat",
    40: "baseball glove",
    41: "skateboard",
    42: "surfboard",
    43: "tennis racket",
    44: "bottle",
    46: "wine glass",
    47: "cup",
    48: "fork",
    49: "knife",
    50: "spoon",
    51: "bowl",
    52: "banana",
    53: "apple",
    54: "sandwich",
    55: "orange",
    56: "broccoli",
    57: "carrot",
    58: "hot dog",
    59: "pizza",
    60: "donut",
    61: "cake",
    62: "chair",
    63: "couch",
    64: "potted plant",
    65: "bed",
    67: "dining table",
    70: "toilet",
    72: "tv",
    73: "laptop",
    74: "mouse",
    75: "remote",
    76: "keyboard",
    77: "cell phone",
    78: "microwave",
    79: "oven",
    80: "toaster",
    81: "sink",
    82: "refrigerator",
    84: "book",
    85: "clock",
    86: "vase",
    87: "scissors",
    88: "teddy bear",
    89: "hair drier",
    90: "toothbrush",
}
_COCO_STUFF = _names(
    """
    banner, blanket, branch, bridge, building-other, bush, cabinet, cage, cardboard, carpet,
    ceiling-other, ceiling-tile, cloth, clothes, clouds, counter, cupboard, curtain, desk-
    stuff, dirt, door-stuff, fence, floor-marble, floor-other, floor-stone, floor-tile,
    floor-wood, flower, fog, food-other, fruit, furniture-other, grass, gravel, ground-
    other, hill, house, leaves, light, mat, metal, mirror-stuff, moss, mountain, mud,
    napkin, net, paper, pavement, pillow, plant-other, plastic, platform, playingfield,
    railing, railroad, river, road, rock, roof, rug, salad, sand, sea, shelf, sky-other,
    skyscraper, snow, solid-other, stairs, stone, straw, structural-other, table, tent,
    textile-other, towel, tree, vegetable, wall-brick, wall-concrete, wall-other, wall-
    panel, wall-stone, wall-tile, wall-wood, water-other, waterdrops, window-blind, window-
    other, wood
    """
)
# stuffthingmaps hold COCO id - 1: things 0–90 (11 ids unused), stuff 91–181, 255 unlabeled
COCO_STUFF_UNUSED = tuple(i - 1 for i in range(1, 92) if i not in _COCO_THINGS)
COCO_STUFF_CLASSES = tuple(
    [_COCO_THINGS.get(i, f"unused-{i - 1}") for i in range(1, 92)] + list(_COCO_STUFF)
)
CAMVID_CLASSES = _names(
    """
    sky, building, pole, road, pavement, tree, signsymbol, fence, car, pedestrian, bicyclist
    """
)
PET_TRIMAP = ("foreground", "background", "boundary")  # trimap values 1, 2, 3


def voc_palette() -> list[tuple[int, int, int]]:
    """The PASCAL VOC colour map (index → RGB)."""
    pal = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal.append((r, g, b))
    return pal


def _luma(rgb: tuple[int, int, int]) -> int:
    r, g, b = rgb
    return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16  # Pillow's convert("L")


VOC_LUMA = frozenset(_luma(c) for c in voc_palette()[1:21]) | {_luma(voc_palette()[255])}


def palette_luma_hint(bad: Sequence[int], num_classes: int | None = None) -> str | None:
    """Out-of-range values that are all luma values of VOC palette colours."""
    if bad and all(v in VOC_LUMA for v in bad) and any(v not in (0, 255) for v in bad):
        return (
            "these values are the gray levels (luma) of VOC palette colours: the palette "
            "masks were converted to gray (convert('L') or an image editor); reload the "
            "originals as palette indices, or map each palette colour to its index"
        )
    return None


# --------------------------------------------------------------------------- the presets

Hint = Callable[[Sequence[int], int | None], str | None]


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    expects: str  # the folders it recognises, for `nanaudit layouts`
    labels: str  # the label convention, in words
    detect: Callable[[Path], tuple[Path, str] | None]  # (dataset base, why) or None
    discover: Callable[[Path, Path, Settings], Layout] | None = None  # None: generic discovery
    num_classes: int | None = None
    ignore_index: int | None = 255
    background: int | None = 0
    class_names: tuple[str, ...] = ()
    unlabeled_splits: tuple[str, ...] = ()
    label_offset: int = 0
    reduce_zero_label: bool = False
    unused_ids: tuple[int, ...] = ()
    hint: Hint | None = None
    encodings: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)


def _dirs(path: Path) -> dict[str, Path]:
    try:
        return {e.name.lower(): Path(e.path) for e in os.scandir(path) if e.is_dir()}
    except OSError:
        return {}


def _first_files(path: Path, n: int = 8) -> list[str]:
    out: list[str] = []
    try:
        with os.scandir(path) as it:
            for e in it:
                if e.is_file() and not e.name.startswith("."):
                    out.append(e.name)
                    if len(out) >= n:
                        break
    except OSError:
        pass
    return out


def _read_list(path: Path) -> list[str]:
    """Sample ids of a split list: the first token of each line; # comments skipped.
    A token that is a path (DeepLab's "/JPEGImages/x.jpg /SegmentationClassAug/x.png"
    lists) gives its file stem."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    tokens = [line.split()[0].replace("\\", "/") for line in lines]
    return [t.rsplit("/", 1)[-1].rsplit(".", 1)[0] if "/" in t else t for t in tokens]


# VOC --------------------------------------------------------------------------------


def _voc_base(root: Path) -> Path | None:
    candidates = [root]
    for d in (root, root / "VOCdevkit"):
        # newest year first: VOCdevkit often holds VOC2007 beside the VOC2012 benchmark
        candidates += sorted(
            (p for name, p in _dirs(d).items() if name.startswith("voc20")), reverse=True
        )
    for base in candidates:
        sub = _dirs(base)
        if "jpegimages" in sub and ("segmentationclass" in sub or "segmentationclassaug" in sub):
            return base
    return None


def _detect_voc(root: Path) -> tuple[Path, str] | None:
    base = _voc_base(root)
    if base is None:
        return None
    sub = _dirs(base)
    masks = "SegmentationClassAug" if "segmentationclassaug" in sub else "SegmentationClass"
    where = "" if base == root else f" in {base.relative_to(root).as_posix()}/"
    return base, f"found JPEGImages/ and {masks}/{where}"


def _discover_voc(root: Path, base: Path, settings: Settings) -> Layout:
    sub = _dirs(base)
    img_dir = sub["jpegimages"]
    use_aug = "segmentationclassaug" in sub and "segmentationclass" not in sub
    lists_dir = base / "ImageSets" / "Segmentation"
    # the augmented training list goes by several names (DeepLab, mmseg)
    aug_list = next(
        (n for n in ("train_aug.txt", "trainaug.txt", "aug.txt") if (lists_dir / n).is_file()), None
    )
    if "segmentationclassaug" in sub and aug_list is not None:
        use_aug = True
    mask_dir = sub["segmentationclassaug" if use_aug else "segmentationclass"]
    images = {p.stem: p for p in walk_files(img_dir).files}
    masks_walk = walk_files(mask_dir)
    masks = {p.stem: p for p in masks_walk.files}
    notes: list[str] = []
    splits: list[SplitFiles] = []
    lists = [
        ("train", aug_list if use_aug and aug_list else "train.txt"),
        ("val", "val.txt"),
        ("test", "test.txt"),
    ]
    listed: set[str] = set()
    for name, filename in lists:
        ids = _read_list(lists_dir / filename)
        if not ids:
            continue
        listed.update(ids)
        labeled = name != "test" and name not in settings.unlabeled_splits
        pairs = tuple(PairPaths(images.get(i), masks.get(i) if labeled else None) for i in ids)
        splits.append(
            SplitFiles(
                name,
                split_role(name) or "other",
                img_dir,
                mask_dir if labeled else None,
                labeled,
                pairs,
                (),
            )
        )
    if splits:
        notes.append(
            f"splits from ImageSets/Segmentation/ ({', '.join(s.name for s in splits)}); "
            "trainval.txt is their union and is not a split of its own"
        )
        unlisted = len(set(images) - listed)
    else:
        pairs = tuple(PairPaths(images.get(stem), m) for stem, m in sorted(masks.items()))
        splits.append(
            SplitFiles("all", "all", img_dir, mask_dir, True, pairs, tuple(masks_walk.skipped))
        )
        unlisted = len(set(images) - set(masks))
    if unlisted:
        notes.append(
            f"{unlisted} images in JPEGImages/ have no segmentation mask and are in no "
            "segmentation list (detection-only): not audited"
        )
    reason = (
        f"VOC: JPEGImages/ with {mask_dir.name}/ (palette PNG indices), 21 classes, 255 = boundary"
    )
    return Layout("voc", reason, tuple(splits), tuple(notes))


# Cityscapes ---------------------------------------------------------------------------

_CS_SUFFIXES = (
    "_gtFine_labelTrainIds",
    "_gtCoarse_labelTrainIds",
    "_gtFine_labelIds",
    "_gtCoarse_labelIds",
)


def _detect_cityscapes(root: Path) -> tuple[Path, str] | None:
    sub = _dirs(root)
    if "leftimg8bit" in sub and ("gtfine" in sub or "gtcoarse" in sub):
        gt = "gtFine" if "gtfine" in sub else "gtCoarse"
        return root, f"found leftImg8bit/ and {gt}/"
    return None


def _discover_cityscapes(root: Path, base: Path, settings: Settings) -> Layout:
    sub = _dirs(base)
    img_root = sub["leftimg8bit"]
    gt_root = sub.get("gtfine") or sub["gtcoarse"]
    gt_name = "gtFine" if "gtfine" in sub else "gtCoarse"
    notes: list[str] = []
    all_masks = walk_files(gt_root).files
    train_ids = [m for m in all_masks if m.stem.endswith("_labelTrainIds")]
    encoding = settings.label_encoding or "trainIds"
    if encoding == "labelIds" or not train_ids:
        suffix = f"_{gt_name}_labelIds"
        if encoding != "labelIds":
            notes.append(
                f"only *{suffix}.png exist: these are Cityscapes labelIds (0–33), not the 19 "
                "trainIds the benchmark trains on; convert them with cityscapesscripts "
                "(createTrainIdLabelImgs.py), or declare --label-encoding labelIds"
            )
    else:
        suffix = f"_{gt_name}_labelTrainIds"
    splits: list[SplitFiles] = []
    for split_dir in sorted(p for p in _dirs(img_root).values()):
        name = split_dir.name
        labeled = split_role(name) != "test" and name not in settings.unlabeled_splits
        if split_role(name) == "test":
            notes.append(f"{name}: Cityscapes test labels are placeholders: treated as unlabeled")
        masks = {}
        for m in all_masks:
            if m.stem.endswith(suffix) and m.parent.parent.name == name:
                masks[(m.parent.name, m.stem[: -len(suffix)])] = m
        walk = walk_files(split_dir)
        pairs: list[PairPaths] = []
        used = set()
        for img in walk.files:
            stem = (
                img.stem[: -len("_leftImg8bit")] if img.stem.endswith("_leftImg8bit") else img.stem
            )
            key = (img.parent.name, stem)
            mask = masks.get(key) if labeled else None
            if mask is not None:
                used.add(key)
            pairs.append(PairPaths(img, mask))
        if labeled:
            pairs += [PairPaths(None, m) for k, m in sorted(masks.items()) if k not in used]
        mask_dir = gt_root / name if labeled else None
        splits.append(
            SplitFiles(
                name,
                split_role(name) or "other",
                split_dir,
                mask_dir,
                labeled,
                tuple(pairs),
                tuple(walk.skipped),
            )
        )
    reason = f"Cityscapes: leftImg8bit/<split>/<city>/ with {gt_name}/*{suffix}.png"
    return Layout("cityscapes", reason, tuple(splits), tuple(notes))


def _cityscapes_hint(bad: Sequence[int], num_classes: int | None) -> str | None:
    if num_classes == 19 and bad and max(bad) <= 33 and min(bad) >= 0:
        return (
            "values up to 33 are Cityscapes labelIds, not trainIds: convert with "
            "cityscapesscripts' createTrainIdLabelImgs.py (writes *_labelTrainIds.png), or "
            "declare the 34-id encoding with --label-encoding labelIds"
        )
    return None


# ADE20K, COCO-Stuff, CamVid, Oxford-IIIT Pet -------------------------------------------


def _images_annotations(root: Path, names: set[str]) -> Path | None:
    for base in (
        root,
        *[p for n, p in _dirs(root).items() if n.startswith(("adechallenge", "coco"))],
    ):
        sub = _dirs(base)
        # the split folders on both sides: COCO's annotations/ of instances_*.json is no mask tree
        if (
            "images" in sub
            and "annotations" in sub
            and names & set(_dirs(sub["images"]))
            and names & set(_dirs(sub["annotations"]))
        ):
            return base
    return None


def _detect_ade20k(root: Path) -> tuple[Path, str] | None:
    base = _images_annotations(root, {"training", "validation"})
    if base is None:
        return None
    named = base.name.lower().startswith("adechallenge")
    sample = [f for d in ("training", "validation") for f in _first_files(base / "images" / d, 3)]
    if named or any(f.startswith("ADE_") for f in sample):
        return base, "found images/{training,validation} and annotations/ with ADE_* files"
    return None


def _detect_coco_stuff(root: Path) -> tuple[Path, str] | None:
    base = _images_annotations(root, {"train2017", "val2017"})
    if base is None:
        return None
    return base, "found images/{train2017,val2017} and annotations/{train2017,val2017}"


def _generic_below(name: str, reason: str) -> Callable[[Path, Path, Settings], Layout]:
    def run(root: Path, base: Path, settings: Settings) -> Layout:
        layout = discover(base, (), settings.pair_key_pattern(), settings.unlabeled_splits)
        splits = layout.splits
        notes = layout.notes
        if settings.reduce_zero_label:
            notes += (
                "reduce_zero_label applied: label 0 → ignore index, every other label - 1 "
                "(--no-reduce-zero-label to audit the raw values)",
            )
        return Layout(name, reason, splits, notes)

    return run


def _detect_camvid(root: Path) -> tuple[Path, str] | None:
    sub = _dirs(root)
    need = {"train", "trainannot", "val", "valannot", "test", "testannot"}
    if need <= set(sub):
        return (
            root,
            "found train/, val/, test/ with trainannot/, valannot/, testannot/ (SegNet CamVid)",
        )
    return None


def _detect_pets(root: Path) -> tuple[Path, str] | None:
    sub = _dirs(root)
    if "images" in sub and "annotations" in sub and "trimaps" in _dirs(sub["annotations"]):
        return root, "found images/ and annotations/trimaps/"
    return None


def _discover_pets(root: Path, base: Path, settings: Settings) -> Layout:
    img_dir = _dirs(base)["images"]
    ann = _dirs(base)["annotations"]
    tri = _dirs(ann)["trimaps"]
    img_walk, tri_walk = walk_files(img_dir), walk_files(tri)
    images = {p.stem: p for p in img_walk.files}
    masks = {p.stem: p for p in tri_walk.files}
    splits: list[SplitFiles] = []
    notes: list[str] = []
    for name in ("trainval", "test"):
        ids = _read_list(ann / f"{name}.txt")
        if ids:
            labeled = name not in settings.unlabeled_splits
            pairs = tuple(PairPaths(images.get(i), masks.get(i) if labeled else None) for i in ids)
            splits.append(
                SplitFiles(
                    name,
                    split_role(name) or "other",
                    img_dir,
                    tri if labeled else None,
                    labeled,
                    pairs,
                    (),
                )
            )
    skipped = tuple(img_walk.skipped + tri_walk.skipped)
    if splits:
        notes.append("splits from annotations/trainval.txt and annotations/test.txt")
        splits[0] = SplitFiles(
            splits[0].name,
            splits[0].role,
            splits[0].image_root,
            splits[0].mask_root,
            splits[0].labeled,
            splits[0].pairs,
            skipped,
        )
    else:
        keys = sorted(set(images) | set(masks))
        pairs = tuple(PairPaths(images.get(k), masks.get(k)) for k in keys)
        splits.append(SplitFiles("all", "all", img_dir, tri, True, pairs, skipped))
    if settings.label_offset == 0:
        notes.append(
            "trimap values are 1 (pet), 2 (background), 3 (boundary); training code "
            "usually subtracts 1: audit the shifted labels with --label-offset -1"
        )
    else:
        notes.append(
            f"labels shifted by {settings.label_offset:+d} before the checks "
            "(trimap 1, 2, 3 → 0, 1, 2)"
        )
    return Layout(
        "oxford-pet",
        "Oxford-IIIT Pet: images/*.jpg with annotations/trimaps/*.png",
        tuple(splits),
        tuple(notes),
    )


def _pets_hint(bad: Sequence[int], num_classes: int | None) -> str | None:
    if 3 in bad:
        return (
            "Oxford-IIIT Pet trimaps hold 1, 2, 3 (no 0): subtract 1 (mask - 1) before "
            "training, and audit that with --label-offset -1"
        )
    if -1 in bad:
        return "a trimap holds 0, which the -1 shift turns into -1: the file is not a trimap"
    return None


def _ade_hint(bad: Sequence[int], num_classes: int | None) -> str | None:
    if 150 in bad:
        return (
            "ADE20K masks hold 0 (other) and 1–150: with 150 classes, apply "
            "reduce_zero_label (0 → ignore, 1–150 → 0–149), or use 151 classes"
        )
    return None


def _coco_hint(bad: Sequence[int], num_classes: int | None) -> str | None:
    if 182 in bad:
        return (
            "COCO-Stuff stuffthingmaps hold 0–181 with 255 unlabeled; 182 means 1-based "
            "labels (the cocostuff-10k .mat convention): subtract 1 and map 0 to 255"
        )
    return None


def _camvid_hint(bad: Sequence[int], num_classes: int | None) -> str | None:
    if 11 in bad:
        return "CamVid's 11 is void: use --ignore-index 11 (the camvid preset's default)"
    return None


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "voc",
            "JPEGImages/ + SegmentationClass/ (or SegmentationClassAug/), splits from "
            "ImageSets/Segmentation/{train,val}.txt",
            "21 classes, 255 = boundary/ignore",
            _detect_voc,
            _discover_voc,
            num_classes=21,
            class_names=VOC_CLASSES,
            hint=palette_luma_hint,
        ),
        Preset(
            "cityscapes",
            "leftImg8bit/<split>/<city>/*_leftImg8bit.png + "
            "gtFine/<split>/<city>/*_gtFine_labelTrainIds.png (or _labelIds, or gtCoarse)",
            "19 trainIds + 255; --label-encoding labelIds for the 34 labelIds",
            _detect_cityscapes,
            _discover_cityscapes,
            num_classes=19,
            class_names=CITYSCAPES_TRAIN_IDS,
            unlabeled_splits=("test",),
            hint=_cityscapes_hint,
            encodings={
                "trainIds": (19, CITYSCAPES_TRAIN_IDS),
                "labelIds": (34, CITYSCAPES_LABEL_IDS),
            },
        ),
        Preset(
            "ade20k",
            "images/{training,validation} + annotations/{training,validation} "
            "(ADEChallengeData2016)",
            "150 classes, 0 = other; reduce_zero_label applied by default (0 → 255, 1–150 → 0–149)",
            _detect_ade20k,
            _generic_below("ade20k", "ADE20K: images/ and annotations/ {training,validation}"),
            num_classes=150,
            background=None,  # after reduce_zero_label, class 0 is "wall", not background
            class_names=ADE20K_CLASSES,
            reduce_zero_label=True,
            hint=_ade_hint,
        ),
        Preset(
            "coco-stuff",
            "images/{train2017,val2017} + annotations/{train2017,val2017}",
            "0–181 (11 thing ids unused), 255 unlabeled",
            _detect_coco_stuff,
            _generic_below(
                "coco-stuff", "COCO-Stuff: images/ and annotations/ {train2017,val2017}"
            ),
            num_classes=182,
            class_names=COCO_STUFF_CLASSES,
            unused_ids=COCO_STUFF_UNUSED,
            hint=_coco_hint,
        ),
        Preset(
            "camvid",
            "train/, trainannot/, val/, valannot/, test/, testannot/",
            "11 classes, 11 = void (ignore)",
            _detect_camvid,
            _generic_below("camvid", "CamVid (SegNet): {train,val,test}/ with *annot/"),
            num_classes=11,
            ignore_index=11,
            background=None,
            class_names=CAMVID_CLASSES,
            hint=_camvid_hint,
        ),
        Preset(
            "oxford-pet",
            "images/*.jpg + annotations/trimaps/*.png, splits from annotations/{trainval,test}.txt",
            "trimap values 1, 2, 3 (no 0); --label-offset -1 for the usual shift to 0, 1, 2",
            _detect_pets,
            _discover_pets,
            num_classes=3,
            ignore_index=None,
            background=None,
            class_names=PET_TRIMAP,
            hint=_pets_hint,
        ),
        Preset(
            "generic",
            "images/ + masks/ (and aliases), {train,val,test}/{images,masks}, "
            "train/ + trainannot/, or --images/--masks/--split",
            "from flags or config",
            lambda root: (root, "the generic layouts"),
        ),
    )
}


def apply_preset(settings: Settings, preset: Preset) -> Settings:
    """The preset's label convention, wherever the user did not say otherwise."""
    from dataclasses import replace

    given = settings.given
    values: dict[str, object] = {}
    num_classes, names = preset.num_classes, preset.class_names
    if settings.label_encoding and not preset.encodings:
        raise DiscoveryError(
            f"--label-encoding {settings.label_encoding!r}: layout {preset.name!r} has one label "
            "encoding only (cityscapes has trainIds and labelIds)"
        )
    if settings.label_encoding and preset.encodings:
        if settings.label_encoding not in preset.encodings:
            raise DiscoveryError(
                f"layout {preset.name!r} knows the label encodings "
                f"{', '.join(preset.encodings)}, not {settings.label_encoding!r}"
            )
        num_classes, names = preset.encodings[settings.label_encoding]
    for key, value in (
        ("num_classes", num_classes),
        ("ignore_index", preset.ignore_index),
        ("background", preset.background),
        ("class_names", names),
        ("unlabeled_splits", preset.unlabeled_splits),
        ("label_offset", preset.label_offset),
        ("reduce_zero_label", preset.reduce_zero_label),
        ("unused_ids", preset.unused_ids),
    ):
        if key not in given and not (key == "class_names" and "class_names_file" in given):
            values[key] = value
    return replace(settings, **values) if preset.name != "generic" else settings  # type: ignore[arg-type]


def resolve(root: Path, requested: str | None, explicit: bool) -> tuple[Preset, Path, str]:
    """The preset to use, the dataset's base folder, and why it was chosen."""
    if explicit:
        return PRESETS["generic"], root, ""  # the explicit layout states its own reason
    if requested and requested != "auto":
        preset = PRESETS.get(requested)
        if preset is None:
            raise DiscoveryError(f"unknown layout {requested!r}; known: {', '.join(PRESETS)}")
        found = preset.detect(root)
        if found is None:
            raise DiscoveryError(
                f"layout {preset.name!r} expects {preset.expects}; not found in {root}"
            )
        return preset, found[0], f"--layout {preset.name}: {found[1]}"
    hits = [
        (p, found) for p in PRESETS.values() if p.name != "generic" and (found := p.detect(root))
    ]
    if len(hits) > 1:
        names = ", ".join(f"{p.name} ({why})" for p, (_, why) in hits)
        raise DiscoveryError(
            f"ambiguous layout in {root}: it looks like {names}; choose one with --layout NAME"
        )
    if hits:
        preset, (base, why) = hits[0]
        return preset, base, f"detected {preset.name}: {why}"
    return PRESETS["generic"], root, ""
