"""Discovery and pairing: every layout, aliases, explicit splits, skipped files, symlinks."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import clean_mask, hits, make_pairs, natural_image, save, scan
from PIL import Image

from nanaudit.cli import cli, main
from nanaudit.layouts import DiscoveryError
from nanaudit.layouts.generic import discover
from nanaudit.layouts.pairing import pair_files
from nanaudit.layouts.walk import LINK_OUTSIDE
from nanaudit.severity import Severity

SIZE = (24, 24)


def pair(img: Path, mask: Path, seed: int = 0) -> None:
    """One image and its mask, real PNG (or whatever the suffix says) files."""
    save(img, natural_image(seed, SIZE))
    save(mask, clean_mask(seed, SIZE))


def write_pairs(
    img_dir: Path, mask_dir: Path, n: int, prefix: str = "x", mask_suffix: str = ""
) -> None:
    offset = 1000 * sum(map(ord, prefix))  # distinct pictures per prefix: no split leakage
    for i in range(n):
        pair(img_dir / f"{prefix}{i}.png", mask_dir / f"{prefix}{i}{mask_suffix}.png", offset + i)


def splits(report: Any) -> dict[str, tuple[int, int, int]]:
    return {s.name: (s.images, s.masks, s.pairs) for s in report.splits}


def assert_paired(report: Any) -> None:
    assert hits(report, "NA003") == [], [f.path for f in hits(report, "NA003")]
    assert hits(report, "NA004") == [], [f.path for f in hits(report, "NA004")]


# --------------------------------------------------------------------------- images/ + masks/


def test_images_masks_flat_is_one_split_all(dataset: Any) -> None:
    root = dataset(n=5, size=SIZE)
    report = scan(root)
    assert report.layout == "images-masks"
    assert splits(report) == {"all": (5, 5, 5)}
    (s,) = report.splits
    assert s.role == "all" and s.labeled
    assert (s.image_root, s.mask_root) == ("images", "masks")
    assert_paired(report)
    assert {r.path for r in report.files} == {
        f"{d}/img_{i:03d}.png" for d in ("images", "masks") for i in range(5)
    }


def test_images_masks_with_split_folders(tmp_path: Path) -> None:
    make_pairs(tmp_path, 4, "train", size=SIZE)
    make_pairs(tmp_path, 2, "val", size=SIZE)
    report = scan(tmp_path)
    assert report.layout == "images-masks"
    assert splits(report) == {"train": (4, 4, 4), "val": (2, 2, 2)}
    assert [s.role for s in report.splits] == ["train", "val"]
    assert [(s.image_root, s.mask_root) for s in report.splits] == [
        ("images/train", "masks/train"),
        ("images/val", "masks/val"),
    ]
    assert_paired(report)
    assert {f.split for f in report.findings} <= {"train", "val"}


@pytest.mark.parametrize(
    "img_name, mask_name",
    [
        ("img", "labels"),
        ("image", "annotations"),
        ("images", "gt"),
        ("imgs", "ann"),
        ("Images", "Masks"),
        ("images", "label"),
    ],
)
def test_images_masks_aliases(tmp_path: Path, img_name: str, mask_name: str) -> None:
    write_pairs(tmp_path / img_name, tmp_path / mask_name, 3)
    report = scan(tmp_path)
    assert report.layout == "images-masks"
    assert splits(report) == {"all": (3, 3, 3)}
    assert report.splits[0].image_root == img_name and report.splits[0].mask_root == mask_name
    assert img_name in report.layout_reason and mask_name in report.layout_reason
    assert_paired(report)


def test_aliases_with_split_folders(tmp_path: Path) -> None:
    write_pairs(tmp_path / "img" / "training", tmp_path / "annotations" / "training", 3)
    write_pairs(tmp_path / "img" / "validation", tmp_path / "annotations" / "validation", 2)
    report = scan(tmp_path)
    assert report.layout == "images-masks"
    assert splits(report) == {"training": (3, 3, 3), "validation": (2, 2, 2)}
    assert [s.role for s in report.splits] == ["train", "val"]
    assert_paired(report)


def test_loose_images_beside_split_folders_form_split_unsplit(tmp_path: Path) -> None:
    make_pairs(tmp_path, 2, "train", size=SIZE)
    write_pairs(tmp_path / "images", tmp_path / "masks", 1, prefix="loose")
    report = scan(tmp_path)
    assert splits(report) == {"train": (2, 2, 2), "unsplit": (1, 1, 1)}
    assert any("unsplit" in n for n in report.notes)
    assert_paired(report)


def test_images_and_masks_of_a_folder_no_split_names_pair_in_split_unsplit(
    tmp_path: Path,
) -> None:
    make_pairs(tmp_path, 2, "train", size=SIZE)
    write_pairs(tmp_path / "images" / "extra", tmp_path / "masks" / "extra", 2, prefix="x")
    report = scan(tmp_path)
    assert splits(report) == {"train": (2, 2, 2), "unsplit": (2, 2, 2)}
    assert not hits(report, "NA003") and not hits(report, "NA004")
    assert_paired(report)


def test_split_folders_pair_by_role(tmp_path: Path) -> None:
    write_pairs(tmp_path / "images" / "train", tmp_path / "masks" / "train", 2)
    write_pairs(tmp_path / "images" / "val", tmp_path / "masks" / "validation", 2)
    report = scan(tmp_path)
    assert splits(report) == {"train": (2, 2, 2), "val": (2, 2, 2)}
    assert {s.name: s.mask_root for s in report.splits}["val"] == "masks/validation"
    assert_paired(report)


def test_mask_split_folder_without_image_folder_reports_orphans(tmp_path: Path) -> None:
    make_pairs(tmp_path, 2, "train", size=SIZE)
    save(tmp_path / "masks" / "val" / "v.png", clean_mask(0, SIZE))
    report = scan(tmp_path)
    assert splits(report) == {"train": (2, 2, 2), "val": (0, 1, 0)}
    (orphan,) = hits(report, "NA004")
    assert orphan.path == "masks/val/v.png" and orphan.split == "val"
    (empty,) = hits(report, "NA005")
    assert empty.split == "val" and empty.severity is Severity.ERROR


# --------------------------------------------------------------------------- split-first


def test_split_first_layout(tmp_path: Path) -> None:
    write_pairs(tmp_path / "train" / "images", tmp_path / "train" / "masks", 4)
    write_pairs(tmp_path / "val" / "images", tmp_path / "val" / "masks", 2)
    report = scan(tmp_path)
    assert report.layout == "split-first"
    assert splits(report) == {"train": (4, 4, 4), "val": (2, 2, 2)}
    assert [(s.image_root, s.mask_root) for s in report.splits] == [
        ("train/images", "train/masks"),
        ("val/images", "val/masks"),
    ]
    assert_paired(report)
    assert hits(report, "NA201") == [] and hits(report, "NA005") == []


@pytest.mark.parametrize(
    "img_name, mask_name", [("img", "gt"), ("image", "labels"), ("imgs", "annotations")]
)
def test_split_first_aliases_and_long_split_names(
    tmp_path: Path, img_name: str, mask_name: str
) -> None:
    for name, n in (("training", 3), ("validation", 2), ("testing", 1)):
        write_pairs(tmp_path / name / img_name, tmp_path / name / mask_name, n)
    report = scan(tmp_path)
    assert report.layout == "split-first"
    assert splits(report) == {"testing": (1, 1, 1), "training": (3, 3, 3), "validation": (2, 2, 2)}
    assert {s.name: s.role for s in report.splits} == {
        "training": "train",
        "validation": "val",
        "testing": "test",
    }
    assert all(s.labeled for s in report.splits)
    assert_paired(report)


# --------------------------------------------------------------------------- SegNet / CamVid


def test_segnet_camvid_layout(tmp_path: Path) -> None:
    write_pairs(tmp_path / "train", tmp_path / "trainannot", 3)
    write_pairs(tmp_path / "val", tmp_path / "valannot", 2)
    write_pairs(tmp_path / "test", tmp_path / "testannot", 1)
    report = scan(tmp_path, layout="generic")
    assert report.layout == "segnet"
    assert splits(report) == {"train": (3, 3, 3), "val": (2, 2, 2), "test": (1, 1, 1)}
    assert {s.name: (s.role, s.image_root, s.mask_root) for s in report.splits} == {
        "train": ("train", "train", "trainannot"),
        "val": ("val", "val", "valannot"),
        "test": ("test", "test", "testannot"),
    }
    assert_paired(report)
    assert any(r.path == "trainannot/x0.png" and r.labels is not None for r in report.files)


def test_segnet_layout_with_two_splits_is_generic(tmp_path: Path) -> None:
    """Only the full six-folder SegNet CamVid tree selects the camvid preset."""
    write_pairs(tmp_path / "train", tmp_path / "trainannot", 3)
    write_pairs(tmp_path / "val", tmp_path / "valannot", 2)
    report = scan(tmp_path)
    assert (report.layout, report.preset) == ("segnet", "generic")
    assert splits(report) == {"train": (3, 3, 3), "val": (2, 2, 2)}


# --------------------------------------------------------------------------- explicit


def odd_layout(root: Path) -> tuple[Path, Path]:
    """photos/ + labelmaps/: names no discovery rule knows."""
    write_pairs(root / "photos", root / "labelmaps", 3)
    return root / "photos", root / "labelmaps"


def test_odd_layout_is_not_discovered(tmp_path: Path) -> None:
    odd_layout(tmp_path)
    with pytest.raises(DiscoveryError):
        scan(tmp_path)


def test_explicit_splits_via_api(tmp_path: Path) -> None:
    imgs, masks = odd_layout(tmp_path)
    write_pairs(tmp_path / "vphotos", tmp_path / "vlabels", 2, prefix="v")
    report = scan(
        tmp_path,
        splits={
            "train": {"images": str(imgs), "masks": str(masks)},
            "val": {"images": str(tmp_path / "vphotos"), "masks": str(tmp_path / "vlabels")},
        },
    )
    assert report.layout == "explicit"
    assert splits(report) == {"train": (3, 3, 3), "val": (2, 2, 2)}
    assert report.splits[0].image_root == "photos" and report.splits[0].mask_root == "labelmaps"
    assert {r.path for r in report.files} >= {"photos/x0.png", "labelmaps/x0.png", "vphotos/v1.png"}
    assert_paired(report)


def test_explicit_relative_paths_resolve_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd_layout(tmp_path / "d")
    monkeypatch.chdir(tmp_path)
    report = scan(tmp_path / "d", splits={"train": {"images": "d/photos", "masks": "d/labelmaps"}})
    assert splits(report) == {"train": (3, 3, 3)}


def test_explicit_missing_folder_is_a_discovery_error(tmp_path: Path) -> None:
    imgs, _ = odd_layout(tmp_path)
    with pytest.raises(DiscoveryError, match="not a directory"):
        scan(tmp_path, splits={"train": {"images": str(imgs), "masks": str(tmp_path / "nope")}})


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["scan", *args, "--format", "json", "--no-progress"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, json.loads(result.stdout)


def test_cli_images_and_masks(tmp_path: Path) -> None:
    imgs, masks = odd_layout(tmp_path)
    code, doc = run_json(str(tmp_path), "--images", str(imgs), "--masks", str(masks), "-C", "3")
    assert code == 0
    assert doc["layout"]["name"] == "explicit"
    assert list(doc["splits"]) == ["all"]
    assert (doc["summary"]["images"], doc["summary"]["masks"], doc["summary"]["pairs"]) == (3, 3, 3)
    paths = {f["path"] for f in doc["files"]}
    assert paths == {f"{d}/x{i}.png" for d in ("photos", "labelmaps") for i in range(3)}


def test_cli_split_name_images_masks(tmp_path: Path) -> None:
    imgs, masks = odd_layout(tmp_path)
    write_pairs(tmp_path / "vphotos", tmp_path / "vlabels", 2, prefix="v")
    code, doc = run_json(
        str(tmp_path),
        "--split",
        f"train:{imgs}:{masks}",
        "--split",
        f"val:{tmp_path / 'vphotos'}:{tmp_path / 'vlabels'}",
        "-C",
        "3",
    )
    assert code == 0, doc["findings"]
    assert doc["layout"]["name"] == "explicit"
    assert list(doc["splits"]) == ["train", "val"]
    assert not [f for f in doc["findings"] if f["check"] in ("NA003", "NA004")]
    paths = {f["path"] for f in doc["files"]}
    assert {"photos/x2.png", "labelmaps/x2.png", "vphotos/v0.png", "vlabels/v1.png"} <= paths
    assert all(not p.startswith("/") for p in paths)


def test_cli_split_without_masks_is_unlabeled(tmp_path: Path) -> None:
    imgs, _ = odd_layout(tmp_path)
    code, doc = run_json(str(tmp_path), "--split", f"test:{imgs}")
    assert code == 0
    na003 = [f for f in doc["findings"] if f["check"] == "NA003"]
    assert len(na003) == 3 and {f["severity"] for f in na003} == {"info"}


# --------------------------------------------------------------------------- pairing


@pytest.mark.parametrize(
    "suffix", ["_mask", "_label", "_labels", "_gt", "_seg", "_annotation", "-mask", "_MASK"]
)
def test_mask_stem_suffixes_pair(tmp_path: Path, suffix: str) -> None:
    write_pairs(tmp_path / "images", tmp_path / "masks", 3, mask_suffix=suffix)
    report = scan(tmp_path)
    assert splits(report) == {"all": (3, 3, 3)}
    assert_paired(report)
    na006 = hits(report, "NA006")
    assert na006 == []
    f = scan(tmp_path, num_classes=1)  # every pair reaches the mask checks: NA201 names both files
    pairs = {(x.image, x.mask) for x in hits(f, "NA201")}
    assert ("images/x1.png", f"masks/x1{suffix}.png") in pairs


def test_different_extensions_pair(tmp_path: Path) -> None:
    save(tmp_path / "images" / "a.jpg", natural_image(0, SIZE), quality=90)
    save(tmp_path / "masks" / "a.png", clean_mask(0, SIZE))
    save(tmp_path / "images" / "b.tif", natural_image(1, SIZE))
    save(tmp_path / "masks" / "b.bmp", clean_mask(1, SIZE))
    report = scan(tmp_path)
    assert splits(report) == {"all": (2, 2, 2)}
    assert_paired(report)


def test_nested_subfolders_pair_by_relative_folder(tmp_path: Path) -> None:
    for city in ("cityA", "cityB"):  # the same stem in two cities: folder decides
        pair(
            tmp_path / "images" / "train" / city / "x.png",
            tmp_path / "masks" / "train" / city / "x.png",
            seed=1 if city == "cityA" else 2,
        )
    report = scan(tmp_path)
    assert splits(report) == {"train": (2, 2, 2)}
    assert_paired(report)
    f = scan(tmp_path, num_classes=1)
    pairs = {(x.image, x.mask) for x in hits(f, "NA201")}
    assert pairs == {
        ("images/train/cityA/x.png", "masks/train/cityA/x.png"),
        ("images/train/cityB/x.png", "masks/train/cityB/x.png"),
    }


def test_unique_stem_pairs_across_folders(tmp_path: Path) -> None:
    pair(tmp_path / "images" / "a" / "x.png", tmp_path / "masks" / "x.png")
    report = scan(tmp_path)
    assert splits(report) == {"all": (1, 1, 1)}
    assert_paired(report)


def drive_like(root: Path) -> None:
    """DRIVE naming: 21_training.tif ↔ 21_manual1.gif."""
    for n in (21, 22):
        save(root / "images" / f"{n}_training.tif", natural_image(n, SIZE))
        m = Image.fromarray((clean_mask(n, SIZE, classes=2) * 255).astype(np.uint8)).convert("P")
        save(root / "masks" / f"{n}_manual1.gif", m)


def test_pair_key_regex_pairs_drive_names(tmp_path: Path) -> None:
    drive_like(tmp_path)
    assert Image.open(tmp_path / "masks" / "21_manual1.gif").format == "GIF"
    unkeyed = scan(tmp_path)
    assert splits(unkeyed) == {"all": (2, 2, 0)}
    assert len(hits(unkeyed, "NA003")) == 2 and len(hits(unkeyed, "NA004")) == 2
    report = scan(tmp_path, pair_key=r"^(\d+)_")
    assert splits(report) == {"all": (2, 2, 2)}
    assert_paired(report)
    rec = next(r for r in report.files if r.path == "masks/21_manual1.gif")
    assert rec.format == "GIF" and rec.labels is not None


def test_pair_key_via_cli(tmp_path: Path) -> None:
    drive_like(tmp_path)
    code, doc = run_json(str(tmp_path), "--pair-key", r"^(\d+)_", "--fail-on", "never")
    assert code == 0
    assert doc["summary"]["pairs"] == 2
    assert not [f for f in doc["findings"] if f["check"] in ("NA003", "NA004")]


def test_pair_files_unit_keeps_each_mask_once(tmp_path: Path) -> None:
    imgs = [tmp_path / "i" / "a.png", tmp_path / "i" / "b.png"]
    masks = [tmp_path / "m" / "a_mask.png", tmp_path / "m" / "c.png"]
    out = pair_files(imgs, tmp_path / "i", masks, tmp_path / "m", None)
    assert [(p.image and p.image.name, p.mask and p.mask.name) for p in out] == [
        ("a.png", "a_mask.png"),
        ("b.png", None),
        (None, "c.png"),
    ]
    keyed = pair_files(
        [tmp_path / "i" / "7_x.png"],
        tmp_path / "i",
        [tmp_path / "m" / "7_y.png"],
        tmp_path / "m",
        re.compile(r"^(\d+)_"),
    )
    assert [
        (p.image.name if p.image else None, p.mask.name if p.mask else None) for p in keyed
    ] == [("7_x.png", "7_y.png")]


# --------------------------------------------------------------------------- skipped files


def test_non_images_and_hidden_entries_are_skipped_and_counted(tmp_path: Path) -> None:
    make_pairs(tmp_path, 3, size=SIZE)
    (tmp_path / "images" / "README.md").write_text("# data\n")
    (tmp_path / "masks" / "notes.json").write_text("{}\n")
    (tmp_path / "images" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    save(tmp_path / "images" / ".cache" / "img_000.png", natural_image(9, SIZE))
    (tmp_path / "README.md").write_text("top-level readme\n")
    report = scan(tmp_path)
    assert splits(report) == {"all": (3, 3, 3)}
    assert_paired(report)
    skipped = dict(report.skipped)
    assert skipped == {
        "images/README.md": "not an image",
        "masks/notes.json": "not an image",
        "images/.DS_Store": "hidden file",
        "images/.cache": "hidden directory",
    }
    assert report.splits[0].skipped == 4
    assert not any(f.path.startswith("images/.cache") for f in report.findings)
    assert not any(r.path.startswith("images/.cache") for r in report.files)
    assert hits(report, "NA001") == []


# --------------------------------------------------------------------------- symlinks


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_symlink_loop_is_walked_once(tmp_path: Path) -> None:
    make_pairs(tmp_path, 3, size=SIZE)
    images = tmp_path / "images"
    os.symlink(images, images / "loop")
    report = scan(tmp_path)
    assert splits(report) == {"all": (3, 3, 3)}
    image_files = [r.path for r in report.files if r.kind == "image"]
    assert sorted(image_files) == [f"images/img_{i:03d}.png" for i in range(3)]
    assert any("loop" in n for n in report.notes)
    assert_paired(report)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_symlinked_image_file_outside_is_skipped_unless_links_are_followed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "d"
    make_pairs(root, 2, size=SIZE)
    target = save(tmp_path / "elsewhere" / "real.png", natural_image(5, SIZE))
    os.symlink(target, root / "images" / "linked.png")
    save(root / "masks" / "linked.png", clean_mask(5, SIZE))
    report = scan(root)
    assert splits(report) == {"all": (2, 3, 2)}
    assert ("images/linked.png", LINK_OUTSIDE) in report.skipped
    assert "images/linked.png" not in {r.path for r in report.files}
    report = scan(root, follow_links=True)
    assert splits(report) == {"all": (3, 3, 3)}
    assert_paired(report)
    rec = next(r for r in report.files if r.path == "images/linked.png")
    assert rec.ok and rec.pixels is not None and (rec.width, rec.height) == (24, 24)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_links_within_the_root_are_followed(tmp_path: Path) -> None:
    """A link whose target stays inside the scanned folder (images into a shared pool,
    a folder linked beside its twin) is followed as before; so is a root that is a link."""
    root = tmp_path / "d"
    make_pairs(root, 2, size=SIZE)
    pool = save(root / "pool" / "p.png", natural_image(7, SIZE))
    os.symlink(pool, root / "images" / "pooled.png")
    save(root / "masks" / "pooled.png", clean_mask(7, SIZE))
    os.symlink(root, tmp_path / "link-to-d")
    for scanned in (root, tmp_path / "link-to-d"):
        report = scan(scanned)
        assert splits(report) == {"all": (3, 3, 3)}
        assert not report.skipped


# --------------------------------------------------------------------------- failures


def test_no_layout_raises_discovery_error(tmp_path: Path) -> None:
    save(tmp_path / "pictures" / "a.png", natural_image(0, SIZE))
    with pytest.raises(DiscoveryError) as exc:
        scan(tmp_path)
    text = str(exc.value)
    assert "images" in text and "masks" in text and "--images" in text and "trainannot" in text
    with pytest.raises(DiscoveryError):
        discover(tmp_path)


def test_no_layout_via_cli_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save(tmp_path / "pictures" / "a.png", natural_image(0, SIZE))
    code = main(["scan", str(tmp_path), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "no image/mask layout found" in lines[0]
    assert "images" in lines[0] and "masks" in lines[0] and "Traceback" not in err


def test_empty_root_is_a_discovery_error(tmp_path: Path) -> None:
    with pytest.raises(DiscoveryError):
        scan(tmp_path)


# --------------------------------------------------------------------------- unlabeled test split


def test_test_split_without_masks_is_unlabeled(tmp_path: Path) -> None:
    make_pairs(tmp_path, 3, "train", size=SIZE)
    for i in range(2):
        save(tmp_path / "images" / "test" / f"t{i}.png", natural_image(i, SIZE))
    report = scan(tmp_path)
    by_name = {s.name: s for s in report.splits}
    assert splits(report) == {"train": (3, 3, 3), "test": (2, 0, 0)}
    assert by_name["train"].labeled and not by_name["test"].labeled
    assert by_name["test"].mask_root is None
    na003 = hits(report, "NA003")
    assert [(f.path, f.severity) for f in na003] == [
        ("images/test/t0.png", Severity.INFO),
        ("images/test/t1.png", Severity.INFO),
    ]
    assert report.exit_code == 0
    assert any("test" in n and "unlabeled" in n for n in report.notes)


def test_split_first_test_without_masks_is_unlabeled(tmp_path: Path) -> None:
    write_pairs(tmp_path / "train" / "images", tmp_path / "train" / "masks", 2)
    save(tmp_path / "test" / "images" / "t.png", natural_image(0, SIZE))
    report = scan(tmp_path)
    assert report.layout == "split-first"
    by_name = {s.name: s for s in report.splits}
    assert not by_name["test"].labeled and by_name["train"].labeled
    (f,) = hits(report, "NA003")
    assert f.path == "test/images/t.png" and f.severity is Severity.INFO


def test_missing_masks_in_a_labeled_split_are_errors(tmp_path: Path) -> None:
    make_pairs(tmp_path, 3, size=SIZE)
    (tmp_path / "masks" / "img_001.png").unlink()
    save(tmp_path / "masks" / "stray.png", clean_mask(0, SIZE))
    report = scan(tmp_path)
    assert splits(report) == {"all": (3, 3, 2)}
    (missing,) = hits(report, "NA003")
    assert missing.path == "images/img_001.png" and missing.severity is Severity.ERROR
    (orphan,) = hits(report, "NA004")
    assert orphan.path == "masks/stray.png" and orphan.severity is Severity.WARNING


def test_val_split_without_mask_folder_is_not_silently_unlabeled(tmp_path: Path) -> None:
    make_pairs(tmp_path, 2, "train", size=SIZE)
    save(tmp_path / "images" / "val" / "v.png", natural_image(0, SIZE))
    report = scan(tmp_path)
    (f,) = hits(report, "NA003")
    assert f.path == "images/val/v.png" and f.severity is Severity.ERROR
    assert report.exit_code == 1


def test_unlabeled_option_declares_a_split(tmp_path: Path) -> None:
    make_pairs(tmp_path, 2, "train", size=SIZE)
    save(tmp_path / "images" / "val" / "v.png", natural_image(0, SIZE))
    report = scan(tmp_path, unlabeled_splits=["val"])
    (f,) = hits(report, "NA003")
    assert f.severity is Severity.INFO
    assert not {s.name: s for s in report.splits}["val"].labeled


def test_split_first_val_without_masks_is_an_error(tmp_path: Path) -> None:
    write_pairs(tmp_path / "train" / "images", tmp_path / "train" / "masks", 2)
    save(tmp_path / "val" / "images" / "v.png", natural_image(0, SIZE))
    report = scan(tmp_path)
    assert report.layout == "split-first"
    assert {s.name: s.labeled for s in report.splits} == {"train": True, "val": True}
    (f,) = hits(report, "NA003")
    assert f.path == "val/images/v.png" and f.severity is Severity.ERROR


def test_images_and_masks_naming_the_same_folder_is_a_usage_error(tmp_path: Path) -> None:
    """Issue 24: --images DIR --masks DIR paired every file with itself, without a word."""
    root = tmp_path / "Kvasir-SEG"
    for i in range(2):
        save(root / "images" / f"{i}.jpg", natural_image(i, (20, 20)))
    folder = str(root / "images")
    for args in (
        ["--images", folder, "--masks", folder],
        ["--images", folder, "--masks", folder + "/."],
        ["--split", f"train:{folder}:{folder}"],
    ):
        result = CliRunner().invoke(cli, ["scan", str(root), *args])
        assert result.exit_code == 2, (args, result.output)
        assert "the same folder" in result.output and "Traceback" not in result.output


def test_write_config_in_the_working_folder_is_read_by_the_plain_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24: --write-config nanaudit.toml, then `nanaudit scan PATH` did not find the
    file when PATH lies outside the working folder. The working folder's config is read
    when none lies in PATH or above it; the one nearest the data wins, said in a warning."""
    data, work = tmp_path / "data", tmp_path / "work"
    make_pairs(data / "raw" / "img", 3)
    (data / "raw" / "img" / "masks").rename(data / "raw" / "gt")
    (data / "raw" / "img" / "images").rename(data / "raw" / "pictures")
    work.mkdir()
    monkeypatch.chdir(work)
    flags = ["--images", str(data / "raw" / "pictures"), "--masks", str(data / "raw" / "gt")]
    result = CliRunner().invoke(
        cli, ["scan", str(data), *flags, "-C", "3", "--write-config", "nanaudit.toml", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert f"`nanaudit scan {data}` reads them" in result.stderr
    plain = CliRunner().invoke(cli, ["scan", str(data), "--format", "json"])
    assert plain.exit_code == 0, plain.output
    doc = json.loads(plain.stdout)
    # the user's own file: its splits outside the working folder are read (as --config)
    assert doc["config"]["num_classes"] == 3 and doc["config"]["config_file"] == "nanaudit.toml"
    assert [s["pairs"] for s in doc["splits"].values()] == [3]
    assert not [w for w in doc["warnings"] if w.startswith("config:")]
    terminal = CliRunner().invoke(cli, ["scan", str(data)])
    assert "config: nanaudit.toml" in terminal.stdout
    # a config beside the data outranks it, and the warning says which was read
    (data / "nanaudit.toml").write_text("num_classes = 5\n", encoding="utf-8")
    both = CliRunner().invoke(cli, ["scan", str(data), *flags, "--format", "json"])
    doc = json.loads(both.stdout)
    assert doc["config"]["num_classes"] == 5
    (warning,) = [w for w in doc["warnings"] if w.startswith("config:")]
    assert f"{data / 'nanaudit.toml'} (found from the scanned folder upward) is read" in warning
    assert "not nanaudit.toml of the working folder" in warning
    assert "--config nanaudit.toml" in warning
    again = CliRunner().invoke(
        cli, ["scan", str(data), *flags, "-C", "3", "--write-config", "nanaudit.toml", "--dry-run"]
    )
    assert f"outranks it: run `nanaudit scan {data} --config nanaudit.toml`" in again.stderr
    named = CliRunner().invoke(
        cli, ["scan", str(data), "--config", "nanaudit.toml", "--format", "json"]
    )
    doc = json.loads(named.stdout)
    assert doc["config"]["num_classes"] == 3
    assert not [w for w in doc["warnings"] if w.startswith("config:")]


def test_write_config_elsewhere_names_the_config_flag(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, work = tmp_path / "data", tmp_path / "work"
    make_pairs(data, 3)
    (work / "sub").mkdir(parents=True)
    monkeypatch.chdir(work)
    result = CliRunner().invoke(
        cli, ["scan", str(data), "-C", "3", "--write-config", "sub/n.toml", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert f"`nanaudit scan {data} --config sub/n.toml`" in result.stderr
    inside = CliRunner().invoke(
        cli,
        ["scan", str(data), "-C", "3", "--write-config", str(data / "nanaudit.toml"), "--dry-run"],
    )
    assert f"`nanaudit scan {data}` reads them" in inside.stderr
    plain = CliRunner().invoke(cli, ["scan", str(data), "--format", "json"])
    assert json.loads(plain.stdout)["config"]["num_classes"] == 3


def test_dry_run_says_why_symlinked_split_folders_are_skipped(tmp_path: Path) -> None:
    """Issue 24: split folders assembled with symbolic links to folders elsewhere; the dry
    run said '0 pairs, 2 files skipped' and no reason. Links that stay inside the scanned
    folder are followed."""
    store, root, inside = tmp_path / "store", tmp_path / "data", tmp_path / "data2"
    for split in ("train", "val"):
        make_pairs(store / split, 2)
        make_pairs(inside / "store" / split, 2)
    for base, target in ((root, store), (inside, Path("..") / "store")):
        for kind in ("images", "masks"):
            (base / kind).mkdir(parents=True)
            for split in ("train", "val"):
                (base / kind / split).symlink_to(target / split / kind)
    result = CliRunner().invoke(cli, ["scan", str(root), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert (
        "skipped: images/train: symbolic link leading outside the scanned folder "
        "(--follow-links follows it)" in result.output
    )
    followed = CliRunner().invoke(cli, ["scan", str(root), "--dry-run", "--follow-links"])
    assert followed.output.count("2 pairs") == 2 and "skipped: " not in followed.output
    within = CliRunner().invoke(cli, ["scan", str(inside), "--dry-run"])
    assert within.output.count("2 pairs") == 2 and "skipped: " not in within.output
