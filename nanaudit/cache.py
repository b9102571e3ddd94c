"""The incremental cache: per-file records keyed by the file's stamp and the decode limits.

It lives outside the scanned folder (``$NANAUDIT_CACHE_DIR``, else
``$XDG_CACHE_HOME/nanaudit``, else ``~/.cache/nanaudit``) in one SQLite file, so that a
crash mid-write leaves the last committed state (SQLite's journal) and deleting the folder
is always safe.  Records are stored as JSON through the records codec, never pickled, so a
cache planted by someone else cannot run code; a row that does not decode is a miss and is
recomputed.  A record is reused only when the file's size, mtime, ctime and inode (for
remote storage: the object's ETag, version and size) and the settings key are unchanged.

The settings key follows from what shapes a record, never from a number bumped by hand: the
decode limits, the JSON schema of the record types (a new field, a renamed one, a changed
type: a new key) and a hash of the source of the code that reduces a file to its record
(``REDUCTION_MODULES``: any edit there is a new key). Thresholds and the selection of checks
are not part of it (they apply after the records).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .records import CodecError, DecodeLimits, FileKind, FileRecord, decode, encode, schema_of
from .version import __version__

# The modules whose code turns a file into its record: the readers, the reductions, the
# statistics and hashes they compute, the record types and their codec. Modules below them
# that the records do not depend on (thumbnails: visuals.py keys those) stay out.
# (Paths in the package, read as files: importing the readers would load Pillow, which a
# warm run never needs.)
REDUCTION_MODULES = (
    "decode/__init__.py",
    "decode/foreground.py",
    "decode/formats.py",
    "decode/georef.py",
    "decode/geotiff.py",
    "decode/nifti.py",
    "decode/profiles.py",
    "decode/readers.py",
    "decode/reduce.py",
    "loaders.py",
    "memory.py",
    "neardup.py",
    "records.py",
    "stats.py",
)
PACKAGE = Path(__file__).parent
LOOKUP_BATCH = 500  # keys per SELECT (SQLite allows 32,766 parameters)

# (size, mtime, ctime, inode) of a local file; ("remote", ETag, version, size) of an object
Stamp = tuple[Any, ...]


def default_cache_dir() -> Path:
    env = os.environ.get("NANAUDIT_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "nanaudit"


def cache_file(directory: Path) -> Path:
    """The cache's one file in its folder."""
    return directory / "records.sqlite3"


