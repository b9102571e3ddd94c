"""What a scan would audit, before anything is decoded (``scan --dry-run``), and the config
file that makes the next run one command (``scan --write-config FILE``).

Both read the settled plan only: the layout with its folders and pairs of paths, and the
options the user gave. They return text; the command line prints or writes it.
"""

from __future__ import annotations

import bisect
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .formats.base import command_safe_lines
from .kinds import Int
from .layouts import PlannedSplit
from .layouts.survey import closest
from .options import Layer, Options, table
from .options import resolve as resolve_options
from .paths import display_path, display_root, printable
from .plan import ScanPlan
from .version import __version__

EXAMPLES = 3  # example pairs per split
UNPAIRED = 5  # unpaired files listed per split, each with its closest candidate
NEAR = 200  # candidates (by sorted name) compared with an unpaired file


def _rel(path: Path, root: Path) -> str:
    return display_path(path, root)


def _nearest(stem: str, stems: Sequence[str]) -> str | None:
    """The closest of the sorted ``stems`` to ``stem``, among its neighbours by name."""
    at = bisect.bisect_left(stems, stem)
    return closest(stem, stems[max(0, at - NEAR) : at + NEAR])


def _split_lines(split: PlannedSplit, root: Path) -> list[str]:
    pairs = [p for p in split.pairs if p.image is not None and p.mask is not None]
    lonely_images = [p.image for p in split.pairs if p.image is not None and p.mask is None]
    lonely_masks = [p.mask for p in split.pairs if p.mask is not None and p.image is None]
    masks = f"{_rel(split.mask_root, root)}/" if split.mask_root else "no mask folder"
    kind = split.role if split.labeled else f"{split.role}, unlabeled"
    out = [
        f"{printable(split.name)} ({kind}): {_rel(split.image_root, root)}/ + {masks}",
        f"  {len(pairs):,} pairs; {len(lonely_images):,} images without a mask; "
        f"{len(lonely_masks):,} masks without an image; {len(split.skipped):,} files skipped",
    ]
    for p in pairs[:EXAMPLES]:
        assert p.image is not None and p.mask is not None
        out.append(f"  pair: {_rel(p.image, root)}  ↔  {_rel(p.mask, root)}")
    mask_stems = sorted(m.stem for m in lonely_masks)
    image_stems = sorted(i.stem for i in lonely_images)
    for img in lonely_images[:UNPAIRED]:
        near = _nearest(img.stem, mask_stems) if split.labeled else None
        hint = f" (closest unpaired mask: {printable(near)})" if near else ""
        out.append(f"  no mask: {_rel(img, root)}{hint}")
    if len(lonely_images) > UNPAIRED:
        out.append(f"  … {len(lonely_images) - UNPAIRED:,} more images without a mask")
    for m in lonely_masks[:UNPAIRED]:
        near = _nearest(m.stem, image_stems)
        hint = f" (closest unpaired image: {printable(near)})" if near else ""
        out.append(f"  no image: {_rel(m, root)}{hint}")
    if len(lonely_masks) > UNPAIRED:
        out.append(f"  … {len(lonely_masks) - UNPAIRED:,} more masks without an image")
    for path, reason in split.skipped[:UNPAIRED]:  # why, not only how many
        out.append(f"  skipped: {_rel(path, root)}: {printable(reason)}")
    if len(split.skipped) > UNPAIRED:
        out.append(f"  … {len(split.skipped) - UNPAIRED:,} more files skipped")
    return out


def _images(n: int) -> str:
    return f"{n:,} image{'' if n == 1 else 's'}"


