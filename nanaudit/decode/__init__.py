"""Decode a file once and reduce it to a :class:`FileRecord`: read (readers.py), then
reduce (reduce.py).  Nothing here raises for a bad file: every failure becomes a record
that carries a DecodeError (NA001 unreadable, NA002 oversized)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from ..records import DecodeError, DecodeLimits, FileKind, FileRecord, header_fields
from .readers import Decoded, DecodeFailure, NeedsWorker, bomb_reason, os_reason, read
from .reduce import reduce_image, reduce_mask
from .thumbnails import visual_of

__all__ = ["NeedsWorker", "audit_file", "record_of", "with_visual"]


def audit_file(
    path: Path, rel: str, kind: FileKind, split: str, limits: DecodeLimits, visual: bool = False
) -> FileRecord:
    """Decode ``path`` once and reduce it to a record. Never raises for a bad file; raises
    NeedsWorker when ``limits.in_process_max`` says the decode belongs in a worker. With
    ``visual``, the record also carries the file's thumbnails (HTML reports)."""
    base = FileRecord(path=rel, kind=kind, split=split)
    try:
        st = os.stat(path)
    except OSError as exc:
        reason = "broken symbolic link" if os.path.islink(path) else os_reason(exc)
        return replace(base, error=DecodeError("NA001", reason))
    base = replace(base, size_bytes=st.st_size)
    if not os.path.isfile(path):
        return replace(base, error=DecodeError("NA001", "not a regular file"))
    if st.st_size == 0:
        return replace(base, error=DecodeError("NA001", "empty file (0 bytes)"))
    try:
        with np.errstate(all="ignore"):  # NaN/Inf in the data are findings, not warnings
            decoded = read(path, limits, kind)
            record = record_of(decoded, base)
            return with_visual(decoded, record) if visual else record
    except DecodeFailure as exc:
        return replace(base, error=DecodeError(exc.check, exc.reason))
    except NeedsWorker:
        raise  # the caller decodes it in a worker of its own
    except MemoryError:
        return replace(base, error=DecodeError("NA002", "out of memory while decoding"))
    except Image.DecompressionBombError as exc:
        return replace(base, error=DecodeError("NA002", bomb_reason(exc, limits.max_pixels)))
    except OSError as exc:
        return replace(base, error=DecodeError("NA001", os_reason(exc, path)))
    except Exception as exc:  # a decoder's failure on hostile bytes is a finding, not a crash
        reason = f"{type(exc).__name__}: {exc}".replace(str(path), path.name)
        return replace(base, error=DecodeError("NA001", reason))


def with_visual(decoded: Decoded, record: FileRecord) -> FileRecord:
    """The record with its thumbnails, made from the pixels already decoded. A thumbnail
    that cannot be made leaves the record as it was: pictures never cost a finding."""
    try:
        return replace(record, visual=visual_of(decoded, record))
    except Exception:
        return record


def record_of(decoded: Decoded, base: FileRecord) -> FileRecord:
    """The record of decoded pixels: the header's fields and the reduction for its kind."""
    record = replace(base, **header_fields(decoded.header))
    if base.kind is FileKind.IMAGE:
        return replace(record, pixels=reduce_image(decoded.raster))
    mask = reduce_mask(decoded.raster, decoded.header.mode)
    return replace(
        record, labels=mask.labels, channels_differ=mask.channels_differ, colours=mask.colours
    )
