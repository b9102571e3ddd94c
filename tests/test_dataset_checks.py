"""NA3xx (dataset and splits), the per-split training summary and near-duplicate grouping.

Every dataset is written to tmp_path with numpy and Pillow; every expected number is
derived from the arrays the test wrote.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import miniatures
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import clean_mask, hits, make_pairs, natural_image, save, scan, validate_report_json
from PIL import Image

from nanaudit.cli import cli
from nanaudit.formats import Format, render
from nanaudit.neardup import group_near_duplicates
from nanaudit.report import Report, SplitReport
from nanaudit.severity import Severity

LABEL_CHECKS = ("NA301", "NA302", "NA303", "NA304")


# --------------------------------------------------------------------------- helpers


def two_splits(root: Path, n: int = 6, classes: int = 3, size: tuple[int, int] = (64, 64)) -> Path:
    """A clean train/val dataset; make_pairs gives each split pictures of its own."""
    make_pairs(root, n, split="train", classes=classes, size=size)
    make_pairs(root, n, split="val", classes=classes, size=size)
    return root


def put(
    root: Path,
    split: str,
    name: str,
    image: np.ndarray | Image.Image,
    mask: np.ndarray | None,
    image_ext: str = ".png",
    **kw: Any,
) -> Path:
    """Write images/<split>/<name><ext> (and masks/<split>/<name>.png when a mask is given)."""
    path = save(root / "images" / split / f"{name}{image_ext}", image, **kw)
    if mask is not None:
        save(root / "masks" / split / f"{name}.png", mask)
    return path


def split_of(report: Report, name: str) -> SplitReport:
    return next(s for s in report.splits if s.name == name)


def json_doc(report: Report) -> dict[str, Any]:
    return validate_report_json(render(report, Format.JSON))


def masks_of(root: Path, split: str) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted((root / "masks" / split).iterdir())]


def class_pixels(masks: list[np.ndarray], k: int) -> int:
    return sum(int(np.count_nonzero(m == k)) for m in masks)


# --------------------------------------------------------------------------- NA301


def test_na301_class_absent_fires_for_class_missing_from_train(tmp_path: Path) -> None:
    root = two_splits(tmp_path / "d", classes=3)  # masks use 0..2 only
    report = scan(root, num_classes=4)
    found = hits(report, "NA301")
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.WARNING
    assert f.path == "."
    assert f.split == "train"
    assert f.data.to_json()["class"] == 3
    assert "class 3 " in f.message
    total = sum(m.size for m in masks_of(root, "train"))
    assert f.data.to_json()["labeled_pixels"] == total
    assert f"{total:,}" in f.message


def test_na301_names_the_class_with_class_names(tmp_path: Path) -> None:
    root = two_splits(tmp_path / "d", classes=3)
    report = scan(root, num_classes=4, class_names=["bg", "road", "car", "sky"])
    found = hits(report, "NA301")
    assert len(found) == 1
    assert "sky" in found[0].message
    assert "car" not in found[0].message


def test_na301_mentions_other_split_holding_the_class(tmp_path: Path) -> None:
    root = tmp_path / "d"
    make_pairs(root, 4, split="train", classes=3)
    make_pairs(root, 4, split="val", classes=4)  # val holds class 3
    report = scan(root, num_classes=4)
    found = hits(report, "NA301")
    assert len(found) == 1
    n_val = class_pixels(masks_of(root, "val"), 3)
    assert n_val > 0
    assert f"val: {n_val:,} px" in found[0].message


def test_na301_folds_the_classes_past_the_first_64_into_one_finding(tmp_path: Path) -> None:
    # a class count declared by a config (up to 65,536) must not size the report: masks
    # holding 0..2 under C = 200 leave 197 classes absent; 64 are named, one finding counts
    # the other 133
    root = two_splits(tmp_path / "d", classes=3)
    report = scan(root, num_classes=200)
    found = hits(report, "NA301")
    assert len(found) == 65
    named = [f.data.to_json() for f in found[:64]]
    assert [d["class"] for d in named] == list(range(3, 67))
    assert all("more" not in d for d in named)
    last = found[64].data.to_json()
    assert last["class"] == 67 and last["more"] == 133
    assert "133 more classes" in found[64].message and "67 to 199" in found[64].message


def test_na301_quiet_when_all_classes_occur(tmp_path: Path) -> None:
    root = two_splits(tmp_path / "d", classes=4)
    assert all(class_pixels(masks_of(root, "train"), k) for k in range(4))
    report = scan(root, num_classes=4)
    assert hits(report, "NA301") == []


def test_na301_gap_in_labels_needs_num_classes(tmp_path: Path) -> None:
    """Labels {0, 2}: class 1 is missing; only a declared C makes that a finding."""
    root = tmp_path / "d"
    for i in range(4):
        m = clean_mask(i, classes=3)
        m[m == 1] = 0
        put(root, "train", f"a{i}", natural_image(i), m)
        put(root, "val", f"b{i}", natural_image(500 + i), clean_mask(i, classes=3))
    with_c = hits(scan(root, num_classes=3), "NA301")
    assert [f.data.to_json()["class"] for f in with_c] == [1]
    assert hits(scan(root), "NA301") == []


# --------------------------------------------------------------------------- NA302


def _rare_dataset(root: Path, rare_px: int) -> tuple[int, int]:
    """Two 512×512 training masks (halves of 0 and 1); rare_px pixels of class 2 in the
    first, inside the class-0 half and away from every boundary. Returns (n, total)."""
    masks = []
    for i in range(2):
        m = np.zeros((512, 512), dtype=np.uint8)
        m[:, 256:] = 1
        if i == 0:
            m[100, 100 : 100 + rare_px] = 2
        put(root, "train", f"img_{i}", natural_image(i, (512, 512)), m)
        masks.append(m)
    return class_pixels(masks, 2), sum(m.size for m in masks)


def test_na302_rare_class_fires(tmp_path: Path) -> None:
    root = tmp_path / "d"
    n, total = _rare_dataset(root, 2)
    assert n / total < 0.00001
    found = hits(scan(root), "NA302")
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.INFO
    assert f.data.to_json() == {"class": 2, "pixels": n, "labeled_pixels": total}
    assert f.split == "train"
    assert f"{n:,} of {total:,}" in f.message


def test_na302_quiet_above_threshold(tmp_path: Path) -> None:
    root = tmp_path / "d"
    n, total = _rare_dataset(root, 100)
    assert n / total > 0.00001
    assert hits(scan(root), "NA302") == []


def test_na302_fraction_is_of_labeled_pixels(tmp_path: Path) -> None:
    """4 px of class 2 in 2 × 512² masks of which half is ignore (255): 4 / 262,144 is
    0.0015% of the labeled pixels (quiet), though only 0.00076% of all pixels."""
    root = tmp_path / "d"
    masks = []
    for i in range(2):
        m = np.zeros((512, 512), dtype=np.uint8)
        m[:256] = 255
        m[:, 384:] = 1
        if i == 0:
            m[300, 100:104] = 2
        put(root, "train", f"img_{i}", natural_image(i, (512, 512)), m)
        masks.append(m)
    labeled = sum(int(np.count_nonzero(m != 255)) for m in masks)
    n = class_pixels(masks, 2)
    assert n / labeled > 0.00001 > n / sum(m.size for m in masks)
    assert hits(scan(root), "NA302") == []
    # with a higher threshold it fires, and reports the labeled pixels as the denominator
    found = hits(scan(root, checks={"NA302": {"min_fraction": 0.0001}}), "NA302")
    got = [
        (f.data.to_json()["class"], f.data.to_json()["pixels"], f.data.to_json()["labeled_pixels"])
        for f in found
    ]
    assert got == [(2, n, labeled)]


def test_na302_quiet_on_clean_dataset(tmp_path: Path) -> None:
    assert hits(scan(two_splits(tmp_path / "d"), num_classes=3), "NA302") == []


# --------------------------------------------------------------------------- NA303


def test_na303_class_imbalance_fires(tmp_path: Path) -> None:
    root = tmp_path / "d"
    m = np.zeros((64, 64), dtype=np.uint8)
    m[30, 30:33] = 1  # 3 px of class 1 among 4093 of class 0
    put(root, "train", "a", natural_image(1), m)
    big, small = int(np.count_nonzero(m == 0)), int(np.count_nonzero(m == 1))
    assert big / small > 1000
    found = hits(scan(root), "NA303")
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.INFO
    assert f.data.to_json()["largest"] == 0 and f.data.to_json()["smallest"] == 1
    assert f.data.to_json()["ratio"] == pytest.approx(big / small)
    assert f"{big:,} px" in f.message and f"{small:,} px" in f.message


def test_na303_threshold_is_strict_and_configurable(tmp_path: Path) -> None:
    """1001 px, 1000 of class 0 and 1 of class 1: a ratio of exactly 1000 is not > 1000."""
    root = tmp_path / "d"
    m = np.zeros((13, 77), dtype=np.uint8)  # 1001 px
    m[6, 40] = 1
    put(root, "train", "a", natural_image(1, (13, 77)), m)
    ratio = np.count_nonzero(m == 0) / np.count_nonzero(m == 1)
    assert ratio == 1000
    assert hits(scan(root), "NA303") == []
    found = hits(scan(root, checks={"NA303": {"max_ratio": 999.5}}), "NA303")
    assert len(found) == 1 and found[0].data.to_json()["ratio"] == pytest.approx(ratio)


def test_na303_quiet_at_modest_ratio(tmp_path: Path) -> None:
    root = two_splits(tmp_path / "d")
    for split in ("train", "val"):
        ms = masks_of(root, split)
        counts = [class_pixels(ms, k) for k in range(3)]
        assert max(counts) / min(counts) < 1000
    assert hits(scan(root, num_classes=3), "NA303") == []


# --------------------------------------------------------------------------- NA304


def test_na304_class_in_val_absent_from_train_warns(tmp_path: Path) -> None:
    root = tmp_path / "d"
    make_pairs(root, 4, split="train", classes=2)
    make_pairs(root, 4, split="val", classes=3)
    n_val = class_pixels(masks_of(root, "val"), 2)
    assert n_val > 0 and class_pixels(masks_of(root, "train"), 2) == 0
    found = hits(scan(root), "NA304")
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.WARNING
    assert f.split == "val" and f.path == "."
    assert f.data.to_json() == {"class": 2, "pixels": n_val}


def test_na304_class_of_train_absent_from_val_is_info(tmp_path: Path) -> None:
    root = tmp_path / "d"
    make_pairs(root, 4, split="train", classes=3)
    make_pairs(root, 4, split="val", classes=2)
    n_train = class_pixels(masks_of(root, "train"), 2)
    found = hits(scan(root), "NA304")
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.INFO
    assert f.split == "val"
    assert f.data.to_json() == {"class": 2, "train_pixels": n_train}
    assert "NaN" in f.message


def test_na304_info_only_for_validation(tmp_path: Path) -> None:
    """A labeled test split without a class of train gets no info (val does)."""
    root = tmp_path / "d"
    make_pairs(root, 4, split="train", classes=3)
    make_pairs(root, 4, split="val", classes=2)
    make_pairs(root, 4, split="test", classes=2)
    found = hits(scan(root), "NA304")
    assert [(f.split, f.severity, f.data.to_json()["class"]) for f in found] == [
        ("val", Severity.INFO, 2)
    ]


def test_na304_quiet_when_splits_share_classes(tmp_path: Path) -> None:
    assert hits(scan(two_splits(tmp_path / "d"), num_classes=3), "NA304") == []


# --------------------------------------------------------------------------- unlabeled splits


def _with_odd_test_split(root: Path, write_masks: bool) -> None:
    """train/val clean (classes 0..2); a test split whose masks (when written) hold a
    class 3 on one pixel of 3 × 256² (0.0005%): rare, imbalanced and absent from train,
    were the split labeled."""
    two_splits(root)
    for i in range(3):
        m = np.zeros((256, 256), dtype=np.uint8)
        if i == 0:
            m[100, 100] = 3
        put(root, "test", f"t{i}", natural_image(9000 + i, (256, 256)), m if write_masks else None)


@pytest.mark.parametrize("declared", [True, False])
def test_unlabeled_split_gets_no_label_findings(tmp_path: Path, declared: bool) -> None:
    root = tmp_path / "d"
    _with_odd_test_split(root, write_masks=declared)
    options: dict[str, Any] = {"num_classes": 4}
    if declared:
        options["unlabeled_splits"] = ["test"]
    report = scan(root, **options)
    test = split_of(report, "test")
    assert not test.labeled
    assert [f for f in report.findings if f.check in LABEL_CHECKS and f.split == "test"] == []
    # NA301 is about train only: class 3 is missing there whatever test holds
    assert [f.data.to_json()["class"] for f in hits(report, "NA301")] == [3]
    assert "present in" not in hits(report, "NA301")[0].message


def test_labeled_test_split_does_get_label_findings(tmp_path: Path) -> None:
    """Control for the test above: the same masks, labeled, earn NA302–NA304 findings."""
    root = tmp_path / "d"
    _with_odd_test_split(root, write_masks=True)
    report = scan(root, num_classes=4)
    on_test = {f.check for f in report.findings if f.check in LABEL_CHECKS and f.split == "test"}
    assert on_test == {"NA302", "NA303", "NA304"}


# --------------------------------------------------------------------------- NA305 / NA306


@pytest.mark.parametrize("ext", [".bmp", ".tif"])
def test_na305_lossless_reencode_within_split(tmp_path: Path, ext: str) -> None:
    root = two_splits(tmp_path / "d", n=4)
    pic = natural_image(4242)
    put(root, "train", "dup_a", pic, clean_mask(1), ".png")
    put(root, "train", "dup_b", pic, clean_mask(2), ext)
    assert np.array_equal(np.asarray(Image.open(root / "images" / "train" / f"dup_b{ext}")), pic)
    report = scan(root, num_classes=3)
    found = hits(report, "NA305")
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.WARNING
    assert f.split == "train"
    assert sorted(f.data.to_json()["files"]) == [
        "images/train/dup_a.png",
        f"images/train/dup_b{ext}",
    ]
    assert "2 identical images" in f.message
    assert hits(report, "NA306") == []
    assert hits(report, "NA307") == []  # exact copies are NA305's


def test_na305_byte_identical_copy(tmp_path: Path) -> None:
    root = two_splits(tmp_path / "d", n=4)
    src = root / "images" / "train" / "img_001.png"
    (root / "images" / "train" / "copy.png").write_bytes(src.read_bytes())
    save(root / "masks" / "train" / "copy.png", clean_mask(1))
    found = hits(scan(root, num_classes=3), "NA305")
    assert len(found) == 1
    assert sorted(found[0].data.to_json()["files"]) == [
        "images/train/copy.png",
        "images/train/img_001.png",
    ]


def test_na305_palette_png_and_rgb_png_of_same_colours(tmp_path: Path) -> None:
    """Loaders see a palette image through its colours: the same colours as RGB match."""
    root = two_splits(tmp_path / "d", n=4)
    pal = Image.fromarray(natural_image(4343)).quantize(64)
    put(root, "train", "pal", pal, clean_mask(1))
    put(root, "train", "rgb", np.asarray(pal.convert("RGB")), clean_mask(2))
    found = hits(scan(root, num_classes=3), "NA305")
    assert [sorted(f.data.to_json()["files"]) for f in found] == [
        ["images/train/pal.png", "images/train/rgb.png"]
    ]


def test_na305_same_size_different_pixels_quiet(tmp_path: Path) -> None:
    root = two_splits(tmp_path / "d", n=4)
    pic = natural_image(4242)
    other = pic.copy()
    other[0, 0, 0] ^= 1  # one bit of one pixel
    put(root, "train", "a", pic, clean_mask(1))
    put(root, "train", "b", other, clean_mask(2))
    report = scan(root, num_classes=3)
    assert hits(report, "NA305") == []
    assert hits(report, "NA306") == []


def test_na305_na306_quiet_on_clean_dataset(tmp_path: Path) -> None:
    report = scan(two_splits(tmp_path / "d"), num_classes=3)
    assert hits(report, "NA305") == [] and hits(report, "NA306") == []


def test_na306_split_leakage(tmp_path: Path) -> None:
    root = two_splits(tmp_path / "d", n=4)
    pic = natural_image(777)
    put(root, "train", "leak", pic, clean_mask(1), ".png")
    put(root, "val", "leak_copy", pic, clean_mask(1), ".bmp")
    report = scan(root, num_classes=3)
    found = hits(report, "NA306")
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.ERROR
    assert sorted(f.data.to_json()["files"]) == [
        "images/train/leak.png",
        "images/val/leak_copy.bmp",
    ]
    assert f.data.to_json()["splits"] == ["train", "val"]
    assert "train" in f.message and "val" in f.message
    assert hits(report, "NA305") == []  # a cross-split pair is not also a duplicate
    assert hits(report, "NA307") == []
    assert report.exit_code == 1


def test_na306_png_and_npy_with_identical_pixels(tmp_path: Path) -> None:
    """The content hash is the same whichever decoder (Pillow or numpy) read the pixels."""
    root = two_splits(tmp_path / "d", n=4)
    pic = natural_image(779)
    put(root, "train", "leak", pic, clean_mask(1))
    put(root, "val", "leak", pic, clean_mask(1), ".npy")
    assert np.array_equal(np.load(root / "images" / "val" / "leak.npy"), pic)
    report = scan(root, num_classes=3)
    assert [sorted(f.data.to_json()["files"]) for f in hits(report, "NA306")] == [
        ["images/train/leak.png", "images/val/leak.npy"]
    ]


def test_na306_and_na305_together(tmp_path: Path) -> None:
    """Two copies in train and one in val: one NA305 (the train pair), one NA306 (all three)."""
    root = two_splits(tmp_path / "d", n=4)
    pic = natural_image(778)
    put(root, "train", "x1", pic, clean_mask(1))
    put(root, "train", "x2", pic, clean_mask(1), ".tif")
    put(root, "val", "x3", pic, clean_mask(1))
    report = scan(root, num_classes=3)
    dup = hits(report, "NA305")
    assert len(dup) == 1
    assert sorted(dup[0].data.to_json()["files"]) == ["images/train/x1.png", "images/train/x2.tif"]
    leak = hits(report, "NA306")
    assert len(leak) == 1
    assert sorted(leak[0].data.to_json()["files"]) == [
        "images/train/x1.png",
        "images/train/x2.tif",
        "images/val/x3.png",
    ]


def _collisions(root: Path) -> dict[str, np.ndarray]:
    """Crafted fingerprint collisions: ``perm`` and ``flip`` are permutations of ``pic``'s
    pixels (the same size, dtype, histograms and moments, different pixels), with a true
    copy of ``pic`` in train (BMP) and in val (lossless WebP)."""
    pic = natural_image(880, (48, 40))
    flat = pic.reshape(-1, 3)
    pictures = {
        "pic": pic,
        "perm": flat[np.random.default_rng(1).permutation(len(flat))].reshape(pic.shape),
        "flip": pic[::-1].copy(),
    }
    for name, a in pictures.items():
        put(root, "train", name, a, clean_mask(1, size=(48, 40)))
    put(root, "train", "copy", pic, clean_mask(1, size=(48, 40)), ".bmp")
    put(root, "val", "leak", pic, clean_mask(1, size=(48, 40)), ".webp", lossless=True)
    return pictures


def test_fingerprint_collisions_are_confirmed_by_a_second_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the images whose fingerprints collide are read twice, for a hash of their
    content: copies are found, permutations of the same pixels are not merged, and a
    cached re-run reads nothing."""
    import nanaudit.decode as decode

    root = two_splits(tmp_path / "d", n=3)
    pictures = _collisions(root)
    for name in ("perm", "flip"):
        assert not np.array_equal(pictures[name], pictures["pic"])
        assert sorted(pictures[name].reshape(-1)) == sorted(pictures["pic"].reshape(-1))
    reads: list[str] = []
    real = decode.read

    def counting(path: Path, limits: Any, *kind: Any) -> Any:
        reads.append(f"{path.parent.parent.name}/{path.parent.name}/{path.name}")
        return real(path, limits, *kind)

    monkeypatch.setattr(decode, "read", counting)
    cache = tmp_path / "cache"
    report = scan(root, num_classes=3, cache_dir=cache)
    files = sum(s.images + s.masks for s in report.splits)
    twice = sorted({r for r in reads if reads.count(r) == 2})
    assert len(reads) == files + 5
    assert twice == [
        "images/train/copy.bmp",
        "images/train/flip.png",
        "images/train/perm.png",
        "images/train/pic.png",
        "images/val/leak.webp",
    ]
    assert [sorted(f.data.to_json()["files"]) for f in hits(report, "NA305")] == [
        ["images/train/copy.bmp", "images/train/pic.png"]
    ]
    assert [sorted(f.data.to_json()["files"]) for f in hits(report, "NA306")] == [
        ["images/train/copy.bmp", "images/train/pic.png", "images/val/leak.webp"]
    ]
    reads.clear()
    again = scan(root, num_classes=3, cache_dir=cache)
    assert reads == [], "the candidates' content hashes come from the cache"
    assert again.findings == report.findings
    assert json_doc(again) == json_doc(report)


