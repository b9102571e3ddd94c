"""Mergeable statistics: merged parts equal the whole, and every route agrees with numpy."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from nanaudit.decode import audit_file
from nanaudit.records import DecodeLimits as DecodeSettings
from nanaudit.records import FileKind as Kind
from nanaudit.stats import (
    ChannelStats,
    channel_stats_from_array,
    merge_histograms,
    percentile_from_histogram,
)


def _close(a: ChannelStats, b: ChannelStats) -> None:
    assert a.count == b.count
    assert (a.nan, a.inf, a.zeros) == (b.nan, b.inf, b.zeros)
    if a.count:
        assert a.min == b.min and a.max == b.max
        assert a.mean == pytest.approx(b.mean, rel=1e-9, abs=1e-9)
        assert a.m2 == pytest.approx(b.m2, rel=1e-7, abs=1e-6)


def _reference(a: np.ndarray) -> ChannelStats:
    flat = a.reshape(-1)
    if flat.dtype.kind == "f":
        finite = flat[np.isfinite(flat)].astype(np.float64)
        nan = int(np.isnan(flat).sum())
        inf = int(np.isinf(flat).sum())
    else:
        finite = flat.astype(np.float64)
        nan = inf = 0
    if finite.size == 0:
        return ChannelStats(0, 0.0, 0.0, math.inf, -math.inf, nan, inf, 0)
    return ChannelStats(
        int(finite.size),
        float(finite.mean()),
        float(finite.var() * finite.size),
        float(finite.min()),
        float(finite.max()),
        nan,
        inf,
        int((finite == 0).sum()),
    )


arrays = st.one_of(
    hnp.arrays(np.uint8, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40)),
    hnp.arrays(np.uint16, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40)),
    hnp.arrays(np.int16, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40)),
    hnp.arrays(
        np.int32,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
        elements=st.integers(-(2**31), 2**31 - 1),
    ),
    hnp.arrays(
        np.float32,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=40),
        elements=st.floats(-1e6, 1e6, width=32) | st.sampled_from([np.nan, np.inf, -np.inf]),
    ),
)


@settings(max_examples=200, deadline=None)
@given(arrays, st.data())
def test_merging_parts_equals_the_whole(a: np.ndarray, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, a.shape[0]), max_size=4)))
    parts = np.split(a, cuts, axis=0)
    merged = ChannelStats.empty()
    for part in parts:
        merged = merged.merge(channel_stats_from_array(part))
    whole = channel_stats_from_array(a)
    _close(merged, whole)
    _close(whole, _reference(a))


@settings(max_examples=50, deadline=None)
@given(arrays, arrays, arrays)
def test_merge_is_associative(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> None:
    sa, sb, sc = (channel_stats_from_array(x) for x in (a, b, c))
    _close(sa.merge(sb).merge(sc), sa.merge(sb.merge(sc)))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 300), st.integers(1, 1000)), unique_by=lambda t: t[0]),
    st.lists(st.tuples(st.integers(0, 300), st.integers(1, 1000)), unique_by=lambda t: t[0]),
)
def test_histograms_merge_by_summing(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> None:
    merged = dict(merge_histograms(sorted(a), sorted(b)))
    for v in {k for k, _ in a} | {k for k, _ in b}:
        assert merged[v] == dict(a).get(v, 0) + dict(b).get(v, 0)


def test_pillow_histogram_route_matches_numpy(tmp_path: Path) -> None:
    """8-bit images go through Pillow's C histogram; the result must equal numpy's."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    path = tmp_path / "x.png"
    Image.fromarray(rgb).save(path)
    rec = audit_file(path, "x.png", Kind.IMAGE, "all", DecodeSettings())
    assert rec.pixels is not None
    for c in range(3):
        _close(rec.pixels.channels[c], _reference(rgb[..., c]))
    luma = np.asarray(Image.fromarray(rgb).convert("L")).reshape(-1)
    assert rec.pixels.luma_p99 == float(np.percentile(luma, 99, method="inverted_cdf"))
    assert rec.pixels.luma_p5 == float(np.percentile(luma, 5, method="inverted_cdf"))


