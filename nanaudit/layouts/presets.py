"""Layout presets: the public datasets as people download them.

A preset recognises a dataset's folder structure, pairs its files the way the dataset
does, and supplies its label convention (C, ignore index, background, class names, label
encoding) as a layer of option values that every setting the user gives overrides.
Presets only list folders and read the split list files; they open no image.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import DiscoverRequest, DiscoveryError, Layout, PairPaths, PlannedSplit
from .classes import (
    ADE20K_CLASSES,
    CAMVID_CLASSES,
    CITYSCAPES_LABEL_IDS,
    CITYSCAPES_TRAIN_IDS,
    COCO_STUFF_CLASSES,
    COCO_STUFF_UNUSED,
    PET_TRIMAP,
    VOC_CLASSES,
)
from .generic import discover, split_role
from .hints import ade_hint, camvid_hint, cityscapes_hint, coco_hint, palette_luma_hint, pets_hint
from .volumes import (
    decathlon_catalogue,
    detect_decathlon,
    detect_tiles,
    discover_decathlon,
    discover_tiles,
)
from .walk import child_dirs, dirs_by_name, first_files, is_file, shown

PROBED = 1000  # folders below the root where a --layout NAME not at the root is looked for

Hint = Callable[[Sequence[int], int | None], str | None]
Discover = Callable[[Path, Path, DiscoverRequest], Layout]


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    expects: str  # the folders it recognises, for `nanaudit layouts`
    labels: str  # the label convention, in words
    detect: Callable[[Path], tuple[Path, str] | None]  # (dataset base, why) or None
    discover: Discover | None = None  # None: generic discovery
    # option values the preset supplies (num_classes, ignore_index, class_names…); every
    # one gives way to a value the user set
    defaults: Mapping[str, Any] = field(default_factory=dict)
    unused_ids: tuple[int, ...] = ()  # ids in [0, C) that are no class
    hint: Hint | None = None
    # --label-encoding NAME → (num_classes, class_names)
    encodings: Mapping[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    # option values the dataset's own catalogue states (Decathlon's dataset.json), read
    # from its base folder; over ``defaults``, under every value the user set
    catalogue: Callable[[Path], Mapping[str, Any]] | None = None

    def option_values(self, label_encoding: str | None) -> dict[str, Any]:
        """The preset's layer of option values, for the chosen label encoding."""
        values = dict(self.defaults)
        if label_encoding is None:
            return values
        if not self.encodings:
            raise DiscoveryError(
                f"--label-encoding {label_encoding!r}: layout {self.name!r} has one label "
                "encoding only (cityscapes has trainIds and labelIds)"
            )
        if label_encoding not in self.encodings:
            raise DiscoveryError(
                f"layout {self.name!r} knows the label encodings "
                f"{', '.join(self.encodings)}, not {label_encoding!r}"
            )
        values["num_classes"], values["class_names"] = self.encodings[label_encoding]
        return values


# VOC --------------------------------------------------------------------------------


def _voc_base(root: Path) -> Path | None:
    candidates = [root]
    for d in (root, root / "VOCdevkit"):
        # newest year first: VOCdevkit often holds VOC2007 beside the VOC2012 benchmark
        candidates += sorted(
            (p for name, p in dirs_by_name(d).items() if name.startswith("voc20")), reverse=True
        )
    for base in candidates:
        sub = dirs_by_name(base)
        if "jpegimages" in sub and ("segmentationclass" in sub or "segmentationclassaug" in sub):
            return base
    return None


def _detect_voc(root: Path) -> tuple[Path, str] | None:
    base = _voc_base(root)
    if base is None:
        return None
    sub = dirs_by_name(base)
    masks = "SegmentationClassAug" if "segmentationclassaug" in sub else "SegmentationClass"
    where = "" if base == root else f" in {base.relative_to(root).as_posix()}/"
    return base, f"found JPEGImages/ and {masks}/{where}"


