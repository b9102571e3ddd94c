"""Listing folders: every place discovery touches the file system.

A :class:`Walker` does the listing for one discovery.  It stays inside the scanned root: a
symbolic link (to a file or a folder) whose target lies outside the root, and outside every
folder the user named, is not followed but listed as skipped with the reason, unless the
user asked for ``--follow-links``.  A folder that cannot be listed is remembered (NA008
names it) instead of vanishing from the audit.

Discovery runs inside ``listing_from(storage)``: with remote storage (an fsspec URL) every
listing here is answered from that storage's one listing instead of the local file system
(an object store has no links, loops or unreadable folders).
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..paths import LINK_OUTSIDE
from ..records import IMAGE_SUFFIXES, image_suffix
from ..storage import MAX_KEY_LENGTH, RemoteStorage, Storage
from .filelist import FileList

MAX_LIST_BYTES = 16 << 20  # a split list: VOC's train_aug.txt is 0.2 MB


_REMOTE: ContextVar[RemoteStorage | None] = ContextVar("nanaudit_remote", default=None)


@contextlib.contextmanager
def listing_from(storage: Storage) -> Iterator[None]:
    """Discovery lists ``storage`` (the local file system unless it is remote)."""
    token = _REMOTE.set(storage if isinstance(storage, RemoteStorage) else None)
    try:
        yield
    finally:
        _REMOTE.reset(token)


def is_dir(path: Path) -> bool:
    """Whether ``path`` is a folder; not when it cannot be looked at (a link to /proc/1/cwd:
    pathlib raises on EACCES)."""
    remote = _REMOTE.get()
    if remote is not None:
        return remote.is_dir(path)
    try:
        return path.is_dir()
    except OSError:
        return False


def is_file(path: Path) -> bool:
    remote = _REMOTE.get()
    if remote is not None:
        return remote.is_file(path)
    try:
        return path.is_file()
    except OSError:
        return False


def read_small(path: Path, limit: int) -> bytes:
    """A small file of the dataset (a catalogue), at most ``limit`` bytes, from where
    discovery lists: a regular file opened without blocking (a FIFO is never waited on),
    or an object of remote storage of at most ``limit`` bytes as its listing says, read
    no further than ``limit`` + 1 bytes whatever it holds. Raises OSError (with a reason)
    when it cannot be read or is larger."""
    remote = _REMOTE.get()
    if remote is not None:
        kind, size = remote.kind_and_size(path)
        if kind != "file":
            raise OSError("no such object" if kind is None else "not a regular file")
        if size > limit:
            raise OSError(f"larger than {limit:,} bytes")
        try:
            with remote.open(path, size) as fh:
                data = fh.read(limit + 1)
        except OSError:
            raise
        except Exception as exc:  # the SDKs' own errors
            raise OSError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    else:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError("not a regular file")
            data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"larger than {limit:,} bytes")
    return data


def listing_remote() -> bool:
    """Whether discovery lists remote storage (where folders cannot be named by flags)."""
    return _REMOTE.get() is not None


def shown(path: Path) -> str:
    """A folder as messages name it: by its URL in remote storage (where the pipeline's
    ``/bucket/prefix`` path means nothing to the user, and an empty listing means a
    misspelt bucket or prefix), else as the path."""
    remote = _REMOTE.get()
    if remote is None or not PurePosixPath(path).is_relative_to(PurePosixPath(remote.root)):
        return str(path)
    rel = remote.rel(path)
    url = f"{remote.shown_url}/{rel}" if rel else remote.shown_url
    return url if remote.listing() else f"{url} (no object there: check the bucket and prefix)"


@dataclass
class Walk:
    files: FileList = field(default_factory=FileList)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Walker:
    """Lists folders for one discovery, within ``boundaries`` (real paths: the scanned root
    and the folders the user named); remembers every folder it could not list and every
    link it did not follow, for the plan to report."""

    boundaries: tuple[str, ...] = ()
    follow_links: bool = False
    unreadable: dict[Path, str] = field(default_factory=dict)
    outside: dict[Path, str] = field(default_factory=dict)

    @classmethod
    def within(cls, folders: Iterable[Path], follow_links: bool = False) -> Walker:
        return cls(tuple(dict.fromkeys(_real(p) for p in folders)), follow_links)

    def bound(self, root: Path) -> None:
        """Stay within ``root`` when no boundary was given (discovery without a plan)."""
        if not self.boundaries:
            self.boundaries = (_real(root),)

    def allows(self, path: Path | str) -> bool:
        """Whether ``path`` may be read: links are followed, or it resolves inside."""
        if self.follow_links or not self.boundaries:
            return True
        try:
            real = os.path.realpath(path)
        except OSError:  # a link that cannot be read (/proc/1/cwd) cannot be shown inside
            return False
        return any(real == b or real.startswith(b.rstrip(os.sep) + os.sep) for b in self.boundaries)

    def _refuse(self, path: Path, out: Walk) -> None:
        self.outside.setdefault(path, LINK_OUTSIDE)
        out.skipped.append((path, LINK_OUTSIDE))

    def files(self, root: Path, exclude: Iterable[Path] = ()) -> Walk:
        """Every file below root, sorted; non-images, hidden files and links leading out of
        the scanned folder are skipped with a reason; unlistable folders are remembered."""
        remote = _REMOTE.get()
        if remote is not None:
            return _remote_files(remote, root, exclude)
        out = Walk()
        if not self.allows(root):
            self._refuse(root, out)
            return out
        excluded = {_real(p) for p in exclude}
        seen: set[tuple[int, int]] = set()
        # Depth first, each folder's files and sub-folders in the order of their names, so
        # that the files come out in the order Paths sort in (by their parts) and a million
        # of them are never sorted, nor held as Paths: each folder's entries are classified
        # when it is listed (skipped files and problems in the order of the folders), then
        # its files are added and its sub-folders walked in place.
        stack: list[Iterator[tuple[str, bool]]] = []
        folder_ids: list[int] = []
        listed = self._list(root, root, out, excluded, seen)
        if listed is not None:
            stack.append(iter(listed))
            folder_ids.append(out.files.folder_id(str(root)))
        while stack:
            for name, is_folder in stack[-1]:
                if not is_folder:
                    out.files.add(folder_ids[-1], name)
                    continue
                folder = Path(out.files.folders[folder_ids[-1]], name)
                listed = self._list(folder, root, out, excluded, seen)
                if listed is not None:
                    stack.append(iter(listed))
                    folder_ids.append(out.files.folder_id(str(folder)))
                    break
            else:
                stack.pop()
                folder_ids.pop()
        return out

    def _list(
        self,
        folder: Path,
        root: Path,
        out: Walk,
        excluded: set[str],
        seen: set[tuple[int, int]],
    ) -> list[tuple[str, bool]] | None:
        """A folder's entries in the order of their names, each its name and whether it is a
        folder to walk (else a file to audit); what is skipped is recorded in ``out``, a
        folder that cannot be listed in the walker. None when there is nothing to walk."""
        try:
            st = os.stat(folder)
        except FileNotFoundError:  # a split folder that does not exist holds nothing
            return None
        except OSError as exc:
            self.unreadable.setdefault(folder, _reason(exc))
            return None
        key = (st.st_dev, st.st_ino)
        if key in seen:
            where = Path(os.path.relpath(folder, root.parent)).as_posix()
            out.notes.append(f"{where}: directory already visited (symbolic-link loop); skipped")
            return None
        seen.add(key)
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.unreadable.setdefault(folder, _reason(exc))
            return None
        kept: list[tuple[str, bool]] = []
        for e in entries:
            name = e.name
            is_dir = _is_dir(e)
            if name.startswith("."):
                out.skipped.append((Path(e.path), "hidden directory" if is_dir else "hidden file"))
            elif _is_link(e) and not self.allows(e.path):
                self._refuse(Path(e.path), out)
            elif is_dir:
                if _real(e.path) in excluded:
                    continue
                # a directory named like an image (x.png/) stands where a file is expected:
                # listed as one, it pairs and its decode reports NA001
                kept.append((name, image_suffix(name) not in IMAGE_SUFFIXES))
            elif image_suffix(name) not in IMAGE_SUFFIXES:
                out.skipped.append((Path(e.path), "not an image"))
            else:
                kept.append((name, False))
        return kept

    def read_list(self, path: Path) -> list[str]:
        """Sample ids of a split list: the first token of each line; # comments skipped.
        A token that is a path (DeepLab's "/JPEGImages/x.jpg /SegmentationClassAug/x.png"
        lists) gives its file stem. Only a regular file inside the scanned folder, of at
        most MAX_LIST_BYTES, is read."""
        remote = _REMOTE.get()
        if remote is not None:
            text = remote.read_text(path, MAX_LIST_BYTES) or ""
        elif not self.allows(path):
            return []
        else:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            except OSError:
                return []
            with os.fdopen(fd, "rb") as fh:
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    return []
                data = fh.read(MAX_LIST_BYTES + 1)
            if len(data) > MAX_LIST_BYTES:
                return []
            text = data.decode("utf-8", errors="replace")
        lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        tokens = [line.split()[0].replace("\\", "/") for line in lines]
        return [t.rsplit("/", 1)[-1].rsplit(".", 1)[0] if "/" in t else t for t in tokens]


def _remote_files(remote: RemoteStorage, root: Path, exclude: Iterable[Path]) -> Walk:
    """Walker.files over remote storage: the same order and rules (hidden files, folders
    named like images, non-images); an object store has no links, loops or unreadable
    folders to guard against."""
    out = Walk()
    excluded = set(exclude)
    stack = [root]
    while stack:
        folder = stack.pop()
        subfolders: list[Path] = []
        for e in remote.entries(folder):
            if e.name.startswith("."):
                out.skipped.append((e.path, "hidden directory" if e.is_dir else "hidden file"))
            elif e.is_dir:
                if e.path in excluded:
                    continue
                if image_suffix(e.name) in IMAGE_SUFFIXES:
                    out.files.append(e.path)  # a prefix named like an image: NA001, as locally
                else:
                    subfolders.append(e.path)
            elif image_suffix(e.path.name) not in IMAGE_SUFFIXES:
                out.skipped.append((e.path, "not an image"))
            else:
                out.files.append(e.path)
        stack.extend(reversed(subfolders))
    out.files.sort()
    below = remote.rel(root)
    pathless = [k for k in remote.pathless if not below or k.startswith(below + "/")]
    if pathless:
        out.notes.append(
            f"{shown(root)}: {len(pathless):,} object{'s' if len(pathless) > 1 else ''} not "
            "audited: a key with an empty, '.' or '..' segment (or longer than "
            f"{MAX_KEY_LENGTH:,} characters) names no file path (e.g. {pathless[0][:200]!r})"
        )
    return out


def _real(path: Path | str) -> str:
    """``path`` with its links resolved; as written (made absolute) when a link in it cannot
    be read (realpath raises on /proc/1/cwd): only a boundary or an exclusion."""
    try:
        return os.path.realpath(path)
    except OSError:
        return os.path.abspath(path)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_link(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def child_dirs(path: Path) -> list[Path]:
    """The visible sub-folders of ``path``, sorted by name."""
    remote = _REMOTE.get()
    if remote is not None:
        return [e.path for e in remote.entries(path) if e.is_dir and not e.name.startswith(".")]
    try:
        with os.scandir(path) as it:
            found = [Path(e.path) for e in it if not e.name.startswith(".") and _is_dir(e)]
    except OSError:
        return []
    return sorted(found, key=lambda p: p.name)


def dirs_by_name(path: Path) -> dict[str, Path]:
    """The sub-folders of ``path`` by lower-case name."""
    remote = _REMOTE.get()
    if remote is not None:
        return {e.name.lower(): e.path for e in remote.entries(path) if e.is_dir}
    try:
        with os.scandir(path) as it:
            return {e.name.lower(): Path(e.path) for e in it if _is_dir(e)}
    except OSError:
        return {}


def first_files(path: Path, n: int = 8) -> list[str]:
    remote = _REMOTE.get()
    if remote is not None:
        names = (e.name for e in remote.entries(path) if not e.is_dir)
        return [name for name in names if not name.startswith(".")][:n]
    out: list[str] = []
    try:
        with os.scandir(path) as it:
            for e in it:
                if _is_file(e) and not e.name.startswith("."):
                    out.append(e.name)
                    if len(out) >= n:
                        break
    except OSError:
        pass
    return out
