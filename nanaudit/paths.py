"""Paths and names as reports show them: relative to the scan root, POSIX form, with
undecodable bytes and invisible or line-breaking characters escaped."""

from __future__ import annotations

import os
from pathlib import Path

from .report import printable

__all__ = ["display_path", "display_root", "printable"]


def display_path(path: Path, root: Path) -> str:
    """Relative to the scan root, POSIX form; undecodable bytes shown as \\xNN escapes."""
    p, r = os.fspath(path), os.fspath(root)
    prefix = r if r.endswith(os.sep) else r + os.sep
    # files found by walking the root start with it: no need for relpath's normalisation
    rel = p[len(prefix) :] if p.startswith(prefix) and r not in ("", ".") else os.path.relpath(p, r)
    text = os.fsencode(rel).decode("utf-8", "backslashreplace")
    return printable(Path(text).as_posix() if os.sep == "\\" else text)


def display_root(root: Path) -> str:
    """The scanned root as reports name it: relative to the working folder as given, or
    absolute when it was given absolute."""
    if root.is_absolute():
        return printable(os.fsencode(root.as_posix()).decode("utf-8", "backslashreplace"))
    return display_path(root, Path.cwd())
