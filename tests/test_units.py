"""Checks and statistics on records, without files: each test runs in milliseconds.

End-to-end scans (the other test modules) keep what crosses stages: discovery, decoding,
the cache, the command line and the formats.
"""

from __future__ import annotations

import numpy as np
from conftest import check_hits, pair_of, record_of_array

from nanaudit.rules import LabelRules, TrainingRules

RNG = np.random.default_rng(0)


def noise(shape: tuple[int, ...] = (16, 16, 3)) -> np.ndarray:
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def test_na101_counts_nan_in_a_float_array() -> None:
    a = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    a[0, :3] = np.nan
    (hit,) = check_hits("NA101", record_of_array(a))
    assert hit.data == {"nan": 3, "values": 256}
    assert check_hits("NA101", record_of_array(np.nan_to_num(a))) == []


def test_na103_constant_colour_and_not_constant() -> None:
    flat = np.zeros((8, 8, 3), np.uint8) + np.array([10, 20, 30], np.uint8)
    (hit,) = check_hits("NA103", record_of_array(flat))
    assert hit.data["value"] == [10.0, 20.0, 30.0]
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
    assert hit.data == {"mode": "array1", "family": "gray", "majority": "RGB"}
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
    assert hit.data["labels"] == {"-1": 1, "7": 1}
    (neg,) = check_hits("NA201", rec)
    assert neg.data["labels"] == {"-1": 1}


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
    assert hit.data == {"labels": [1]}
    assert check_hits("NA209", rec, max_fraction=0.00001) == []  # 2 px is above 0.001%


def test_na301_class_absent_from_training_stats() -> None:
    masks = [pair_of(noise(), np.zeros((16, 16), np.uint8), f"m{i}") for i in range(2)]
    hits = check_hits("NA301", pairs=masks, rules=LabelRules(num_classes=2))
    assert [h.data["class"] for h in hits] == [1]


def test_na305_and_na306_from_signatures() -> None:
    same = noise()
    train = [pair_of(same, None, "a", "train"), pair_of(same, None, "b", "train")]
    val = [pair_of(same, None, "c", "val"), pair_of(noise(), None, "d", "val")]
    splits = [("train", "train", train), ("val", "val", val)]
    (dup,) = check_hits("NA305", splits=splits)
    assert dup.data["files"] == ["images/train/a.npy", "images/train/b.npy"]
    (leak,) = check_hits("NA306", splits=splits)
    assert leak.data["splits"] == ["train", "val"]


def test_na308_from_the_training_rules() -> None:
    pairs = [pair_of(noise(), np.zeros((16, 16), np.uint8), f"p{i}") for i in range(5)]
    assert len(check_hits("NA308", pairs=pairs, training=TrainingRules(batch_size=4))) == 1
    assert check_hits("NA308", pairs=pairs, training=TrainingRules(4, drop_last=True)) == []
    assert check_hits("NA308", pairs=pairs) == []
