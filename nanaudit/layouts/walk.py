"""Listing folders: every place discovery touches the file system."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..records import IMAGE_SUFFIXES


@dataclass
class Walk:
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def walk_files(root: Path, exclude: Iterable[Path] = ()) -> Walk:
    """Every file below root, sorted; non-images and hidden files are skipped with a reason."""
    out = Walk()
    excluded = {os.path.realpath(p) for p in exclude}
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
            key = (st.st_dev, st.st_ino)
        except OSError:
            key = None
        if key is not None and key in seen:
            where = Path(os.path.relpath(dirpath, root.parent)).as_posix()
            out.notes.append(f"{where}: directory already visited (symbolic-link loop); skipped")
            dirnames.clear()
            continue
        if key is not None:
            seen.add(key)
        kept = []
        for d in sorted(dirnames):
            full = os.path.join(dirpath, d)
            if d.startswith("."):
                out.skipped.append((Path(full), "hidden directory"))
            elif os.path.realpath(full) in excluded:
                continue
            elif os.path.splitext(d)[1].lower() in IMAGE_SUFFIXES:
                # a directory named like an image (x.png/) stands where a file is expected:
                # listed as one, it pairs and its decode reports NA001 "not a regular file"
                out.files.append(Path(full))
            else:
                kept.append(d)
        dirnames[:] = kept
        for f in sorted(filenames):
            path = Path(dirpath, f)
            if f.startswith("."):
                out.skipped.append((path, "hidden file"))
            elif path.suffix.lower() not in IMAGE_SUFFIXES:
                out.skipped.append((path, "not an image"))
            else:
                out.files.append(path)
    out.files.sort()
    return out


def child_dirs(path: Path) -> list[Path]:
    """The visible sub-folders of ``path``, sorted by name."""
    try:
        return sorted(
            (p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.name,
        )
    except OSError:
        return []


def dirs_by_name(path: Path) -> dict[str, Path]:
    """The sub-folders of ``path`` by lower-case name."""
    try:
        return {e.name.lower(): Path(e.path) for e in os.scandir(path) if e.is_dir()}
    except OSError:
        return {}


def first_files(path: Path, n: int = 8) -> list[str]:
    out: list[str] = []
    try:
        with os.scandir(path) as it:
            for e in it:
                if e.is_file() and not e.name.startswith("."):
                    out.append(e.name)
                    if len(out) >= n:
                        break
    except OSError:
        pass
    return out


def read_list(path: Path) -> list[str]:
    """Sample ids of a split list: the first token of each line; # comments skipped.
    A token that is a path (DeepLab's "/JPEGImages/x.jpg /SegmentationClassAug/x.png"
    lists) gives its file stem."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    tokens = [line.split()[0].replace("\\", "/") for line in lines]
    return [t.rsplit("/", 1)[-1].rsplit(".", 1)[0] if "/" in t else t for t in tokens]
