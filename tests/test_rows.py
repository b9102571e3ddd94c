"""The record store's own codec (rows.py) gives back what the records codec does: the
same fields with the same types, for real decodes and for records at the codec's edges."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from conftest import clean_mask, make_pairs, natural_image, sample_with_leaks, save
from hypothesis import given, settings
from hypothesis import strategies as st

from nanaudit import pipeline, rows
from nanaudit.plan import plan_for_api
from nanaudit.records import (
    CellGrid,
    DecodeError,
    FileKind,
    FileRecord,
    Foreground,
    Geometry,
    LabelStats,
    PixelStats,
    Visual,
    decode,
    encode,
)
from nanaudit.stats import ChannelStats


def through_json(rec: FileRecord) -> FileRecord:
    """What the store gave back before rows.py: the records codec's JSON."""
    return decode(FileRecord, json.loads(json.dumps(encode(rec))))


def same(a: object, b: object) -> bool:
    """Equal, field types and the sign of zero included (repr shows 0 against 0.0, a list
    against a tuple, -0.0 against 0.0; NaN is nan in both)."""
    return repr(a) == repr(b)


def records_of(root: Path) -> list[FileRecord]:
    collected = pipeline.collect(plan_for_api(root, None, {"num_classes": 4}))
    return [r for s in collected.splits for p in s.pairs for r in (p.image, p.mask) if r]


def test_real_decodes_come_back_as_through_json(tmp_path: Path) -> None:
    root = sample_with_leaks(tmp_path / "leaks")
    other = make_pairs(tmp_path / "more", 2, split="train")
    a = natural_image(1)[..., 0].astype(np.float32) / 255
    a[0, :4] = np.nan
    a[1, :2] = np.inf
    save(other / "images" / "train" / "img_005.tif", a)
    save(other / "masks" / "train" / "img_005.png", clean_mask(5))
    save(
        other / "images" / "train" / "img_006.png",
        (natural_image(6) * 200).astype(np.uint16)[..., 0],
    )
    save(other / "masks" / "train" / "img_006.png", clean_mask(6), mode="P")
    recs = records_of(root) + records_of(other)
    assert len(recs) > 30 and any(r.labels and r.labels.grid for r in recs)
    assert any(r.pixels and any(c.nan or c.inf for c in r.pixels.channels) for r in recs)
    for rec in recs:
        back = rows.loads(FileRecord, rows.dumps(rec))
        assert same(back, through_json(rec)), rec.path
        assert back == rec  # nothing these records hold is lost


floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([0.0, -0.0])
ints = st.integers(-(2**70), 2**70)
texts = st.text() | st.sampled_from(["\udcff.png", "ä/ü.png", ""])
moments = st.floats(min_value=0.0) | st.sampled_from([math.nan, -0.0]) | st.integers(0, 9)
channel = st.builds(
    ChannelStats, st.integers(0, 2**70), floats, moments, floats, floats, ints, ints, ints
)


@st.composite
def edge_records(draw: st.DrawFn) -> FileRecord:
    """Records at the codec's edges: non-finite floats, ints where floats go, lists
    where tuples go, undecodable names, a 64-bit hash, every optional part, and a visual
    (which neither codec stores)."""
    image = draw(st.booleans())
    seq = st.sampled_from([tuple, list])
    chans = draw(st.lists(channel, max_size=4))
    pixels = None
    labels = None
    if image:
        pixels = PixelStats(
            draw(seq)(chans),
            draw(floats | st.integers(-5, 300)),
            draw(floats),
            draw(ints),
            draw(seq)([(draw(floats), draw(ints)) for _ in range(draw(st.integers(0, 2)))]),
            draw(texts),
            draw(st.integers(0, 2**64 - 1)),
            draw(texts),
            draw(ints),
        )
    else:
        hist = draw(st.lists(st.tuples(ints, ints), max_size=5))
        grid = draw(st.none() | st.just(CellGrid(1, 2, (0, 3), "0.")))
        labels = LabelStats(
            draw(seq)(hist),
            draw(ints),
            boundary_labels=draw(seq)(draw(st.lists(ints, max_size=3))),
            grid=grid,
            perimeters=draw(seq)([[v, n] for v, n in hist]),
        )
    return FileRecord(
        path=draw(texts),
        kind=FileKind.IMAGE if image else FileKind.MASK,
        split=draw(texts),
        format=draw(st.none() | texts),
        width=draw(ints),
        nodata=draw(st.none() | floats | st.integers(-9, 9)),
        notes=draw(seq)(draw(st.lists(texts, max_size=2))),
        shape=draw(seq)(draw(st.lists(ints, max_size=3))),
        palette=draw(seq)([(i, i * 3) for i in range(draw(st.integers(0, 3)))]),
        geometry=draw(
            st.none() | st.just(Geometry((2, 3), (1.0, 0, 0.5, 0, 2.0, 0, 0, 0, 1), "s"))
        ),
        channels_differ=draw(st.booleans()),
        pixels=pixels,
        labels=labels,
        error=draw(st.none() | st.builds(DecodeError, texts, texts)),
        foreground=draw(
            st.none() | st.just(Foreground(3, (ChannelStats(3, 1.0, 2, 0, 5),), ((((0, 1),),))))
        ),
        partner_key=draw(texts),
        visual=draw(st.none() | st.just(Visual(b"\xff\xd8", 2, 2))),
    )


@settings(max_examples=300, deadline=None)
@given(edge_records())
def test_edge_records_come_back_as_through_json(rec: FileRecord) -> None:
    back = rows.loads(FileRecord, rows.dumps(rec))
    assert same(back, through_json(rec))
    assert back.visual is None  # not stored, as in the JSON
    if rec.pixels is not None and back.pixels is not None:
        assert isinstance(back.pixels.luma_p5, float)
        assert type(back.pixels.channels) is tuple
        if rec.pixels.channels and not math.isnan(rec.pixels.channels[0].mean):
            assert back.pixels.channels[0].mean == rec.pixels.channels[0].mean


def old_encode(value: object, *, report: bool = False) -> object:
    """records.encode as it was before its dataclass encoders were generated (a loop over
    the fields): the reference the generated ones must write the same JSON as."""
    import dataclasses
    import enum

    from nanaudit.records import _encoding, _same

    tp = type(value)
    if tp is str or tp is int or tp is bool or value is None:
        return value
    if tp is float:
        assert isinstance(value, float)
        return value if math.isfinite(value) else (None if report else repr(value))
    if tp is tuple or tp is list:
        assert isinstance(value, tuple | list)
        return [old_encode(v, report=report) for v in value]
    spec = _encoding(tp, report)
    if spec is not None:
        fields, reported = spec
        out = {}
        for name, default in fields:
            v = getattr(value, name)
            if v is default or (default is not dataclasses.MISSING and _same(v, default)):
                continue
            out[name] = old_encode(v, report=report)
        for name in reported:
            out[name] = old_encode(getattr(value, name), report=report)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    raise AssertionError(f"not in a record: {value!r}")


@settings(max_examples=300, deadline=None)
@given(edge_records())
def test_generated_encoders_write_what_the_field_loop_wrote(rec: FileRecord) -> None:
    for report in (False, True):
        assert json.dumps(encode(rec, report=report)) == json.dumps(old_encode(rec, report=report))


def test_real_records_encode_as_the_field_loop_did(tmp_path: Path) -> None:
    for rec in records_of(sample_with_leaks(tmp_path / "leaks")):
        for report in (False, True):
            assert json.dumps(encode(rec, report=report)) == json.dumps(
                old_encode(rec, report=report)
            )
