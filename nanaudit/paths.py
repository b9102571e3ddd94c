"""Paths and names as reports show them: relative to the scan root, POSIX form, with
undecodable bytes and invisible or line-breaking characters escaped."""

from __future__ import annotations

import os
import re
from pathlib import Path

# Characters no report shows as they are: C0 and C1 controls (a newline, ESC, BEL), the
# Unicode line and paragraph separators (line breaks to many parsers), the bidirectional
# controls (which reorder what follows them on screen), lone surrogates (which no UTF-8
# file can hold) and the non-characters U+FDD0..U+FDEF, U+xFFFE and U+xFFFF (which XML
# forbids).
_HIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0x10000, 0x110000, 0x10000))
    + "]"
)


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """Control characters (a newline or ESC in a file name), line separators, bidi controls
    and non-characters as \\xNN / \\uNNNN escapes: no report line can be split or
    reordered, no terminal driven, no workflow command injected, no XML broken."""
    return _HIDDEN.sub(_escape, text)


# the reason a link the walk did not follow is skipped (reports name such links apart)
LINK_OUTSIDE = "symbolic link leading outside the scanned folder (--follow-links follows it)"


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
