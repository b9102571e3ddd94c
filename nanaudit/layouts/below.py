"""Layouts one level below the scanned folder, for when the folder itself holds none.

Two shapes people download: a folder holding the dataset one level down (``camvid/CamVid/``,
``kvasir/Kvasir-SEG/{images,masks}``), and group folders that each hold the same layout
(``Tile 1/{images,masks}`` … ``Tile 8/…``). Neither is taken in silence: the layout's
reason says where it was found and how the groups are audited.

Group folders are audited as one split (its pairs from every group, splits of the same
name merged) and not as a split each: the groups of a download are parts of one dataset
(areas, patients, sessions), not a training/validation split, so the training checks
(crop size, batch size, class weights) judge them together, and no cross-split check
compares one group with another as if one were held out. A user who does hold groups out
names them with ``--split`` (and ``--train-split``).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from . import DiscoverRequest, DiscoveryError, Layout, NoLayoutFound, PlannedSplit
from .generic import discover
from .walk import Walker, child_dirs, listing_remote

# Folders probed below the root (a probe lists a few folders; nothing is decoded unless
# several folders could hold the masks), and below each of them for group folders.
PROBED = 1000
PROBED_NESTED = 64


@dataclass(frozen=True, slots=True)
class Below:
    """What was found below the root: a preset's base folder (the preset's name, for the
    plan to take its conventions) or a generic layout, and where."""

    why: str
    preset: str | None = None  # a layout preset detected in one folder below the root
    base: Path | None = None  # that preset's base folder
    layout: Layout | None = None  # a generic layout (one folder, or group folders)


# A preset's detection: (the preset's name, its base folder, why) or None
Detect = Callable[[Path], tuple[str, Path, str] | None]


def _probe_request(request: DiscoverRequest) -> DiscoverRequest:
    """The request with a walker of its own: what a probe could not list is no split's."""
    return replace(request, walker=Walker(request.walker.boundaries, request.walker.follow_links))


def _generic(folder: Path, request: DiscoverRequest) -> Layout | None:
    try:
        return discover(folder, _probe_request(request))
    except NoLayoutFound:
        return None


def _shape(layout: Layout, folder: Path) -> tuple[object, ...]:
    """What makes two group folders the same layout: its kind, and each split's name and
    folders relative to the group."""

    def rel(p: Path | None) -> str | None:
        return None if p is None else PurePath(p).relative_to(folder).as_posix()

    return (
        layout.name,
        tuple((s.name, rel(s.image_root), rel(s.mask_root), s.labeled) for s in layout.splits),
    )


def _groups(folder: Path, request: DiscoverRequest, probed: int) -> list[tuple[Path, Layout]]:
    """The sub-folders of ``folder`` that hold a generic layout, all of one shape, when
    there are two or more; else []."""
    children = child_dirs(folder)
    if len(children) < 2 or len(children) > probed:
        return []
    found = [(c, lay) for c in children if (lay := _generic(c, request)) is not None]
    if len(found) < 2 or len({_shape(lay, c) for c, lay in found}) != 1:
        return []
    return found


def _names(folders: list[Path]) -> str:
    names = [f"{f.name}/" for f in folders]
    return ", ".join(names) if len(names) <= 4 else f"{', '.join(names[:3])} … {names[-1]}"


