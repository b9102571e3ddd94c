"""Writing report files (``-o FORMAT:PATH``, ``--write-baseline``).

A regular file (or a path that does not exist yet) is written through a temporary file
created exclusively beside it (``mkstemp``: a unique name, ``O_EXCL``, never through a
link planted at that name) and renamed over it, so that a reader never sees half a report,
an interrupted run leaves the old file, and two runs writing the same path never write into
each other's temporary file.  Anything else at the path (a device such as ``/dev/stdout``
or ``/dev/full``, a FIFO, a symbolic link) is written directly, never replaced.  ``-``
(standard output) is the command line's to write.  Every target is checked before the scan
starts.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

STDOUT = Path("-")


class OutputError(Exception):
    """A report file that cannot be written: the message names it and why."""


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def check_target(path: Path) -> None:
    """Raise OutputError now, before the scan, for a target that cannot be written."""
    if path == STDOUT:
        return
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        target = Path(os.path.realpath(path))  # written through: its target is checked
        if not target.exists():
            _check_folder(path, target.parent)
            return
        st = os.stat(target)
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"cannot write {path}: it is a directory")
        if not os.access(path, os.W_OK):
            raise OutputError(f"cannot write {path}: permission denied")
        return  # a device, a FIFO: written directly
    _check_folder(path, path.parent)


def _check_folder(path: Path, folder: Path) -> None:
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: the folder {folder} is not writable")


def write_output(path: Path, chunks: str | Iterable[str]) -> None:
    """Write the text to ``path`` (see the module's docstring). Raises OutputError."""
    pieces = [chunks] if isinstance(chunks, str) else chunks
    try:
        st: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None
    try:
        if st is None or stat.S_ISREG(st.st_mode):
            _replace(path, pieces, st)
        else:
            with open(path, "w", encoding="utf-8") as fh:
                for piece in pieces:
                    fh.write(piece)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {_reason(exc)}") from None


def _replace(path: Path, pieces: Iterable[str], st: os.stat_result | None) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".nanaudit-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), stat.S_IMODE(st.st_mode) if st else _new_file_mode())
            for piece in pieces:
                fh.write(piece)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _new_file_mode() -> int:
    """0o666 less the umask: what open() would have created."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask
