"""Checks and statistics on records, without files: each test runs in milliseconds.

End-to-end scans (the other test modules) keep what crosses stages: discovery, decoding,
the cache, the command line and the formats.
"""

from __future__ import annotations

import io
from pathlib import Path

import miniatures as microscopy
import numpy as np
import pytest
from conftest import check_hits, clean_mask, natural_image, pair_of, record_of_array
from PIL import Image

from nanaudit.aggregate import full_scales, split_stats
from nanaudit.kinds import ConfigError, Where
from nanaudit.layouts.survey import suggest_pair_key, unaudited_folders
from nanaudit.options import LabelMap
from nanaudit.plan import usage_warnings
from nanaudit.records import Pair, content_fingerprint
from nanaudit.rules import LabelRules, TrainingRules
from nanaudit.training import training_summary

RNG = np.random.default_rng(0)


def noise(shape: tuple[int, ...] = (16, 16, 3)) -> np.ndarray:
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def test_na101_counts_nan_in_a_float_array() -> None:
    a = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    a[0, :3] = np.nan
    (hit,) = check_hits("NA101", record_of_array(a))
    assert hit.data.to_json() == {"nan": 3, "values": 256}
    assert check_hits("NA101", record_of_array(np.nan_to_num(a))) == []


def test_na103_constant_colour_and_not_constant() -> None:
    flat = np.zeros((8, 8, 3), np.uint8) + np.array([10, 20, 30], np.uint8)
    (hit,) = check_hits("NA103", record_of_array(flat))
    assert hit.data.to_json()["value"] == [10.0, 20.0, 30.0]
    assert check_hits("NA103", record_of_array(noise())) == []


def test_na104_threshold_is_an_option_not_part_of_the_record() -> None:
    a = np.full((32, 32), 100, np.uint8)
    a[::2] = 102  # std 1.0 = 0.39% of 255
    rec = record_of_array(a)
    assert len(check_hits("NA104", rec)) == 1
    assert check_hits("NA104", rec, min_std_ratio=0.001) == []


def test_na109_compares_with_the_split_majority() -> None:
    rgb = [pair_of(noise(), None, f"rgb{i}") for i in range(3)]
    gray = pair_of(noise((16, 16)), None, "gray")
    pairs = [*rgb, gray]
    (hit,) = check_hits("NA109", gray.image, pairs=pairs)
    assert hit.data.to_json() == {"mode": "array1", "family": "gray", "majority": "RGB"}
    assert check_hits("NA109", rgb[0].image, pairs=pairs) == []


def test_na111_fences_come_from_the_split_sizes() -> None:
    pairs = [pair_of(noise((32, 32, 3)), None, f"n{i}") for i in range(6)]
    big = pair_of(noise((256, 256, 3)), None, "big")
    pairs.append(big)
    assert len(check_hits("NA111", big.image, pairs=pairs)) == 1
    assert check_hits("NA111", big.image, pairs=pairs, iqr_factor=100.0) == []


def test_na201_needs_c_for_the_range_and_not_for_negatives() -> None:
    m = np.zeros((8, 8), np.int16)
    m[0, 0], m[0, 1] = 7, -1
    rec = record_of_array(m, "mask")
    (hit,) = check_hits("NA201", rec, rules=LabelRules(num_classes=3))
    assert hit.data.to_json()["labels"] == {"-1": 1, "7": 1}
    (neg,) = check_hits("NA201", rec)
    assert neg.data.to_json()["labels"] == {"-1": 1}


def test_na202_and_na203_on_ignore_shares() -> None:
    all_ignore = record_of_array(np.full((10, 10), 255, np.uint8), "mask")
    assert len(check_hits("NA202", all_ignore)) == 1
    mostly = np.full((100, 100), 255, np.uint8)
    mostly[0, :50] = 1  # 0.5% valid
    rec = record_of_array(mostly, "mask")
    assert check_hits("NA202", rec) == []
    assert len(check_hits("NA203", rec)) == 1
    assert check_hits("NA203", rec, min_valid_fraction=0.001) == []
    assert check_hits("NA202", all_ignore, rules=LabelRules(ignore_index=None)) == []


def test_na209_boundary_labels_under_its_own_fraction() -> None:
    m = np.zeros((200, 200), np.uint8)
    m[:, 100:] = 2
    m[50, 99:101] = 1  # 2 pixels of 1 between 0 and 2: 0.005%
    rec = record_of_array(m, "mask")
    assert rec.labels is not None and 1 in rec.labels.boundary_labels
    (hit,) = check_hits("NA209", rec)
    assert hit.data.to_json() == {"labels": [1]}
    assert check_hits("NA209", rec, max_fraction=0.00001) == []  # 2 px is above 0.001%


def test_na301_class_absent_from_training_stats() -> None:
    masks = [pair_of(noise(), np.zeros((16, 16), np.uint8), f"m{i}") for i in range(2)]
    hits = check_hits("NA301", pairs=masks, rules=LabelRules(num_classes=2))
    assert [h.data.to_json()["class"] for h in hits] == [1]


def hashed(array: np.ndarray, name: str, split: str) -> Pair:
    """A pair whose image record carries its content hash, as collect.py leaves the
    records of duplicate candidates (images whose fingerprints collide)."""
    path = f"images/{split}/{name}.npy"
    return pair_of(record_of_array(array, path=path, split=split, content=True), None, name, split)


def test_na305_and_na306_from_signatures() -> None:
    same = noise()
    train = [hashed(same, "a", "train"), hashed(same, "b", "train")]
    val = [hashed(same, "c", "val"), pair_of(noise(), None, "d", "val")]
    splits = [("train", "train", train), ("val", "val", val)]
    (dup,) = check_hits("NA305", splits=splits)
    assert dup.data.to_json()["files"] == ["images/train/a.npy", "images/train/b.npy"]
    (leak,) = check_hits("NA306", splits=splits)
    assert leak.data.to_json()["splits"] == ["train", "val"]


def test_na305_never_merges_equal_fingerprints_of_different_pixels() -> None:
    """A permutation of the pixels keeps every histogram and moment: the fingerprints
    collide, the content hashes tell the images apart."""
    a = noise((32, 32, 3))
    b = a.reshape(-1, 3)[RNG.permutation(32 * 32)].reshape(a.shape)
    assert not np.array_equal(a, b)
    ra, rb = record_of_array(a, content=True), record_of_array(b, content=True)
    assert content_fingerprint(ra) == content_fingerprint(rb)
    assert ra.pixels is not None and rb.pixels is not None
    assert ra.pixels.content_hash != rb.pixels.content_hash
    pairs = [hashed(a, "a", "train"), hashed(b, "b", "train")]
    assert check_hits("NA305", pairs=pairs) == []
    # a record whose content was not hashed (a unique fingerprint) is never a duplicate
    assert check_hits("NA305", pairs=[pair_of(a, None, "a"), pair_of(a, None, "b")]) == []


def test_na308_from_the_training_rules() -> None:
    pairs = [pair_of(noise(), np.zeros((16, 16), np.uint8), f"p{i}") for i in range(5)]
    assert len(check_hits("NA308", pairs=pairs, training=TrainingRules(batch_size=4))) == 1
    assert check_hits("NA308", pairs=pairs, training=TrainingRules(4, drop_last=True)) == []
    assert check_hits("NA308", pairs=pairs) == []


# --------------------------------------------------------------------------- issue 12


def framed(seed: int, radius: float = 0.25, size: int = 96) -> np.ndarray:
    """A picture seen through a black circular frame (a field of view) covering most of it."""
    y, x = np.mgrid[0:size, 0:size]
    inside = (y - size / 2) ** 2 + (x - size / 2) ** 2 <= (radius * size) ** 2
    a = natural_image(seed, (size, size)).astype(np.float64)
    a = 120 + 0.5 * (a - a.mean())
    a[~inside] = 0
    return np.clip(a, 0, 255).astype(np.uint8)


def reencoded(a: np.ndarray, size: int | None = None, quality: int = 70) -> np.ndarray:
    im = Image.fromarray(a)
    if size is not None:
        im = im.resize((size, size), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf))


def test_na307_a_frame_shared_by_every_image_makes_no_near_duplicates() -> None:
    """9 and 12 differ inside the frame; the frame alone gave them the same hash."""
    pairs = [pair_of(framed(s), None, f"f{s}") for s in (9, 12, 3, 5)]
    assert check_hits("NA307", pairs=pairs) == []


def test_na307_re_encodes_and_resizes_of_framed_pictures_are_still_found() -> None:
    pic = framed(9, radius=0.4)
    for copy in (reencoded(pic), reencoded(pic, size=150)):
        pairs = [
            pair_of(pic, None, "orig"),
            pair_of(copy, None, "copy"),
            pair_of(framed(3), None, "o"),
        ]
        (hit,) = check_hits("NA307", pairs=pairs)
        assert sorted(hit.data.to_json()["files"]) == [
            "images/train/copy.npy",
            "images/train/orig.npy",
        ]


def nuclei(seed: int, brightness: float) -> np.ndarray:
    image, _ = microscopy.nuclei_16bit(np.random.default_rng(seed), (48, 48), brightness, 3)
    return image


def test_na104_dim_images_of_a_dark_modality_pass_a_flat_frame_with_noise_does_not() -> None:
    bright = [pair_of(nuclei(s, 30_000.0), None, f"b{s}") for s in range(5)]
    dim = pair_of(nuclei(9, 1_800.0), None, "dim")
    noise = np.random.default_rng(1).normal(100, 12, (48, 48))
    flat = pair_of(np.clip(noise, 0, None).astype(np.uint16), None, "flat")
    pairs = [*bright, dim, flat]
    assert dim.image is not None and flat.image is not None
    assert dim.image.pixels is not None and dim.image.pixels.channels[0].std < 0.005 * 65535
    assert check_hits("NA104", dim.image, pairs=pairs) == []
    (hit,) = check_hits("NA104", flat.image, pairs=pairs)
    assert "median std" in hit.message and hit.data.to_json()["typical_std"] > 1000
    # against full scale alone (min_relative_std 0), the dim image is flagged too
    assert len(check_hits("NA104", dim.image, pairs=pairs, min_relative_std=0.0)) == 1


def test_full_scale_from_the_bits_the_data_uses() -> None:
    assert full_scales([("uint16", 0.0, 4012.0)])["uint16"].span == 4095.0
    assert "12 of their 16 bits" in full_scales([("uint16", 0.0, 4012.0)])["uint16"].note
    assert full_scales([("uint16", 0.0, 1000.0)])["uint16"].span == 1023.0
    assert full_scales([("uint16", 0.0, 44_000.0)])["uint16"].span == 65535.0
    # 8-bit values saved in 16-bit files stay against 65535: a loader sees them dark
    assert full_scales([("uint16", 0.0, 230.0)])["uint16"].span == 65535.0


def test_na210_judges_instance_ids_per_split() -> None:
    def ids(count: int) -> np.ndarray:
        return np.arange(count * 4, dtype=np.uint16).reshape(-1, 4)[:, :] // 4

    pairs = [pair_of(None, ids(n), f"m{n}") for n in (40, 300, 280, 60)]
    small = pairs[0].mask
    assert small is not None and small.labels is not None and small.labels.distinct == 40
    (hit,) = check_hits("NA210", small, pairs=pairs)
    assert "the masks of split 'train' share" in hit.message
    # one corrupt mask does not make a split of instance ids
    semantic = [pair_of(None, clean_mask(i), f"s{i}") for i in range(4)]
    corrupt = pair_of(None, ids(300), "bad")
    assert check_hits("NA210", semantic[0].mask, pairs=[*semantic, corrupt]) == []
    assert len(check_hits("NA210", corrupt.mask, pairs=[*semantic, corrupt])) == 1
    # a C that admits the values: nothing
    assert check_hits("NA210", small, pairs=pairs, rules=LabelRules(num_classes=400)) == []


def test_label_map_applies_before_the_checks() -> None:
    mask = np.zeros((8, 8), np.uint8)
    mask[:4] = 255
    stored = record_of_array(mask, "mask")
    assert len(check_hits("NA208", stored)) == 1
    rules = LabelRules(num_classes=2, ignore_index=None, label_map=((255, 1),))
    mapped = rules.apply(stored)
    assert mapped.labels is not None and mapped.labels.histogram == ((0, 32), (1, 32))
    for check_id in ("NA201", "NA202", "NA208"):
        assert check_hits(check_id, mapped, rules=rules) == []
    # the map comes first; the ignore index and the offset act on what it made
    both = LabelRules(ignore_index=255, label_offset=-1, label_map=((1, 255), (7, 3)))
    assert [both.map(v) for v in (1, 7, 2, 255)] == [255, 2, 1, 255]


