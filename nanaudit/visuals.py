"""The thumbnail store: every file's thumbnails on disk, read back only for the files an
HTML report shows.

Findings are known only after every file is decoded (thresholds apply after statistics),
and the thumbnails of 100,000 files do not fit in memory, so the collect stage streams each
file's :class:`Visual` here as its record comes in, and the report's gallery reads back the
few it shows (and the small per-channel histograms of every image). With the cache on, the
store is a SQLite file beside the record cache, keyed like the records (decode settings,
path, kind and the file's size, mtime, ctime and inode), so a warm re-run builds the same
report without decoding anything; without a cache it is a temporary file, removed when the
scan ends. Like the record cache, it holds no pickles and is safe to delete at any time.
"""

from __future__ import annotations

import io
import json
import math
import os
import sqlite3
import struct
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from .cache import LOOKUP_BATCH, Stamp, file_stamp, limits_key, source_hash
from .records import DecodeLimits, FileKind, Visual

STORE_FORMAT = 1  # bumped when the thumbnails' encoding changes
TABLE = f"thumbnails_v{STORE_FORMAT}"
THUMBNAIL_MODULES = ("decode/thumbnails.py",)  # beside the records' REDUCTION_MODULES
Key = tuple[Path, FileKind]
_RANGE = struct.Struct("<dd")


def _pack_histogram(v: Visual) -> bytes:
    if not v.histogram:
        return b""
    counts = np.asarray(v.histogram, dtype=np.uint64)
    return _RANGE.pack(*v.hist_range) + struct.pack("<I", counts.shape[1]) + counts.tobytes()


def unpack_histogram(blob: bytes) -> tuple[float, float, np.ndarray] | None:
    """(lo, hi, channels × bins counts) of a stored histogram, or None when it is not one
    nanaudit makes (HIST_BINS bins, at most MAX_CHANNELS channels, a finite range)."""
    from .decode.thumbnails import HIST_BINS  # only an HTML report reads them

    if len(blob) < _RANGE.size + 4:
        return None
    lo, hi = _RANGE.unpack_from(blob)
    (bins,) = struct.unpack_from("<I", blob, _RANGE.size)
    rest = len(blob) - _RANGE.size - 4
    if bins != HIST_BINS or rest % (8 * bins) or not 0 < rest // (8 * bins) <= MAX_CHANNELS:
        return None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        return None
    counts = np.frombuffer(blob, dtype=np.uint64, offset=_RANGE.size + 4)
    return lo, hi, counts.reshape(-1, bins)


# A stored row is read as untrusted (the store is a file on disk, like the record cache):
# anything nanaudit would not have written is a miss, never an error or an allocation of
# the size it states.
MAX_CHANNELS = 64  # a multi-band raster's bands (decode/geotiff.py reads up to 64)
MAX_STRETCH = 500  # characters of the note on how values were mapped to 8 bits
MAX_THUMB_BYTES = 1 << 20  # a thumbnail is at most 192 x 192 (THUMB_MAX): some 150 kB


def _picture_size(data: bytes) -> tuple[int, int] | None:
    """The size a stored PNG or JPEG declares (header only, nothing decoded), or None."""
    from PIL import Image, UnidentifiedImageError

    if not data or len(data) > MAX_THUMB_BYTES:
        return None
    try:
        with Image.open(io.BytesIO(data), formats=("PNG", "JPEG")) as im:
            return im.size
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
        return None