def test_duplicates_found_alike_in_the_pool_and_with_the_cache(tmp_path: Path) -> None:
    """With the first reads in the worker pool (58 files: the pool starts) and the few
    second reads where run_tasks puts them, and with records from the cache, the JSON
    documents of --jobs 1, --jobs 2 and a cached run are equal, before and after copies
    are removed (a cached content hash is never reported)."""
    root = two_splits(tmp_path / "d", n=12)
    _collisions(root)
    base = ["scan", str(root), "--format", "json", "-C", "3", "--no-progress"]
    cache = ["--cache-dir", str(tmp_path / "cache")]

    def run(*extra: str) -> str:
        result = CliRunner().invoke(cli, [*base, *extra])
        assert result.exit_code == 1, result.output
        return result.stdout

    one, two = run("--jobs", "1", "--no-cache"), run("--jobs", "2", *cache)
    assert one == two == run("--jobs", "2", *cache)
    doc = json.loads(one)
    assert len(hits_of(doc, "NA305")) == 1 and len(hits_of(doc, "NA306")) == 1
    # pic.png alone now: its cached record's content hash is not carried into the report
    for split, name in (("train", "copy"), ("train", "perm"), ("train", "flip"), ("val", "leak")):
        for path in (root / "images" / split).glob(f"{name}.*"):
            path.unlink()
        (root / "masks" / split / f"{name}.png").unlink()
    cached = CliRunner().invoke(cli, [*base, "--jobs", "2", *cache]).stdout
    assert cached == CliRunner().invoke(cli, [*base, "--jobs", "1", "--no-cache"]).stdout
    assert not hits_of(json.loads(cached), "NA305") and '"content_hash"' not in cached


