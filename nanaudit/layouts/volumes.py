"""Layouts of volumes and rasters: the Medical Segmentation Decathlon / nnU-Net layout and
tiles of georeferenced rasters.

Decathlon / nnU-Net: ``imagesTr/`` with ``labelsTr/`` (the training split), ``imagesTs/``
(unlabeled, or labeled by ``labelsTs/``). An image named ``case_0000.nii.gz`` is channel
0000 of case ``case``, whose label is ``labelsTr/case.nii.gz``: every channel file is
paired with its case's label (each must share the label's geometry, NA70x; NA707 compares
the channels of the cases). A Decathlon original holds the channels in one 4-D file named
as its label. ``dataset.json`` is read as the class catalogue, as untrusted input: at most
1 MiB, a regular file inside the dataset, labels bounded in number and value.

Tiles: image and mask rasters (GeoTIFF) in the generic folder layouts, told apart from
other TIFF datasets by the rasters' names only (no file is opened to detect a layout).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..records import channel_of, image_stem, image_suffix
from ..storage import without_credentials
from . import DiscoverRequest, DiscoveryError, Layout, PairPaths, PlannedSplit
from .generic import discover
from .walk import dirs_by_name, first_files, is_file, read_small, shown

MAX_CATALOGUE_BYTES = 1 << 20
MAX_LABELS = 1024  # labels a dataset.json may name
MAX_LABEL_ID = 1 << 16
MAX_NAME = 100


def case_of(path: Path) -> str:
    """The case a file belongs to: its stem without the channel suffix (_0000)."""
    named = channel_of(path.name)
    return named[0] if named else image_stem(path.name)


def detect_decathlon(root: Path) -> tuple[Path, str] | None:
    for base in (root, *sorted(dirs_by_name(root).values())):
        sub = dirs_by_name(base)
        if "imagestr" in sub and "labelstr" in sub:
            where = "" if base == root else f" in {base.name}/"
            return base, f"found imagesTr/ and labelsTr/{where}"
    return None


def discover_decathlon(root: Path, base: Path, request: DiscoverRequest) -> Layout:
    sub = dirs_by_name(base)
    splits: list[PlannedSplit] = []
    notes: list[str] = []
    for name, images_name, labels_name in (
        ("train", "imagestr", "labelstr"),
        ("test", "imagests", "labelsts"),
    ):
        if images_name not in sub:
            continue
        img_dir, mask_dir = sub[images_name], sub.get(labels_name)
        labeled = mask_dir is not None and request.labeled(name)
        images = request.walker.files(img_dir)
        masks = request.walker.files(mask_dir).files if labeled and mask_dir else []
        by_case = {image_stem(m.name): m for m in masks}
        used: set[Path] = set()
        pairs: list[PairPaths] = []
        for img in images.files:
            mask = by_case.get(case_of(img)) if labeled else None
            if mask is not None:
                used.add(mask)
            pairs.append(PairPaths(img, mask))
        pairs += [PairPaths(None, m) for m in masks if m not in used]
        splits.append(
            PlannedSplit(
                name,
                name,
                img_dir,
                mask_dir if labeled else None,
                labeled,
                tuple(pairs),
                tuple(images.skipped),
            )
        )
        channels = {img.name for img in images.files if channel_of(img.name)}
        if channels and labeled:
            notes.append(
                f"{name}: every channel file (case_0000, case_0001…) is paired with its "
                "case's label; a case's label counts once in the statistics"
            )
    catalogue = base / "dataset.json"
    ct: frozenset[int] = frozenset()
    if is_file(catalogue):
        notes.append("classes from dataset.json (its labels), read as untrusted input")
        ct = ct_channels(catalogue)
    return Layout(
        "decathlon",
        "Decathlon / nnU-Net: imagesTr/ with labelsTr/ (channels _0000…), imagesTs/",
        tuple(splits),
        tuple(notes),
        ct_channels=ct,
    )


def ct_channels(path: Path) -> frozenset[int]:
    """The channels dataset.json declares CT: Decathlon's {"modality": {"0": "CT"}} or
    nnU-Net v2's {"channel_names": {"0": "CT"}}. A catalogue that cannot be read declares
    none here (decathlon_catalogue names what is wrong with it)."""
    try:
        data = json.loads(_read_small(path, MAX_CATALOGUE_BYTES))
    except (DiscoveryError, ValueError, RecursionError):
        return frozenset()
    found: set[int] = set()
    for key in ("modality", "channel_names"):
        named = data.get(key) if isinstance(data, dict) else None
        if not isinstance(named, dict):
            continue
        for channel, name in list(named.items())[:MAX_LABELS]:
            number = str(channel).strip()
            if re.fullmatch(r"\d{1,4}", number) and str(name).strip().upper() == "CT":
                found.add(int(number))
    return frozenset(found)


def decathlon_catalogue(base: Path) -> Mapping[str, Any]:
    """The option values dataset.json states: num_classes, class_names and, for nnU-Net
    v2's "ignore" label, ignore_index. Nothing when there is no readable catalogue; a
    catalogue that cannot be used is an error that names it."""
    path = base / "dataset.json"
    if not is_file(path):
        return {}
    try:
        data = json.loads(_read_small(path, MAX_CATALOGUE_BYTES))
    except (ValueError, RecursionError) as exc:
        raise DiscoveryError(f"{shown(path)}: not valid JSON: {str(exc)[:200]}") from None
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, dict) or not labels:
        return {}
    if len(labels) > MAX_LABELS:
        raise DiscoveryError(f"{shown(path)}: {len(labels):,} labels, more than {MAX_LABELS:,}")
    names = _label_names(path, labels)
    values: dict[str, Any] = {}
    ignore = [i for i, n in names.items() if n.lower() == "ignore"]
    classes = {i: n for i, n in names.items() if i not in ignore}
    top = max(classes, default=-1)
    values["num_classes"] = top + 1
    values["class_names"] = tuple(
        classes.get(i, f"(id {i}: not in dataset.json)") for i in range(top + 1)
    )
    values["ignore_index"] = ignore[0] if ignore else None
    values["background"] = 0 if 0 in classes else None
    return values


def _read_small(path: Path, limit: int) -> str:
    """A small text file inside the dataset, local or remote (walk.read_small: a regular
    file, at most ``limit`` bytes), UTF-8."""
    try:
        data = read_small(path, limit)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if str(reason).startswith("larger than"):
            raise DiscoveryError(f"{shown(path)}: {reason}") from None
        if reason == "not a regular file":
            raise DiscoveryError(f"{shown(path)}: not a regular file") from None
        raise DiscoveryError(
            f"{shown(path)}: cannot read: {without_credentials(str(reason))}"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DiscoveryError(f"{shown(path)}: not UTF-8 text: {exc}") from None


def _label_names(path: Path, labels: Mapping[Any, Any]) -> dict[int, str]:
    """id → name from Decathlon's {"0": "background"} or nnU-Net v2's {"background": 0}
    (a region's list of ids names each of them)."""
    out: dict[int, str] = {}

    def add(ident: Any, name: Any) -> None:
        if isinstance(ident, str) and re.fullmatch(r"\d{1,6}", ident.strip()):
            ident = int(ident)
        if isinstance(ident, bool) or not isinstance(ident, int):
            raise DiscoveryError(f"{shown(path)}: label id {str(ident)[:40]!r} is not an integer")
        if not 0 <= ident < MAX_LABEL_ID:
            raise DiscoveryError(f"{shown(path)}: label id {ident} outside [0, {MAX_LABEL_ID})")
        out.setdefault(ident, str(name)[:MAX_NAME])

    for key, value in labels.items():
        if isinstance(value, int | list) and not isinstance(value, bool):
            for ident in value if isinstance(value, list) else [value]:
                add(ident, key)
        else:
            add(key, value)
    return out


# --------------------------------------------------------------------------- tiles

TILE_SUFFIXES = (".tif", ".tiff")
TILE_IMAGES = ("images", "imgs", "image", "img_dir")
TILE_MASKS = ("masks", "labels", "label", "gt", "ann_dir", "annotations")


def detect_tiles(root: Path) -> tuple[Path, str] | None:
    """Image and mask folders whose first files are all TIFF rasters."""
    sub = dirs_by_name(root)
    images = next((sub[n] for n in TILE_IMAGES if n in sub), None)
    masks = next((sub[n] for n in TILE_MASKS if n in sub), None)
    if images is None or masks is None:
        return None
    names = [n for d in (images, masks) for n in _first_rasters(d)]
    if len(names) < 2 or not all(image_suffix(n) in TILE_SUFFIXES for n in names):
        return None
    return root, f"found {images.name}/ and {masks.name}/ of TIFF rasters"


def _first_rasters(folder: Path) -> list[str]:
    names = first_files(folder, 3)
    if names:
        return names
    for split in sorted(dirs_by_name(folder).values())[:3]:  # {train,val}/ below
        names += first_files(split, 3)
    return names


def discover_tiles(root: Path, base: Path, request: DiscoverRequest) -> Layout:
    layout = discover(base, request)
    notes = (
        *layout.notes,
        "TIFF rasters: where an image and its mask carry a georeference (GeoTIFF tags), "
        "their transform and CRS are compared (NA701-NA706)",
    )
    return Layout("tiles", f"tiles: {layout.reason}", layout.splits, notes, layout.unaudited)