def visual_of_row(meta_text: Any, thumb: Any, flags: Any, hist: Any) -> Visual | None:
    """The Visual of a stored row, or None when the row is not one nanaudit wrote."""
    from .decode.thumbnails import MAX_VALUES, THUMB_MAX  # only an HTML report reads them

    if not isinstance(meta_text, str) or len(meta_text) > 64 << 10:
        return None
    if not isinstance(thumb, bytes) or not isinstance(flags, bytes | None):
        return None
    try:
        meta = json.loads(meta_text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(meta, dict):
        return None
    width, height, values = meta.get("width"), meta.get("height"), meta.get("values")
    colour, stretch = meta.get("colour"), meta.get("stretch")
    if not (type(width) is int and 1 <= width <= THUMB_MAX):
        return None
    if not (type(height) is int and 1 <= height <= THUMB_MAX):
        return None
    if not (isinstance(values, list) and len(values) <= MAX_VALUES):
        return None
    if not all(type(x) is int and -(2**63) <= x < 2**63 for x in values):
        return None
    if not (isinstance(colour, bool) and isinstance(stretch, str)):
        return None
    if len(stretch) > MAX_STRETCH or _picture_size(thumb) != (width, height):
        return None
    if flags and _picture_size(flags) != (width, height):
        return None
    if hist is not None and not isinstance(hist, bytes):
        return None
    if hist and unpack_histogram(hist) is None:
        return None
    return Visual(
        thumb,
        width,
        height,
        values=tuple(values),
        colour=colour,
        flags=flags or b"",
        stretch=stretch,
    )


class VisualStore:
    """Thumbnails by (path, kind). ``directory`` None: a temporary store for one run."""

    def __init__(self, directory: Path | None, limits: DecodeLimits, variant: str = "") -> None:
        """``variant``: what else shapes the pictures (the bands a composite shows)."""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.persistent = directory is not None
        self.problem: str | None = None
        # the code that draws them is part of the key: an edit there is a new key
        self.key = f"{limits_key(limits)}-{STORE_FORMAT}-{source_hash(THUMBNAIL_MODULES)}" + (
            f"-{variant}" if variant else ""
        )
        self._current: set[Key] = set()  # valid in this run: found unchanged, or just made
        self._db: sqlite3.Connection | None = None
        try:
            if directory is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="nanaudit-thumbnails-")
                directory = Path(self._tmp.name)
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(directory / "thumbnails.sqlite3", timeout=10)
            if self.persistent:  # consistent after a crash, without an fsync per batch
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            else:  # a scratch file for one run: nothing to keep after a crash
                self._db.execute("PRAGMA journal_mode=OFF")
                self._db.execute("PRAGMA synchronous=OFF")
            self._db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (settings TEXT, path BLOB, kind TEXT, "
                "size INTEGER, mtime INTEGER, ctime INTEGER, inode INTEGER, meta TEXT, "
                "thumb BLOB, flags BLOB, hist BLOB, PRIMARY KEY (settings, path, kind))"
            )
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            self.problem = f"thumbnails not kept: {exc}"
            self.close()

    @property
    def usable(self) -> bool:
        return self._db is not None

    def available(self, items: Iterable[Key]) -> set[Key]:
        """The items whose thumbnails are stored for the file as it is now."""
        if self._db is None or not self.persistent:
            return set()
        wanted = {(os.fsencode(p), k.value): (p, k) for p, k in items}
        paths = sorted({p for p, _ in wanted})
        found: set[Key] = set()
        try:
            for i in range(0, len(paths), LOOKUP_BATCH):
                batch = paths[i : i + LOOKUP_BATCH]
                rows = self._db.execute(
                    f"SELECT path, kind, size, mtime, ctime, inode, meta, thumb, flags, hist "
                    f"FROM {TABLE} "
                    f"WHERE settings = ? AND path IN ({','.join('?' * len(batch))})",
                    (self.key, *batch),
                )
                for path, kind, *row in rows:
                    item = wanted.get((bytes(path), kind))
                    if item is None or file_stamp(item[0]) != tuple(row[:4]):
                        continue
                    if visual_of_row(*row[4:]) is not None:  # else a miss: made again
                        found.add(item)
        except sqlite3.Error as exc:
            self.problem = f"thumbnails unreadable, made again: {exc}"
            return set()
        self._current |= found
        return found

    def put(self, entries: Iterable[tuple[Path, FileKind, Stamp | None, Visual]]) -> None:
        if self._db is None:
            return
        rows = []
        for p, k, stamp, v in entries:
            meta = {
                "width": v.width,
                "height": v.height,
                "values": list(v.values),
                "colour": v.colour,
                "stretch": v.stretch,
            }
            rows.append(
                (
                    self.key,
                    os.fsencode(p),
                    k.value,
                    *(stamp or (-1, -1, -1, -1)),
                    json.dumps(meta, separators=(",", ":")),
                    v.thumb,
                    v.flags,
                    _pack_histogram(v),
                )
            )
            self._current.add((p, k))
        try:
            with closing(self._db.cursor()) as cur:
                cur.executemany(
                    f"INSERT OR REPLACE INTO {TABLE} (settings, path, kind, size, mtime, "
                    "ctime, inode, meta, thumb, flags, hist) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
            self._db.commit()
        except sqlite3.Error as exc:
            self.problem = f"thumbnails not kept: {exc}"

    def _rows(self, items: Iterable[Key], columns: str) -> Iterator[tuple[Key, tuple[Any, ...]]]:
        if self._db is None:
            return
        wanted = {(os.fsencode(p), k.value): (p, k) for p, k in items if (p, k) in self._current}
        keys = sorted(wanted)
        try:
            for i in range(0, len(keys), LOOKUP_BATCH):
                paths = sorted({p for p, _ in keys[i : i + LOOKUP_BATCH]})
                rows = self._db.execute(
                    f"SELECT path, kind, {columns} FROM {TABLE} WHERE settings = ? AND "
                    f"path IN ({','.join('?' * len(paths))})",
                    (self.key, *paths),
                )
                for path, kind, *values in rows:
                    item = wanted.get((bytes(path), kind))
                    if item is not None:
                        yield item, tuple(values)
        except sqlite3.Error as exc:
            self.problem = f"thumbnails unreadable: {exc}"

    def get(self, items: Iterable[Key]) -> dict[Key, Visual]:
        """The thumbnails of ``items`` (those this run found or made)."""
        out: dict[Key, Visual] = {}
        for item, row in self._rows(items, "meta, thumb, flags, hist"):
            visual = visual_of_row(*row)
            if visual is not None:  # a row damaged since: that file is shown without pictures
                out[item] = visual
        return out

    def histograms(self, items: Iterable[Key]) -> Iterator[tuple[float, float, np.ndarray]]:
        """The per-channel histograms of ``items``, read in batches (never all at once)."""
        for _, (blob,) in self._rows(items, "hist"):
            found = unpack_histogram(blob if isinstance(blob, bytes) else b"")
            if found is not None:
                yield found

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