def hits_of(doc: dict[str, Any], check_id: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["check"] == check_id]


# --------------------------------------------------------------------------- NA307


def _put_variant(root: Path, split: str, pic: np.ndarray, kind: str) -> str:
    """A near copy of pic as images/<split>/near.*: a JPEG re-encode at quality 70, or
    a 64 → 60 px resize (with a mask of its size). Returns the display path."""
    im = Image.fromarray(pic)
    if kind == "jpeg":
        put(root, split, "near", im, clean_mask(1), ".jpg", quality=70)
        path = root / "images" / split / "near.jpg"
    else:
        put(
            root,
            split,
            "near",
            im.resize((60, 60), Image.Resampling.LANCZOS),
            clean_mask(1, (60, 60)),
        )
        path = root / "images" / split / "near.png"
    near = np.asarray(Image.open(path))
    assert near.shape != pic.shape or not np.array_equal(near, pic)  # not an exact copy
    return path.relative_to(root).as_posix()


@pytest.mark.parametrize("kind", ["jpeg", "resize"])
def test_na307_near_duplicate_across_splits(tmp_path: Path, kind: str) -> None:
    root = two_splits(tmp_path / "d", n=4)
    pic = natural_image(31337)
    put(root, "train", "orig", pic, clean_mask(1))
    near = _put_variant(root, "val", pic, kind)
    report = scan(root, num_classes=3)
    found = hits(report, "NA307")
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.WARNING
    assert f.split is None
    assert sorted(f.data.to_json()["files"]) == ["images/train/orig.png", near]
    assert f.data.to_json()["splits"] == ["train", "val"]
    assert hits(report, "NA306") == []


