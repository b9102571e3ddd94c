"""Paths and names as reports show them: relative to the scan root, POSIX form, with
undecodable bytes and control characters escaped."""

from __future__ import annotations

import os
import re
from pathlib import Path

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Control characters (a newline or ESC in a file name) as \\xNN escapes: no report
    line can be split, no terminal driven, no workflow command injected, no XML broken."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


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
