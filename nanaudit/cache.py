"""The incremental cache: per-file records keyed by path, size, times and settings.

It lives outside the scanned folder (``$NANAUDIT_CACHE_DIR``, else
``$XDG_CACHE_HOME/nanaudit``, else ``~/.cache/nanaudit``) in one SQLite file, so that a
crash mid-write leaves the last committed state (SQLite's journal) and deleting the folder
is always safe.  Records are stored as JSON, never pickled, so a cache planted by someone
else cannot run code.  A record is reused only when the file's size, mtime, ctime and inode
and the settings that shape records (and nanaudit's version) are all unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import __version__
from .model import DecodeError, DecodeSettings, FileRecord, Kind, LabelStats, PixelStats
from .stats import ChannelStats

CACHE_FORMAT = 5


def default_cache_dir() -> Path:
    env = os.environ.get("NANAUDIT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "nanaudit"


def settings_key(settings: DecodeSettings) -> str:
    text = json.dumps([CACHE_FORMAT, __version__, asdict(settings)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_key(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


# --------------------------------------------------------------------------- (de)serialising


def _f(x: float) -> Any:
    return x if math.isfinite(x) else repr(x)  # "inf", "-inf", "nan"


def _unf(x: Any) -> float:
    return float(x)


def record_to_json(rec: FileRecord) -> str:
    d: dict[str, Any] = {
        "size_bytes": rec.size_bytes,
        "format": rec.format,
        "mode": rec.mode,
        "dtype": rec.dtype,
        "width": rec.width,
        "height": rec.height,
        "channels": rec.channels,
        "frames": rec.frames,
        "exif_orientation": rec.exif_orientation,
        "nodata": None if rec.nodata is None else _f(rec.nodata),
        "lossy": rec.lossy,
        "bits": rec.bits,
        "channels_differ": rec.channels_differ,
        "colours": rec.colours,
        "notes": list(rec.notes),
        "error": None if rec.error is None else [rec.error.check, rec.error.reason],
    }
    if rec.pixels is not None:
        p = rec.pixels
        d["pixels"] = {
            "channels": [
                [c.count, _f(c.mean), _f(c.m2), _f(c.min), _f(c.max), c.nan, c.inf, c.zeros]
                for c in p.channels
            ],
            "luma": [_f(p.luma_p5), _f(p.luma_p99)],
            "fp16_overflow": p.fp16_overflow,
            "sentinels": [[_f(v), n] for v, n in p.sentinels],
            "content_hash": p.content_hash,
            "phash": p.phash,
        }
    if rec.labels is not None:
        lab = rec.labels
        d["labels"] = {
            "histogram": [[v, n] for v, n in lab.histogram],
            "pixels": lab.pixels,
            "non_integer": lab.non_integer,
            "nan": lab.nan,
            "inf": lab.inf,
            "boundary_labels": list(lab.boundary_labels),
        }
    return json.dumps(d, separators=(",", ":"))


def record_from_json(text: str, path: str, kind: Kind, split: str) -> FileRecord:
    d = json.loads(text)
    pixels = labels = None
    if "pixels" in d:
        p = d["pixels"]
        pixels = PixelStats(
            tuple(
                ChannelStats(
                    int(c[0]),
                    _unf(c[1]),
                    _unf(c[2]),
                    _unf(c[3]),
                    _unf(c[4]),
                    int(c[5]),
                    int(c[6]),
                    int(c[7]),
                )
                for c in p["channels"]
            ),
            _unf(p["luma"][0]),
            _unf(p["luma"][1]),
            int(p["fp16_overflow"]),
            tuple((_unf(v), int(n)) for v, n in p["sentinels"]),
            str(p["content_hash"]),
            int(p["phash"]),
        )
    if "labels" in d:
        lab = d["labels"]
        labels = LabelStats(
            tuple((int(v), int(n)) for v, n in lab["histogram"]),
            int(lab["pixels"]),
            int(lab["non_integer"]),
            int(lab["nan"]),
            int(lab["inf"]),
            tuple(int(v) for v in lab["boundary_labels"]),
        )
    return FileRecord(
        path=path,
        kind=kind,
        split=split,
        size_bytes=d["size_bytes"],
        format=d["format"],
        mode=d["mode"],
        dtype=d["dtype"],
        width=d["width"],
        height=d["height"],
        channels=d["channels"],
        frames=d["frames"],
        exif_orientation=d["exif_orientation"],
        nodata=None if d["nodata"] is None else _unf(d["nodata"]),
        lossy=d["lossy"],
        bits=int(d.get("bits", 0)),
        channels_differ=d["channels_differ"],
        colours=d["colours"],
        notes=tuple(d["notes"]),
        pixels=pixels,
        labels=labels,
        error=None if d["error"] is None else DecodeError(d["error"][0], d["error"][1]),
    )


# --------------------------------------------------------------------------- the store


class RecordCache:
    """A SQLite table of records; every failure to use it degrades to "no cache"."""

    def __init__(self, directory: Path, settings: DecodeSettings) -> None:
        self.directory = directory
        self.settings = settings_key(settings)
        self.problem: str | None = None
        self._db: sqlite3.Connection | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(directory / "records.sqlite3", timeout=10)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS records (path BLOB, kind TEXT, settings TEXT, "
                "size INTEGER, mtime INTEGER, ctime INTEGER, inode INTEGER, record TEXT, "
                "PRIMARY KEY (path, kind, settings))"
            )
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            self.problem = f"cache disabled: {exc}"
            self._db = None

    @property
    def usable(self) -> bool:
        return self._db is not None

    def lookup(self, items: Iterable[tuple[Path, Kind]]) -> dict[tuple[Path, Kind], str]:
        """The stored JSON of every item whose file is unchanged since it was stored."""
        if self._db is None:
            return {}
        wanted = {(os.fsencode(p), k.value): (p, k) for p, k in items}
        found: dict[tuple[Path, Kind], str] = {}
        try:
            rows = self._db.execute(
                "SELECT path, kind, size, mtime, ctime, inode, record FROM records "
                "WHERE settings = ?",
                (self.settings,),
            )
            for path, kind, size, mtime, ctime, inode, record in rows:
                item = wanted.get((bytes(path), kind))
                if item is not None and file_key(item[0]) == (size, mtime, ctime, inode):
                    found[item] = record
        except sqlite3.Error as exc:
            self.problem = f"cache unreadable, ignored: {exc}"
            return {}
        return found

    def store(
        self, entries: Iterator[tuple[Path, Kind, tuple[int, int, int, int], FileRecord]]
    ) -> None:
        if self._db is None:
            return
        try:
            with closing(self._db.cursor()) as cur:
                cur.executemany(
                    "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        (os.fsencode(p), k.value, self.settings, *key, record_to_json(rec))
                        for p, k, key, rec in entries
                    ),
                )
            self._db.commit()
        except sqlite3.Error as exc:
            self.problem = f"cache not updated: {exc}"

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
