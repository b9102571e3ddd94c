"""A split's statistics are the same bytes whatever the order of its files and however they
were grouped into partial statistics (a Dask worker's batch): channel moments are summed
exactly (moments.py) and rounded once."""

from __future__ import annotations

import math
import pickle
import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nanaudit.aggregate import (
    GroupMoments,
    GroupStats,
    _fold,
    file_fields,
    partial_stats,
    split_stats,
)
from nanaudit.decode import audit_file
from nanaudit.moments import ExactMoments, highest, lowest
from nanaudit.records import DecodeLimits, FileKind, FileRecord, Pair
from nanaudit.rules import LabelRules
from nanaudit.stats import ChannelStats


def _images(folder: Path) -> list[FileRecord]:
    """Real files of three groups (RGB uint8, gray uint16, gray float32 with NaN), decoded."""
    rng = np.random.default_rng(11)
    folder.mkdir()
    out = []
    for i in range(14):
        h, w = int(rng.integers(5, 40)), int(rng.integers(5, 40))
        name = f"img_{i:02d}"
        if i % 5 == 3:
            a = rng.integers(0, 4096, (h, w), dtype=np.uint16)
            path = folder / f"{name}.png"
            Image.fromarray(a).save(path)
        elif i % 5 == 4:
            f = rng.normal(0.3 * i, 1.7, (h, w)).astype(np.float32)
            f[0, 0] = np.nan
            path = folder / f"{name}.tif"
            Image.fromarray(f).save(path)
        else:
            rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            rgb[..., 1] //= 1 + i  # channels of different spreads
            path = folder / f"{name}.png"
            Image.fromarray(rgb).save(path)
        rec = audit_file(path, f"images/{path.name}", FileKind.IMAGE, "train", DecodeLimits())
        assert rec.pixels is not None, rec.error
        out.append(rec)
    return out


def _bits(stats: object) -> str:
    """Every float to its last bit (``==`` takes -0.0 for 0.0)."""
    return repr(stats)


def test_a_split_folds_to_the_same_bytes_in_any_order_and_grouping(tmp_path: Path) -> None:
    records = _images(tmp_path / "images")
    rules = LabelRules()
    fields = [file_fields(r, rules, True) for r in records]
    whole = _fold(fields)
    assert len(whole.groups) == 3
    rng = random.Random(5)
    for _ in range(6):
        shuffled = rng.sample(fields, len(fields))
        assert _bits(_fold(shuffled)) == _bits(whole)
        # cut into batches, each folded apart (through pickle, as a worker's reaches the
        # client) and the partial statistics folded in another order
        cuts = sorted(rng.sample(range(1, len(fields)), 3))
        batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(fields)], strict=True)]
        partials = [pickle.loads(pickle.dumps(partial_stats(b))) for b in batches]
        assert _bits(_fold(rng.sample(partials, len(partials)))) == _bits(whole)
    # and split_stats, which folds the split's files in path order, agrees
    pairs = [Pair("train", r, None, False) for r in reversed(records)]
    folded = split_stats(pairs, rules, False)
    assert _bits(folded.groups) == _bits(whole.groups)


def test_merged_moments_are_the_exact_ones_rounded_once(tmp_path: Path) -> None:
    records = _images(tmp_path / "images")
    rgb = [r for r in records if r.dtype == "uint8"]
    merged = _fold(file_fields(r, LabelRules(), True) for r in rgb).groups[0][1]
    assert merged.images == len(rgb)
    for c, got in enumerate(merged.channels):
        parts = [r.pixels.channels[c] for r in rgb if r.pixels is not None]
        n = sum(p.count for p in parts)
        s = sum(p.count * Fraction(p.mean) for p in parts)
        q = sum(Fraction(p.m2) + p.count * Fraction(p.mean) ** 2 for p in parts)
        assert got.count == n
        assert got.mean == float(s / n)
        assert got.m2 == float(q - s * s / n)
        # and numpy's moments of all the pixels agree to rounding
        values = np.concatenate(
            [
                np.asarray(Image.open(tmp_path / "images" / Path(r.path).name))[..., c].ravel()
                for r in rgb
            ]
        ).astype(np.float64)
        assert got.mean == pytest.approx(values.mean(), rel=1e-12)
        assert got.m2 == pytest.approx(values.var() * values.size, rel=1e-9)


