"""The generic layouts: images/ + masks/ (with or without split folders), split-first
folders, SegNet-style folders, or splits given explicitly; pairing by name is in pairing.py."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from . import (
    DiscoverRequest,
    DiscoveryError,
    ExplicitSplit,
    Layout,
    NoLayoutFound,
    PairPaths,
    PlannedSplit,
)
from .pairing import pair_files
from .survey import choose, count_pairs, judge, mask_candidates, suggest_pair_key
from .walk import Walker, child_dirs, is_dir, listing_remote, shown

IMAGE_DIRS = ("images", "image", "imgs", "img")
MASK_DIRS = ("masks", "mask", "labels", "label", "annotations", "annotation", "ann", "anns", "gt")
SPLIT_ROLES = {
    "train": "train",
    "training": "train",
    "trn": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "eval": "val",
    "test": "test",
    "testing": "test",
    "tst": "test",
    "trainval": "train",
    "train_aug": "train",
    "train2017": "train",
    "val2017": "val",
    "test2017": "test",
}
SEGNET_SUFFIXES = ("annot", "_annot", "-annot", "_labels", "_masks", "_gt")
# Folder names that say what they hold without being an alias (images_16bit/, mask binary/):
# a word of the name, the letters between anything else, is one of these.
IMAGE_WORDS = frozenset(IMAGE_DIRS)
MASK_WORDS = frozenset(MASK_DIRS)
# The "no layout found" message's tree of folders holding images: this many levels below
# the root, this many folders in all, this many under one folder.
TREE_LEVELS = 3
TREE_FOLDERS = 40
TREE_CHILDREN = 10


def split_role(name: str) -> str | None:
    return SPLIT_ROLES.get(name.lower())


def _find_alias(dirs: Sequence[Path], aliases: Sequence[str]) -> list[Path]:
    by_name = {d.name.lower(): d for d in dirs}
    return [by_name[a] for a in aliases if a in by_name]


def _labeled(name: str, has_masks: bool, unlabeled: Collection[str], notes: list[str]) -> bool:
    """Whether a split is audited as labeled. Only a test split may lack its mask folder
    silently (a note says so); elsewhere a missing mask is NA003, an error. A split the
    user declared unlabeled never is."""
    if not has_masks and split_role(name) == "test":
        notes.append(f"{name}: no mask folder, treated as an unlabeled test split")
        return False
    return name.lower() not in unlabeled


def _make_split(
    name: str,
    image_root: Path,
    mask_root: Path | None,
    labeled: bool,
    request: DiscoverRequest,
    exclude: Iterable[Path] = (),
) -> tuple[PlannedSplit, list[str]]:
    walker = request.walker
    img_walk = walker.files(image_root, exclude)
    skipped = list(img_walk.skipped)
    notes = list(img_walk.notes)
    masks: Sequence[Path] = ()
    if mask_root is not None:
        mask_walk = walker.files(mask_root)
        masks = mask_walk.files
        skipped += mask_walk.skipped
        notes += mask_walk.notes
    pairs = pair_files(img_walk.files, image_root, masks, mask_root or image_root, request.pair_key)
    if mask_root is not None and request.pair_key is None:
        notes += _key_note(name, pairs, img_walk.files, image_root, masks, mask_root)
    role = split_role(name) or ("all" if name == "all" else "other")
    return PlannedSplit(name, role, image_root, mask_root, labeled, pairs, tuple(skipped)), notes


def _key_note(
    name: str,
    pairs: Sequence[PairPaths],
    images: Sequence[Path],
    image_root: Path,
    masks: Sequence[Path],
    mask_root: Path,
) -> list[str]:
    """When most images found no mask by name, the --pair-key that would pair them."""
    paired = count_pairs(pairs)
    if not images or not masks or paired * 2 > len(images):
        return []
    found = suggest_pair_key(images, image_root, masks, mask_root)
    if found is None:
        return []
    return [KeyNote(f"{name}: {paired:,} of {len(images):,} images pair by name; {found.text}")]


class KeyNote(str):
    """A note of _key_note's: the --pair-key that would pair a split whose files mostly do
    not pair by name (the plan makes it a warning: it explains NA003/NA004 at once)."""

    __slots__ = ()


def _explicit_layout(root: Path, request: DiscoverRequest) -> Layout:
    splits, notes = [], []
    for spec in request.explicit:
        for p in (spec.images, spec.masks):
            if p is not None and not is_dir(p):
                raise DiscoveryError(_missing_folder(root, spec, p))
        labeled = spec.masks is not None and request.labeled(spec.name)
        s, n = _make_split(spec.name, spec.images, spec.masks, labeled, request)
        splits.append(s)
        notes += n
    desc = ", ".join(f"{s.name}" for s in splits)
    return Layout(
        "explicit",
        f"splits given on the command line or in the config: {desc}",
        tuple(splits),
        tuple(notes),
    )


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:  # there, but not to be looked at (EACCES)
        return True


def _missing_folder(root: Path, spec: ExplicitSplit, path: Path) -> str:
    """A folder given for a split that is not there; relative folders resolve against the
    working folder, so say so when the same path exists below the scanned folder."""
    given = f"{spec.given_as}: " if spec.given_as else f"split {spec.name!r}: "
    cwd = Path.cwd()
    try:
        rel = path.relative_to(cwd)
    except ValueError:
        rel = None
    shown = rel.as_posix() if rel is not None else path.as_posix()
    what = "" if _exists(path) else " (there is no such path)"
    message = f"{given}{shown} is not a directory{what}"
    if rel is not None and is_dir(root / rel):
        message += (
            f" (relative folders resolve against the working folder, not the scanned one): "
            f"did you mean {(root / rel).as_posix()}?"
        )
    return message


def _mask_folder(
    image_dir: Path,
    siblings: Sequence[Path],
    request: DiscoverRequest,
    where: str,
    ambiguous: list[str],
) -> tuple[Path | None, list[str]]:
    """The folder holding the masks of ``image_dir``, chosen among ``siblings``, with what
    the report should say about the choice. When several could hold them and the files do
    not decide, the candidates are added to ``ambiguous`` and None is returned."""
    if request.mask_folder:
        want = request.mask_folder.lower()
        for d in siblings:
            if d.name.lower() == want:
                return d, []
        return None, [f"{where}: no folder {request.mask_folder}/ beside {image_dir.name}/"]
    walker = request.walker
    listed: list[Sequence[Path]] = []

    def images() -> Sequence[Path]:  # listed only when a folder not named like masks is there
        if not listed:
            listed.append(walker.files(image_dir).files)
        return listed[0]

    found = mask_candidates(walker, image_dir, siblings, MASK_DIRS, images)
    if not found:
        return None, []
    if len(found) == 1:
        only = found[0]
        if only.name.lower() in MASK_DIRS:
            return only, []
        return only, [
            f"{where}{only.name}/: the mask folder, the only one whose files pair with "
            f"{image_dir.name}/"
        ]
    judged = judge(walker, image_dir, images(), found)
    chosen, why = choose(judged)
    if chosen is not None:
        return chosen.folder, [f"{where}{why}"]
    ambiguous.append(f"beside {where}{image_dir.name}/: {', '.join(c.describe() for c in judged)}")
    return None, []


def _ambiguity(ambiguous: Sequence[str]) -> DiscoveryError:
    return DiscoveryError(
        "more than one folder could hold the masks and their files do not say which: "
        + "; ".join(ambiguous)
        + ". Pick one with --mask-folder NAME (with the --pair-key shown, if its files "
        "pair only with one), or give the splits with --split NAME:IMAGES:MASKS"
    )


def discover(root: Path, request: DiscoverRequest | None = None) -> Layout:
    """Detect the layout under ``root`` (or use the explicit splits) and pair the files."""
    request = request or DiscoverRequest()
    request.walker.bound(root)
    if request.explicit:
        return _explicit_layout(root, request)
    unlabeled_set = set(request.unlabeled)
    ambiguous: list[str] = []

    children = child_dirs(root)
    image_dirs = _find_alias(children, IMAGE_DIRS)
    if image_dirs:
        siblings = [
            d for d in children if not split_role(d.name) and d.name.lower() not in IMAGE_DIRS
        ]
        mask_dir, chosen = _mask_folder(image_dirs[0], siblings, request, "", ambiguous)
        if ambiguous:
            raise _ambiguity(ambiguous)
        if mask_dir is not None:
            layout = _images_masks_layout(root, image_dirs[0], mask_dir, request, unlabeled_set)
            return replace(layout, notes=(*chosen, *layout.notes))

    split_dirs = [d for d in children if split_role(d.name)]
    split_first = []
    chosen_notes: list[str] = []
    for d in split_dirs:
        sub = child_dirs(d)
        imgs = _find_alias(sub, IMAGE_DIRS)
        if imgs:
            siblings = [c for c in sub if c.name.lower() not in IMAGE_DIRS]
            mask_dir, chosen = _mask_folder(imgs[0], siblings, request, f"{d.name}/", ambiguous)
            chosen_notes += chosen
            split_first.append((d, imgs[0], mask_dir))
    if ambiguous:
        raise _ambiguity(ambiguous)
    if split_first:
        splits, notes = [], list(chosen_notes)
        for d, img_dir, mask_dir in split_first:
            labeled = _labeled(d.name, mask_dir is not None, unlabeled_set, notes)
            s, n = _make_split(d.name, img_dir, mask_dir, labeled, request)
            splits.append(s)
            notes += n
        names = ", ".join(s.name for s in splits)
        reason = f"found split folders ({names}) holding an image folder and a mask folder"
        return Layout("split-first", reason, tuple(splits), tuple(notes))

    by_name = {d.name.lower(): d for d in children}
    segnet = []
    for d in split_dirs:
        for suffix in SEGNET_SUFFIXES:
            ann = by_name.get(d.name.lower() + suffix)
            if ann is not None:
                segnet.append((d, ann))
                break
    if segnet:
        splits, notes = [], []
        for d, ann in segnet:
            s, n = _make_split(d.name, d, ann, d.name.lower() not in unlabeled_set, request)
            splits.append(s)
            notes += n
        pairs = ", ".join(f"{d.name}/ + {a.name}/" for d, a in segnet)
        return Layout(
            "segnet", f"found SegNet/CamVid-style folders {pairs}", tuple(splits), tuple(notes)
        )
    named = _named_layout(root, children, request, unlabeled_set)
    if named is not None:
        return named
    walker = request.walker
    raise NoLayoutFound(lambda: _nothing_found(root, walker))


def _words(name: str) -> set[str]:
    return set(re.findall(r"[a-z]+", name.lower()))


def _images_named(name: str) -> bool:
    """Named with an image word and no mask word (image_masks/ holds masks)."""
    words = _words(name)
    return bool(words & IMAGE_WORDS) and not words & MASK_WORDS


def _named_layout(
    root: Path, children: Sequence[Path], request: DiscoverRequest, unlabeled: set[str]
) -> Layout | None:
    """images_16bit/ + mask binary/: no folder is named by an alias, but one is named with
    an image word and a folder beside it with a mask word whose files pair with it (or
    that is named by a mask alias). Several such image folders are an error naming them."""
    named = [
        d
        for d in children
        if not split_role(d.name)
        and _words(d.name) & IMAGE_WORDS
        and not _words(d.name) & MASK_WORDS
    ]
    if not named:
        return None
    masks_named = [d for d in children if not split_role(d.name) and _words(d.name) & MASK_WORDS]
    found: list[tuple[Path, Path, list[str]]] = []
    ambiguous: list[str] = []
    for image_dir in named:
        mask_dir, chosen = _mask_folder(image_dir, masks_named, request, "", ambiguous)
        if mask_dir is not None:
            found.append((image_dir, mask_dir, chosen))
    if ambiguous:
        raise _ambiguity(ambiguous)
    if len(found) > 1:
        pairs = ", ".join(f"{i.name}/ + {m.name}/" for i, m, _ in found)
        raise DiscoveryError(
            f"more than one pair of folders is named like images and masks ({pairs}) and "
            "none is named images/: say which with --images DIR --masks DIR, or give each "
            "as a split with --split NAME:IMAGES:MASKS"
        )
    if not found:
        return None
    image_dir, mask_dir, chosen = found[0]
    layout = _images_masks_layout(root, image_dir, mask_dir, request, unlabeled)
    paired = sum(count_pairs(s.pairs) for s in layout.splits)
    images = sum(1 for s in layout.splits for p in s.pairs if p.image is not None)
    reason = (
        f"by folder names (no folder is named {'/, '.join(IMAGE_DIRS)}/): {image_dir.name}/ "
        f"holds the images and {mask_dir.name}/ the masks ({paired:,} of {images:,} images "
        f"pair by name); {layout.reason}"
    )
    return replace(layout, reason=reason, notes=(*chosen, *layout.notes))


def _nothing_found(root: Path, walker: Walker) -> str:
    where = "the current folder" if str(root) in ("", ".") else shown(root)
    message = (
        f"no image/mask layout found in {where}. Looked for: an image folder "
        f"({', '.join(IMAGE_DIRS)}) beside a mask folder ({', '.join(MASK_DIRS)}); "
        f"split folders ({', '.join(sorted(SPLIT_ROLES))}) holding both; train/ + trainannot/; "
        "or the folders of a dataset preset (VOC, Cityscapes, ADE20K, COCO-Stuff, CamVid, "
        "Oxford-IIIT Pet: `nanaudit layouts` lists what each expects)"
    )
    held = image_tree(root, walker)
    if held:
        message += (
            f". Folders holding images here (each with the images below it, "
            f"{TREE_LEVELS} levels deep): {held}"
        )
    if listing_remote():  # --images, --masks and --split name local folders
        return (
            f"{message}. Name it with --layout NAME, or scan the URL of the folder that "
            "holds the image and mask folders"
        )
    message += (
        ". Say which with --split NAME:IMAGES:MASKS (repeatable), --images DIR "
        "--masks DIR, or --layout NAME"
    )
    if held:
        message += "; --images DIR without --masks audits the images of DIR alone"
    return message


def image_tree(root: Path, walker: Walker) -> str:
    """The folders below root that hold images, as a one-line tree: each folder with the
    number of images below it, its own sub-folders in parentheses, TREE_LEVELS levels
    deep; at most TREE_FOLDERS folders in all and TREE_CHILDREN under one, the rest
    counted. Images directly in a folder that has sub-folders are counted as "here"."""
    below: Counter[tuple[str, ...]] = Counter()  # images below each folder (levels cut)
    direct: Counter[tuple[str, ...]] = Counter()  # images directly in it
    for f in Walker(walker.boundaries, walker.follow_links).files(root).files:
        parts = f.relative_to(root).parts[:-1]
        direct[parts[:TREE_LEVELS]] += len(parts) <= TREE_LEVELS
        for depth in range(min(len(parts), TREE_LEVELS) + 1):
            below[parts[:depth]] += 1
    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for folder in sorted(below):
        if folder:
            children.setdefault(folder[:-1], []).append(folder)
    budget = [TREE_FOLDERS]

    def images(n: int) -> str:
        return f"{n:,} image{'' if n == 1 else 's'}"

    def items(folder: tuple[str, ...]) -> list[str]:
        out = []
        if direct[folder] and children.get(folder):
            out.append(f"{direct[folder]:,} here" if folder else f"./ ({images(direct[folder])})")
        kids = children.get(folder, [])
        for i, kid in enumerate(kids):
            if budget[0] <= 0 or i == TREE_CHILDREN:
                rest = kids[i:]
                more = sum(below[k] for k in rest)
                out.append(
                    f"… {len(rest):,} more folder{'' if len(rest) == 1 else 's'} ({images(more)})"
                )
                break
            budget[0] -= 1
            inner = items(kid) if children.get(kid) else []
            name = f"{kid[-1]}/ ({images(below[kid])}"
            out.append(f"{name}: {', '.join(inner)})" if inner else f"{name})")
        return out

    if not children.get(()):
        return f"./ ({images(direct[()])})" if direct[()] else ""
    return ", ".join(items(()))


def _images_masks_layout(
    root: Path,
    image_dir: Path,
    mask_dir: Path,
    request: DiscoverRequest,
    unlabeled: set[str],
) -> Layout:
    image_splits = [d for d in child_dirs(image_dir) if split_role(d.name)]
    mask_children = {d.name.lower(): d for d in child_dirs(mask_dir)}
    notes: list[str] = []
    if not image_splits:
        s, n = _make_split("all", image_dir, mask_dir, "all" not in unlabeled, request)
        return Layout(
            "images-masks",
            f"found {image_dir.name}/ and {mask_dir.name}/ without split folders: one split 'all'",
            (s,),
            tuple(n),
        )
    splits: list[PlannedSplit] = []
    for d in image_splits:
        m = mask_children.get(d.name.lower())
        if m is None:  # images/val beside masks/validation: the same role pairs them
            same = [
                c
                for c in mask_children.values()
                if split_role(c.name) == split_role(d.name)
                and c.name.lower() not in {i.name.lower() for i in image_splits}
            ]
            m = same[0] if len(same) == 1 else None
        labeled = _labeled(d.name, m is not None, unlabeled, notes)
        s, n = _make_split(d.name, d, m, labeled, request)
        splits.append(s)
        notes += n
    # A mask split folder without its image folder: its masks are orphans, not ignored.
    paired = {s.mask_root for s in splits}
    for m in mask_children.values():
        if split_role(m.name) and m not in paired:
            labeled = m.name.lower() not in unlabeled
            s, n = _make_split(m.name, image_dir / m.name, m, labeled, request)
            splits.append(s)
            notes += [*n, f"{m.name}: a mask folder without an image folder"]
    # Files beside the split folders are not lost: they form a split of their own.
    walker: Walker = request.walker
    rest = walker.files(image_dir, exclude=image_splits)
    if rest.files:
        # the masks of the same places: below every mask folder no split took (masks/foo
        # beside images/foo), not only beside the split folders
        taken = [s.mask_root for s in splits if s.mask_root is not None]
        loose_masks = walker.files(mask_dir, exclude=taken)
        pairs = pair_files(rest.files, image_dir, loose_masks.files, mask_dir, request.pair_key)
        splits.append(
            PlannedSplit(
                "unsplit",
                "other",
                image_dir,
                mask_dir,
                True,
                pairs,
                tuple(rest.skipped + loose_masks.skipped),
            )
        )
        notes.append(f"{len(rest.files)} images lie outside the split folders: split 'unsplit'")
    names = ", ".join(s.name for s in splits)
    return Layout(
        "images-masks",
        f"found {image_dir.name}/ and {mask_dir.name}/ with split folders {names}",
        tuple(splits),
        tuple(notes),
    )