def test_float_tiff_route_matches_numpy(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(0.5, 0.2, (31, 29)).astype(np.float32)
    a[3, 4] = np.nan
    a[5, 6] = np.inf
    path = tmp_path / "x.tif"
    Image.fromarray(a).save(path)
    rec = audit_file(path, "x.tif", Kind.IMAGE, "all", DecodeSettings())
    assert rec.pixels is not None
    _close(rec.pixels.channels[0], _reference(a))


@given(st.lists(st.integers(0, 50), min_size=1, max_size=300), st.sampled_from([1, 5, 50, 95, 99]))
def test_histogram_percentile_matches_numpy(values: list[int], q: int) -> None:
    hist = np.bincount(np.asarray(values))
    expected = float(np.percentile(np.asarray(values), q, method="inverted_cdf"))
    assert percentile_from_histogram(hist.tolist(), q) == expected


def test_float_channels_agree_with_and_without_non_finite_values() -> None:
    """Finite data takes a shorter route (no isfinite passes): the same numbers as the
    route that filters NaN and Inf out."""
    a = np.random.default_rng(3).standard_normal(5000).astype(np.float32) * 100
    a[:100] = 0
    fast = channel_stats_from_array(a)
    slow = channel_stats_from_array(np.concatenate([a, np.array([np.nan, -np.inf], np.float32)]))
    fields = ("count", "mean", "m2", "min", "max", "zeros")
    assert [getattr(fast, f) for f in fields] == [getattr(slow, f) for f in fields]
    assert (fast.nan, fast.inf, slow.nan, slow.inf) == (0, 0, 1, 1)


def _varied_images() -> dict[str, np.ndarray]:
    """Colour images above the luminance sample (65,536 pixels), of kinds that sampling
    could get wrong: noise, smooth ramps, hard blocks, rare bright specks just above 1%,
    a small bright patch, fine stripes and checks whose period does not divide the grid."""
    rng = np.random.default_rng(11)
    h, w = 300, 420  # 126,000 pixels: a grid of every 2nd pixel, the fewest samples
    y, x = np.mgrid[0:h, 0:w]
    ramp = (x * 255 // (w - 1)).astype(np.uint8)
    images = {
        "noise": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        "ramp": np.stack([ramp, ramp[:, ::-1], np.full_like(ramp, 90)], axis=2),
        "stripes_period_3": np.repeat(((x % 3) * 120).astype(np.uint8)[..., None], 3, axis=2),
        "checks_period_5": np.repeat(
            (((x // 5 + y // 5) % 2) * 250).astype(np.uint8)[..., None], 3, 2
        ),
    }
    dark = np.clip(rng.normal(30, 8, (h, w, 3)), 0, 255).astype(np.uint8)
    specks = dark.copy()
    specks.reshape(-1, 3)[rng.choice(h * w, int(0.013 * h * w), replace=False)] = 240
    patch = dark.copy()
    patch[100:140, 200:240] = 220  # 1.3% of the pixels, in one place
    blocks = np.full((h, w, 3), 128, np.uint8)
    for _ in range(12):
        y0, x0 = rng.integers(0, h - 60), rng.integers(0, w - 80)
        blocks[y0 : y0 + 60, x0 : x0 + 80] = rng.integers(0, 256, 3)
    images.update(dark_specks=specks, dark_patch=patch, blocks=blocks)
    big = np.clip(rng.normal(100, 5, (1024, 1536, 3)), 0, 255)
    images["large_noisy"] = big.astype(np.uint8)  # every 5th pixel of every 5th row
    return images


def test_sampled_luminance_percentiles_stay_within_half_a_rank_of_the_exact_ones() -> None:
    """NA112/NA113 read the 5th and 99th luminance percentiles of a colour image from a
    grid of about 65,536 of its pixels: on varied images the sampled value lies between
    the exact 4.5th and 5.5th (98.5th and 99.5th) percentiles, the tolerance that
    docs/reference/measures.md and the checks state. Gray images keep their exact percentiles."""
    from nanaudit.decode.reduce import reduce_image

    for name, rgb in _varied_images().items():
        im = Image.fromarray(rgb)
        luma = np.asarray(im.convert("L")).reshape(-1)
        p = reduce_image(im)
        for q, got in ((5, p.luma_p5), (99, p.luma_p99)):
            lo, hi = np.percentile(luma, (q - 0.5, q + 0.5), method="inverted_cdf")
            assert lo <= got <= hi, (name, q, lo, got, hi)
        gray = reduce_image(im.convert("L"))
        assert gray.luma_p99 == float(np.percentile(luma, 99, method="inverted_cdf"))
        assert gray.luma_p5 == float(np.percentile(luma, 5, method="inverted_cdf"))


def test_histogram_moments_are_exact_and_the_same_by_every_route() -> None:
    """Moments from histograms are computed in integers and rounded once: the exact mean
    and m2 (checked with fractions), bit for bit the same from Pillow's histogram and from
    numpy's, and still exact where int64 sums would overflow (values near 2**31)."""
    from fractions import Fraction

    from nanaudit.decode.reduce import reduce_image

    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (61, 47, 3), dtype=np.uint8)
    for c, (pillow, array) in enumerate(
        zip(reduce_image(Image.fromarray(rgb)).channels, reduce_image(rgb).channels, strict=True)
    ):
        assert pillow == array
        values = [int(v) for v in rgb[..., c].reshape(-1)]
        mean = Fraction(sum(values), len(values))
        assert pillow.mean == float(mean)
        assert pillow.m2 == float(sum((v - mean) ** 2 for v in values))
    big = (2**31 - 1 - rng.integers(0, 1000, (40, 40))).astype(np.int32)
    stats = channel_stats_from_array(big)
    values = [int(v) for v in big.reshape(-1)]
    mean = Fraction(sum(values), len(values))
    assert stats.mean == float(mean)
    assert stats.m2 == float(sum((v - mean) ** 2 for v in values))
    assert (stats.min, stats.max) == (float(big.min()), float(big.max()))


# The mask's edge statistics (NA218's in-between counts, NA406's perimeters, NA209's boundary
# labels) read only the triples around label edges when edges are few: they must equal the
# dense definitions below, which read every pixel, on sparse and dense masks of every shape.


def _dense_in_between(arr: np.ndarray) -> tuple[int, int]:
    between = crossings = 0
    for lo, mid, hi in ((arr[:, :-2], arr[:, 1:-1], arr[:, 2:]), (arr[:-2], arr[1:-1], arr[2:])):
        crossings += int(np.count_nonzero(lo != hi))
        between += int(np.count_nonzero(((lo < mid) & (mid < hi)) | ((lo > mid) & (mid > hi))))
    return between, crossings


def _dense_perimeters(arr: np.ndarray) -> dict[int, int]:
    counts: dict[int, int] = {}
    for a, b in ((arr[:, 1:], arr[:, :-1]), (arr[1:], arr[:-1])):
        edge = a != b
        for v in np.concatenate([a[edge], b[edge]]).tolist():
            counts[v] = counts.get(v, 0) + 1
    return counts


def _dense_touching(arr: np.ndarray, rare: list[int]) -> tuple[int, ...]:
    padded = np.pad(arr, 1, mode="edge")
    found = []
    for v in rare:
        ys, xs = np.nonzero(arr == v)
        if not ys.size:
            continue
        ok = True
        for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
            around = set(padded[y : y + 3, x : x + 3].reshape(-1).tolist()) - {v}
            ok &= len(around) >= 2
        if ok:
            found.append(v)
    return tuple(found)


@st.composite
def label_masks(draw: st.DrawFn) -> np.ndarray:
    h, w = draw(st.integers(1, 30)), draw(st.integers(1, 30))
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.int32]))
    if draw(st.booleans()):  # noise: dense edges
        return draw(hnp.arrays(dtype, (h, w), elements=st.integers(0, 4)))
    a = np.zeros((h, w), dtype)  # rectangles: sparse edges
    for _ in range(draw(st.integers(0, 5))):
        y, x = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        dy, dx = draw(st.integers(1, h)), draw(st.integers(1, w))
        a[y : y + dy, x : x + dx] = draw(st.integers(1, 4))
    return a


@pytest.mark.parametrize("route", ["indices", "booleans", "either", "rows"])
@settings(max_examples=200, deadline=None)
@given(arr=label_masks())
def test_edge_statistics_equal_their_dense_definitions(route: str, arr: np.ndarray) -> None:
    from nanaudit.decode import reduce
    from nanaudit.decode.reduce import in_between, label_stats, perimeters, touching_two_others

    # SPARSE_EDGES = 1 keeps every edge as an index, 10**9 none (unless there are none);
    # QUIET_ROWS_MIN = 1 reads only the rows holding a label besides 0 on masks of any height
    sparse = {"indices": 1, "booleans": 10**9, "either": reduce.SPARSE_EDGES, "rows": 1}[route]
    quiet = 1 if route == "rows" else 10**9
    old = reduce.SPARSE_EDGES, reduce.QUIET_ROWS_MIN
    reduce.SPARSE_EDGES, reduce.QUIET_ROWS_MIN = sparse, quiet
    try:
        edges = reduce.label_edges(arr)
        if route == "rows":  # the same runs as the route that reads every row
            reduce.QUIET_ROWS_MIN = 10**9
            every = reduce.label_edges(arr)
            for a, b in zip(edges.runs, every.runs, strict=True):
                assert (a.sparse, a.pairs, a.triples) == (b.sparse, b.pairs, b.triples)
                assert np.array_equal(a.pick, b.pick) and a.pick.dtype == b.pick.dtype
    finally:
        reduce.SPARSE_EDGES, reduce.QUIET_ROWS_MIN = old
    assert in_between(edges) == _dense_in_between(arr)
    labels = label_stats(arr)
    if arr.dtype.kind == "u":
        assert dict(perimeters(edges, labels)) == _dense_perimeters(arr)
    rare = [v for v, _ in labels.histogram]
    assert touching_two_others(arr, rare) == _dense_touching(arr, rare)
    assert touching_two_others(arr, rare[:2]) == _dense_touching(arr, rare[:2])


def test_edge_statistics_take_the_sparse_route_on_a_segmentation_mask() -> None:
    from nanaudit.decode.reduce import in_between, label_edges

    arr = np.zeros((200, 300), np.uint8)
    arr[50:120, 40:200] = 2
    arr[60:70, 100:300] = 1
    edges = label_edges(arr)
    assert all(run.sparse for run in edges.runs)  # the route this test is about
    assert in_between(edges) == _dense_in_between(arr)


# --------------------------------------------------------------------------- Floats columns
# The split statistics' per-file floats (valid shares, crop ignore shares, image stds) are
# float64 columns since issue 25; these tests hold them to the sorted tuples they replace:
# the reference functions below are the code before the change, on tuples.

finite_floats = st.floats(allow_nan=False, allow_infinity=True, width=64)


def _old_valid_fraction(fractions: tuple[float, ...]) -> tuple[float, ...]:
    fs = sorted(fractions)

    def q(p: float) -> float:
        return fs[min(max(0, math.ceil(p * len(fs)) - 1), len(fs) - 1)]

    return (len(fs), fs[0], q(0.05), q(0.5), q(0.95), fs[-1], sum(fs) / len(fs),
            sum(1 for f in fs if f == 0))  # fmt: skip


def _old_spread(values: list[float]) -> tuple[float, ...]:
    pairs = sorted(zip(values, [1] * len(values), strict=True))
    total = len(values)

    def at(q: float) -> float:
        need, seen = max(1, math.ceil(q * total)), 0
        for v, n in pairs:
            seen += n
            if seen >= need:
                return v
        return pairs[-1][0]

    mean = sum(v * n for v, n in pairs) / total
    return (pairs[0][0], at(0.5), at(0.95), pairs[-1][0], mean)


def _old_typical(values: tuple[float, ...], own: float, at_least: int = 4) -> float | None:
    import bisect

    n = len(values) - 1 if own in values else len(values)
    if n < at_least:
        return None
    skip = bisect.bisect_left(values, own) if n < len(values) else len(values)

    def other(k: int) -> float:
        return values[k if k < skip else k + 1]

    mid = n // 2
    return other(mid) if n % 2 else (other(mid - 1) + other(mid)) / 2


def _bits(values: object) -> str:
    return repr(values)  # repr tells -0.0 from 0.0 and keeps every digit


@settings(max_examples=300, deadline=None)
@given(st.lists(finite_floats | st.sampled_from([0.0, -0.0, 0.5, 1.0]), max_size=60), st.data())
def test_floats_read_as_the_sorted_tuple_they_replace(
    values: list[float], data: st.DataObject
) -> None:
    from nanaudit.stats import Floats

    column, ref = Floats.of(values), tuple(sorted(values))
    assert len(column) == len(ref) and _bits(list(column)) == _bits(list(ref))
    assert _bits(list(reversed(column))) == _bits(list(reversed(ref)))
    if ref:
        i = data.draw(st.integers(-len(ref), len(ref) - 1))
        assert _bits(column[i]) == _bits(ref[i])
        a, b = data.draw(st.integers(0, len(ref))), data.draw(st.integers(0, len(ref)))
        assert _bits(column[a:b]) == _bits(list(ref[a:b]))
    probe = data.draw(st.sampled_from([*values, 0.25, -1.0, 2.0]) if values else finite_floats)
    import bisect

    assert column.bisect_left(probe) == bisect.bisect_left(ref, probe)
    assert (probe in column) == (probe in ref)
    assert column.count(probe) == ref.count(probe)
    assert column == Floats.of(list(reversed(values)))  # a multiset: any order, same column
    with pytest.raises(IndexError):
        column[len(ref)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.0, 1.0) | st.sampled_from([0.0, 1.0, 0.5]), min_size=1, max_size=80))