def source_hash(modules: Iterable[str], package: Path = PACKAGE) -> str:
    """A hash of the source of ``modules`` (paths under ``package``; the version stands for
    a module installed without its source)."""
    digest = hashlib.sha256()
    for name in modules:
        try:
            source = (package / name).read_bytes()
        except OSError:
            source = __version__.encode()
        digest.update(name.encode() + b"\0" + source + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def reduction_version() -> str:
    """The version of the code that makes records: a hash of REDUCTION_MODULES' source."""
    return source_hash(REDUCTION_MODULES)


def record_key(
    limits: DecodeLimits, record_type: type[Any] = FileRecord, reduction: str | None = None
) -> str:
    """The settings part of the key: what shapes a record. The memory limits are left out
    (see DecodeLimits)."""
    shaping = {k: v for k, v in asdict(limits).items() if k not in DecodeLimits.UNKEYED}
    schema = schema_of(record_type, report=False)
    parts = [__version__, reduction or reduction_version(), schema, shaping]
    text = json.dumps(parts, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def limits_key(limits: DecodeLimits) -> str:
    """The key of the records (and thumbnails) made under ``limits``."""
    return record_key(limits)


def file_stamp(path: Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def record_to_json(rec: FileRecord) -> str:
    return json.dumps(encode(rec), separators=(",", ":"))


def record_from_json(text: str, path: str, kind: FileKind, split: str) -> FileRecord:
    """A cached record for the file it now stands for. Raises CodecError."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError, RecursionError) as exc:
        raise CodecError(f"not JSON: {exc}") from None
    rec = decode(FileRecord, data)
    if rec.kind is not kind:
        raise CodecError("cached record of another kind")
    return dataclasses.replace(rec, path=path, split=split)


def lookup_sql(n: int) -> str:
    """The lookup of ``n`` paths: a search of the primary key (settings, path, kind), so
    that rows of other datasets and settings are never read (tests check its query plan)."""
    return (
        "SELECT path, kind, size, mtime, ctime, inode, "
        f"CASE WHEN length(record) <= {MAX_RECORD_CHARS} THEN record END FROM records_v6 "
        f"WHERE settings = ? AND path IN ({','.join('?' * n)})"
    )


# A stored record is untrusted (a file on disk): one longer than this is a miss, never read
# (a record's size follows its mask's distinct labels; 16 MiB holds some 500,000 of them)
MAX_RECORD_CHARS = 16 << 20


class RecordCache:
    """A SQLite table of records; every failure to use it degrades to "no cache"."""

    def __init__(
        self,
        directory: Path,
        limits: DecodeLimits,
        stamp: Callable[[Path], Stamp | None] | None = None,
    ) -> None:
        self.directory = directory
        self.key = limits_key(limits)
        # what says a file changed: size, mtime, ctime, inode; ETag, version, size remotely
        self._stamp = stamp or file_stamp
        self.problem: str | None = None
        self._db: sqlite3.Connection | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(cache_file(directory), timeout=10)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS records_v6 (path BLOB, kind TEXT, settings TEXT, "
                "size INTEGER, mtime INTEGER, ctime INTEGER, inode INTEGER, record TEXT, "
                "PRIMARY KEY (settings, path, kind))"
            )
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            self.problem = f"cache disabled: {exc}"
            self._db = None

    @property
    def usable(self) -> bool:
        return self._db is not None

    def lookup(self, items: Iterable[tuple[Path, FileKind]]) -> dict[tuple[Path, FileKind], str]:
        """The stored JSON of every item whose file is unchanged since it was stored."""
        if self._db is None:
            return {}
        wanted = {(os.fsencode(p), k.value): (p, k) for p, k in items}
        paths = sorted({p for p, _ in wanted})
        found: dict[tuple[Path, FileKind], str] = {}
        try:
            for i in range(0, len(paths), LOOKUP_BATCH):
                batch = paths[i : i + LOOKUP_BATCH]
                rows = self._db.execute(lookup_sql(len(batch)), (self.key, *batch))
                for path, kind, size, mtime, ctime, inode, record in rows:
                    item = wanted.get((bytes(path), kind))
                    if not isinstance(record, str):
                        continue  # too long, or not text: a miss, decoded again
                    if item is not None and self._stamp(item[0]) == (size, mtime, ctime, inode):
                        found[item] = record
        except sqlite3.Error as exc:
            self.problem = f"cache unreadable, ignored: {exc}"
            return {}
        return found

    def drop(self, items: Iterable[tuple[Path, FileKind]]) -> None:
        """Forget rows that did not decode (they are recomputed and stored again)."""
        if self._db is None:
            return
        try:
            self._db.executemany(
                "DELETE FROM records_v6 WHERE settings = ? AND path = ? AND kind = ?",
                ((self.key, os.fsencode(p), k.value) for p, k in items),
            )
            self._db.commit()
        except sqlite3.Error as exc:
            self.problem = f"cache not updated: {exc}"

    def store(self, entries: Iterator[tuple[Path, FileKind, Stamp, FileRecord]]) -> None:
        if self._db is None:
            return
        try:
            with closing(self._db.cursor()) as cur:
                cur.executemany(
                    "INSERT OR REPLACE INTO records_v6 "
                    "(settings, path, kind, size, mtime, ctime, inode, record) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        (self.key, os.fsencode(p), k.value, *stamp, record_to_json(rec))
                        for p, k, stamp, rec in entries
                    ),
                )
            self._db.commit()
        except sqlite3.Error as exc:
            self.problem = f"cache not updated: {exc}"

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
