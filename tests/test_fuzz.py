"""Fuzz the decoder: valid PNG, JPEG, TIFF and NPY bytes, mutated (bit flips, byte edits
concentrated on the header, truncation, insertion, deletion), always give a FileRecord,
audited or with NA001/NA002, and never an exception; for images and for masks alike.

NANAUDIT_FUZZ_EXAMPLES sets the examples per format (default 300: 1,200 in all, each
decoded as an image and as a mask). Derandomized, so a run is reproducible."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import clean_mask, natural_image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nanaudit.decode import audit_file
from nanaudit.records import DecodeLimits as DecodeSettings
from nanaudit.records import FileKind as Kind
from nanaudit.records import FileRecord, encode

EXAMPLES = int(os.environ.get("NANAUDIT_FUZZ_EXAMPLES", "300"))
# A mutated header may declare any size: a smaller limit keeps a decode of a plausible
# but large declared size fast; the limit itself is what is under test for NA002.
DECODE = DecodeSettings(max_pixels=1 << 20)
SIZE = (24, 32)
RAN: dict[str, int] = {}


def _pillow(array: np.ndarray, fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **kw)
    return buf.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


SEEDS: dict[str, tuple[str, bytes]] = {
    "png-rgb": (".png", _pillow(natural_image(1, SIZE), "PNG")),
    "png-mask": (".png", _pillow(clean_mask(1, SIZE), "PNG")),
    "jpeg": (".jpg", _pillow(natural_image(2, SIZE), "JPEG", quality=85)),
    "tiff-float": (".tif", _pillow(natural_image(3, SIZE)[..., 0].astype(np.float32), "TIFF")),
    "tiff-lzw": (".tif", _pillow(natural_image(4, SIZE), "TIFF", compression="tiff_lzw")),
    "npy-u8": (".npy", _npy(clean_mask(5, SIZE))),
    "npy-f4": (".npy", _npy(natural_image(6, SIZE).astype(np.float32).transpose(2, 0, 1))),
}
try:  # the volume and multi-band readers (nanaudit[medical], nanaudit[geo])
    import nibabel
    import tifffile
except ImportError:  # pragma: no cover
    pass
else:
    _volume = natural_image(7, SIZE)[..., :2].astype(np.float32).reshape(24, 8, 8)
    _nifti = nibabel.Nifti1Image(_volume, np.diag([0.8, 0.8, 2.5, 1.0])).to_bytes()
    _bands = io.BytesIO()
    bands = natural_image(8, SIZE)[..., :1].repeat(6, axis=2).astype(np.uint16)
    tifffile.imwrite(_bands, bands, photometric="minisblack", planarconfig="contig")
    SEEDS["nifti-f4"] = (".nii", _nifti)
    SEEDS["nifti-gz"] = (".nii.gz", gzip.compress(_nifti))
    SEEDS["tiff-bands"] = (".tif", _bands.getvalue())
# examples per seed: the EXAMPLES of a format shared among its seeds
PER_SEED = {
    name: max(1, EXAMPLES // sum(1 for n in SEEDS if n.split("-")[0] == name.split("-")[0]))
    for name in SEEDS
}

offsets = st.one_of(st.integers(0, 127), st.integers(0, 1 << 16))  # the header, or anywhere
mutation = st.one_of(
    st.tuples(st.just("flip"), offsets, st.integers(0, 7)),
    st.tuples(st.just("set"), offsets, st.sampled_from([0x00, 0x01, 0x7F, 0x80, 0xFF])),
    st.tuples(st.just("set"), offsets, st.integers(0, 255)),
    st.tuples(st.just("truncate"), offsets),
    st.tuples(st.just("insert"), offsets, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete"), offsets, st.integers(1, 16)),
)


def mutate(data: bytes, ops: list[tuple[Any, ...]]) -> bytes:
    buf = bytearray(data)
    for op in ops:
        if not buf:
            break
        at = op[1] % len(buf)
        if op[0] == "flip":
            buf[at] ^= 1 << op[2]
        elif op[0] == "set":
            buf[at] = op[2]
        elif op[0] == "truncate":
            del buf[at:]
        elif op[0] == "insert":
            buf[at:at] = op[2]
        else:
            del buf[at : at + op[2]]
    return bytes(buf)


def check_record(rec: FileRecord, kind: Kind) -> None:
    assert isinstance(rec, FileRecord)
    if rec.error is not None:
        assert rec.error.check in ("NA001", "NA002"), rec.error
        assert isinstance(rec.error.reason, str) and rec.error.reason
    elif kind is Kind.IMAGE:
        assert rec.pixels is not None and rec.width > 0 and rec.height > 0
    else:
        assert rec.labels is not None or rec.channels_differ
    json.dumps(encode(rec, report=True), allow_nan=False)  # the record renders in the JSON report


@pytest.mark.parametrize("seed_name", list(SEEDS))
def test_mutated_files_never_raise(seed_name: str, tmp_path: Path) -> None:
    suffix, seed = SEEDS[seed_name]
    for kind in Kind:  # the unmutated seed is audited cleanly
        assert audit_file(_write(tmp_path, suffix, seed), "f", kind, "all", DECODE).ok
    outcomes: dict[str, int] = {}

    @settings(
        max_examples=PER_SEED[seed_name],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(ops=st.lists(mutation, min_size=1, max_size=4))
    def fuzz(ops: list[tuple[Any, ...]]) -> None:
        path = _write(tmp_path, suffix, mutate(seed, ops))
        for kind in Kind:
            rec = audit_file(path, "f", kind, "all", DECODE)
            check_record(rec, kind)
            key = rec.error.check if rec.error else "ok"
            outcomes[key] = outcomes.get(key, 0) + 1
        RAN[seed_name] = RAN.get(seed_name, 0) + 1

    fuzz()
    ran = RAN.get(seed_name, 0)
    print(f"\nfuzz {seed_name}: {ran} examples, decodes by outcome {outcomes}")
    assert ran >= PER_SEED[seed_name] // 2


def _write(tmp_path: Path, suffix: str, data: bytes) -> Path:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    return path


def test_zz_report_example_count(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this file: prints how many examples the fuzz tests ran."""
    total = sum(RAN.values())
    with capsys.disabled():
        print(f"\nfuzz examples run: {total} ({', '.join(f'{k}={v}' for k, v in RAN.items())})")
    if len(RAN) == len(SEEDS):
        assert total >= EXAMPLES * 4 // 2