@pytest.mark.parametrize("kind", ["jpeg", "resize"])
def test_na307_near_duplicate_within_split_is_info(tmp_path: Path, kind: str) -> None:
    root = two_splits(tmp_path / "d", n=4)
    pic = natural_image(31337)
    put(root, "train", "orig", pic, clean_mask(1))
    near = _put_variant(root, "train", pic, kind)
    found = hits(scan(root, num_classes=3), "NA307")
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.INFO
    assert f.split == "train"
    assert sorted(f.data.to_json()["files"]) == [near, "images/train/orig.png"]


def test_na307_quiet_on_distinct_pictures(tmp_path: Path) -> None:
    report = scan(two_splits(tmp_path / "d", n=8), num_classes=3)
    assert hits(report, "NA307") == []


def _phash_of(path: Path) -> int:
    from nanaudit.decode.reduce import reduce_image

    return reduce_image(Image.open(path)).phash


def test_na307_ct_slices_of_different_patients_are_not_near_duplicates(tmp_path: Path) -> None:
    """One layout (body, lungs, heart, spine), different patients: their hashes collide,
    their details do not, and nothing is reported (issue 24: retina photographs)."""
    root = miniatures.same_layout(tmp_path / "ct", "CT slices", n=16)
    files = sorted(root.glob("images/*/*.png"))
    assert group_near_duplicates([_phash_of(p) for p in files], 5)  # the hash alone: a leak
    report = scan(root, num_classes=2)
    assert hits(report, "NA307") == []


