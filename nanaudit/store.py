"""The records of a scan, out of memory once there are many: an SQLite file of their own.

A scan of ten million files cannot keep ten million records in one process. A
:class:`RecordStore` holds the records of a scan (or of a merge) keyed like the collect
stage keys them, ``(path, kind)``: in a dict while they are few (``MEMORY_BUDGET``), then,
from the record that passes the budget on, in an SQLite database in a private temporary
folder (``tempfile.mkdtemp``, mode 0700) under the system's temporary folder or the cache
folder, never under the scanned folder. Records are stored as rows of plain values
(rows.py: marshal of each record's fields, a few times faster than the records codec's
JSON, which the store used before), never pickled. The folder is removed when the store
is closed, when it is garbage collected (an error, Ctrl-C) and at the latest when the
interpreter exits.

The stages that need every file read them back as streams: the pairs of a split in the
plan's order (:class:`StoredPairs`, what the checks iterate), the distinct files of a split
in path order (what the statistics fold, so that the sums of floating-point moments are
associated as in memory and the report is the same bytes), and every file once in path
order (the report's ``files``: :class:`StoredFiles`).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
import weakref
from array import array
from collections.abc import (
    Callable,
    Collection,
    ItemsView,
    Iterable,
    Iterator,
    MutableMapping,
    Sequence,
)
from pathlib import Path
from typing import Any, overload

from . import rows
from .records import FileKind, FileRecord, Pair

MEMORY_BUDGET = 20_000  # records kept in a dict before the store spills to disk
CHUNK = 2048  # pairs a stream hands over at a time (the checks run on a chunk)
FETCH = 512  # rows fetched from SQLite at a time

Key = tuple[Path, FileKind]
Transform = Callable[[FileRecord], FileRecord]

_SCHEMA = """
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    kind TEXT NOT NULL,
    rel BLOB NOT NULL,
    body BLOB NOT NULL,
    UNIQUE (key, kind)
);
CREATE INDEX records_rel ON records (rel, kind);
CREATE TABLE pairs (
    split INTEGER NOT NULL,
    ord INTEGER NOT NULL,
    image INTEGER,
    mask INTEGER,
    PRIMARY KEY (split, ord)
) WITHOUT ROWID;
CREATE INDEX pairs_image ON pairs (image, split, ord);
CREATE INDEX pairs_mask ON pairs (mask, split, ord);
"""


def _text(path: Path) -> bytes:
    """A key's path as SQLite holds it (undecodable names' lone surrogates kept)."""
    return str(path).encode("utf-8", "surrogatepass")


def _path(text: bytes) -> Path:
    return Path(text.decode("utf-8", "surrogatepass"))


def _sortable(rel: str) -> bytes:
    """A path as SQLite orders it like Python orders strings: UTF-8 (code point order),
    lone surrogates of undecodable names kept."""
    return rel.encode("utf-8", "surrogatepass")


def _body(rec: FileRecord) -> bytes:
    return rows.dumps(rec)


def _record(body: bytes) -> FileRecord:
    return rows.loads(FileRecord, body)


def inside(folder: Path, root: Path | None) -> bool:
    """Whether ``folder`` lies in ``root`` (or cannot be told apart from it)."""
    if root is None:
        return False
    try:
        return folder.resolve().is_relative_to(root.resolve())
    except OSError:
        return True


def spill_folder(root: Path | None, cache_dir: Path | None = None) -> Path | None:
    """Where a store may spill: the system's temporary folder, else the cache folder, the
    first that does not lie in the scanned folder ``root`` (None: neither; the records
    stay in memory)."""
    for folder in (Path(tempfile.gettempdir()), cache_dir):
        if folder is not None and folder.is_dir() and not inside(folder, root):
            return folder
    return None


def _remove(db: sqlite3.Connection | None, folder: str | None) -> None:
    if db is not None:
        with contextlib.suppress(sqlite3.Error):
            db.close()
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


class RecordStore(MutableMapping[Key, FileRecord]):
    """The records of a scan by ``(path, kind)``: a dict up to ``budget`` records, then an
    SQLite file in a private folder under ``folder`` (None: never spilled). Iteration is in
    the order the records were first put."""

    def __init__(self, folder: Path | None = None, budget: int | None = None) -> None:
        self.budget = MEMORY_BUDGET if budget is None else budget
        self.folder = folder
        self.memory: dict[Key, FileRecord] | None = {}
        self.db: sqlite3.Connection | None = None
        self.where: str | None = None  # the private folder, once spilled
        self._pending: list[tuple[Key, FileRecord]] = []  # puts not yet written
        self._finalizer: weakref.finalize | None = None  # type: ignore[type-arg]
        if self.folder is not None and self.budget <= 0:
            self._spill()

    # the mapping --------------------------------------------------------------------

    @property
    def spilled(self) -> bool:
        return self.db is not None

    def __len__(self) -> int:
        if self.memory is not None:
            return len(self.memory)
        self._flush()
        row = self._db.execute("SELECT COUNT(*) FROM records").fetchone()
        return int(row[0])

    def __getitem__(self, key: Key) -> FileRecord:
        if self.memory is not None:
            return self.memory[key]
        self._flush()
        row = self._db.execute(
            "SELECT body FROM records WHERE key = ? AND kind = ?", (_text(key[0]), key[1].value)
        ).fetchone()
        if row is None:
            raise KeyError(key)
        return _record(row[0])

    def __contains__(self, key: object) -> bool:
        if self.memory is not None:
            return key in self.memory
        if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], FileKind)):
            return False
        self._flush()
        row = self._db.execute(
            "SELECT 1 FROM records WHERE key = ? AND kind = ?", (_text(key[0]), key[1].value)
        ).fetchone()
        return row is not None

    def __setitem__(self, key: Key, rec: FileRecord) -> None:
        if self.memory is not None:
            self.memory[key] = rec
            if len(self.memory) > self.budget and self.folder is not None:
                self._spill()
            return
        self._pending.append((key, rec))
        if len(self._pending) >= FETCH:
            self._flush()

    def __delitem__(self, key: Key) -> None:
        if self.memory is not None:
            del self.memory[key]
            return
        self._flush()
        cur = self._db.execute(
            "DELETE FROM records WHERE key = ? AND kind = ?", (_text(key[0]), key[1].value)
        )
        if not cur.rowcount:
            raise KeyError(key)

    def __iter__(self) -> Iterator[Key]:
        if self.memory is not None:
            yield from list(self.memory)
            return
        self._flush()
        for key, kind in self._rows("SELECT key, kind FROM records ORDER BY id"):
            yield _path(key), FileKind(kind)

    def records(self) -> Iterator[tuple[Key, FileRecord]]:
        """Every (key, record), in the order they were first put, streamed."""
        if self.memory is not None:
            yield from list(self.memory.items())
            return
        self._flush()
        for key, kind, body in self._rows("SELECT key, kind, body FROM records ORDER BY id"):
            yield (_path(key), FileKind(kind)), _record(body)

    def put_first(self, items: Iterable[tuple[Key, FileRecord]]) -> None:
        """Put each record whose key is not in the store yet (the first record of a key
        wins, as ``setdefault``)."""
        batch: list[tuple[Key, FileRecord]] = []
        for key, rec in items:
            if self.memory is not None:
                self.setdefault(key, rec)
                continue
            batch.append((key, rec))
            if len(batch) >= FETCH:
                self._put(batch, replace=False)
                batch.clear()
        if batch:
            self._put(batch, replace=False)

    def items(self) -> ItemsView[Key, FileRecord]:
        return _Items(self)

    def positional(self) -> tuple[Sequence[Key], Sequence[FileRecord]]:
        """The keys and the records by their place in the order of :meth:`records`, read
        when asked for (a spilled store keeps a row id, 8 bytes, a record)."""
        if self.memory is not None:
            return list(self.memory), list(self.memory.values())
        self._flush()
        ids = array("q", (i for (i,) in self._rows("SELECT id FROM records ORDER BY id")))
        return _ByPlace(self, ids, "key, kind"), _ByPlace(self, ids, "body")

    def sorted_records(self) -> Iterator[FileRecord]:
        """Every record in (path, kind) order, streamed."""
        if self.memory is not None:
            yield from sorted(self.memory.values(), key=lambda r: (r.path, r.kind.value))
            return
        self._flush()
        for (body,) in self._rows("SELECT body FROM records ORDER BY rel, kind"):
            yield _record(body)

    # the disk -----------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        assert self.db is not None
        return self.db

    def _spill(self) -> None:
        assert self.folder is not None and self.memory is not None
        where = tempfile.mkdtemp(prefix="nanaudit-records-", dir=self.folder)
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(Path(where, "records.sqlite"), isolation_level=None)
            self._finalizer = weakref.finalize(self, _remove, db, where)
            # a scratch file: nothing to recover after a crash, so no journal and no sync;
            # SQLite's own temporary files (sorts) go to memory, its queries walk indexes
            for pragma in (
                "journal_mode = OFF",
                "synchronous = OFF",
                "temp_store = MEMORY",
                "cache_size = -8192",
            ):
                db.execute(f"PRAGMA {pragma}")
            db.executescript(_SCHEMA)
        except BaseException:
            _remove(db, where)
            raise
        self.db, self.where = db, where
        memory, self.memory = self.memory, None
        self._put(list(memory.items()))

    def _flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self._put(pending)

    def _put(self, items: Sequence[tuple[Key, FileRecord]], replace: bool = True) -> None:
        conflict = "UPDATE SET rel = excluded.rel, body = excluded.body" if replace else "NOTHING"
        self._many(
            "INSERT INTO records (key, kind, rel, body) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (key, kind) DO {conflict}",
            [(_text(key[0]), key[1].value, _sortable(rec.path), _body(rec)) for key, rec in items],
        )

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """``executemany`` in one transaction: without one, SQLite commits each row on its
        own (44 µs a record, against 9)."""
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(sql, rows)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[Any]:
        self._flush()
        cur = self._db.execute(sql, params)
        while rows := cur.fetchmany(FETCH):
            yield from rows

    def close(self) -> None:
        """Remove the spilled records (and their folder); the store is empty after."""
        if self._finalizer is not None:
            self._finalizer()
        self.db, self.memory, self._pending = None, {}, []

    # the plan's pairs ---------------------------------------------------------------

    def add_pairs(self, split: int, pairs: Iterable[tuple[Key | None, Key | None]]) -> int:
        """Note the pairs of split number ``split`` (keys of their image and mask, in the
        plan's order) for :meth:`pairs`; returns how many. Only for a spilled store."""
        self._flush()
        ids = "SELECT id FROM records WHERE key = ? AND kind = ?"
        n = 0
        batch: list[tuple[int, int, Any, Any, Any, Any]] = []

        def flush() -> None:
            self._many(f"INSERT INTO pairs VALUES (?, ?, ({ids}), ({ids}))", batch)
            batch.clear()

        for image, mask in pairs:
            batch.append(
                (
                    split,
                    n,
                    *((_text(image[0]), image[1].value) if image else (None, None)),
                    *((_text(mask[0]), mask[1].value) if mask else (None, None)),
                )
            )
            n += 1
            if len(batch) >= FETCH:
                flush()
        if batch:
            flush()
        return n

    def pair_rows(
        self, split: int, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[FileRecord | None, FileRecord | None, bool, bool]]:
        """The pairs of a split in order: (image, mask, whether the image is met for the
        first time in the split, whether the mask is)."""
        sql = """
            SELECT i.body, m.body,
                p.image IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pairs q
                    WHERE q.image = p.image AND q.split = p.split AND q.ord < p.ord),
                p.mask IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pairs q
                    WHERE q.mask = p.mask AND q.split = p.split AND q.ord < p.ord)
            FROM pairs p
            LEFT JOIN records i ON i.id = p.image
            LEFT JOIN records m ON m.id = p.mask
            WHERE p.split = ? AND p.ord >= ? AND p.ord < ?
            ORDER BY p.ord
        """
        end = stop if stop is not None else 1 << 62
        for image, mask, first_image, first_mask in self._rows(sql, (split, start, end)):
            yield (
                _record(image) if image is not None else None,
                _record(mask) if mask is not None else None,
                bool(first_image),
                bool(first_mask),
            )

    def split_files(self, split: int) -> Iterator[FileRecord]:
        """The distinct files of a split's pairs, in (path, kind) order."""
        sql = """
            SELECT r.body FROM records r INDEXED BY records_rel
            WHERE EXISTS (SELECT 1 FROM pairs p WHERE p.image = r.id AND p.split = ?)
               OR EXISTS (SELECT 1 FROM pairs p WHERE p.mask = r.id AND p.split = ?)
            ORDER BY r.rel, r.kind
        """
        for (body,) in self._rows(sql, (split, split)):
            yield _record(body)

    def pair_counts(self, split: int) -> tuple[int, int, int]:
        """(pairs, pairs with both files, pairs with an image) of a split."""
        self._flush()
        row = self._db.execute(
            "SELECT COUNT(*), COUNT(image + mask), COUNT(image) FROM pairs WHERE split = ?",
            (split,),
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def every_file(self) -> Iterator[FileRecord]:
        """Every file of the pairs once, in path order; a path that is both an image and a
        mask is the record the pairs meet first (split, place, image before mask)."""
        sql = """
            SELECT r.id, r.rel, r.body FROM records r INDEXED BY records_rel
            WHERE EXISTS (SELECT 1 FROM pairs p WHERE p.image = r.id)
               OR EXISTS (SELECT 1 FROM pairs p WHERE p.mask = r.id)
            ORDER BY r.rel, r.kind
        """
        group: list[tuple[int, bytes]] = []
        rel: bytes | None = None
        for rid, r, body in self._rows(sql):
            if r != rel and group:
                yield self._first_met(group)
                group = []
            rel = r
            group.append((rid, body))
        if group:
            yield self._first_met(group)

    def file_count(self) -> int:
        """How many files :meth:`every_file` yields."""
        self._flush()
        row = self._db.execute(
            "SELECT COUNT(DISTINCT rel) FROM records r "
            "WHERE EXISTS (SELECT 1 FROM pairs p WHERE p.image = r.id) "
            "OR EXISTS (SELECT 1 FROM pairs p WHERE p.mask = r.id)"
        ).fetchone()
        return int(row[0])

    def _first_met(self, group: list[tuple[int, bytes]]) -> FileRecord:
        if len(group) == 1:
            return _record(group[0][1])
        met = """
            SELECT MIN(split * 4294967296 * 4 + ord * 2 + which) FROM (
                SELECT split, ord, 0 AS which FROM pairs WHERE image = ?
                UNION ALL SELECT split, ord, 1 FROM pairs WHERE mask = ?)
        """
        first = min(group, key=lambda g: self._db.execute(met, (g[0], g[0])).fetchone()[0])
        return _record(first[1])


class StoredPairs(Sequence[Pair]):
    """A split's pairs as the checks and the gallery iterate them, read from a spilled
    store in the plan's order (the masks with the plan's label transform)."""

    def __init__(
        self, store: RecordStore, split: int, name: str, labeled: bool, transform: Transform
    ) -> None:
        self.store, self.split, self.name, self.labeled = store, split, name, labeled
        self.transform = transform
        self.size = store.pair_counts(split)[0]

    def __len__(self) -> int:
        return self.size

    def _pair(self, image: FileRecord | None, mask: FileRecord | None) -> Pair:
        return Pair(self.name, image, self.transform(mask) if mask else None, self.labeled)

    @overload
    def __getitem__(self, index: int) -> Pair: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Pair]: ...

    def __getitem__(self, index: int | slice) -> Pair | Sequence[Pair]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.size))]
        i = index + self.size if index < 0 else index
        if not 0 <= i < self.size:
            raise IndexError(index)
        for image, mask, _, _ in self.store.pair_rows(self.split, i, i + 1):
            return self._pair(image, mask)
        raise IndexError(index)

    def __iter__(self) -> Iterator[Pair]:
        for chunk, _ in self.chunks():
            yield from chunk

    def chunks(self, size: int = CHUNK) -> Iterator[tuple[list[Pair], list[tuple[bool, bool]]]]:
        """The pairs ``size`` at a time, each with whether its image and its mask are met
        for the first time in the split."""
        pairs: list[Pair] = []
        firsts: list[tuple[bool, bool]] = []
        for image, mask, first_image, first_mask in self.store.pair_rows(self.split):
            pairs.append(self._pair(image, mask))
            firsts.append((first_image, first_mask))
            if len(pairs) >= size:
                yield pairs, firsts
                pairs, firsts = [], []
        if pairs:
            yield pairs, firsts

    def sorted_files(self) -> Iterator[FileRecord]:
        """The split's distinct files in (path, kind) order, the masks transformed."""
        for rec in self.store.split_files(self.split):
            yield self.transform(rec) if rec.kind is FileKind.MASK else rec

    def pair_counts(self, labeled: bool) -> tuple[int, int]:
        """(pairs of an image and a mask, samples a loader yields)."""
        _, both, with_image = self.store.pair_counts(self.split)
        return both, with_image if not labeled else both


