"""Layouts as people download them that need no --split (issue 24, item 10): the dataset
one level down in the download folder, group folders (Tile 1/{images,masks} …), folders
named like images and masks without an alias, and the tree of what a folder holds when
no layout is found. Every inferred layout is said in the layout's reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import natural_image, save, scan
from miniatures import aerial_tiles, microscopy_16bit, polyps, road_scene

from nanaudit import DiscoveryError
from nanaudit.cli import cli
from nanaudit.layouts.generic import discover
from nanaudit.severity import Severity


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["scan", "--no-progress", "-j", "1", *args])
    return result.exit_code, result.stdout, result.stderr


def serious(report: object) -> list[tuple[str, str]]:
    return [
        (f.check, f.path)
        for f in report.findings  # type: ignore[attr-defined]
        if f.severity >= Severity.WARNING
    ]


# --------------------------------------------------------------------------- one level down


def test_camvid_in_its_download_folder_is_camvid_one_level_down(tmp_path: Path) -> None:
    road_scene(tmp_path / "camvid")
    report = scan(tmp_path / "camvid")
    assert report.layout == "camvid"
    assert "found the dataset one level down, in CamVid/" in report.layout_reason
    # the preset's conventions apply, and the correct copy stays clean
    assert report.labels.ignore_index == 11 and report.labels.num_classes == 11
    assert [s.name for s in report.splits] == ["train", "val", "test"]
    assert report.splits[0].image_root == "CamVid/train"
    assert serious(report) == []


def test_camvid_by_name_in_its_download_folder(tmp_path: Path) -> None:
    road_scene(tmp_path / "camvid")
    report = scan(tmp_path / "camvid", layout="camvid")
    assert "in CamVid/ (one level down)" in report.layout_reason
    assert serious(report) == []


def test_kvasir_in_its_download_folder_audits_kvasir_seg(tmp_path: Path) -> None:
    polyps(tmp_path / "kvasir")
    (tmp_path / "kvasir" / "kvasir-seg.zip").write_bytes(b"PK\x05\x06" + bytes(18))
    code, out, _ = run(str(tmp_path / "kvasir"), "--format", "json")
    assert code == 1
    doc = json.loads(out)
    assert "found the dataset one level down, in Kvasir-SEG/" in doc["layout"]["reason"]
    lossy = [f["path"] for f in doc["findings"] if f["check"] == "NA206"]
    assert len(lossy) == 6 and all(p.startswith("Kvasir-SEG/masks/") for p in lossy)


def test_two_datasets_side_by_side_are_named_not_merged(tmp_path: Path) -> None:
    road_scene(tmp_path / "data")
    polyps(tmp_path / "data")
    code, out, err = run(str(tmp_path / "data"))
    assert code == 2 and out == ""
    line = err.strip()
    assert len(line.splitlines()) == 1
    assert "CamVid/ (camvid)" in line and "Kvasir-SEG/ (images-masks)" in line
    assert "Scan the one you mean" in line


# --------------------------------------------------------------------------- group folders


def test_group_folders_are_one_split_said_in_the_reason(tmp_path: Path) -> None:
    base = aerial_tiles(tmp_path, tiles=3)
    report = scan(base)
    assert report.layout == "groups"
    assert "3 group folders" in report.layout_reason
    assert "Tile 1/, Tile 2/, Tile 3/" in report.layout_reason
    t1 = (base / "Tile 1").as_posix()  # as the root was given: the working folder's
    assert f"--split 'Tile 1:{t1}/images:{t1}/masks'" in report.layout_reason
    spec = f"Tile 1:{t1}/images:{t1}/masks"
    code, out, _ = run(str(base), "--split", spec, "--format", "json")
    assert code == 0 and json.loads(out)["splits"]["Tile 1"]["pairs"] == 3, out  # as suggested
    (split,) = report.splits
    assert split.name == "all" and split.pairs == 9
    assert split.image_root == "*/images" and split.mask_root == "*/masks"


def test_group_folders_keep_the_training_checks_running(tmp_path: Path) -> None:
    """One split, so the crop check and the class weights judge every tile (as splits,
    none would be a training split: issue 24's silent skip)."""
    base = aerial_tiles(tmp_path, tiles=2)
    code, out, _ = run(str(base), "-C", "6", "--crop-size", "64x64", "--format", "json")
    assert code == 1
    doc = json.loads(out)
    crops = {f["path"].split("/")[0] for f in doc["findings"] if f["check"] == "NA401"}
    assert crops == {"Tile 1", "Tile 2"}
    assert not [w for w in doc["warnings"] if "training split" in w]
    assert doc["splits"]["all"]["summary"]["class_weights"]


def test_group_folders_in_their_download_folder(tmp_path: Path) -> None:
    aerial_tiles(tmp_path / "aerial")
    report = scan(tmp_path / "aerial")
    assert report.layout == "groups"
    assert report.layout_reason.startswith(
        "found the dataset one level down, in Semantic segmentation dataset/; found 2 group"
    )
    assert report.splits[0].pairs == 6


def test_a_group_without_masks_is_left_out_and_said(tmp_path: Path) -> None:
    base = aerial_tiles(tmp_path, tiles=3)
    shutil.rmtree(base / "Tile 3" / "masks")
    report = scan(base)
    assert report.splits[0].pairs == 6
    assert "Tile 1/, Tile 2/" in report.layout_reason and "Tile 3" not in report.layout_reason
    assert [(f, n) for f, n in report.unaudited] == [("Tile 3", 3)]


# --------------------------------------------------------------------------- folders by name


def test_image_and_mask_folders_found_by_their_names(tmp_path: Path) -> None:
    base = microscopy_16bit(tmp_path, folders=("images_16bit", "mask binary"))
    report = scan(base, num_classes=2, label_map={255: 1}, ignore_index=None)
    assert report.layout == "images-masks"
    assert report.layout_reason.startswith(
        "by folder names (no folder is named images/, image/, imgs/, img/): images_16bit/ "
        "holds the images and mask binary/ the masks (8 of 8 images pair by name)"
    )
    assert report.splits[0].pairs == 8 and serious(report) == []


def test_a_mask_named_folder_whose_files_do_not_pair_is_not_taken(tmp_path: Path) -> None:
    base = microscopy_16bit(tmp_path, folders=("images_16bit", "mask binary"))
    for i, f in enumerate(sorted((base / "mask binary").iterdir())):
        f.rename(f.with_name(f"{'abcdefghij'[i]}.png"))  # neither names nor numbers pair
    with pytest.raises(DiscoveryError, match="no image/mask layout found"):
        discover(base)


def test_two_image_named_folders_are_an_error_naming_both(tmp_path: Path) -> None:
    base = microscopy_16bit(tmp_path, folders=("images_16bit", "masks_png"))
    shutil.copytree(base / "images_16bit", base / "images_8bit")
    code, _, err = run(str(base))
    assert code == 2
    assert "images_16bit/ + masks_png/" in err and "images_8bit/ + masks_png/" in err
    assert "--images DIR --masks DIR" in err


# --------------------------------------------------------------------------- what was found


def test_nothing_found_shows_a_bounded_tree_of_the_image_folders(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for i in range(14):  # more folders than one level shows
        save(root / "scans" / f"day{i:02d}" / "a.png", natural_image(i, (8, 8)))
    save(root / "scans" / "b.png", natural_image(20, (8, 8)))
    save(root / "deep" / "a" / "b" / "c" / "d" / "x.png", natural_image(21, (8, 8)))
    code, out, err = run(str(root))
    assert code == 2 and out == ""
    line = err.strip()
    assert len(line.splitlines()) == 1
    assert "3 levels deep" in line
    assert "deep/ (1 image: a/ (1 image: b/ (1 image)))" in line
    assert "scans/ (15 images: 1 here, day00/ (1 image)" in line
    assert "day09/ (1 image), … 4 more folders (4 images))" in line
    assert "day10/" not in line


def test_the_tree_is_bounded_in_folders(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for a in range(9):
        for b in range(9):
            save(root / f"a{a}" / f"b{b}" / "x.png", natural_image(a * 9 + b, (4, 4)))
    with pytest.raises(DiscoveryError) as caught:
        discover(root)
    text = str(caught.value)
    shown = text.count("b0/") + text.count("b5/")
    assert 0 < shown < 9 and "more folders" in text
    assert text.count("/ (") <= 41 + 9  # 40 folders, and the counts of those left out