def _discover_voc(root: Path, base: Path, request: DiscoverRequest) -> Layout:
    sub = dirs_by_name(base)
    img_dir = sub["jpegimages"]
    use_aug = "segmentationclassaug" in sub and "segmentationclass" not in sub
    lists_dir = base / "ImageSets" / "Segmentation"
    # the augmented training list goes by several names (DeepLab, mmseg)
    aug_list = next(
        (n for n in ("train_aug.txt", "trainaug.txt", "aug.txt") if is_file(lists_dir / n)), None
    )
    if "segmentationclassaug" in sub and aug_list is not None:
        use_aug = True
    mask_dir = sub["segmentationclassaug" if use_aug else "segmentationclass"]
    walker = request.walker
    images_walk = walker.files(img_dir)
    images = {p.stem: p for p in images_walk.files}
    masks_walk = walker.files(mask_dir)
    masks = {p.stem: p for p in masks_walk.files}
    notes: list[str] = []
    splits: list[PlannedSplit] = []
    lists = [
        ("train", aug_list if use_aug and aug_list else "train.txt"),
        ("val", "val.txt"),
        ("test", "test.txt"),
    ]
    listed: set[str] = set()
    for name, filename in lists:
        ids = walker.read_list(lists_dir / filename)
        if not ids:
            continue
        listed.update(ids)
        labeled = name != "test" and request.labeled(name)
        # an id listed without its image is the path the loader will open and fail on
        # (FileNotFoundError): audited as that path, it is NA001, never dropped
        pairs = tuple(
            PairPaths(images.get(i) or img_dir / f"{i}.jpg", masks.get(i) if labeled else None)
            for i in ids
        )
        splits.append(
            PlannedSplit(
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
            PlannedSplit(
                "all",
                "all",
                img_dir,
                mask_dir,
                request.labeled("all"),
                pairs,
                tuple(masks_walk.skipped),
            )
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
    sub = dirs_by_name(root)
    if "leftimg8bit" in sub and ("gtfine" in sub or "gtcoarse" in sub):
        gt = "gtFine" if "gtfine" in sub else "gtCoarse"
        return root, f"found leftImg8bit/ and {gt}/"
    return None


def _discover_cityscapes(root: Path, base: Path, request: DiscoverRequest) -> Layout:
    sub = dirs_by_name(base)
    img_root = sub["leftimg8bit"]
    gt_root = sub.get("gtfine") or sub["gtcoarse"]
    gt_name = "gtFine" if "gtfine" in sub else "gtCoarse"
    notes: list[str] = []
    all_masks = request.walker.files(gt_root).files
    train_ids = [m for m in all_masks if m.stem.endswith("_labelTrainIds")]
    encoding = request.label_encoding or "trainIds"
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
    splits: list[PlannedSplit] = []
    for split_dir in sorted(p for p in dirs_by_name(img_root).values()):
        name = split_dir.name
        labeled = split_role(name) != "test" and request.labeled(name)
        if split_role(name) == "test":
            notes.append(f"{name}: Cityscapes test labels are placeholders: treated as unlabeled")
        masks = {}
        for m in all_masks:
            if m.stem.endswith(suffix) and m.parent.parent.name == name:
                masks[(m.parent.name, m.stem[: -len(suffix)])] = m
        walk = request.walker.files(split_dir)
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
            PlannedSplit(
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


# ADE20K, COCO-Stuff, CamVid, Oxford-IIIT Pet -------------------------------------------


def _images_annotations(root: Path, names: set[str]) -> Path | None:
    for base in (
        root,
        *[p for n, p in dirs_by_name(root).items() if n.startswith(("adechallenge", "coco"))],
    ):
        sub = dirs_by_name(base)
        # the split folders on both sides: COCO's annotations/ of instances_*.json is no mask tree
        if (
            "images" in sub
            and "annotations" in sub
            and names & set(dirs_by_name(sub["images"]))
            and names & set(dirs_by_name(sub["annotations"]))
        ):
            return base
    return None


def _detect_ade20k(root: Path) -> tuple[Path, str] | None:
    base = _images_annotations(root, {"training", "validation"})
    if base is None:
        return None
    named = base.name.lower().startswith("adechallenge")
    sample = [f for d in ("training", "validation") for f in first_files(base / "images" / d, 3)]
    if named or any(f.startswith("ADE_") for f in sample):
        return base, "found images/{training,validation} and annotations/ with ADE_* files"
    return None


def _detect_coco_stuff(root: Path) -> tuple[Path, str] | None:
    base = _images_annotations(root, {"train2017", "val2017"})
    if base is None:
        return None
    return base, "found images/{train2017,val2017} and annotations/{train2017,val2017}"


def _generic_below(name: str, reason: str) -> Discover:
    def run(root: Path, base: Path, request: DiscoverRequest) -> Layout:
        layout = discover(
            base,
            DiscoverRequest(
                pair_key=request.pair_key,
                unlabeled=request.unlabeled,
                walker=request.walker,
                mask_folder=request.mask_folder,
            ),
        )
        splits = layout.splits
        notes = layout.notes
        if request.reduce_zero_label:
            notes += (
                "reduce_zero_label applied: label 0 → ignore index, every other label - 1 "
                "(--no-reduce-zero-label to audit the raw values)",
            )
        return Layout(name, reason, splits, notes)

    return run


# CamVid's file names start with the sequence they come from (0001TP_006690.png)
CAMVID_SEQUENCES = ("0001tp_", "0006r0_", "0016e5_", "seq05vd_")


def _detect_camvid(root: Path) -> tuple[Path, str] | None:
    sub = dirs_by_name(root)
    if {"train", "trainannot", "val", "valannot", "test", "testannot"} <= set(sub):
        return (
            root,
            "found train/, val/, test/ with trainannot/, valannot/, testannot/ (SegNet CamVid)",
        )
    # a copy without its test split: the file names must say CamVid as well
    if {"train", "trainannot", "val", "valannot"} <= set(sub):
        names = [n for d in ("train", "val") for n in first_files(sub[d], 3)]
        if names and all(n.lower().startswith(CAMVID_SEQUENCES) for n in names):
            return (
                root,
                f"found train/, val/ with trainannot/, valannot/ and CamVid's sequence file "
                f"names ({names[0]})",
            )
    return None


def _detect_pets(root: Path) -> tuple[Path, str] | None:
    sub = dirs_by_name(root)
    if "images" in sub and "annotations" in sub and "trimaps" in dirs_by_name(sub["annotations"]):
        return root, "found images/ and annotations/trimaps/"
    return None


def _discover_pets(root: Path, base: Path, request: DiscoverRequest) -> Layout:
    img_dir = dirs_by_name(base)["images"]
    ann = dirs_by_name(base)["annotations"]
    tri = dirs_by_name(ann)["trimaps"]
    img_walk, tri_walk = request.walker.files(img_dir), request.walker.files(tri)
    images = {p.stem: p for p in img_walk.files}
    masks = {p.stem: p for p in tri_walk.files}
    splits: list[PlannedSplit] = []
    notes: list[str] = []
    for name in ("trainval", "test"):
        ids = request.walker.read_list(ann / f"{name}.txt")
        if ids:
            labeled = request.labeled(name)
            pairs = tuple(PairPaths(images.get(i), masks.get(i) if labeled else None) for i in ids)
            splits.append(
                PlannedSplit(
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
        splits[0] = PlannedSplit(
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
        splits.append(
            PlannedSplit("all", "all", img_dir, tri, request.labeled("all"), pairs, skipped)
        )
    if request.label_offset == 0:
        notes.append(
            "trimap values are 1 (pet), 2 (background), 3 (boundary); training code "
            "usually subtracts 1: audit the shifted labels with --label-offset -1"
        )
    else:
        notes.append(
            f"labels shifted by {request.label_offset:+d} before the checks "
            "(trimap 1, 2, 3 → 0, 1, 2)"
        )
    return Layout(
        "oxford-pet",
        "Oxford-IIIT Pet: images/*.jpg with annotations/trimaps/*.png",
        tuple(splits),
        tuple(notes),
    )


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
            defaults={
                "num_classes": 21,
                "class_names": VOC_CLASSES,
            },
            hint=palette_luma_hint,
        ),
        Preset(
            "cityscapes",
            "leftImg8bit/<split>/<city>/*_leftImg8bit.png + "
            "gtFine/<split>/<city>/*_gtFine_labelTrainIds.png (or _labelIds, or gtCoarse)",
            "19 trainIds + 255; --label-encoding labelIds for the 34 labelIds",
            _detect_cityscapes,
            _discover_cityscapes,
            defaults={
                "num_classes": 19,
                "class_names": CITYSCAPES_TRAIN_IDS,
                "unlabeled_splits": ("test",),
            },
            hint=cityscapes_hint,
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
            defaults={
                "num_classes": 150,
                "background": None,  # after reduce_zero_label, class 0 is "wall", not background
                "class_names": ADE20K_CLASSES,
                "reduce_zero_label": True,
            },
            hint=ade_hint,
        ),
        Preset(
            "coco-stuff",
            "images/{train2017,val2017} + annotations/{train2017,val2017}",
            "0–181 (11 thing ids unused), 255 unlabeled",
            _detect_coco_stuff,
            _generic_below(
                "coco-stuff", "COCO-Stuff: images/ and annotations/ {train2017,val2017}"
            ),
            defaults={
                "num_classes": 182,
                "class_names": COCO_STUFF_CLASSES,
            },
            unused_ids=COCO_STUFF_UNUSED,
            hint=coco_hint,
        ),
        Preset(
            "camvid",
            "train/, trainannot/, val/, valannot/, test/, testannot/",
            "11 classes, 11 = void (ignore)",
            _detect_camvid,
            _generic_below("camvid", "CamVid (SegNet): {train,val,test}/ with *annot/"),
            defaults={
                "num_classes": 11,
                "ignore_index": 11,
                "background": None,
                "class_names": CAMVID_CLASSES,
            },
            hint=camvid_hint,
        ),
        Preset(
            "oxford-pet",
            "images/*.jpg + annotations/trimaps/*.png, splits from annotations/{trainval,test}.txt",
            "trimap values 1, 2, 3 (no 0); --label-offset -1 for the usual shift to 0, 1, 2",
            _detect_pets,
            _discover_pets,
            defaults={
                "num_classes": 3,
                "ignore_index": None,
                "background": None,
                "class_names": PET_TRIMAP,
            },
            hint=pets_hint,
        ),
        Preset(
            "decathlon",
            "imagesTr/ + labelsTr/ (channel files case_0000, case_0001…), imagesTs/, "
            "dataset.json (Medical Segmentation Decathlon, nnU-Net)",
            'the labels of dataset.json (0 = background; nnU-Net v2\'s "ignore" label as '
            "the ignore index)",
            detect_decathlon,
            discover_decathlon,
            defaults={"ignore_index": None},
            catalogue=decathlon_catalogue,
        ),
        Preset(
            "tiles",
            "images/ + masks/ (and aliases: img_dir/ + ann_dir/…) of TIFF rasters, "
            "optionally in split folders",
            "from flags or config; georeference compared (NA701–NA706)",
            detect_tiles,
            discover_tiles,
        ),
        Preset(
            "generic",
            "images/ + masks/ (and aliases), {train,val,test}/{images,masks}, "
            "train/ + trainannot/, or --images/--masks/--split",
            "from flags or config",
            lambda root: (root, "the generic layouts"),
            # palette masks converted to gray are not a VOC-only mistake: say so anywhere
            hint=palette_luma_hint,
        ),
    )
}


def resolve(root: Path, requested: str | None, explicit: bool) -> tuple[Preset, Path, str]:
    """The preset to use, the dataset's base folder, and why it was chosen."""
    if explicit:
        return PRESETS["generic"], root, ""  # the explicit layout states its own reason
    if requested and requested != "auto":
        preset = PRESETS.get(requested)
        if preset is None:
            raise DiscoveryError(f"unknown layout {requested!r}; known: {', '.join(PRESETS)}")
        found = preset.detect(root)
        if found is None:  # the download folder holding the dataset: look one level down
            below = [(c, hit) for c in child_dirs(root)[:PROBED] if (hit := preset.detect(c))]
            if len(below) == 1:
                child, (base, why) = below[0]
                return (
                    preset,
                    base,
                    f"--layout {preset.name}: in {child.name}/ (one level down): {why}",
                )
            raise DiscoveryError(
                f"layout {preset.name!r} expects {preset.expects}; not found in {shown(root)}"
            )
        return preset, found[0], f"--layout {preset.name}: {found[1]}"
    hits = [
        (p, found) for p in PRESETS.values() if p.name != "generic" and (found := p.detect(root))
    ]
    if len(hits) > 1:
        names = ", ".join(f"{p.name} ({why})" for p, (_, why) in hits)
        raise DiscoveryError(
            f"ambiguous layout in {shown(root)}: it looks like {names}; "
            "choose one with --layout NAME"
        )
    if hits:
        preset, (base, why) = hits[0]
        return preset, base, f"detected {preset.name}: {why}"
    return PRESETS["generic"], root, ""


def detect_preset(folder: Path) -> tuple[str, Path, str] | None:
    """The preset (other than generic) detected in ``folder``: its name, base and why."""
    preset, base, why = resolve(folder, None, False)
    return None if preset.name == "generic" else (preset.name, base, why)