class SortedRecords(Collection[FileRecord]):
    """Every record of a store in (path, kind) order, streamed (a shard's partial file)."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def __len__(self) -> int:
        return len(self.store)

    def __contains__(self, rec: object) -> bool:
        return any(r == rec for r in self)

    def __iter__(self) -> Iterator[FileRecord]:
        return self.store.sorted_records()


class StoredFiles(Iterable[FileRecord]):
    """Every file of a spilled scan once, in path order, as the report lists them (the
    masks with the plan's label transform, as the checks saw them)."""

    def __init__(self, store: RecordStore, transform: Transform) -> None:
        self.store, self.transform = store, transform

    def __len__(self) -> int:
        return self.store.file_count()

    def __iter__(self) -> Iterator[FileRecord]:
        for rec in self.store.every_file():
            yield self.transform(rec) if rec.kind is FileKind.MASK else rec


class _Items(ItemsView[Key, FileRecord]):
    _mapping: RecordStore

    def __iter__(self) -> Iterator[tuple[Key, FileRecord]]:
        return self._mapping.records()


class _ByPlace(Sequence[Any]):
    """Keys or records of a spilled store by place, read one at a time."""

    def __init__(self, store: RecordStore, ids: array[int], columns: str) -> None:
        self.store, self.ids, self.columns = store, ids, columns

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self.ids)))]
        row = self.store._db.execute(
            f"SELECT {self.columns} FROM records WHERE id = ?", (self.ids[index],)
        ).fetchone()
        if len(row) == 2:
            return _path(row[0]), FileKind(row[1])
        return _record(row[0])

    def __iter__(self) -> Iterator[Any]:
        for start in range(0, len(self.ids), FETCH):
            yield from (self[i] for i in range(start, min(start + FETCH, len(self.ids))))