def group_layout(
    folder: Path, groups: list[tuple[Path, Layout]], request: DiscoverRequest
) -> Layout:
    """The groups' layouts, discovered again with the plan's walker, as one layout: each
    split the union of that split of every group."""
    layouts = [discover(g, request) for g, _ in groups]
    merged: dict[str, PlannedSplit] = {}
    notes: list[str] = []
    for (g, _), layout in zip(groups, layouts, strict=True):
        notes += [f"{g.name}/: {n}" for n in layout.notes]
        for s in layout.splits:
            folders = tuple(p for p in (s.image_root, s.mask_root) if p is not None)
            have = merged.get(s.name)
            if have is None:
                rel_img = s.image_root.relative_to(g)
                rel_mask = s.mask_root.relative_to(g) if s.mask_root is not None else None
                merged[s.name] = replace(
                    s,
                    # shown as */images + */masks: the folder of every group
                    image_root=folder / "*" / rel_img,
                    mask_root=folder / "*" / rel_mask if rel_mask is not None else None,
                    folders=folders,
                )
            else:
                merged[s.name] = replace(
                    have,
                    pairs=(*have.pairs, *s.pairs),
                    skipped=have.skipped + s.skipped,
                    unreadable=have.unreadable + s.unreadable,
                    folders=have.folders + folders,
                )
    first = layouts[0]
    splits = ", ".join(f"'{s}'" for s in merged)
    example = groups[0][0]
    inner = first.splits[0]
    if listing_remote():  # --split names local folders
        apart = f"scan the URL of {example.name}/ to audit a group alone"
    else:  # --split's folders resolve against the working folder, as the root was given
        spec = f"{example.name}:{inner.image_root.as_posix()}"
        spec += f":{inner.mask_root.as_posix()}" if inner.mask_root is not None else ""
        apart = f"to audit a group apart, give it as a split: --split {shlex.quote(spec)}"
    plural = "s" if len(merged) > 1 else ""
    reason = (
        f"found {len(groups)} group folders holding the same layout "
        f"({_names([g for g, _ in groups])}: {first.reason.removeprefix('found ')}); "
        f"audited together as split{plural} {splits}, each of every group's files ({apart})"
    )
    return Layout("groups", reason, tuple(merged.values()), tuple(notes))


def look_below(
    root: Path,
    request: DiscoverRequest,
    detect: Detect,
) -> Below | None:
    """The layout one level below ``root`` when the root holds none: one folder holding a
    preset's dataset or a generic layout, or group folders (at the root or in one folder
    below it). None when nothing is found below either; an error naming the folders when
    several hold different datasets."""
    children = child_dirs(root)
    if not children or len(children) > PROBED:
        return None
    groups = _groups(root, request, PROBED)
    if groups:
        return Below(why="", layout=group_layout(root, groups, request))
    found: list[tuple[Path, Below]] = []
    errors: list[tuple[Path, DiscoveryError]] = []
    nested = len(children) <= PROBED_NESTED
    for child in children:
        try:
            hit = detect(child)
        except DiscoveryError as exc:  # an ambiguous preset: said if nothing else is found
            errors.append((child, exc))
            continue
        where = f"found the dataset one level down, in {child.name}/"
        if hit is not None:
            name, base, why = hit
            found.append((child, Below(f"{where}: {why}", name, base)))
            continue
        try:
            layout = _generic(child, request)
        except DiscoveryError as exc:
            errors.append((child, exc))
            continue
        if layout is not None:
            found.append((child, Below(where, layout=layout)))
            continue
        inner = _groups(child, request, PROBED_NESTED) if nested else []
        if inner:
            found.append((child, Below(where, layout=group_layout(child, inner, request))))
    if len(found) == 1 and not errors:
        child, below = found[0]
        if below.layout is not None and below.layout.name != "groups":
            # discovered again with the plan's walker, whose problems the splits report
            return replace(below, layout=discover(child, request))
        return below
    if len(found) > 1:
        listed = ", ".join(
            f"{c.name}/ ({b.preset or (b.layout.name if b.layout else '')})" for c, b in found
        )
        raise DiscoveryError(
            f"no image/mask layout in {root.as_posix()} itself, and datasets one level down "
            f"in more than one folder: {listed}. Scan the one you mean "
            f"(nanaudit scan {(found[0][0]).as_posix()}), or give the splits with "
            "--split NAME:IMAGES:MASKS"
        )
    if errors:
        child, error = errors[0]
        also = f" (a dataset was found in {found[0][0].name}/ too)" if found else ""
        raise DiscoveryError(f"in {child.name}/ (one level down){also}: {error}")
    return None