def test_summaries_of_a_column_are_the_bits_of_the_tuple_code(values: list[float]) -> None:
    from nanaudit.stats import Floats
    from nanaudit.training import spread, valid_fraction

    vf = valid_fraction(Floats.of(values))
    assert vf is not None
    assert _bits(tuple(getattr(vf, f) for f in vf.__slots__)) == _bits(
        _old_valid_fraction(tuple(values))
    )
    assert _bits(valid_fraction(tuple(values))) == _bits(vf)  # a plain tuple still works
    s = spread(Floats.of(values))
    assert s is not None
    assert _bits((s.min, s.median, s.p95, s.max, s.mean)) == _bits(_old_spread(values))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0.0, 1e5), max_size=30), st.data())
def test_typical_std_of_a_column_is_that_of_the_tuple(
    values: list[float], data: st.DataObject
) -> None:
    from nanaudit.aggregate import DatasetStats
    from nanaudit.stats import Floats

    own = data.draw(st.sampled_from(values) if values else st.floats(0.0, 1e5))
    ds = DatasetStats((), {}, {"uint8": Floats.of(values)})
    assert _bits(ds.typical_std("uint8", own)) == _bits(_old_typical(tuple(sorted(values)), own))
    assert ds.typical_std("float32", own) is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(["uint8", "uint16"]), st.floats(0, 9)),
                         max_size=8), max_size=6))  # fmt: skip
