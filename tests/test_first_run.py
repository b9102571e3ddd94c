"""The first run on datasets as people download them (miniatures.py): the right folders are
audited and named, or the scan stops naming the candidates and the flag that picks one;
correct data raises no warning; --dry-run, --write-config, the progress bar."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import clean_mask, hits, make_pairs, natural_image, save, scan
from miniatures import (
    aerial_tiles,
    electron_microscopy,
    microscopy_16bit,
    polyps,
    retina_vessels,
    road_scene,
)

from nanaudit.cli import cli
from nanaudit.formats import Format, render
from nanaudit.severity import Severity

BINARY = ["--label-map", "255:1", "-C", "2", "--ignore-index", "none"]


def cli_scan(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    old = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, ["scan", "--no-progress", "-j", "1", *args])
    finally:
        os.chdir(old)
    return result.exit_code, result.stdout, result.stderr


def words(text: str) -> str:
    return " ".join(text.split())


def warnings_and_errors(report: object) -> list[tuple[str, str]]:
    return [
        (f.check, f.path)
        for f in report.findings  # type: ignore[attr-defined]
        if f.severity >= Severity.WARNING
    ]


# --------------------------------------------------------------------------- road scenes


def test_road_scene_needs_no_flags_and_names_its_folders(tmp_path: Path) -> None:
    base = road_scene(tmp_path)
    code, out, _ = cli_scan(str(base))
    assert code == 0, out
    text = words(out)
    assert "layout: camvid" in text
    for split in ("train", "val", "test"):
        assert f"{split} {split}/ + {split}annot/" in text
    assert "No findings." in out or "0 errors, 0 warnings" in text
    # the splits in their natural order
    order = [text.index(f"{s}: image pixels") for s in ("train", "val", "test")]
    assert order == sorted(order)


def test_camvid_copy_with_only_train_and_val_is_still_camvid(tmp_path: Path) -> None:
    base = road_scene(tmp_path, with_test=False)
    report = scan(base)
    assert (report.layout, report.preset) == ("camvid", "camvid")
    assert "CamVid's sequence file names (0001TP_" in report.layout_reason
    assert [s.name for s in report.splits] == ["train", "val"]
    assert report.labels.ignore_index == 11 and warnings_and_errors(report) == []


# --------------------------------------------------------------------------- electron microscopy


def test_em_folders_no_rule_knows_exit_2_listing_the_image_folders(tmp_path: Path) -> None:
    base = electron_microscopy(tmp_path)
    code, out, err = cli_scan(str(base))
    assert code == 2 and out == ""
    line = err.strip()
    assert len(line.splitlines()) == 1
    for folder in ("Train_In/ (5 images)", "Train_Out/ (5 images)", "Test_In/ (3 images)"):
        assert folder in line
    assert "--split NAME:IMAGES:MASKS" in line
    code, out, _ = cli_scan(
        str(base),
        "--split",
        f"train:{base}/Train_In:{base}/Train_Out",
        "--split",
        f"test:{base}/Test_In:{base}/Test_Out",
        *BINARY,
    )
    assert code == 0, out


# --------------------------------------------------------------------------- retina vessels


def test_retina_field_of_view_masks_are_not_taken_for_labels(tmp_path: Path) -> None:
    """images/ beside mask/ (the field of view, pairs by name) and 1st_manual/ (the labels,
    pairs by number): the scan stops and names both, with the flag."""
    base = retina_vessels(tmp_path)
    code, out, err = cli_scan(str(base))
    assert code == 2 and out == ""
    line = err.strip()
    assert "more than one folder could hold the masks" in line
    assert "beside training/images/: 1st_manual/ (6 files; 6 pair with --pair-key '^(\\d+)'" in line
    assert "mask/ (6 files; 6 pair by name; values 0, 255)" in line
    assert "2nd_manual/" in line and "--mask-folder NAME" in line


def test_retina_with_the_mask_folder_chosen_is_clean_and_says_what_was_left_out(
    tmp_path: Path,
) -> None:
    base = retina_vessels(tmp_path)
    code, out, _ = cli_scan(
        str(base),
        "--mask-folder",
        "1st_manual",
        "--pair-key",
        r"^(\d+)",
        *BINARY,
        "-o",
        "r.json",
        cwd=tmp_path,
    )
    assert code == 0, out
    text = words(out)
    assert "training training/images/ + training/1st_manual/" in text
    assert "test test/images/ + test/1st_manual/" in text
    assert "not audited: 14 images in 3 folders no split covers" in text
    assert "labels mapped before the checks: 255 → 1" in text
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["not_audited"] == [
        {"folder": "test/2nd_manual", "images": 4},
        {"folder": "test/mask", "images": 4},
        {"folder": "training/mask", "images": 6},
    ]
    assert doc["summary"]["not_audited"] == 14
    assert doc["config"]["label_map"] == {"255": 1}
    # photographs of different eyes share the black field of view: no near-duplicates
    assert not [f for f in doc["findings"] if f["severity"] in ("warning", "error")]
    assert not [f for f in doc["findings"] if f["check"] == "NA307"]
    # class weights for the training split only, the method named
    weights = doc["splits"]["training"]["summary"]["class_weights"]
    assert set(weights) == {"0", "1"} and weights["1"] > weights["0"] > 0  # vessels are rare
    assert doc["splits"]["test"]["summary"]["class_weights"] == {}
    assert "Eigen & Fergus" in doc["splits"]["training"]["summary"]["class_weights_method"]


# --------------------------------------------------------------------------- 16-bit microscopy


def test_correct_16_bit_microscopy_raises_no_warning(tmp_path: Path) -> None:
    base = microscopy_16bit(tmp_path)
    report = scan(base, label_map={"255": 1}, num_classes=2, ignore_index="none")
    assert warnings_and_errors(report) == []
    assert hits(report, "NA104") == []
    # 16 bits by design: said, as information
    assert {f.severity for f in hits(report, "NA107")} == {Severity.INFO}


def test_a_flat_frame_with_sensor_noise_among_them_is_still_low_variance(tmp_path: Path) -> None:
    base = microscopy_16bit(tmp_path, flat_frame=True)
    report = scan(base, label_map={"255": 1}, num_classes=2, ignore_index="none")
    assert [f.path for f in hits(report, "NA104")] == ["images/cell_flat.tif"]
    assert warnings_and_errors(report) == [("NA104", "images/cell_flat.tif")]


def test_12_bit_data_in_16_bit_files_is_measured_against_4095(tmp_path: Path) -> None:
    base = microscopy_16bit(tmp_path, twelve_bit=True)
    report = scan(base, label_map={"255": 1}, num_classes=2, ignore_index="none")
    assert any("use 12 of their 16 bits" in n and "4,095" in n for n in report.notes)
    (split,) = report.splits
    assert split.training.normalize is not None
    assert split.training.normalize.scale_span == 4095.0
    assert warnings_and_errors(report) == []


def test_instance_id_masks_are_judged_per_split(tmp_path: Path) -> None:
    base = microscopy_16bit(tmp_path, instances=True)
    report = scan(base)
    found = hits(report, "NA210")
    assert len(found) == 8  # all of them, not only the two above 255
    split_wide = [f for f in found if "the masks of split 'all' share" in f.message]
    assert len(split_wide) == 6
    assert any("255 is read as the ignore index" in f.message for f in found)


# --------------------------------------------------------------------------- polyps


def test_polyp_jpeg_masks_audit_the_right_folders(tmp_path: Path) -> None:
    base = polyps(tmp_path)
    report = scan(base, label_map={"255": 1}, num_classes=2, ignore_index="none")
    (split,) = report.splits
    assert (split.image_root, split.mask_root, split.pairs) == ("images", "masks", 6)
    # JPEG masks: lossy (and their artefacts out of range), on every mask
    assert len(hits(report, "NA206")) == 6
    assert {f.check for f in report.findings if f.severity == Severity.ERROR} <= {"NA206", "NA201"}


def test_jpeg_0_255_masks_without_c_read_as_blurred_binary_not_255_classes(
    tmp_path: Path,
) -> None:
    words_of = words(scan(polyps(tmp_path)).classes_in_words())
    assert "binary 0/255 masks with blurred edges (lossy compression, NA206" in words_of
    assert "-C 2 --label-map 255:1 --ignore-index none" in words_of
    assert "C is at least" not in words_of
    # labels 0-20 with a 255 border, mostly background (VOC-like): not binary
    root = tmp_path / "voc-like"
    for i in range(2):
        m = np.zeros((20, 20), np.uint8)
        m[:, :2] = 255
        m[5, 5 + i] = 7 + i
        save(root / "images" / f"{i}.png", natural_image(i, (20, 20)))
        save(root / "masks" / f"{i}.png", m)
    assert "C is at least 9" in words(scan(root).classes_in_words())


def test_jpeg_0_255_masks_without_c_get_no_class_statistics_over_their_edge_values(
    tmp_path: Path,
) -> None:
    """Issue 24: 17 class weights under "classes 0..254", NA302/NA303 over JPEG noise that
    the same report calls blurred edges. Without C they are not taken; with C they are,
    complete for 0..C-1."""
    base = polyps(tmp_path, size=(96, 112))
    report = scan(base, thumbnails=True)
    assert len(report.splits[0].label_histogram) > 10  # the edge values are there
    assert hits(report, "NA302") == [] and hits(report, "NA303") == []
    (split,) = report.splits
    assert split.training.class_weights == ()
    page = render(report, Format.HTML)
    assert "class_weights = [" not in page
    fixed = scan(base, label_map={"255": 1}, num_classes=2, ignore_index="none", thumbnails=True)
    assert [k for k, _ in fixed.splits[0].training.class_weights] == [0, 1]
    assert re.search(
        r"classes 0\.\.1\n?\s*class_weights = \[[0-9.]+, [0-9.]+\]", render(fixed, Format.HTML)
    )


def test_class_weights_block_is_positional_and_complete_or_absent() -> None:
    from nanaudit.formats.html import _positional_weights

    # C given, the ignore index inside [0, C): its place holds 0, nothing shifts
    assert _positional_weights(((0, 0.5), (2, 2.0)), 3) == [0.5, 0.0, 2.0]
    # C not given: complete only when the labels found are 0..K-1
    assert _positional_weights(((0, 0.5), (1, 2.0)), None) == [0.5, 2.0]
    assert _positional_weights(((0, 0.5), (1, 2.0), (247, 9.0)), None) == []
    assert _positional_weights(((0, 0.5), (5, 2.0)), 3) == []  # out of [0, C): not a list


# --------------------------------------------------------------------------- discovery


def test_a_mask_folder_is_chosen_by_label_like_values_with_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(3):
        save(root / "images" / f"p{i}.png", natural_image(i, (24, 24)))
        save(root / "masks" / f"p{i}.png", clean_mask(i, (24, 24)))
        save(root / "overlays" / f"p{i}.png", natural_image(50 + i, (24, 24)))
    code, out, _ = cli_scan(str(root), "--dry-run")
    assert code == 0, out
    assert "masks/ chosen: overlays/ holds" in out and "not label-like" in out
    assert "all (all): images/ + masks/" in out
    assert "d/overlays/ (3 images)" not in out and "overlays/ (3 images)" in out


def test_unaudited_folders_are_counted_in_the_report(tmp_path: Path) -> None:
    """test/ predictions beside images/ + masks/, and train/aug/ in a split-first tree."""
    root = make_pairs(tmp_path / "a", 3, size=(16, 16))
    for i in range(2):
        save(root / "test" / "run1" / f"img_{i:03d}.png", clean_mask(i, (16, 16)))
    report = scan(root, num_classes=3)
    assert report.unaudited == (("test", 2),)
    other = tmp_path / "b"
    for split in ("train", "val"):
        for i in range(2):
            save(other / split / "images" / f"{split}{i}.png", natural_image(i, (16, 16)))
            save(other / split / "masks" / f"{split}{i}.png", clean_mask(i, (16, 16)))
    save(other / "train" / "aug" / "flip0.png", natural_image(9, (16, 16)))
    _code, out, _ = cli_scan(str(other), "--dry-run")
    assert "not audited: 1 image in folders no split covers:" in out
    assert "train/aug/ (1 image)" in out


def test_dry_run_decodes_nothing_and_shows_unpaired_files_with_their_closest(
    tmp_path: Path,
) -> None:
    root = tmp_path / "d"
    save(root / "images" / "scan_01.png", natural_image(0, (16, 16)))
    (root / "images" / "scan_02.png").write_bytes(b"\x89PNG broken")  # would be NA001
    save(root / "masks" / "scan_01.png", clean_mask(0, (16, 16)))
    save(root / "masks" / "scan_2.png", clean_mask(1, (16, 16)))
    code, out, _ = cli_scan(str(root), "--dry-run")
    assert code == 0 and "NA001" not in out
    assert "dry run: nothing decoded" in out
    assert "1 pairs; 1 images without a mask; 1 masks without an image" in out
    assert "pair: images/scan_01.png  ↔  masks/scan_01.png" in out
    assert "no mask: images/scan_02.png (closest unpaired mask: scan_2)" in out


def test_write_config_makes_the_next_run_one_command(tmp_path: Path) -> None:
    retina_vessels(tmp_path)
    flags = ["--mask-folder", "1st_manual", "--pair-key", r"^(\d+)", *BINARY]
    code, _, err = cli_scan(
        "DRIVE", *flags, "--dry-run", "--write-config", "nanaudit.toml", cwd=tmp_path
    )
    assert code == 0 and "settings written to nanaudit.toml" in err
    written = (tmp_path / "nanaudit.toml").read_text()
    assert 'mask_folder = "1st_manual"' in written and 'label_map = {"255" = 1}' in written
    assert "training/images/ + training/1st_manual/ (6 pairs)" in written
    code, out, err = cli_scan("DRIVE", cwd=tmp_path)  # the config is found from DRIVE upward
    assert code == 0, (out, err)
    assert "config: nanaudit.toml" in out


def test_pair_key_suggestion_with_the_count_it_would_pair(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(4):
        save(root / "images" / f"{i:02d}_training.png", natural_image(i, (16, 16)))
        save(root / "masks" / f"{i:02d}_manual1.png", clean_mask(i, (16, 16)))
    report = scan(root)
    hint = "all: 0 of 4 images pair by name; --pair-key '^(\\d+)' would pair 4 of 4"
    assert report.warnings == (hint,)
    # said before the findings it explains (four NA003, four NA004), also with -q
    code, out, _ = cli_scan(str(root), "-q", "--cache-dir", str(tmp_path / "cache"))
    assert code == 1 and words(out).index(hint) < words(out).index("NA003")


def test_relative_split_folders_that_exist_below_path_get_a_hint(tmp_path: Path) -> None:
    make_pairs(tmp_path / "data" / "training", 2, size=(16, 16))
    code, out, err = cli_scan(
        "data", "--split", "train:training/images:training/masks", cwd=tmp_path
    )
    assert code == 2 and out == ""
    assert "--split train:training/images:training/masks: training/images is not a directory" in err
    assert "did you mean data/training/images?" in err


def test_nothing_found_in_the_current_folder_reads_as_a_sentence(tmp_path: Path) -> None:
    save(tmp_path / "x" / "a.png", natural_image(0, (8, 8)))
    code, _, err = cli_scan(".", cwd=tmp_path)
    assert code == 2
    assert "no image/mask layout found in the current folder. Looked for:" in err
    assert "x/ (1 image)" in err


def test_images_directly_in_the_root_are_counted_and_the_flag_to_audit_them_named(
    tmp_path: Path,
) -> None:
    for i in range(3):
        save(tmp_path / f"p{i}.png", natural_image(i, (8, 8)))
    code, _, err = cli_scan(str(tmp_path))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "./ (3 images)" in err
    assert "--images DIR without --masks audits the images of DIR alone" in err
    code, out, _ = cli_scan(str(tmp_path), "--images", str(tmp_path))
    assert code == 0 and "all          3       0       0" in out


def test_an_ignore_index_inside_the_classes_is_a_usage_warning(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 3, classes=3, size=(16, 16))
    _code, out, _ = cli_scan(str(root), "-C", "12", "--ignore-index", "11")
    assert "warning: the ignore index 11 lies inside the classes [0, 12)" in words(out)
    report = scan(root, num_classes=12, ignore_index=11)
    assert report.warnings and "class 11 can never be learned" in report.warnings[0]
    assert [f.data.to_json()["class"] for f in hits(report, "NA301")] == list(range(3, 11))


# --------------------------------------------------------------------------- the progress bar


PIPELINE = """
import numpy as np