def dry_run(plan: ScanPlan) -> str:
    """The plan in words: layout, folders and pairs per split, unpaired files with their
    closest candidates, folders not audited. Nothing is decoded."""
    layout, root = plan.layout, plan.root
    lines = [
        f"nanaudit {__version__}: {display_root(root)} (dry run: nothing decoded)",
        f"layout: {layout.name}: {printable(layout.reason)}",
        *(f"  note: {printable(n)}" for n in layout.notes),
        *(f"warning: {printable(w)}" for w in plan.warnings),
    ]
    for split in layout.splits:
        lines += _split_lines(split, root)
    if layout.unaudited:
        total = sum(n for _, n in layout.unaudited)
        lines.append(f"not audited: {_images(total)} in folders no split covers:")
        lines += [f"  {_rel(folder, root)}/ ({_images(n)})" for folder, n in layout.unaudited]
    else:
        lines.append("not audited: no folder holding images is left out")
    return command_safe_lines("\n".join(lines)) + "\n"


# --------------------------------------------------------------------------- --write-config


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return (
            "{"
            + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items())
            + "}"
        )
    raise TypeError(f"no TOML for {value!r}")


def config_text(plan: ScanPlan, layers: Sequence[Layer], target: Path) -> str:
    """A nanaudit.toml holding the settings this run was given (flags, variables, the
    config file) and the layout it detected, paths relative to ``target``'s folder."""
    # what a config found beside the data set is the data's, not the user's: it is not
    # copied into the user's file (where it would be trusted from then on), only named
    user: Options = resolve_options([layer for layer in layers if layer.trusted])
    base = target.resolve().parent
    lines = [
        f"# written by nanaudit {__version__} (scan --write-config) for {display_root(plan.root)}",
        f"# layout {plan.layout.name}: {printable(plan.layout.reason)}",
    ]
    for layer in layers:
        if layer.trusted:
            continue
        theirs = resolve_options([layer])
        left = [o.config_key for o in table() if theirs.given(o.key) and not user.given(o.key)]
        if left:
            lines.append(
                f"# not copied from the config found beside the data ({printable(layer.source)})"
                f": {', '.join(left)}"
            )
    for split in plan.layout.splits:
        masks = f" + {_rel(split.mask_root, plan.root)}/" if split.mask_root else ""
        pairs = sum(1 for p in split.pairs if p.image is not None and p.mask is not None)
        lines.append(
            f"#   {printable(split.name)}: {_rel(split.image_root, plan.root)}/{masks} "
            f"({pairs:,} pairs)"
        )
    body: list[str] = []
    tables: list[str] = []
    in_tables: dict[str, list[str]] = {}  # options that live in a config table ([training])
    if not user.given("layout") and not user.splits and plan.preset.name != "generic":
        body.append(f"layout = {_toml_value(plan.preset.name)}")
    for option in table():
        if not option.reported or not user.given(option.key):  # not machine settings
            continue
        value = getattr(user, option.key)
        key = option.config_key
        if option.key == "splits":
            for s in value:
                tables += ["", f"[splits.{json.dumps(s.name)}]"]
                tables.append(f"images = {_toml_value(os.path.relpath(s.images, base))}")
                if s.masks is not None:
                    tables.append(f"masks = {_toml_value(os.path.relpath(s.masks, base))}")
            continue
        dumped = option.kind.dump(value)
        if isinstance(value, Path):
            dumped = os.path.relpath(value, base)
        if key == "checks":
            for name, inner in dumped.items():
                tables += [
                    "",
                    f"[checks.{name}]",
                    *(f"{k} = {_toml_value(v)}" for k, v in inner.items()),
                ]
        elif option.key == "per_file_ignores":
            tables += ["", f"[{key}]"]
            tables += [f"{json.dumps(glob)} = {_toml_value(ids)}" for glob, ids in dumped.items()]
        elif dumped is None:
            if isinstance(option.kind, Int) and option.kind.none:
                at = in_tables.setdefault(option.table, []) if option.table else body
                at.append(f'{key} = "none"')
        elif option.table is not None:
            in_tables.setdefault(option.table, []).append(f"{key} = {_toml_value(dumped)}")
        else:
            body.append(f"{key} = {_toml_value(dumped)}")
    for name, keys in in_tables.items():
        tables = ["", f"[{name}]", *keys, *tables]
    return "\n".join([*lines, "", *body, *tables]) + "\n"
