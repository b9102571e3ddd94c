"""Decode a file once and reduce it to a :class:`FileRecord`: read (readers.py), then
reduce (reduce.py).  Nothing here raises for a bad file: every failure becomes a record
that carries a DecodeError (NA001 unreadable, NA002 oversized)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from ..records import DecodeError, DecodeLimits, FileKind, FileRecord, header_fields
from ..storage import LOCAL, RemoteStorage, Storage, without_credentials
from .foreground import foreground_of, hounsfield_like
from .formats import read, read_from
from .readers import (
    Decoded,
    DecodeFailure,
    NeedsWorker,
    bomb_reason,
    os_reason,
)
from .reduce import reduce_image, reduce_mask
from .thumbnails import visual_of

__all__ = ["NeedsWorker", "audit_file", "record_of", "with_visual"]

Then = Callable[[Decoded, FileRecord], FileRecord]  # what more a record takes of the pixels


def audit_file(
    path: Path,
    rel: str,
    kind: FileKind,
    split: str,
    limits: DecodeLimits,
    visual: bool = False,
    storage: Storage = LOCAL,
    size: int | None = None,
    *,
    content: bool = False,
    partner: Path | None = None,
    partner_key: str = "",
    ct: bool = False,
    bands: tuple[int, int, int] | None = None,
) -> FileRecord:
    """Decode ``path`` once and reduce it to a record. Never raises for a bad file; raises
    NeedsWorker when ``limits.in_process_max`` says the decode belongs in a worker. With
    ``visual``, the record also carries the file's thumbnails (HTML reports). ``storage``:
    where the file is (remote: streamed, with ``size`` as its listing gave it).
    ``content``: also hash an image's decoded pixels (a duplicate candidate's second read).
    ``partner``: an image volume's label volume, read too when the image is CT (``ct``: its
    dataset says so) or Hounsfield-like, for the intensities under its labels (nnU-Net's CT
    clipping, decode/foreground.py); ``partner_key`` is kept in the record (see
    FileRecord.partner_key). ``bands``: the bands a multi-band raster's thumbnail shows as
    red, green and blue (1-based; None: decode/thumbnails.py's default)."""
    then: Then | None = None
    if partner is not None and kind is FileKind.IMAGE:
        then = _foreground_step(partner, partner_key, ct, limits, storage)
    if isinstance(storage, RemoteStorage):
        base = FileRecord(path=rel, kind=kind, split=split)
        return _audit_remote(storage, path, base, limits, visual, size, content, then, bands)
    try:
        st = os.stat(path)
    except OSError as exc:
        reason = "broken symbolic link" if os.path.islink(path) else os_reason(exc)
        return FileRecord(path=rel, kind=kind, split=split, error=DecodeError("NA001", reason))
    base = FileRecord(path=rel, kind=kind, split=split, size_bytes=st.st_size)
    if not stat.S_ISREG(st.st_mode):
        return replace(base, error=DecodeError("NA001", "not a regular file"))
    if st.st_size == 0:
        return replace(base, error=DecodeError("NA001", "empty file (0 bytes)"))
    return _decoded(
        base, path, limits, visual, lambda: read(path, limits, kind), content, then, bands
    )


def _foreground_step(
    partner: Path, partner_key: str, ct: bool, limits: DecodeLimits, storage: Storage
) -> Then:
    """What follows an image volume's reduction when it has a label volume: the record
    names the label it depends on (``partner_key``), and a CT-like volume (``ct``, or
    Hounsfield-like values) gets the intensities under its labels. Reading the label is
    best effort: a label that cannot be read, or on another grid, leaves the record without
    them (the label's own record says why); only NeedsWorker passes through."""

    def step(decoded: Decoded, record: FileRecord) -> FileRecord:
        record = replace(record, partner_key=partner_key)
        geometry, raster = decoded.header.geometry, decoded.raster
        if record.pixels is None or geometry is None or geometry.ndim != 3:
            return record
        if not isinstance(raster, np.ndarray) or not (ct or hounsfield_like(record.pixels)):
            return record
        held = int(raster.nbytes)  # the image stays in memory while its label is read
        left = replace(
            limits,
            max_memory=max(limits.max_memory - held, 1) if limits.max_memory else 0,
            in_process_max=max(limits.in_process_max - held, 1) if limits.in_process_max else 0,
        )
        try:
            label = _read_partner(partner, left, storage)
        except NeedsWorker:
            raise
        except Exception:
            return record
        other = label.header.geometry
        if other is None or other.size != geometry.size or not isinstance(label.raster, np.ndarray):
            return record
        return replace(record, foreground=foreground_of(raster, label.raster))

    return step


def _read_partner(path: Path, limits: DecodeLimits, storage: Storage) -> Decoded:
    if isinstance(storage, RemoteStorage):
        kind, size = storage.kind_and_size(path)
        if kind != "file" or not size:
            raise DecodeFailure("NA001", "not a regular file")
        with storage.open(path, size) as fh:
            return read_from(fh, path, size, limits, FileKind.MASK)
    return read(path, limits, FileKind.MASK)


def _audit_remote(
    storage: RemoteStorage,
    path: Path,
    base: FileRecord,
    limits: DecodeLimits,
    visual: bool,
    listed: int | None,
    content: bool,
    then: Then | None = None,
    bands: tuple[int, int, int] | None = None,
) -> FileRecord:
    """The same for an object of remote storage, streamed: never copied to disk."""
    try:
        kind, size = ("file", listed) if listed is not None else storage.kind_and_size(path)
    except OSError as exc:
        return replace(base, error=DecodeError("NA001", os_reason(exc)))
    if kind is None:
        return replace(base, error=DecodeError("NA001", "no such object"))
    base = replace(base, size_bytes=size)
    if kind != "file":
        return replace(base, error=DecodeError("NA001", "not a regular file"))
    if size == 0:
        return replace(base, error=DecodeError("NA001", "empty file (0 bytes)"))

    def read_object() -> Decoded:
        with storage.open(path, size) as fh:
            return read_from(fh, path, size, limits, base.kind)

    record = _decoded(base, path, limits, visual, read_object, content, then, bands)
    if record.error is not None:  # a decoder's message may name the stream by its URL
        reason = without_credentials(record.error.reason)
        record = replace(record, error=DecodeError(record.error.check, reason))
    return record


def _decoded(
    base: FileRecord,
    path: Path,
    limits: DecodeLimits,
    visual: bool,
    decode: Callable[[], Decoded],
    content: bool = False,
    then: Then | None = None,
    bands: tuple[int, int, int] | None = None,
) -> FileRecord:
    """The record of what ``decode`` reads, or of why it could not (``then``: what more the
    record takes of the decoded pixels)."""
    try:
        with np.errstate(all="ignore"):  # NaN/Inf in the data are findings, not warnings
            decoded = decode()
            record = record_of(decoded, base, content=content)
            if then is not None:
                record = then(decoded, record)
            return with_visual(decoded, record, bands) if visual else record
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


def with_visual(
    decoded: Decoded, record: FileRecord, bands: tuple[int, int, int] | None = None
) -> FileRecord:
    """The record with its thumbnails, made from the pixels already decoded. A thumbnail
    that cannot be made leaves the record as it was: pictures never cost a finding."""
    try:
        return replace(record, visual=visual_of(middle_slice(decoded), record, bands))
    except Exception:
        return record


def middle_rows(decoded: Decoded) -> slice | None:
    """The rows of a volume's middle slice (a volume is decoded as the tall image of its
    slices, decode/nifti.py); None for any other file."""
    header, raster = decoded.header, decoded.raster
    if header.geometry is None or header.geometry.ndim != 3 or not isinstance(raster, np.ndarray):
        return None
    depth, rows = header.geometry.size[2], header.height
    if depth <= 1 or raster.shape[0] != depth * rows:
        return None
    middle = depth // 2
    return slice(middle * rows, (middle + 1) * rows)


def middle_slice(decoded: Decoded) -> Decoded:
    """What the HTML report shows of a volume: its middle slice; any other file as it is."""
    rows = middle_rows(decoded)
    if rows is None or not isinstance(decoded.raster, np.ndarray):
        return decoded
    return Decoded(decoded.raster[rows], decoded.header)


def record_of(
    decoded: Decoded, base: FileRecord, *, identity: bool = True, content: bool = False
) -> FileRecord:
    """The record of decoded pixels: the header's fields and the reduction for its kind
    (with the content hash of an image when ``content`` asks for it; ``identity=False``:
    without what only files need, see reduce_image and reduce_mask's cell grid)."""
    header = header_fields(decoded.header)
    if base.kind is FileKind.IMAGE:
        pixels = reduce_image(
            decoded.raster,
            identity=identity,
            content=content,
            nodata=decoded.header.nodata,
            hashed_rows=middle_rows(decoded),
        )
        return replace(base, **header, pixels=pixels)
    mask = reduce_mask(decoded.raster, decoded.header.mode, grid=identity)
    return replace(
        base,
        **header,
        labels=mask.labels,
        channels_differ=mask.channels_differ,
        colours=mask.colours,
    )