def make():
    rng = np.random.default_rng(0)
    mask = np.zeros((8, 8), np.uint8)
    return [(rng.integers(0, 256, (8, 8, 3), np.uint8), mask) for _ in range(10)]
"""


@pytest.mark.parametrize("command", ["scan", "samples"])
def test_the_progress_bar_moves_on_a_terminal(tmp_path: Path, command: str) -> None:
    if command == "scan":
        root = make_pairs(tmp_path / "d", 5, size=(16, 16))
        args = ["scan", str(root), "--no-cache", "-j", "1"]
    else:  # ten samples of a pipeline, on a pseudo-terminal that says it is 0x0
        (tmp_path / "pipe10.py").write_text(PIPELINE)
        args = ["samples", str(tmp_path / "pipe10.py") + ":make", "--samples", "10"]
    master, slave = pty.openpty()
    env = {**os.environ, "TQDM_MININTERVAL": "0", "TQDM_MINITERS": "1", "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanaudit", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0, (out, seen)
    counts = {int(n) for n in re.findall(rb"(\d+)/10 ", seen)}
    assert {0, 5, 10} <= counts, seen[-400:]


# --------------------------------------------------------------------------- reading the report


def binary_dataset(root: Path, n: int = 6) -> Path:
    """Clean pictures with 0/255 masks: NA208 (and NA204) on every mask."""
    for i in range(n):
        save(root / "images" / f"img_{i:03d}.png", natural_image(i, (16, 16)))
        save(root / "masks" / f"img_{i:03d}.png", (clean_mask(i, (16, 16), 2) * 255))
    return root


def test_a_check_on_nearly_every_file_is_said_once_per_split_by_human_formats(
    tmp_path: Path,
) -> None:
    root = binary_dataset(tmp_path / "d")
    report = scan(root)
    assert len(hits(report, "NA208")) == 6  # every file in the report model (JSON, SARIF)
    folded, rest = report.folded()
    (fold,) = [g for g in folded if g.check == "NA208"]
    assert (fold.check, fold.files, fold.of, fold.kind) == ("NA208", 6, 6, "masks")
    assert not [f for f in rest if f.check == "NA208"]
    _, out, _ = cli_scan(str(root))
    text = words(out)
    assert (
        "6 of 6 masks of split 'all', e.g. masks/img_000.png: binary mask stored as 0/255" in text
    )
    assert "masks/img_005.png" not in text  # once, with a few examples
    _, github, _ = cli_scan(str(root), "--format", "github")
    assert github.count("::error ") == 1 and "6 of 6 masks of split 'all'" in github
    _, md, _ = cli_scan(str(root), "--format", "markdown")
    assert md.count("- **NA208**") == 1
    _, sarif, _ = cli_scan(str(root), "--format", "sarif")
    assert len(json.loads(sarif)["runs"][0]["results"]) == len(report.findings)
    # with the loader's view of the labels, the same data is clean
    assert cli_scan(str(root), *BINARY)[0] == 0


def test_findings_come_first_statistics_after_and_quiet_for_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a short root: the first line is not wrapped
    root = binary_dataset(tmp_path / "d").relative_to(tmp_path)
    _, out, _ = cli_scan(str(root))
    lines = out.splitlines()
    assert lines[1].startswith("6 errors") and lines[-1] == lines[1]
    assert out.index("Findings") < out.index("layout:") < out.index("Splits")
    assert out.index("Splits") < out.index("all: image pixels")
    _, plain, _ = cli_scan(str(root), "--no-stats")
    assert "Splits" in plain and "image pixels" not in plain and "Normalize" not in plain
    _, quiet, _ = cli_scan(str(root), "--quiet")
    assert "Findings" in quiet and "layout:" not in quiet and "Splits" not in quiet
    assert quiet.splitlines()[-1].startswith("6 errors")


def test_candidate_names_cannot_split_the_error_line_or_drive_ci(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(3):
        save(root / "images" / f"{i:02d}_x.png", natural_image(i, (16, 16)))
        save(root / "mask" / f"{i:02d}_x_mask.png", clean_mask(i, (16, 16)))
        save(root / "gt\n##[error]x" / f"{i:02d}_y.png", clean_mask(i, (16, 16)))
    code, _, err = cli_scan(str(root))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "##[" not in err and "gt\\x0a" in err


# --------------------------------------------------------------------------- training splits


def _tile_splits(base: Path) -> list[str]:
    return [
        f"--split=tile{t}:{base / f'Tile {t}' / 'images'}:{base / f'Tile {t}' / 'masks'}"
        for t in (1, 2)
    ]


def test_training_checks_skipped_for_custom_split_names_are_said(tmp_path: Path) -> None:
    """Two tiles as splits: none is named like a training split, so the crop check and the
    class weights do not run, and a usage warning says it (issue 24: "No findings")."""
    base = aerial_tiles(tmp_path)
    args = ["scan", str(base), *_tile_splits(base), "-C", "6", "--crop-size", "64x64"]
    result = CliRunner().invoke(cli, [*args, "--format", "json"])
    doc = json.loads(result.stdout)
    assert not [f for f in doc["findings"] if f["check"] == "NA401"]
    (warning,) = [w for w in doc["warnings"] if "training split" in w]
    assert "tile1, tile2" in warning and "--train-split tile1" in warning
    assert "NA401" in warning and "class weights" in warning
    terminal = CliRunner().invoke(cli, args)
    assert "--train-split" in terminal.output


def test_train_split_names_the_training_splits(tmp_path: Path) -> None:
    base = aerial_tiles(tmp_path)
    args = ["scan", str(base), *_tile_splits(base), "-C", "6", "--crop-size", "64x64"]
    result = CliRunner().invoke(cli, [*args, "--train-split", "tile1", "--format", "json"])
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    crops = [f for f in doc["findings"] if f["check"] == "NA401"]
    assert crops and all(f["path"].startswith("Tile 1/") for f in crops)
    assert not [w for w in doc["warnings"] if "training split" in w]
    assert doc["splits"]["tile1"]["summary"]["class_weights"]
    assert doc["splits"]["tile2"]["summary"]["class_weights"] == {}
    # the same as a config key
    (base / "nanaudit.toml").write_text('train_splits = ["tile2"]\n', encoding="utf-8")
    config = CliRunner().invoke(cli, [*args, "--format", "json"])
    crops = [f for f in json.loads(config.stdout)["findings"] if f["check"] == "NA401"]
    assert crops and all(f["path"].startswith("Tile 2/") for f in crops)


def test_train_split_that_names_no_split_is_a_usage_error(tmp_path: Path) -> None:
    base = aerial_tiles(tmp_path)
    result = CliRunner().invoke(
        cli, ["scan", str(base), *_tile_splits(base), "--train-split", "tile9"]
    )
    assert result.exit_code == 2
    assert "'tile9': no such split" in result.output and "'tile1', 'tile2'" in result.output
    assert "Traceback" not in result.output


def test_a_size_copied_from_the_summary_into_crop_size_fits_the_images(tmp_path: Path) -> None:
    """Issue 24: the summary said 480x360 (W×H) for CamVid's 360×480 frames, and
    --crop-size 480x360 (H×W) gave an NA401 on every frame."""
    base = road_scene(tmp_path, size=(36, 48))
    report = scan(base)
    size = next(k for k, _ in report.splits[0].training.sizes)
    assert size == "36x48"
    cropped = scan(base, crop_size=size)
    assert hits(cropped, "NA401") == []
    result = CliRunner().invoke(cli, ["scan", str(base)])
    assert "sizes (H×W)" in result.output and "36x48" in result.output


def test_0_255_masks_get_na208_alone_not_na204_on_every_mask(tmp_path: Path) -> None:
    """Issue 24: NA204 repeated NA208 on every 0/255 mask (30, 40, 70 entries)."""
    report = scan(retina_vessels(tmp_path), mask_folder="1st_manual", pair_key=r"^(\d+)")
    assert hits(report, "NA208") and hits(report, "NA204") == []
    # a mask of background only still is NA204's
    base = tmp_path / "bg"
    make_pairs(base, 3)
    save(base / "masks" / "img_000.png", np.zeros((64, 64), np.uint8))
    assert [f.path for f in hits(scan(base), "NA204")] == ["masks/img_000.png"]


def test_every_image_without_its_mask_is_folded_per_split(tmp_path: Path) -> None:
    """Issue 24: NA003/NA004 on every file were listed one by one (images and masks named
    apart: each is measured against its own kind, not against images + masks)."""
    root = tmp_path / "d"
    for i in range(6):
        save(root / "images" / f"frame{i}.png", natural_image(i, (16, 16)))
        save(root / "masks" / f"label{i + 10}.png", clean_mask(i, (16, 16)))
    report = scan(root)
    assert len(hits(report, "NA003")) == 6 and len(hits(report, "NA004")) == 6
    folded, rest = report.folded()
    assert {(g.check, g.files, g.of, g.kind) for g in folded} >= {
        ("NA003", 6, 6, "images"),
        ("NA004", 6, 6, "masks"),
    }
    assert not [f for f in rest if f.check in ("NA003", "NA004")]


def test_the_html_report_says_what_the_terminal_says_folders_not_audited_and_the_hint(
    tmp_path: Path,
) -> None:
    """Issue 24 item 7: the HTML report left out the folders not audited and the label
    hint (--label-map 255:1 -C 2 --ignore-index none)."""
    base = retina_vessels(tmp_path)
    report = scan(base, mask_folder="1st_manual", pair_key=r"^(\d+)", thumbnails=True)
    page = render(report, Format.HTML)
    assert "Not audited: 14 images in 3 folders no split covers" in page
    assert "<code>training/mask/</code> (6)" in page
    assert "--label-map 255:1 -C 2 --ignore-index none" in page
