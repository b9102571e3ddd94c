"""A listing of files that costs a few dozen bytes a file, not a Path's three hundred.

Discovery holds every file of a split while it pairs them, and the plan holds the pairs
until the report is written: a million files as Path objects (their strings and the parts
they cache) are 300 MB before a byte is decoded. A :class:`FileList` keeps each file as its
folder's number and its name's bytes in one buffer (about 25 bytes a file for the names of
a sharded dataset) and makes a Path only when one is read.
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar, overload

T = TypeVar("T")


class Indexed(Sequence[T]):
    """A sequence kept in columns that makes an item when one is read: indexing (negative
    indexes, slices, bounds) once for all of them; a subclass gives ``__len__`` and
    ``_at(i)`` for ``0 <= i < len``."""

    __slots__ = ()

    def _at(self, index: int) -> T:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, slice):
            return [self._at(i) for i in range(*index.indices(len(self)))]
        i = index + len(self) if index < 0 else index
        if not 0 <= i < len(self):
            raise IndexError(f"{type(self).__name__} index out of range")
        return self._at(i)


class FileList(Indexed[Path]):
    """Files in the order they were added, each its folder (a string kept once) and its
    name (encoded as the OS encodes it, so that any name survives the round trip)."""

    __slots__ = ("_ends", "_folder", "_folders", "_index", "_names")

    def __init__(self, paths: Iterable[Path | str] = ()) -> None:
        self._clear()
        for p in paths:
            self.append(p)

    def _clear(self) -> None:
        self._folders: list[str] = []
        self._index: dict[str, int] = {}
        self._folder = array("i")  # each file's folder, a number in _folders (4 bytes)
        self._ends = array("q")  # each file's name ends here in _names
        self._names = bytearray()

    def folder_id(self, folder: str) -> int:
        """The number of ``folder`` (added when new)."""
        fid = self._index.get(folder)
        if fid is None:
            fid = self._index[folder] = len(self._folders)
            self._folders.append(folder)
        return fid

    def add(self, fid: int, name: str) -> None:
        """A file ``name`` in the folder numbered ``fid``."""
        self._folder.append(fid)
        self._names += os.fsencode(name)
        self._ends.append(len(self._names))

    def append(self, path: Path | str) -> None:
        folder, name = os.path.split(os.fspath(path))
        self.add(self.folder_id(folder), name)

    def __len__(self) -> int:
        return len(self._ends)

    def name(self, i: int) -> str:
        start = self._ends[i - 1] if i > 0 else 0
        return os.fsdecode(bytes(self._names[start : self._ends[i]]))

    def folder(self, i: int) -> str:
        """The folder of file ``i`` as a string."""
        return self._folders[self._folder[i]]

    def fid(self, i: int) -> int:
        return self._folder[i]

    @property
    def folders(self) -> Sequence[str]:
        return self._folders

    def text(self, i: int) -> str:
        """File ``i``'s path as a string (what a Path of it would print)."""
        return os.path.join(self._folders[self._folder[i]], self.name(i))

    def _at(self, index: int) -> Path:
        return Path(self.text(index))

    def texts(self) -> Iterator[str]:
        """Every path as a string, in order."""
        folders, ids, ends, names = self._folders, self._folder, self._ends, self._names
        join, decode = os.path.join, os.fsdecode
        start = 0
        for i, end in enumerate(ends):
            yield join(folders[ids[i]], decode(bytes(names[start:end])))
            start = end

    def __iter__(self) -> Iterator[Path]:
        return map(Path, self.texts())

    def sort(self) -> None:
        """Sort as Paths sort (by their parts): for listings that do not come in order."""
        paths = sorted(self)
        self._clear()
        for p in paths:
            self.append(p)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FileList | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FileList({len(self):,} files)"
