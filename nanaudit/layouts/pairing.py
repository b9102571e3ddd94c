"""Pairing images with masks by relative folder and name (or by a --pair-key): used by the
layouts and by the survey of candidate mask folders alike."""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from ..records import image_stem
from ..regex import KeyPattern
from . import PairPaths
from .filelist import FileList, Indexed

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


class PairTable(Indexed[PairPaths]):
    """The pairs of a split, compactly: every image in its listing's order with its mask
    (a number in the mask listing, or -1), then the masks no image took. A pair is made
    when one is read: a million pairs cost their listings' 25 bytes a file and four bytes
    an image, not two Paths."""

    __slots__ = ("_images", "_lonely", "_masks", "_match")

    def __init__(
        self, images: FileList, masks: FileList, match: array[int], lonely: array[int]
    ) -> None:
        self._images, self._masks, self._match, self._lonely = images, masks, match, lonely

    def __len__(self) -> int:
        return len(self._images) + len(self._lonely)

    def _at(self, index: int) -> PairPaths:
        n = len(self._images)
        if index < n:
            m = self._match[index]
            return PairPaths.of(self._images.text(index), self._masks.text(m) if m >= 0 else None)
        return PairPaths.of(None, self._masks.text(self._lonely[index - n]))

    def __iter__(self) -> Iterator[PairPaths]:
        masks, match = self._masks, self._match
        for i, image in enumerate(self._images.texts()):
            m = match[i]
            yield PairPaths.of(image, masks.text(m) if m >= 0 else None)
        for m in self._lonely:
            yield PairPaths.of(None, masks.text(m))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PairTable | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"PairTable({len(self):,} pairs)"


def pair_files(
    images: Sequence[Path],
    image_root: Path,
    masks: Sequence[Path],
    mask_root: Path,
    pair_key: KeyPattern | None = None,
) -> PairTable:
    """Pair by relative folder and stem; mask suffixes such as _mask are stripped.

    With ``pair_key``, group 1 of the regex searched in the stem is the key for both.
    Failing a match in the same relative folder, a key unique across the tree pairs.

    The images come out in their order, each with its mask, then the masks left over.
    A folder's files are paired with those of the mask folder at the same relative place,
    one folder at a time: what is held beyond the listings is one folder's keys, and the
    keys of the images left without a mask for the second pass (none, usually).
    """
    image_list = images if isinstance(images, FileList) else FileList(images)
    mask_list = masks if isinstance(masks, FileList) else FileList(masks)

    def key_of(stem: str) -> str:
        if pair_key is not None:
            m = pair_key.search(stem)
            key = m.group(1) if m is not None and pair_key.groups else None
            if key is not None:
                return key
        return stem

    def mask_keys(name: str) -> list[str]:
        keys = [key_of(image_stem(name))]
        if pair_key is None:
            stripped = _strip(image_stem(name), MASK_STEM_VARIANTS)
            if stripped is not None:
                keys.insert(0, stripped)
        return keys

    def image_keys(name: str) -> list[str]:
        keys = [key_of(image_stem(name))]
        if pair_key is None:
            stripped = _strip(image_stem(name), IMAGE_STEM_VARIANTS)
            if stripped is not None:
                keys.append(stripped)
        return keys

    image_groups = _by_folder(image_list, image_root)
    mask_groups = _by_folder(mask_list, mask_root)
    match = array("i", [-1]) * len(image_list)  # 4 bytes an image
    used = bytearray(len(mask_list))
    # Pass 1: the same relative folder and key. Pass 2, for what is left: a key that one
    # image and one mask alone carry across the tree. A mask is never given to two images.
    for parent, members in image_groups.items():
        in_masks = mask_groups.get(parent)
        if in_masks is None:
            continue
        by_key: dict[str, int] = {}
        for m in in_masks:
            for k in mask_keys(mask_list.name(m)):
                by_key.setdefault(k, m)
        for i in members:
            for k in image_keys(image_list.name(i)):
                found = by_key.get(k)
                if found is not None and not used[found]:
                    match[i] = found
                    used[found] = 1
                    break
    left = [i for i in range(len(image_list)) if match[i] < 0]
    if left and len(mask_list):
        keys_of = {i: image_keys(image_list.name(i)) for i in left}
        left_keys = Counter(k for i in left for k in dict.fromkeys(keys_of[i]))
        # uniqueness first: a key that several images carry pairs none of them, and
        # looking at its masks for each of those images would cost images × sequences
        wanted = {k for k, n in left_keys.items() if n == 1}
        across: dict[str, list[int]] = {}
        for m in range(len(mask_list)):
            for k in mask_keys(mask_list.name(m)):
                if k in wanted:
                    across.setdefault(k, []).append(m)
        for i in left:
            for k in keys_of[i]:
                if k not in wanted:
                    continue
                candidates = [c for c in dict.fromkeys(across.get(k, ())) if not used[c]]
                if len(candidates) == 1:
                    only = candidates[0]
                    match[i] = only
                    used[only] = 1
                    break
    lonely = array("i", (m for m in range(len(mask_list)) if not used[m]))
    return PairTable(image_list, mask_list, match, lonely)


def _by_folder(files: FileList, root: Path) -> dict[str, array[int]]:
    """The files' numbers by their folder relative to ``root``, in order."""
    rel: dict[int, str] = {}
    groups: dict[str, array[int]] = {}
    for i in range(len(files)):
        fid = files.fid(i)
        parent = rel.get(fid)
        if parent is None:
            parent = rel[fid] = Path(files.folders[fid]).relative_to(root).as_posix()
        group = groups.get(parent)
        if group is None:
            group = groups[parent] = array("l")
        group.append(i)
    return groups
