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