def test_float_columns_merge_as_the_multisets_did(parts: list[list[tuple[str, float]]]) -> None:
    """Folding files one at a time, merging parts and the old sorted tuples agree."""
    from nanaudit.aggregate import SplitStats, _fold

    files = [{"image_stds": (row,), "valid_fractions": (row[1] / 9,)} for p in parts for row in p]
    whole = _fold(files)
    merged = SplitStats()
    for p in parts:
        merged = merged.merge(
            _fold([{"image_stds": (r,), "valid_fractions": (r[1] / 9,)} for r in p])
        )
    assert merged == whole
    rows = sorted(r for p in parts for r in p)
    assert [(k, list(v)) for k, v in whole.image_stds] == [
        (k, [s for d, s in rows if d == k]) for k in sorted({d for d, _ in rows})
    ]
    assert list(whole.valid_fractions) == sorted(r[1] / 9 for r in rows)


def test_a_damaged_column_in_a_partial_is_a_codec_error() -> None:
    import base64
    import struct

    from nanaudit.aggregate import SplitStats
    from nanaudit.records import CodecError, decode, encode
    from nanaudit.stats import Floats

    stats = SplitStats(valid_fractions=Floats.of([0.5, 0.25]))
    assert decode(SplitStats, encode(stats)) == stats
    for data in (struct.pack("<2d", 0.5, 0.25), b"\0" * 12, struct.pack("<2d", math.nan, 0.1)):
        doc = {"valid_fractions": {"data": base64.b64encode(data).decode()}}
        with pytest.raises(CodecError, match="floats"):
            decode(SplitStats, doc)
