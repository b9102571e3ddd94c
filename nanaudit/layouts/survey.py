"""What discovery looks at besides names: which folder holds the masks when several could,
the --pair-key that would pair files that do not pair by name, and which folders hold
images that no split audits.

Only listing, except where a choice between mask folders must be made: then the first few
files of each candidate are decoded (through the same guarded readers as the scan) to see
whether they hold label-like values.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..regex import compile_key
from . import PairPaths
from .pairing import pair_files
from .walk import Walker

# Keys tried, in this order, when most files do not pair by name: a leading number
# (21_training ↔ 21_manual1), a trailing number (img_001 ↔ mask_001), the first number
# anywhere (ISIC_0000000 ↔ ISIC_0000000_segmentation), the first word (abc_rgb ↔ abc_lbl).
KEY_PATTERNS = (r"^(\d+)", r"(\d+)$", r"(\d+)", r"^([^_\-. ]+)")
SAMPLED = 3  # files decoded per candidate mask folder, when there is a choice to make
LABEL_TOP = 16  # label-like: this many values (or colours) cover ...
LABEL_COVER = 0.9  # ... at least this share of the pixels


def count_pairs(pairs: Iterable[PairPaths]) -> int:
    return sum(1 for p in pairs if p.image is not None and p.mask is not None)


@dataclass(frozen=True, slots=True)
class KeySuggestion:
    pattern: str
    pairs: int  # pairs it makes
    by_name: int  # pairs by name alone
    images: int

    @property
    def text(self) -> str:
        return f"--pair-key '{self.pattern}' would pair {self.pairs:,} of {self.images:,}"


def suggest_pair_key(
    images: Sequence[Path], image_root: Path, masks: Sequence[Path], mask_root: Path
) -> KeySuggestion | None:
    """When most images do not pair by name, the key of KEY_PATTERNS that pairs the most of
    them (and more than names do), with the count it pairs; else None."""
    if not images or not masks:
        return None
    by_name = count_pairs(pair_files(images, image_root, masks, mask_root))
    if by_name * 2 > len(images):
        return None
    best: KeySuggestion | None = None
    for pattern in KEY_PATTERNS:
        n = count_pairs(pair_files(images, image_root, masks, mask_root, compile_key(pattern)))
        if n > by_name and (best is None or n > best.pairs):
            best = KeySuggestion(pattern, n, by_name, len(images))
    return best if best is not None and best.pairs * 2 >= len(images) else None


# --------------------------------------------------------------------------- mask folders


@dataclass(frozen=True, slots=True)
class Candidate:
    """A folder that could hold the masks of an image folder, and what its files say."""

    folder: Path
    files: int
    by_name: int  # images it pairs with by name
    key: KeySuggestion | None = None
    values: str = ""  # what the sampled files hold, in words
    label_like: bool | None = None  # None: not sampled (or unreadable)

    @property
    def pairs(self) -> int:
        return max(self.by_name, self.key.pairs if self.key else 0)

    def describe(self) -> str:
        if self.by_name or self.key is None:
            how = f"{self.by_name:,} pair by name"
        else:
            how = f"{self.key.pairs:,} pair with --pair-key '{self.key.pattern}'"
        values = f"; {self.values}" if self.values else ""
        return f"{self.folder.name}/ ({self.files:,} files; {how}{values})"


def sample_values(files: Sequence[Path]) -> tuple[bool | None, str]:
    """Whether the first files of a folder hold label-like values (a few values or colours
    cover nearly every pixel), and what they hold, in words."""
    from ..decode import audit_file
    from ..records import DecodeLimits, FileKind

    seen: list[bool] = []
    values: set[int] = set()
    colours = 0
    for path in files[:SAMPLED]:
        rec = audit_file(path, path.name, FileKind.MASK, "", DecodeLimits())
        if rec.channels_differ:
            seen.append(rec.colours <= LABEL_TOP)
            colours = max(colours, rec.colours)
            continue
        if rec.labels is None or not rec.labels.pixels:
            continue
        counts = sorted((n for _, n in rec.labels.histogram), reverse=True)
        seen.append(sum(counts[:LABEL_TOP]) >= LABEL_COVER * rec.labels.pixels)
        values.update(v for v, _ in rec.labels.histogram)
    if not seen:
        return None, ""
    like = all(seen)
    if colours:
        words = f"colour images ({colours:,} colours)"
    elif len(values) <= 4:
        words = "values " + ", ".join(str(v) for v in sorted(values))
    else:
        words = f"{len(values):,} distinct values"
    return like, words + ("" if like else ", not label-like")


def mask_candidates(
    walker: Walker,
    image_dir: Path,
    siblings: Sequence[Path],
    aliases: Sequence[str],
    images: Callable[[], Sequence[Path]],
) -> list[Path]:
    """Folders beside ``image_dir`` that could hold its masks: those named like a mask
    folder, and any other whose files pair with the images by name or by a key. The
    images are listed (``images()``) only when such another folder holds files."""
    out = []
    for d in siblings:
        if d == image_dir:
            continue
        if d.name.lower() in aliases:
            out.append(d)
            continue
        files = walker.files(d).files
        if not files or not images():
            continue
        listed = images()
        by_name = count_pairs(pair_files(listed, image_dir, files, d))
        if by_name * 2 > len(listed) or suggest_pair_key(listed, image_dir, files, d):
            out.append(d)
    return out


def judge(
    walker: Walker, image_dir: Path, images: Sequence[Path], folders: Sequence[Path]
) -> list[Candidate]:
    """Each candidate mask folder with its pairing and its sampled values."""
    out = []
    for d in folders:
        files = walker.files(d).files
        by_name = count_pairs(pair_files(images, image_dir, files, d))
        key = suggest_pair_key(images, image_dir, files, d)
        like, words = sample_values(files)
        out.append(Candidate(d, len(files), by_name, key, words, like))
    return out


def choose(candidates: Sequence[Candidate]) -> tuple[Candidate | None, str]:
    """The one candidate the files support, and why; (None, "") when they do not decide."""
    reasons = []
    viable = [c for c in candidates if c.label_like is not False]
    if viable and len(viable) < len(candidates):
        dropped = [c for c in candidates if c not in viable]
        reasons += [f"{c.folder.name}/ holds {c.values}" for c in dropped]
    pairing = [c for c in viable if c.pairs]
    if pairing and len(pairing) < len(viable):
        reasons += [f"no file of {c.folder.name}/ pairs" for c in viable if not c.pairs]
    if len(pairing) != 1:
        return None, ""
    chosen = pairing[0]
    return chosen, f"{chosen.folder.name}/ chosen: " + "; ".join(reasons)


# --------------------------------------------------------------------------- what is not audited


def unaudited_folders(
    root: Path,
    audited: Iterable[Path],
    walker: Walker | None = None,
    covered: Iterable[Path] = (),
) -> tuple[tuple[Path, int], ...]:
    """Folders below ``root`` holding images of which no split audits a single one, each
    with its number of images; a folder whose whole subtree is unaudited stands for it.
    The ``covered`` folders (the splits' own, whose every file was paired or skipped) are
    not listed again. Listed within ``walker``'s bounds, by a walker of its own: what it
    cannot list is not the audit's business (the splits' walks report theirs)."""
    per_folder: dict[str, list[int]] = {}  # folder → [images, audited]
    own = Walker(walker.boundaries, walker.follow_links) if walker is not None else Walker()
    own.bound(root)
    covered = list(covered)
    found = own.files(root, exclude=covered).files
    seen = {os.path.abspath(p) for p in audited} if found else set()
    for split_folder in covered:  # a split's folder holds audited images: it counts as done
        per_folder.setdefault(os.path.abspath(split_folder), [0, 1])
    for f in found:
        parent = os.path.dirname(os.path.abspath(f))
        counts = per_folder.setdefault(parent, [0, 0])
        counts[0] += 1
        counts[1] += os.path.abspath(f) in seen
    top = os.path.abspath(root)
    # audited images anywhere below a folder keep it from standing for its subtree
    touched: set[str] = set()
    for folder, (_, done) in per_folder.items():
        if done:
            d = folder
            while d.startswith(top) and d not in touched:
                touched.add(d)
                d = os.path.dirname(d)
    out: dict[str, int] = {}
    for folder, (n, done) in sorted(per_folder.items()):
        if done or not n:
            continue
        head = folder
        parent = os.path.dirname(head)
        while head != top and parent != top and parent.startswith(top) and parent not in touched:
            head, parent = parent, os.path.dirname(parent)
        out[head] = out.get(head, 0) + n
    return tuple((Path(k), v) for k, v in sorted(out.items()))


def closest(stem: str, stems: Sequence[str]) -> str | None:
    """The most similar of ``stems`` (for unpaired files in a preview), or None."""
    found = difflib.get_close_matches(stem, stems, n=1, cutoff=0.4)
    return found[0] if found else None