def test_label_map_from_flags_and_from_a_config_table() -> None:
    kind = LabelMap()
    where = Where("", "--label-map")
    assert kind.parse(["255:1", "128:0"], where) == ((128, 0), (255, 1))
    assert kind.parse({"255": 1}, Where("nanaudit.toml", "label_map")) == ((255, 1),)
    assert kind.dump(((255, 1),)) == {"255": 1}
    for bad in (["255"], ["a:1"], ["255:1", "255:2"]):
        with pytest.raises(ConfigError, match="--label-map"):
            kind.parse(bad, where)


def test_padding_settings_that_pad_nothing_are_warned() -> None:
    labels = LabelRules(num_classes=4)
    (warning,) = usage_warnings(labels, TrainingRules(pad=True, described=True))
    assert warning.startswith("--pad without --crop-size")
    (warning,) = usage_warnings(labels, TrainingRules(pad=True, pad_value=0, described=True))
    assert warning.startswith("--pad and --pad-value without --crop-size")
    (warning,) = usage_warnings(labels, TrainingRules(crop_size=(8, 8), pad_value=0))
    assert warning.startswith("--pad-value without --pad")
    assert usage_warnings(labels, TrainingRules(crop_size=(8, 8), pad=True, pad_value=0)) == ()
    assert TrainingRules(pad=True).describe() == "padding without a crop (pads nothing)"


def test_an_ignore_index_inside_the_classes_is_warned_and_not_a_missing_class() -> None:
    rules = LabelRules(num_classes=4, ignore_index=3)
    (warning,) = usage_warnings(rules)
    assert "inside the classes [0, 4)" in warning
    assert usage_warnings(LabelRules(num_classes=11, ignore_index=11)) == ()
    masks = [pair_of(noise(), clean_mask(i, (16, 16)), f"m{i}") for i in range(2)]
    assert check_hits("NA301", pairs=masks, rules=rules) == []  # 0, 1, 2 present; 3 ignored


def test_class_weights_for_training_splits_only_with_the_method_named() -> None:
    pairs = [pair_of(noise(), clean_mask(i, (16, 16)), f"m{i}") for i in range(2)]
    stats = split_stats(pairs, LabelRules(num_classes=3), True)
    train = training_summary(stats, {}, LabelRules(num_classes=3), True, training=True)
    val = training_summary(stats, {}, LabelRules(num_classes=3), True, training=False)
    assert [k for k, _ in train.class_weights] == [0, 1, 2]
    assert "Eigen & Fergus" in train.class_weights_method
    assert (val.class_weights, val.class_weights_method) == ((), "")


def test_a_pair_key_is_suggested_with_the_count_it_pairs() -> None:
    root = Path("/d")
    images = [root / "images" / f"{i:02d}_training.tif" for i in range(21, 27)]
    masks = [root / "manual" / f"{i:02d}_manual1.gif" for i in range(21, 27)]
    found = suggest_pair_key(images, root / "images", masks, root / "manual")
    assert found is not None and (found.pattern, found.pairs, found.by_name) == (r"^(\d+)", 6, 0)
    assert suggest_pair_key(images, root / "images", images, root / "images") is None


def test_unaudited_folders_stand_for_their_subtree(tmp_path: Path) -> None:
    for rel in ("images/a.png", "masks/a.png", "preds/r1/a.png", "preds/r2/a.png", "x/y.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "x" / "z.png").write_bytes(b"")
    audited = [tmp_path / "images/a.png", tmp_path / "masks/a.png", tmp_path / "x/y.png"]
    found = unaudited_folders(tmp_path, audited)
    assert [(p.relative_to(tmp_path).as_posix(), n) for p, n in found] == [("preds", 2)]


def test_same_picture_scores_a_copy_high_a_look_alike_low_and_a_damaged_detail_none() -> None:
    from miniatures import ct_slice

    from nanaudit.decode.reduce import reduce_image
    from nanaudit.neardup import same_picture

    rng = np.random.default_rng(5)
    a, b = ct_slice(rng, (160, 160)), ct_slice(rng, (160, 160))
    copy = Image.fromarray(a).resize((120, 120), Image.Resampling.LANCZOS)
    da, db = (reduce_image(Image.fromarray(x), content=True).detail for x in (a, b))
    dc = reduce_image(copy, content=True).detail
    assert (same_picture(da, dc) or 0) > 0.95
    assert (same_picture(da, db) or 1) < 0.7
    assert same_picture(da, "not base64!") is None
    assert same_picture(da, da[:100]) is None