def test_a_group_of_one_image_keeps_its_moments_bit_for_bit(tmp_path: Path) -> None:
    for rec in _images(tmp_path / "images")[:5]:
        assert rec.pixels is not None
        g = GroupMoments(len(rec.pixels.channels))
        g.add(GroupStats(1, rec.pixels.channels))
        assert _bits(g.freeze().channels) == _bits(rec.pixels.channels)


def test_moments_that_are_not_finite_merge_the_same_in_any_order() -> None:
    parts = [
        ChannelStats(4, 1.0e300, math.inf, -1e308, 1e308),
        ChannelStats(3, 2.5, 1.25, 1.0, 4.0, nan=2),
        ChannelStats(0, 0.0, 0.0, math.inf, -math.inf, nan=5),
        ChannelStats(2, -0.5, 0.5, -1.0, 0.0, zeros=1),
    ]
    results = set()
    for order in ([0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]):
        acc = ExactMoments()
        for i in order:
            acc.add(parts[i])
        results.add(_bits(acc.freeze()))
    assert len(results) == 1
    frozen = ExactMoments()
    for p in parts:
        frozen.add(p)
    out = frozen.freeze()
    assert out.count == 9 and out.nan == 7 and out.zeros == 1
    assert out.m2 == math.inf and math.isfinite(out.mean)
    nan_mean = ExactMoments()
    nan_mean.add(ChannelStats(1, math.inf, math.nan, math.inf, math.inf))
    nan_mean.add(parts[1])
    assert math.isnan(nan_mean.freeze().mean)


def test_signed_zeros_are_the_bounds_whatever_comes_first() -> None:
    assert repr(lowest(0.0, -0.0)) == repr(lowest(-0.0, 0.0)) == "-0.0"
    assert repr(highest(0.0, -0.0)) == repr(highest(-0.0, 0.0)) == "0.0"
    assert lowest(1.0, -2.0) == -2.0 and highest(1.0, -2.0) == 1.0


def test_rows_left_out_of_signatures_are_as_if_never_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """folding.without: the rows of images read again (content not hashed yet) leave the
    duplicate signatures block by block, their checksum with them; a hashed row stays."""
    from nanaudit import signatures
    from nanaudit.folding import without
    from nanaudit.signatures import ImageSignature, SignatureBuilder, signatures_of

    monkeypatch.setattr(signatures, "BLOCK_ROWS", 2)  # three blocks of paths
    rows = [
        ImageSignature("a.png", "train", "", 1, False),
        ImageSignature("b.png", "train", "hash-b", 2, False),
        ImageSignature("c.png", "val", "", 3, True),
        ImageSignature("d.png", "train", "", 4, False),
        ImageSignature("e.png", "val", "", 5, False),
    ]
    sigs = signatures_of(rows)
    assert len(sigs.blocks) == 3
    kept, gone = without(sigs, {"a.png", "b.png", "e.png", "z.png"})
    assert gone == {"a.png", "e.png"}  # b.png's content was hashed: it stays
    expected = signatures_of([rows[1], rows[2], rows[3]])
    assert kept == expected and kept.count == 3
    assert list(kept.rows()) == list(expected.rows())
    builder = SignatureBuilder()
    builder.merge(kept)
    again = ImageSignature("a.png", "train", "hash-a", 1, False)
    builder.add(again)
    builder.add(rows[4])
    assert builder.freeze() == signatures_of([again, *rows[1:]])
    assert without(sigs, {"b.png"}) == (sigs, set())
