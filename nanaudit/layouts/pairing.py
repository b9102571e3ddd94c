"""Pairing images with masks by relative folder and name (or by a --pair-key): used by the
layouts and by the survey of candidate mask folders alike."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from ..records import image_stem
from ..regex import KeyPattern
from . import PairPaths

MASK_STEM_SUFFIXES = ("_mask", "_masks", "_label", "_labels", "_gt", "_seg", "_annotation")
IMAGE_STEM_SUFFIXES = ("_image", "_img", "_sat", "_rgb")


def _variants(suffixes: Sequence[str]) -> tuple[str, ...]:
    """Each suffix as written, with "-" and with "." for its "_", in order."""
    return tuple(
        dict.fromkeys(v for s in suffixes for v in (s, s.replace("_", "-"), s.replace("_", ".")))
    )


MASK_STEM_VARIANTS = _variants(MASK_STEM_SUFFIXES)
IMAGE_STEM_VARIANTS = _variants(IMAGE_STEM_SUFFIXES)


def _strip(stem: str, variants: tuple[str, ...]) -> str | None:
    low = stem.lower()
    if not low.endswith(variants):
        return None
    for v in variants:
        if low.endswith(v) and len(stem) > len(v):
            return stem[: -len(v)]
    return None


def pair_files(
    images: Sequence[Path],
    image_root: Path,
    masks: Sequence[Path],
    mask_root: Path,
    pair_key: KeyPattern | None = None,
) -> list[PairPaths]:
    """Pair by relative folder and stem; mask suffixes such as _mask are stripped.

    With ``pair_key``, group 1 of the regex searched in the stem is the key for both.
    Failing a match in the same relative folder, a key unique across the tree pairs.
    """

    def key_of(stem: str) -> str:
        if pair_key is not None:
            m = pair_key.search(stem)
            key = m.group(1) if m is not None and pair_key.groups else None
            if key is not None:
                return key
        return stem

    def mask_keys(p: Path) -> list[str]:
        keys = [key_of(image_stem(p.name))]
        if pair_key is None:
            stripped = _strip(image_stem(p.name), MASK_STEM_VARIANTS)
            if stripped is not None:
                keys.insert(0, stripped)
        return keys

    by_rel: dict[tuple[str, str], Path] = {}
    by_key: dict[str, list[Path]] = {}
    for m in masks:
        parent = m.parent.relative_to(mask_root).as_posix()
        for k in mask_keys(m):
            by_rel.setdefault((parent, k), m)
            by_key.setdefault(k, []).append(m)

    def image_keys(img: Path) -> list[str]:
        keys = [key_of(image_stem(img.name))]
        if pair_key is None:
            stripped = _strip(image_stem(img.name), IMAGE_STEM_VARIANTS)
            if stripped is not None:
                keys.append(stripped)
        return keys

    # Pass 1: the same relative folder and key. Pass 2, for what is left: a key that one
    # image and one mask alone carry across the tree. A mask is never given to two images.
    used: set[Path] = set()
    match: dict[Path, Path] = {}
    keys_of = {img: image_keys(img) for img in images}
    for img in images:
        parent = img.parent.relative_to(image_root).as_posix()
        for k in keys_of[img]:
            found = by_rel.get((parent, k))
            if found is not None and found not in used:
                match[img] = found
                used.add(found)
                break
    left = [img for img in images if img not in match]
    left_keys = Counter(k for img in left for k in dict.fromkeys(keys_of[img]))
    for img in left:
        for k in keys_of[img]:
            # uniqueness first: a key that several images carry pairs none of them, and
            # looking at its masks for each of those images would cost images × sequences
            if left_keys[k] != 1:
                continue
            candidates = [c for c in dict.fromkeys(by_key.get(k, ())) if c not in used]
            if len(candidates) == 1:
                only = candidates[0]
                match[img] = only
                used.add(only)
                break
    pairs = [PairPaths(img, match.get(img)) for img in images]
    pairs += [PairPaths(None, m) for m in masks if m not in used]
    return pairs