def test_na307_fundus_photographs_are_not_near_duplicates_even_at_a_loose_hash_distance(
    tmp_path: Path,
) -> None:
    root = miniatures.same_layout(tmp_path / "eyes", "fundus photographs", n=8)
    files = sorted(root.glob("images/*/*.png"))
    assert group_near_duplicates([_phash_of(p) for p in files], 16)
    report = scan(root, num_classes=2, checks={"NA307": {"max_distance": 16}})
    assert hits(report, "NA307") == []


@pytest.mark.parametrize("copy", ["jpeg", "resize", "crop"])
def test_na307_a_copy_of_one_slice_is_still_found_among_its_look_alikes(
    tmp_path: Path, copy: str
) -> None:
    root = miniatures.same_layout(tmp_path / "ct", "CT slices", n=6)
    im = Image.open(root / "images" / "train" / "01.png")
    w, h = im.size
    out = root / "images" / "val" / "copy.png"
    if copy == "jpeg":
        out = out.with_suffix(".jpg")
        im.save(out, quality=60)
    elif copy == "resize":
        im.resize((w * 3 // 4, h * 3 // 4), Image.Resampling.LANCZOS).save(out)
    else:
        im.crop((2, 2, w - 2, h - 2)).save(out)
    mask = np.asarray(Image.open(out).convert("L")) > 128
    Image.fromarray(mask.astype(np.uint8)).save(root / "masks" / "val" / "copy.png")
    (hit,) = hits(scan(root, num_classes=2), "NA307")
    assert sorted(hit.data.to_json()["files"]) == [
        "images/train/01.png",
        out.relative_to(root).as_posix(),
    ]
    assert hit.severity == Severity.WARNING


def test_na307_skips_exact_copies(tmp_path: Path) -> None:
    root = two_splits(tmp_path / "d", n=4)
    pic = natural_image(99)
    put(root, "train", "a", pic, clean_mask(1))
    put(root, "val", "b", pic, clean_mask(1), ".bmp")
    put(root, "train", "c", pic, clean_mask(1), ".tif")
    report = scan(root, num_classes=3)
    assert hits(report, "NA307") == []
    assert len(hits(report, "NA306")) == 1
    assert len(hits(report, "NA305")) == 1


# --------------------------------------------------------------------------- NA308


def _batch_dataset(root: Path, train: int = 5) -> Path:
    make_pairs(root, train, split="train")
    make_pairs(root, 3, split="val")
    return root


def test_na308_batch_remainder_fires(tmp_path: Path) -> None:
    report = scan(_batch_dataset(tmp_path / "d"), num_classes=3, batch_size=4)
    found = hits(report, "NA308")
    assert len(found) == 1
    f = found[0]
    assert f.severity == Severity.ERROR
    assert f.data.to_json() == {"samples": 5, "batch_size": 4}
    assert f.split == "train" and f.path == "."
    assert report.exit_code == 1


@pytest.mark.parametrize(
    "options", [{"batch_size": 4, "drop_last": True}, {"batch_size": 5}, {"batch_size": 3}, {}]
)
def test_na308_quiet(tmp_path: Path, options: dict[str, Any]) -> None:
    report = scan(_batch_dataset(tmp_path / "d"), num_classes=3, **options)
    assert hits(report, "NA308") == []
    assert report.exit_code == 0


def test_na308_counts_training_samples_only(tmp_path: Path) -> None:
    """9 training pairs (9 % 4 == 1) fire; 3 val pairs do not change the count."""
    report = scan(_batch_dataset(tmp_path / "d", train=9), num_classes=3, batch_size=4)
    assert [f.data.to_json()["samples"] for f in hits(report, "NA308")] == [9]


def test_na301_na308_on_a_layout_without_splits(tmp_path: Path) -> None:
    """images/ + masks/ without split folders: the one split is the training split."""
    root = make_pairs(tmp_path / "d", 5)
    report = scan(root, num_classes=4, batch_size=4)
    assert [(f.split, f.data.to_json()["class"]) for f in hits(report, "NA301")] == [("all", 3)]
    assert [(f.split, f.data.to_json()["samples"]) for f in hits(report, "NA308")] == [("all", 5)]


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout


def test_na308_through_cli(tmp_path: Path) -> None:
    root = str(_batch_dataset(tmp_path / "d"))
    code, out = _cli(
        "scan", root, "-C", "3", "--no-progress", "--batch-size", "4", "--format", "json"
    )
    assert code == 1, out
    doc = validate_report_json(out)
    assert [f["check"] for f in doc["findings"] if f["severity"] == "error"] == ["NA308"]
    code, out = _cli("scan", root, "-C", "3", "--no-progress", "--batch-size", "4", "--drop-last")
    assert code == 0, out
    assert "NA308" not in out
    code, out = _cli("scan", root, "-C", "3", "--no-progress", "--batch-size", "5")
    assert code == 0, out


# --------------------------------------------------------------------------- summary


def _random_rgb(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_no_normalize_constants_from_images_without_a_finite_value() -> None:
    """A majority of all-NaN images: no "Normalize(mean=[0.0], std=[nan])" to paste."""
    from nanaudit.aggregate import ASSUMED_SCALE
    from nanaudit.report import ImageGroup
    from nanaudit.stats import ChannelStats
    from nanaudit.training import normalize_constants

    nan_only = ChannelStats(0, 0.0, 0.0, math.inf, -math.inf, nan=1024)
    finite = ChannelStats(4, 2.0, 8.0, 0.0, 4.0)
    scales = {"float32": ASSUMED_SCALE}
    assert normalize_constants([ImageGroup("gray", "float32", 3, (nan_only,))], scales) is None
    norm = normalize_constants([ImageGroup("gray", "float32", 3, (finite,))], scales)
    assert norm is not None and norm.mean == (2.0,) and norm.std == (math.sqrt(2.0),)


def test_float_ct_volumes_get_normalize_constants_normalised_samples_none() -> None:
    """Centred already means normalised (within a few std of 0), not any float image with
    negative and positive values: a float32 CT volume spans -1000..+1000 HU."""
    from nanaudit.aggregate import ASSUMED_SCALE
    from nanaudit.report import ImageGroup
    from nanaudit.stats import ChannelStats
    from nanaudit.training import normalize_constants

    scales = {"float32": ASSUMED_SCALE}
    hu = ChannelStats(4, -300.0, 9e5, -1000.0, 1200.0)
    normalised = ChannelStats(4, 0.1, 4.0, -2.1, 2.6)
    assert normalize_constants([ImageGroup("gray", "float32", 3, (hu,))], scales) is not None
    assert normalize_constants([ImageGroup("gray", "float32", 3, (normalised,))], scales) is None


def test_a_split_of_all_nan_images_reports_no_mean_and_no_normalize(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 2)
    for i in range(2):
        put(root, "test", f"n{i}", np.full((16, 16), np.nan, np.float32), None, ".tif")
    code, out = _cli("scan", str(root), "--no-progress", "--no-color", "-C", "2")
    assert code == 1
    rows = out[out.index("test: image pixels") :].splitlines()
    row = next(r.split() for r in rows if r.strip().startswith("gray"))
    assert row[:8] == ["gray", "float32", "2", "0", "-", "-", "-", "-"]  # mean of no value
    assert "std=(nan)" not in out and "nan" not in out[out.index("test: summary") :]


def test_summary_normalize_matches_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(12345)
    root = tmp_path / "d"
    sizes = [(40, 50), (64, 64), (33, 71), (128, 96)]
    arrays = []
    for i, (h, w) in enumerate(sizes):
        a = _random_rgb(rng, h, w)
        arrays.append(a)
        put(root, "train", f"r{i}", a, clean_mask(i, (h, w)))
    make_pairs(root, 2, split="val")  # other pictures: must not enter train's constants
    report = scan(root, num_classes=3)
    flat = np.concatenate([a.reshape(-1, 3) for a in arrays]).astype(np.float64)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    norm = split_of(report, "train").training.normalize
    assert norm is not None
    assert norm.images == len(arrays)
    np.testing.assert_allclose(norm.mean, mean, rtol=1e-6)
    np.testing.assert_allclose(norm.std, std, rtol=1e-6)
    np.testing.assert_allclose(norm.mean_scaled, mean / 255, rtol=1e-6)
    np.testing.assert_allclose(norm.std_scaled, std / 255, rtol=1e-6)
    js = json_doc(report)["splits"]["train"]["summary"]["normalize"]
    np.testing.assert_allclose(js["mean"], mean, rtol=1e-6)
    np.testing.assert_allclose(js["std"], std, rtol=1e-6)
    np.testing.assert_allclose(js["mean_scaled"], mean / 255, rtol=1e-6)
    np.testing.assert_allclose(js["std_scaled"], std / 255, rtol=1e-6)
    assert js["full_scale"]["span"] == 255
    summary = split_of(report, "train").training
    assert summary.image_min == float(flat.min()) and summary.image_max == float(flat.max())
    assert dict(summary.sizes) == {f"{h}x{w}": 1 for h, w in sizes}  # as --crop-size


def _summary_masks() -> list[np.ndarray]:
    """Masks with known content: ignore regions, a class in only some masks, class 3 absent."""
    a = np.zeros((100, 100), dtype=np.uint8)
    a[:30] = 255  # 30% ignore → valid fraction 0.7
    a[30:60, :50] = 1
    b = np.zeros((100, 100), dtype=np.uint8)
    b[:, :10] = 2
    b[50:, 50:] = 1
    c = np.zeros((80, 60), dtype=np.uint8)
    c[:5, :5] = 2
    c[70:, :] = 255
    d = np.full((64, 64), 1, dtype=np.uint8)
    d[:8] = 0
    return [a, b, c, d]


def _expected_weights(masks: list[np.ndarray], classes: int, ignore: int = 255) -> dict[int, float]:
    """Median-frequency balancing by hand: freq_c = pixels_c / valid pixels of the masks
    containing c; w_c = median(freq) / freq_c; 0 for a class without pixels."""
    freq: dict[int, float] = {}
    for k in range(classes):
        pix = sum(int(np.count_nonzero(m == k)) for m in masks)
        present = sum(int(np.count_nonzero(m != ignore)) for m in masks if np.any(m == k))
        if pix:
            freq[k] = pix / present
    med = float(np.median(list(freq.values())))
    return {k: med / freq[k] if k in freq else 0.0 for k in range(classes)}


def _summary_dataset(root: Path) -> list[np.ndarray]:
    masks = _summary_masks()
    for i, m in enumerate(masks):
        put(root, "train", f"s{i}", natural_image(i, m.shape), m)
    make_pairs(root, 3, split="val", classes=4)
    return masks


def test_summary_label_statistics(tmp_path: Path) -> None:
    root = tmp_path / "d"
    masks = _summary_dataset(root)
    report = scan(root, num_classes=4)
    t = split_of(report, "train").training
    assert t.classes == (0, 1, 2, 3)
    expected_ipc = {k: sum(1 for m in masks if np.any(m == k)) for k in range(4)}
    assert dict(t.images_per_class) == expected_ipc == {0: 4, 1: 3, 2: 2, 3: 0}

    fractions = sorted(float(np.count_nonzero(m != 255)) / m.size for m in masks)
    vf = t.valid_fraction
    assert vf is not None
    assert vf.masks == len(masks)
    assert vf.min == pytest.approx(0.7) == pytest.approx(fractions[0])
    assert vf.max == pytest.approx(1.0)
    assert vf.mean == pytest.approx(sum(fractions) / len(fractions))
    assert vf.empty == 0

    js = json_doc(report)["splits"]["train"]["summary"]
    assert js["images_per_class"] == {str(k): v for k, v in expected_ipc.items()}
    assert js["valid_fraction"]["min"] == pytest.approx(0.7)
    assert js["valid_fraction"]["masks"] == len(masks)


def test_summary_class_weights_median_frequency(tmp_path: Path) -> None:
    root = tmp_path / "d"
    masks = _summary_dataset(root)
    report = scan(root, num_classes=4)
    t = split_of(report, "train").training
    expected = _expected_weights(masks, 4)
    got = dict(t.class_weights)
    assert set(got) == {0, 1, 2, 3}
    for k in range(4):
        assert got[k] == pytest.approx(expected[k], rel=1e-12), k
    assert got[3] == 0.0
    assert t.zero_weight_classes == (3,)
    assert all(math.isfinite(w) for w in got.values())
    js = json_doc(report)["splits"]["train"]["summary"]
    assert js["zero_weight_classes"] == [3]
    assert set(js["class_weights"]) == {"0", "1", "2", "3"}
    for k, w in js["class_weights"].items():
        assert isinstance(w, float) and math.isfinite(w)
        assert w == pytest.approx(expected[int(k)], rel=1e-12)
    # the median class gets weight 1 when the count of classes with pixels is odd (3 here)
    assert sorted(w for w in got.values() if w)[1] == pytest.approx(1.0)


def test_summary_weights_without_num_classes(tmp_path: Path) -> None:
    """Without C the weights cover the labels that occur, none zero, all finite."""
    root = tmp_path / "d"
    masks = _summary_dataset(root)
    t = split_of(scan(root), "train").training
    assert t.classes == (0, 1, 2)
    expected = _expected_weights(masks, 3)
    got = dict(t.class_weights)
    assert got == pytest.approx(expected, rel=1e-12)
    assert t.zero_weight_classes == ()
    assert all(math.isfinite(w) and w > 0 for w in got.values())


def test_summary_weights_never_inf_or_nan(tmp_path: Path) -> None:
    """Extremes: a class on one pixel, a mask entirely ignore, C larger than the labels."""
    root = tmp_path / "d"
    a = np.zeros((64, 64), dtype=np.uint8)
    a[0, 0] = 1
    b = np.full((64, 64), 255, dtype=np.uint8)
    put(root, "train", "a", natural_image(1), a)
    put(root, "train", "b", natural_image(2), b)
    report = scan(root, num_classes=6)
    t = split_of(report, "train").training
    weights = dict(t.class_weights)
    assert set(weights) == set(range(6))
    assert all(math.isfinite(w) for w in weights.values())
    assert t.zero_weight_classes == (2, 3, 4, 5)
    assert weights == pytest.approx(_expected_weights([a, b], 6), rel=1e-12)
    vf = t.valid_fraction
    assert vf is not None and vf.min == 0.0 and vf.empty == 1
    text = render(report, Format.JSON)
    doc = json.loads(text)  # allow_nan=False in the renderer: no NaN/Infinity tokens
    for w in doc["splits"]["train"]["summary"]["class_weights"].values():
        assert math.isfinite(w)


def test_summary_unlabeled_split_has_no_label_stats(tmp_path: Path) -> None:
    root = tmp_path / "d"
    _with_odd_test_split(root, write_masks=True)
    t = split_of(scan(root, num_classes=4, unlabeled_splits=["test"]), "test").training
    assert t.class_weights == ()
    assert t.valid_fraction is None
    assert all(n == 0 for _, n in t.images_per_class)


# --------------------------------------------------------------------------- neardup grouping


def _random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, np.iinfo(np.uint64).max, size=n, dtype=np.uint64, endpoint=True)


def _brute_force_groups(hashes: np.ndarray, d: int) -> list[list[int]]:
    n = len(hashes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    vals = [int(h) for h in hashes]
    for i in range(n):
        for j in range(i + 1, n):
            if (vals[i] ^ vals[j]).bit_count() <= d:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def _flip(rng: np.random.Generator, h: int, bits: int) -> int:
    for b in rng.choice(64, size=bits, replace=False).tolist():
        h ^= 1 << b
    return h


def test_group_near_duplicates_random_hashes_have_no_groups() -> None:
    hashes = _random_hashes(np.random.default_rng(20240611), 100_000)
    assert len(np.unique(hashes)) == hashes.size
    assert group_near_duplicates(hashes, 3) == []


def test_group_near_duplicates_finds_planted_pairs_in_bulk() -> None:
    rng = np.random.default_rng(7)
    hashes = _random_hashes(rng, 100_000)
    planted = {10: 99_990, 500: 70_000, 42_000: 3}
    for src, dst in planted.items():
        hashes[dst] = np.uint64(_flip(rng, int(hashes[src]), 3))
    groups = group_near_duplicates(hashes, 3)
    assert groups == sorted((sorted(p) for p in planted.items()), key=lambda g: g[0])


@pytest.mark.parametrize("max_distance", [0, 1, 3, 5])
def test_group_near_duplicates_matches_brute_force(max_distance: int) -> None:
    rng = np.random.default_rng(1000 + max_distance)
    values = [int(h) for h in _random_hashes(rng, 200)]
    # near copies at distances 1..6 of some of them, exact copies, and a chain
    for i in range(0, 60, 3):
        values.append(_flip(rng, values[i], 1 + i % 6))
    values += [values[5], values[5], values[7]]
    chain = values[11]
    for _ in range(4):
        chain = _flip(rng, chain, 3)
        values.append(chain)
    # a long run: 50 hashes sharing their low 16 bits (one band of every split for d = 3),
    # some of them near each other
    low = values[0] & 0xFFFF
    shared = [(int(h) & ~0xFFFF) | low for h in _random_hashes(rng, 50)]
    shared += [_flip(rng, shared[j], 2) & ~0xFFFF | low for j in range(0, 50, 5)]
    values += shared
    order = rng.permutation(len(values))
    hashes = np.array([values[i] for i in order], dtype=np.uint64)
    expected = _brute_force_groups(hashes, max_distance)
    assert expected, "the planted duplicates must form groups"
    assert group_near_duplicates(hashes, max_distance) == expected
    # the same answer from a list of Python ints
    assert group_near_duplicates([int(h) for h in hashes], max_distance) == expected


def _band_edges(max_distance: int) -> list[int]:
    """d + 1 bands of nearly equal width over the 64 bits."""
    bands = max_distance + 1
    return [round(64 * b / bands) for b in range(bands + 1)]


@pytest.mark.parametrize("max_distance", [1, 3, 5])
@pytest.mark.parametrize("run_length", [2, 31, 32, 33, 80])
def test_group_near_duplicates_pairs_sharing_a_single_band(
    max_distance: int, run_length: int
) -> None:
    """Adversarial pairs: at distance exactly d, one flipped bit in every band but one, so
    only that band can bring them together; that band's value is shared by run_length
    hashes (short runs compared by offset, long ones one by one)."""
    rng = np.random.default_rng(run_length * 10 + max_distance)
    edges = _band_edges(max_distance)
    values: list[int] = []
    for keep in range(max_distance + 1):
        lo, hi = edges[keep], edges[keep + 1]
        band_mask = ((1 << (hi - lo)) - 1) << lo
        shared = int(_random_hashes(rng, 1)[0]) & band_mask
        run = [(int(h) & ~band_mask) | shared for h in _random_hashes(rng, run_length)]
        partner = run[-1]
        for b in range(max_distance + 1):
            if b != keep:
                partner ^= 1 << int(rng.integers(edges[b], edges[b + 1]))
        assert (partner ^ run[-1]).bit_count() == max_distance
        values += [*run, partner]
    hashes = np.array([values[i] for i in rng.permutation(len(values))], dtype=np.uint64)
    expected = _brute_force_groups(hashes, max_distance)
    assert len(expected) >= max_distance + 1
    assert group_near_duplicates(hashes, max_distance) == expected


def test_group_near_duplicates_small_inputs() -> None:
    assert group_near_duplicates([], 3) == []
    assert group_near_duplicates([5], 3) == []
    assert group_near_duplicates([5, 5], 0) == [[0, 1]]
    assert group_near_duplicates([0, 0b1111], 3) == []
    assert group_near_duplicates([0, 0b111], 3) == [[0, 1]]
    top = 1 << 63
    assert group_near_duplicates([top, top | 1, 2**64 - 1], 1) == [[0, 1]]
