"""Every option, declared once.

The class body of :class:`Options` is the table: one :class:`Option` per setting, with its
kind (type and bounds), default, help, group and where it may be set.  From it come the
command line's flags (cli.py), the ``NANAUDIT_*`` variables, the config file's keys, the
API's keyword options, the effective configuration in the JSON report and the JSON Schema of
that part.  Adding an option is one entry here; reading it is ``options.<key>``.

Values come in layers, each overriding the one before: the defaults, a layout preset's
conventions, the config file, ``NANAUDIT_*`` variables, then the command line (or the API's
keyword options).  A config found beside the data (not named with ``--config``) is not
trusted: the paths it names must stay inside its folder, and it may lower but never raise a
limit that protects the machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, overload

from .formats import Format
from .kinds import (
    BandTriple,
    Bool,
    Choice,
    ChoiceList,
    ConfigError,
    ImageSize,
    Int,
    NumberRange,
    PathValue,
    Size,
    Text,
    TextList,
    ValueKind,
    Where,
    resolve_inside,
    shown_path,
)
from .layouts import ExplicitSplit
from .layouts.presets import PRESETS
from .layouts.training import LOSSES, TRAINING_PRESETS
from .loaders import FRAMEWORKS, READERS, canonical
from .memory import default_budget
from .records import PILLOW_BOMB_LIMIT
from .regex import PatternError, compile_key
from .severity import Severity

T = TypeVar("T")

Group = Literal["input", "labels", "training", "samples", "checks", "output", "performance"]
GROUPS: dict[str, str] = {
    "input": "Input: where the images and masks are",
    "labels": "Labels: how the masks are read",
    "training": "Training: the pipeline the data will meet",
    "checks": "Checks: what runs and what fails",
    "samples": "Samples: what is drawn from the training pipeline",
    "output": "Output: where the report goes",
    "performance": "Performance and safety",
}
FORMATS = tuple(f.value for f in Format)  # the formats' registry: formats/__init__.py
# -o targets besides the report formats: a shard's partial file, for `nanaudit merge`
OUTPUT_FORMATS = (*FORMATS, "partial")
Command = Literal["scan", "samples"]
SCAN_ONLY: tuple[Command, ...] = ("scan",)
SAMPLES_ONLY: tuple[Command, ...] = ("samples",)
BOTH: tuple[Command, ...] = ("scan", "samples")


# --------------------------------------------------------------------------- kinds of their own


class FailOn(ValueKind[Severity | None]):
    metavar = "LEVEL"

    def parse(self, value: object, where: Where) -> Severity | None:
        if isinstance(value, str) and value.strip().lower() == "never":
            return None
        if isinstance(value, str):
            try:
                return Severity.parse(value)
            except ValueError:
                pass
        raise where.fail(f"expected error, warning, info or never, got {value!r}")

    def dump(self, value: Severity | None) -> Any:
        return value.label if value is not None else "never"

    def schema(self) -> dict[str, Any]:
        return {"enum": ["error", "warning", "info", "never"]}

    def describe(self) -> str:
        return "error, warning, info or never"


class ReaderName(ValueKind[Any]):
    """A reader profile's name (loaders.py), in any case; or None: not stated."""

    metavar = "NAME"

    def parse(self, value: object, where: Where) -> str | None:
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            return None
        name = canonical(value) if isinstance(value, str) else None
        if name is None:
            raise where.fail(f"expected one of {', '.join(READERS)}, got {value!r}")
        return name

    def schema(self) -> dict[str, Any]:
        return {"enum": [*READERS, None]}

    def describe(self) -> str:
        return "one of " + ", ".join(READERS)


class Detected(Bool):  # a ValueKind[bool | None]: Bool, so that it gets a --x/--no-x flag
    """true or false, or None: detected from the data (a flag pair --x/--no-x)."""

    def parse(self, value: object, where: Where) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
            return None
        return super().parse(value, where)

    def schema(self) -> dict[str, Any]:
        return {"type": ["boolean", "null"]}

    def describe(self) -> str:
        return "true, false or auto"


class Regex(ValueKind[Any]):
    """A regular expression (RE2 syntax: matched in linear time) with at least one group
    (group 1 is the key)."""

    metavar = "REGEX"
    max_length = 256

    def parse(self, value: object, where: Where) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise where.fail(f"expected a regular expression string, got {value!r}")
        if len(value) > self.max_length:
            raise where.fail(f"longer than {self.max_length} characters")
        try:
            compiled = compile_key(value)
        except PatternError as exc:
            raise where.fail(f"invalid regular expression: {exc}") from None
        if compiled.groups < 1:
            raise where.fail("the regular expression needs a group: group 1 is the key")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": ["string", "null"]}

    def describe(self) -> str:
        return "a regular expression whose group 1 is the key"


class CheckPrefixes(ValueKind[tuple[str, ...]]):
    """Check-ID prefixes from a list or a comma-separated string; each must match a check."""

    metavar = "PREFIXES"

    def parse(self, value: object, where: Where) -> tuple[str, ...]:
        from .checks.registry import all_checks

        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise where.fail("expected a list of check IDs or prefixes")
        ids = [c.id for c in all_checks()]
        out: list[str] = []
        for item in value:
            for raw in item.split(","):
                prefix = raw.strip().upper()
                if not prefix:
                    continue
                if not re.fullmatch(r"NA\d{0,3}|N", prefix) or not any(
                    i.startswith(prefix) for i in ids
                ):
                    raise where.fail(f"{raw.strip()!r} matches no check ID")
                out.append(prefix)
        return tuple(dict.fromkeys(out))

    def dump(self, value: tuple[str, ...]) -> Any:
        return list(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string"}}

    def describe(self) -> str:
        return "check IDs or prefixes (NA1, NA201)"


class PerFileIgnores(ValueKind[tuple[tuple[str, tuple[str, ...]], ...]]):
    """A table of glob = [check ID prefixes]: at most 1,000 globs of 256 characters (each
    finding is matched against every glob)."""

    max_items = 1000
    max_length = 256

    def parse(self, value: object, where: Where) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if not isinstance(value, Mapping):
            raise where.fail("expected a table of glob = [check IDs]")
        if len(value) > self.max_items:
            raise where.fail(f"more than {self.max_items:,} globs")
        if any(len(str(glob)) > self.max_length for glob in value):
            raise where.fail(f"a glob longer than {self.max_length} characters")
        prefixes = CheckPrefixes()
        return tuple(
            (str(glob), prefixes.parse(ids, Where(where.source, f"{where.key}.{glob!r}")))
            for glob, ids in value.items()
        )

    def dump(self, value: tuple[tuple[str, tuple[str, ...]], ...]) -> Any:
        return {glob: list(ids) for glob, ids in value}

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": {"type": "array"}}


class Splits(ValueKind[tuple[ExplicitSplit, ...]]):
    """Explicit splits: a table ``[splits.NAME] images = … masks = …`` in a config, or
    ``NAME:IMAGES[:MASKS]`` texts on the command line (without MASKS: unlabeled)."""

    metavar = "NAME:IMAGES[:MASKS]"
    max_items = 1000  # each split is a walk of its folders

    def parse(self, value: object, where: Where) -> tuple[ExplicitSplit, ...]:
        if isinstance(value, list | tuple | Mapping) and len(value) > self.max_items:
            raise where.fail(f"more than {self.max_items:,} splits")
        if isinstance(value, list | tuple):
            return tuple(s for item in value for s in self._one(item, where))
        if not isinstance(value, Mapping):
            raise where.fail("expected a table of splits, e.g. [splits.train] images = ...")
        out = []
        for name, table in value.items():
            here = replace(where, key=f"{where.key}.{name}")
            if not isinstance(table, Mapping):
                raise here.fail("expected a table with images and masks")
            unknown = set(table) - {"images", "masks"}
            if unknown:
                raise here.fail(f"unknown key {sorted(unknown)[0]!r} (known: images, masks)")
            images, masks = table.get("images"), table.get("masks")
            if not isinstance(images, str):
                raise here.fail("images: expected a folder path")
            if masks is not None and not isinstance(masks, str):
                raise here.fail("masks: expected a folder path")
            out.append(
                ExplicitSplit(
                    str(name),
                    resolve_inside(Path(images), here),
                    resolve_inside(Path(masks), here) if masks else None,
                    str(here),
                )
            )
        return tuple(out)

    def _one(self, item: object, where: Where) -> tuple[ExplicitSplit, ...]:
        if isinstance(item, ExplicitSplit):
            return (item,)
        if not isinstance(item, str):
            raise where.fail(f"expected NAME:IMAGES[:MASKS], got {item!r}")
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise where.fail(f"expected NAME:IMAGES[:MASKS], got {item!r}")
        masks = resolve_inside(Path(parts[2]), where) if len(parts) == 3 and parts[2] else None
        given = f"{where} {item}"
        return (ExplicitSplit(parts[0], resolve_inside(Path(parts[1]), where), masks, given),)

    def dump(self, value: tuple[ExplicitSplit, ...]) -> Any:
        return [
            {
                "name": s.name,
                "images": shown_path(s.images),
                "masks": shown_path(s.masks) if s.masks else None,
            }
            for s in value
        ]

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "object"}}


class LabelMap(ValueKind[tuple[tuple[int, int], ...]]):
    """Stored label → label the loader makes of it: ``255:1`` on the command line
    (repeatable), ``{255 = 1}`` in a config file."""

    metavar = "FROM:TO"
    bound = 1 << 31

    def parse(self, value: object, where: Where) -> tuple[tuple[int, int], ...]:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, Mapping):
            items = list(value.items())
        elif isinstance(value, list | tuple):
            items = []
            for item in value:
                if isinstance(item, str):
                    head, sep, tail = item.partition(":")
                    if not sep:
                        raise where.fail(f"expected FROM:TO (e.g. 255:1), got {item!r}")
                    items.append((head, tail))
                elif isinstance(item, list | tuple) and len(item) == 2:
                    items.append((item[0], item[1]))
                else:
                    raise where.fail(f"expected FROM:TO (e.g. 255:1), got {item!r}")
        else:
            raise where.fail("expected a table of label = label, e.g. {255 = 1}")
        out: dict[int, int] = {}
        for a, b in items:
            src, dst = self._label(a, where), self._label(b, where)
            if src in out and out[src] != dst:
                raise where.fail(f"label {src} is mapped twice ({out[src]} and {dst})")
            out[src] = dst
        return tuple(sorted(out.items()))

    def _label(self, value: object, where: Where) -> int:
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,12}\s*", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise where.fail(f"expected integer labels, got {value!r}")
        if not -self.bound <= value < self.bound:
            raise where.fail(f"label {value} is out of the 32-bit range")
        return value

    def dump(self, value: tuple[tuple[int, int], ...]) -> Any:
        return {str(a): b for a, b in value}

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": {"type": "integer"}}

    def describe(self) -> str:
        return "stored label → label pairs (255:1)"


@dataclass(frozen=True, slots=True)
class CheckSetting:
    """One check's configuration: on or off, its severity, its thresholds (validated)."""

    enabled: bool | None = None  # None: as the selection says
    severity: Severity | None = None  # None: the check's default
    options: Mapping[str, Any] = field(default_factory=dict)

    def merged(self, over: CheckSetting) -> CheckSetting:
        """``over`` on top of this setting, key by key."""
        return CheckSetting(
            over.enabled if over.enabled is not None else self.enabled,
            over.severity if over.severity is not None else self.severity,
            {**self.options, **over.options},
        )


class CheckTable(ValueKind[Mapping[str, CheckSetting]]):
    """``[checks.NA104] severity = "error" / "off", min_std_ratio = 0.01``."""

    def parse(self, value: object, where: Where) -> Mapping[str, CheckSetting]:
        from .checks.registry import get_check

        if not isinstance(value, Mapping):
            raise where.fail("expected a table of check IDs")
        out: dict[str, CheckSetting] = {}
        for raw_id, table in value.items():
            here = replace(where, key=f"{where.key}.{raw_id}")
            spec = get_check(str(raw_id))
            if spec is None:
                raise here.fail(f"unknown check ID {raw_id!r}")
            if isinstance(table, CheckSetting):
                out[spec.id] = table
                continue
            if not isinstance(table, Mapping):
                raise here.fail("expected a table")
            enabled: bool | None = None
            severity: Severity | None = None
            options: dict[str, Any] = {}
            for raw_key, v in table.items():
                key = str(raw_key).replace("-", "_")
                at = replace(where, key=f"{here.key}.{raw_key}")
                if key == "severity":
                    if isinstance(v, str) and v.lower() in ("off", "none", "disabled"):
                        enabled = False
                    else:
                        try:
                            severity = Severity.parse(str(v))
                        except ValueError:
                            raise at.fail(
                                f"expected error, warning, info or off, got {v!r}"
                            ) from None
                elif key == "enabled":
                    enabled = Bool().parse(v, at)
                else:
                    options[key] = spec.parse_option(key, v, at)
            out[spec.id] = CheckSetting(enabled, severity, options)
        return out

    def dump(self, value: Mapping[str, CheckSetting]) -> Any:
        return {
            cid: {
                **({"enabled": s.enabled} if s.enabled is not None else {}),
                **({"severity": s.severity.label} if s.severity is not None else {}),
                **s.options,
            }
            for cid, s in sorted(value.items())
        }

    def schema(self) -> dict[str, Any]:
        return {"type": "object"}


def _merge_checks(
    low: Mapping[str, CheckSetting], high: Mapping[str, CheckSetting]
) -> Mapping[str, CheckSetting]:
    out = dict(low)
    for cid, setting in high.items():
        out[cid] = out[cid].merged(setting) if cid in out else setting
    return out


_FORMAT_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_-]+")  # a word; one letter is a drive (C:)


class OutputTargets(ValueKind[tuple[tuple[str, Path], ...]]):
    """``[FORMAT:]FILE`` (JSON unless FORMAT: is given)."""

    metavar = "[FORMAT:]FILE"

    def parse(self, value: object, where: Where) -> tuple[tuple[str, Path], ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise where.fail("expected [FORMAT:]FILE")
        out = []
        for item in items:
            if isinstance(item, tuple) and len(item) == 2:
                out.append((str(item[0]), Path(item[1])))
                continue
            if not isinstance(item, str) or not item:
                raise where.fail(f"expected [FORMAT:]FILE, got {item!r}")
            head, sep, tail = item.partition(":")
            if sep and head.lower() not in OUTPUT_FORMATS and _FORMAT_LIKE.fullmatch(head):
                # a mistyped format (sarfi:r.sarif) would write JSON to a file of that name
                raise where.fail(
                    f"unknown format {head!r} in {item!r} (known: "
                    f"{', '.join(OUTPUT_FORMATS)}; for a file whose name holds ':', "
                    f"write json:{item})"
                )
            fmt, target = (
                (head.lower(), tail) if sep and head.lower() in OUTPUT_FORMATS else ("json", item)
            )
            if not target:
                raise where.fail(f"expected [FORMAT:]FILE, got {item!r}")
            # "-" is standard output, not a file named "-" in the working folder
            out.append((fmt, Path("-") if target == "-" else resolve_inside(Path(target), where)))
        return tuple(out)

    def dump(self, value: tuple[tuple[str, Path], ...]) -> Any:
        return [f"{fmt}:{'-' if p == Path('-') else shown_path(p)}" for fmt, p in value]


class ShardSpec(ValueKind[tuple[int, int] | None]):
    """``I/N``: shard I (1-based) of N."""

    metavar = "I/N"

    def parse(self, value: object, where: Where) -> tuple[int, int] | None:
        if value is None:
            return None
        if isinstance(value, list | tuple) and len(value) == 2:
            value = f"{value[0]}/{value[1]}"
        found = (
            re.fullmatch(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*", value)
            if isinstance(value, str)
            else None
        )
        if found is None:
            raise where.fail(f"expected I/N (shard I of N, e.g. 2/8), got {value!r}")
        index, count = int(found.group(1)), int(found.group(2))
        if not 1 <= index <= count:
            raise where.fail(f"shard {index}/{count}: I must lie in 1..N")
        return index, count

    def dump(self, value: tuple[int, int] | None) -> Any:
        return None if value is None else f"{value[0]}/{value[1]}"

    def schema(self) -> dict[str, Any]:
        return {"type": ["string", "null"]}

    def describe(self) -> str:
        return "I/N, shard I of N"


class KeyValues(ValueKind[tuple[tuple[str, Any], ...]]):
    """``KEY=VALUE`` texts (repeatable) or a table. From text, true/false become booleans
    and integers numbers, as fsspec's options expect; everything else stays a string."""

    metavar = "KEY=VALUE"

    def parse(self, value: object, where: Where) -> tuple[tuple[str, Any], ...]:
        if isinstance(value, Mapping):
            items = list(value.items())
        else:
            texts = [value] if isinstance(value, str) else value
            if not isinstance(texts, list | tuple):
                raise where.fail("expected KEY=VALUE")
            items = []
            for text in texts:
                if isinstance(text, tuple) and len(text) == 2:
                    items.append(text)
                    continue
                key, sep, raw = text.partition("=") if isinstance(text, str) else ("", "", "")
                if not sep or not key.strip():
                    raise where.fail(f"expected KEY=VALUE, got {text!r}")
                items.append((key.strip(), _scalar(raw)))
        out: dict[str, Any] = {}
        for key, v in items:
            if not isinstance(v, str | int | float | bool):
                raise where.fail(f"{key}: expected a string, a number or true/false")
            out[str(key)] = v
        return tuple(sorted(out.items()))

    def dump(self, value: tuple[tuple[str, Any], ...]) -> Any:
        return dict(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "object"}

    def describe(self) -> str:
        return "KEY=VALUE settings"


def _scalar(text: str) -> str | int | bool:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if re.fullmatch(r"[+-]?\d{1,18}", text.strip()):
        return int(text)
    return text


# --------------------------------------------------------------------------- the option


class Option(Generic[T]):
    """One setting. ``flag``: the long flag (derived from the key unless given; False for
    none); ``env``: also read from NANAUDIT_<KEY>; ``config``: a config-file key and an
    API keyword; ``table``: the config-file table the key lives in (``[training]``; None:
    the top level), under ``config_name`` when that differs from the key; ``top_level``:
    also accepted at the top level (where the key lived before it had a table);
    ``reported``: shown in the JSON report's configuration; ``protective``: a limit that
    protects the machine (an untrusted config may only lower it); ``user_only``: a setting
    that widens what nanaudit reads or runs (an untrusted config may not set it);
    ``commands``: the commands that take it as a flag and read it (``scan``, ``samples``;
    a config file's key for the other command is accepted and left unused)."""

    key: str

    def __init__(
        self,
        kind: ValueKind[T],
        default: T,
        help: str,
        *,
        group: Group,
        flag: str | Literal[False] | None = None,
        short: str | None = None,
        env: bool = False,
        config: bool = True,
        reported: bool = True,
        multiple: bool = False,
        protective: bool = False,
        user_only: bool = False,
        merge: Any = None,
        metavar: str | None = None,
        table: str | None = None,
        config_name: str | None = None,
        top_level: bool = False,
        commands: tuple[Command, ...] = SCAN_ONLY,
    ) -> None:
        self.kind = kind
        self.default = default
        self.help = help
        self.group = group
        self._flag = flag
        self.short = short
        self.env = env
        self.config = config
        self.reported = reported and config
        self.multiple = multiple
        self.protective = protective
        self.user_only = user_only
        self.merge = merge
        self.metavar = metavar or kind.metavar
        self.table = table
        self._config_name = config_name
        self.top_level = top_level or table is None
        self.commands = commands

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    @overload
    def __get__(self, obj: None, owner: type) -> Option[T]: ...

    @overload
    def __get__(self, obj: Options, owner: type) -> T: ...

    def __get__(self, obj: Options | None, owner: type) -> Option[T] | T:
        if obj is None:
            return self
        value: T = obj._values[self.key]
        return value

    @property
    def flag(self) -> str | None:
        """The long flag, or None for a config-only option."""
        if self._flag is False:
            return None
        if self._flag is None:
            return "--" + self.key.replace("_", "-")
        return self._flag

    @property
    def env_name(self) -> str | None:
        return f"NANAUDIT_{self.key.upper()}" if self.env else None

    @property
    def config_key(self) -> str:
        """The key in the config file (inside ``table`` when the option has one)."""
        if self._config_name is not None:
            return self._config_name
        return self.key

    @property
    def config_path(self) -> str:
        """Where the config file holds the value: ``key`` or ``table.key``."""
        return f"{self.table}.{self.config_key}" if self.table else self.config_key

    def combine(self, low: T, high: T) -> T:
        return self.merge(low, high) if self.merge is not None else high


LAYOUTS = ("auto", *PRESETS)  # the presets' registry: layouts/presets.py


class Options:
    """The settled options of one run. Frozen; ``replace`` makes a changed copy."""

    __slots__ = ("_given", "_values")
    _values: dict[str, Any]
    _given: frozenset[str]

    # ------------------------------------------------------------------ input
    images = Option[Path | None](
        PathValue(), None, "Image folder (with --masks): one split 'all'.", group="input"
    )
    masks = Option[Path | None](PathValue(), None, "Mask folder (with --images).", group="input")
    splits = Option[tuple[ExplicitSplit, ...]](
        Splits(),
        (),
        "A split given explicitly; repeatable. Without MASKS the split is unlabeled. The folders "
        "resolve against the working folder (in a config file: against its folder); reported "
        "paths stay relative to PATH.",
        group="input",
        flag="--split",
        multiple=True,
    )
    layout = Option[str](
        Choice(LAYOUTS),
        "auto",
        "A layout preset instead of detecting one (`nanaudit layouts` lists them).",
        group="input",
        env=True,
    )
    pair_key = Option[str | None](
        Regex(),
        None,
        "Regex (RE2 syntax) whose group 1, searched in a file's stem, pairs images and masks.",
        group="input",
        env=True,
    )
    follow_links = Option[bool](
        Bool(),
        False,
        "Follow symbolic links that lead outside the scanned folder (by default they are "
        "listed as skipped).",
        group="input",
        user_only=True,
    )
    mask_folder = Option[str | None](
        Text(max_length=255),
        None,
        "The mask folder's name, when more than one folder beside the images could hold "
        "the masks (generic layouts: in every split).",
        group="input",
        metavar="NAME",
    )
    unlabeled_splits = Option[tuple[str, ...]](
        TextList(),
        (),
        "Declare a split unlabeled: missing masks there are info. Repeatable.",
        group="input",
        flag="--unlabeled",
        multiple=True,
        metavar="SPLIT",
    )
    train_splits = Option[tuple[str, ...]](
        TextList(),
        (),
        "Name a training split (the training checks and class weights read it), when no "
        "split's name says so (train, training…). Repeatable.",
        group="input",
        flag="--train-split",
        multiple=True,
        metavar="SPLIT",
    )
    config = Option[Path | None](
        PathValue(),
        None,
        "Config file (default: the nearest nanaudit.toml or pyproject.toml [tool.nanaudit], "
        "from PATH upward, else from the working folder upward).",
        commands=BOTH,
        group="input",
        env=True,
        config=False,
        metavar="FILE",
    )
    # ------------------------------------------------------------------ labels
    num_classes = Option[int | None](
        Int(1, 65536, none=True),
        None,
        "Number of classes C; labels must lie in [0, C) or be the ignore index.",
        commands=BOTH,
        group="labels",
        short="-C",
        env=True,
    )
    ignore_index = Option[int | None](
        Int(-(1 << 31), (1 << 31) - 1, none=True, metavar="N|none"),
        255,
        "The ignore label (default 255); 'none' for none.",
        commands=BOTH,
        group="labels",
        env=True,
    )
    background = Option[int | None](
        Int(-(1 << 31), (1 << 31) - 1, none=True, metavar="N|none"),
        0,
        "The background label (default 0); 'none' for none.",
        commands=BOTH,
        group="labels",
        env=True,
    )
    class_names = Option[tuple[str, ...]](
        TextList(max_items=65536),
        (),
        "Class names, class 0 first (config: a list).",
        commands=BOTH,
        group="labels",
        flag=False,
    )
    class_names_file = Option[Path | None](
        PathValue(),
        None,
        "File with one class name per line (class 0 first), used in the report, the JSON and "
        "messages.",
        commands=BOTH,
        group="labels",
        flag="--class-names",
        metavar="FILE",
    )
    label_encoding = Option[str | None](
        Text(max_length=64),
        None,
        "A preset's other label encoding (cityscapes: trainIds or labelIds).",
        group="labels",
        metavar="NAME",
    )
    label_offset = Option[int](
        Int(-65536, 65536),
        0,
        "Add N to every label but the ignore index before the checks (pets: -1).",
        group="labels",
    )
    label_map = Option[tuple[tuple[int, int], ...]](
        LabelMap(),
        (),
        "Map a stored label before the checks, as the loader does (255:1 for binary masks "
        "stored as 0/255); repeatable. Labels not in the map pass through. Applied before "
        "--reduce-zero-label and --label-offset; the report states it.",
        group="labels",
        multiple=True,
    )
    reduce_zero_label = Option[bool](
        Bool(),
        False,
        "Map label 0 to the ignore index and shift the rest down by one (ADE20K).",
        group="labels",
        flag="--reduce-zero-label/--no-reduce-zero-label",
    )
    dry_run = Option[bool](
        Bool(),
        False,
        "Print the plan (layout, folders and pairs per split, example pairs, unpaired files "
        "with the closest candidate, folders not audited) without decoding anything, and exit "
        "0.",
        group="input",
        flag="--dry-run",
        config=False,
    )
    # ------------------------------------------------------------------ training
    # the pipeline the training split meets: config table [training]; NA401-NA407 run only
    # once it is described (batch_size and drop_last alone keep serving NA308 as before)
    training_preset = Option[str | None](
        Choice(tuple(TRAINING_PRESETS), none=True),
        None,
        "Training settings of a common config (`nanaudit layouts` lists them): crop, "
        "resize, scale range, padding, batch size, loss. Your own settings override them.",
        group="training",
        table="training",
        config_name="preset",
    )
    crop_size = Option[tuple[int, int] | None](
        ImageSize(),
        None,
        "Random crop of height x width pixels at training scale (e.g. 512x1024; one number "
        "for a square).",
        group="training",
        table="training",
    )
    pad = Option[bool](
        Bool(),
        False,
        "Images smaller than the crop are padded up to it (mmseg Pad / data preprocessor "
        "size, albumentations PadIfNeeded).",
        group="training",
        flag="--pad/--no-pad",
        table="training",
    )
    pad_value = Option[int | None](
        Int(-(1 << 31), (1 << 31) - 1, none=True),
        None,
        "The value padding writes into the mask (default: the ignore index).",
        group="training",
        table="training",
    )
    resize = Option[tuple[int, int] | None](
        ImageSize(),
        None,
        "Resize to height x width before the crop; the base size of --scale-range.",
        group="training",
        table="training",
    )
    keep_ratio = Option[bool](
        Bool(),
        True,
        "The resize keeps the aspect ratio: the image is scaled to fit the long side of "
        "--resize into its long side and the short into the short (mmcv rescale).",
        group="training",
        flag="--keep-ratio/--no-keep-ratio",
        table="training",
    )
    scale_range = Option[tuple[float, float] | None](
        NumberRange(0.01, 100.0),
        None,
        "Random scale factors lo,hi, of the --resize size or else of the image's own size "
        "(mmseg RandomResize ratio_range).",
        group="training",
        table="training",
    )
    loss = Option[tuple[str, ...]](
        ChoiceList(tuple(LOSSES)),
        (),
        f"The losses training uses, comma-separated: {', '.join(LOSSES)}.",
        group="training",
        multiple=True,
        table="training",
    )
    batch_size = Option[int | None](
        Int(1, 1 << 20, none=True),
        None,
        "Training batch size: NA308 (which runs only when it is given) checks the size of the "
        "last batch, NA402 and NA404 read it; samples drawn one at a time are grouped in "
        "batches of this size (NA504, NA505).",
        commands=BOTH,
        group="training",
        env=True,
        table="training",
        top_level=True,
    )
    drop_last = Option[bool](
        Bool(),
        False,
        "The training DataLoader drops the last incomplete batch.",
        group="training",
        table="training",
        top_level=True,
    )
    # how the training code reads the files (loaders.py); not a setting of the pipeline's
    # geometry: stating a reader alone does not turn NA401-NA407 on
    reader = Option[str | None](
        Choice(tuple(FRAMEWORKS), none=True),
        None,
        "Read the files as this framework's loading code does: "
        f"{', '.join(FRAMEWORKS)} (sets --image-reader and --mask-reader; yours win).",
        group="training",
        env=True,
        table="training",
        metavar="FRAMEWORK",
    )
    image_reader = Option[str | None](
        ReaderName(),
        None,
        "How the training code reads an image: "
        f"{', '.join(READERS)} (default: pillow, np.asarray(Image.open(p))).",
        group="training",
        env=True,
        table="training",
    )
    mask_reader = Option[str | None](
        ReaderName(),
        None,
        "How the training code reads a mask (the same names). Without a reader stated, "
        "masks whose values depend on the reader are flagged (NA211).",
        group="training",
        env=True,
        table="training",
    )
    # ------------------------------------------------------------------ samples
    max_samples = Option[int](
        Int(1, 1 << 30),
        500,
        "Samples to draw (default 500): whole batches (one larger than what is left of N "
        "is cut at N), and as many passes over the pipeline as it takes, when it can be "
        "iterated again.",
        group="samples",
        flag="--samples",
        commands=SAMPLES_ONLY,
    )
    image_key = Option[str | None](
        Text(max_length=256),
        None,
        "The image's key in dict samples (default: the first of image, img, images, "
        "input, x, pixel_values).",
        group="samples",
        metavar="KEY",
        commands=SAMPLES_ONLY,
    )
    mask_key = Option[str | None](
        Text(max_length=256),
        None,
        "The mask's key in dict samples (default: the first of mask, masks, label, labels, "
        "target, seg, segmentation, gt, y, gt_semantic_seg).",
        group="samples",
        metavar="KEY",
        commands=SAMPLES_ONLY,
    )
    batched = Option[bool | None](
        Detected(),  # type: ignore[arg-type]  # None: detected from the data
        None,
        "Samples come in batches, a leading batch axis (default: detected: 4-D images, or "
        "3-D images and masks of the same length).",
        group="samples",
        flag="--batched/--no-batched",
        commands=SAMPLES_ONLY,
    )
    # ------------------------------------------------------------------ checks
    select = Option[tuple[str, ...]](
        CheckPrefixes(),
        (),
        "Run only checks whose ID starts with one of these (comma-separated; repeatable).",
        commands=BOTH,
        group="checks",
        multiple=True,
    )
    ignore = Option[tuple[str, ...]](
        CheckPrefixes(),
        (),
        "Skip checks whose ID starts with one of these; the longest matching prefix of "
        "--select and --ignore wins (--ignore NA1 --select NA101 runs NA101 alone of the "
        "NA1xx).",
        commands=BOTH,
        group="checks",
        multiple=True,
    )
    per_file_ignores = Option[tuple[tuple[str, tuple[str, ...]], ...]](
        PerFileIgnores(),
        (),
        "Globs (relative to the scanned root) and the check prefixes they ignore.",
        group="checks",
        flag=False,
        config_name="per-file-ignores",  # flake8's spelling
    )
    checks = Option[Mapping[str, CheckSetting]](
        CheckTable(),
        {},
        "Per check: severity (or off) and thresholds.",
        commands=BOTH,
        group="checks",
        flag=False,
        merge=_merge_checks,
    )
    fail_on = Option[Severity | None](
        FailOn(),
        Severity.ERROR,
        "Lowest severity that makes the exit code 1 (default error).",
        commands=BOTH,
        group="checks",
        env=True,
    )
    baseline = Option[Path | None](
        PathValue(),
        None,
        "Hide the findings recorded in this baseline; fail only on new ones, and list the "
        "entries that no longer occur.",
        group="checks",
        metavar="FILE",
        reported=False,
    )
    write_config = Option[Path | None](
        PathValue(),
        None,
        "Save the layout settings and label conventions of this run to FILE (a "
        "nanaudit.toml; paths relative to FILE's folder), so that the next run needs no "
        "flags. The scan goes on unless --dry-run.",
        group="output",
        config=False,
        metavar="FILE",
    )
    write_baseline = Option[Path | None](
        PathValue(),
        None,
        "Record the current findings (check, path and a fingerprint of the numbers) as the "
        "baseline in this file; the exit code is 0 once it is written.",
        group="checks",
        config=False,
        metavar="FILE",
    )
    # ------------------------------------------------------------------ output
    format = Option[str](
        Choice(("auto", *FORMATS)),
        "auto",
        "What to print on stdout. auto: github annotations plus the terminal report under "
        "GITHUB_ACTIONS=true, else rich.",
        commands=BOTH,
        group="output",
        env=True,
        config=False,
        metavar="FORMAT",
    )
    outputs = Option[tuple[tuple[str, Path], ...]](
        OutputTargets(),
        (),
        "Also write a report file (JSON unless FORMAT: is given; a word before ':' that is "
        "no format is an error). Repeatable: one run can write json:r.json and "
        "sarif:r.sarif; stdout still gets --format ('-' as FILE: stdout too). Every output "
        "is checked before the scan starts. partial:FILE is a shard's part (--shard).",
        commands=BOTH,
        group="output",
        flag="--output",
        short="-o",
        multiple=True,
        config=False,
    )
    verbose = Option[bool](
        Bool(),
        False,
        "List every file of every finding (the default shows five per check, and a check "
        "firing on nearly every file of a split once).",
        commands=BOTH,
        group="output",
        flag="--verbose",
        short="-v",
        config=False,
    )
    stats = Option[bool](
        Bool(),
        True,
        "Terminal report: the statistics of each split after the findings (default), or not.",
        commands=BOTH,
        group="output",
        flag="--stats/--no-stats",
        reported=False,
    )
    quiet = Option[bool](
        Bool(),
        False,
        "Terminal report: the findings and the summary line only (CI logs).",
        commands=BOTH,
        group="output",
        flag="--quiet",
        short="-q",
        reported=False,
    )
    max_annotations = Option[int](
        Int(0, 1 << 20),
        50,
        "github format: annotations before the rest is listed in the log.",
        commands=BOTH,
        group="output",
        reported=False,
    )
    report_files = Option[str](
        Choice(("all", "findings", "none")),
        "all",
        "json format: the files its `files` list holds: all (the default), those a "
        "finding names, or none (a scan of millions of files: the findings and statistics "
        "are the same); junit: a test case for every file, or (findings, none) only for "
        "the files findings name.",
        commands=BOTH,
        group="output",
        env=True,
        reported=False,
        metavar="WHICH",
    )
    max_pictures = Option[int](
        Int(0, 1000),
        8,
        "html format: the worst files of each check shown with their pictures.",
        group="output",
        reported=False,
    )
    bands = Option[tuple[int, int, int] | None](
        BandTriple(),
        None,
        "html format: the bands of a multi-band raster (4 bands or more) shown as red, green "
        "and blue, numbered from 1 (e.g. 4,3,2: Sentinel-2's true colour); default 4,3,2 for "
        "12 or 13 bands (Sentinel-2), else the first three. Each band is stretched from its "
        "2nd to its 98th percentile.",
        group="output",
        reported=False,
    )
    thumbnails = Option[bool](
        Bool(),
        False,
        "Make thumbnails while decoding, for an HTML report (on by itself when one is "
        "asked for with --format html or -o html:FILE).",
        group="output",
        flag=False,
        reported=False,
    )
    color = Option[bool | None](
        Bool(),  # type: ignore[arg-type]  # None: decide from the terminal
        None,
        "Force colour on or off (NO_COLOR is honoured).",
        commands=BOTH,
        group="output",
        flag="--color/--no-color",
        config=False,
    )
    progress = Option[bool](
        Bool(),
        True,
        "No progress bar (it is drawn only when stderr is a terminal).",
        commands=BOTH,
        group="output",
        flag="--no-progress",
        config=False,
    )
    debug = Option[bool](
        Bool(),
        False,
        "Show tracebacks of internal errors.",
        commands=BOTH,
        group="output",
        flag="--debug",
        config=False,
    )
    # ------------------------------------------------------------------ performance
    jobs = Option[int | None](
        Int(1, 1024, none=True),
        None,
        "Worker processes for decoding (default: the usable CPUs); the output is the same "
        "for every N.",
        group="performance",
        short="-j",
        env=True,
        reported=False,
        user_only=True,
    )
    cache_dir = Option[Path | None](
        PathValue(),
        None,
        "Where per-file records are cached (default: $XDG_CACHE_HOME/nanaudit, else "
        "~/.cache/nanaudit).",
        group="performance",
        env=True,
        reported=False,
        metavar="DIR",
        user_only=True,
    )
    cache = Option[bool](
        Bool(),
        True,
        "Neither read nor write the cache.",
        group="performance",
        flag="--no-cache",
        reported=False,
    )
    max_pixels = Option[int](
        Int(1, 1 << 40),
        PILLOW_BOMB_LIMIT,
        "Refuse to decode images with more pixels than this (NA002).",
        group="performance",
        env=True,
        protective=True,
    )
    max_memory = Option[int | None](
        Size(16 << 20, 1 << 50, auto=default_budget),
        None,
        "Refuse to decode a file whose decode would need more memory than this (NA002; "
        "512M, 4G…; default: half the memory available).",
        group="performance",
        env=True,
        protective=True,
        reported=False,
    )
    shard = Option[tuple[int, int] | None](
        ShardSpec(),
        None,
        "Audit shard I of N of the pairs (a stable hash of each pair) and write its partial "
        "file (-o partial:FILE); `nanaudit merge` makes the report of all N.",
        group="performance",
        env=True,
        config=False,
    )
    executor = Option[str](
        Choice(("local", "dask")),
        "local",
        "Where files are decoded: local (this machine's processes) or dask (a Dask "
        "cluster; needs nanaudit[dask]).",
        group="performance",
        env=True,
        reported=False,
        user_only=True,  # a config beside the data may not send its files to a cluster
    )
    scheduler = Option[str | None](
        Text(max_length=1024),
        None,
        "The Dask scheduler's address (tcp://HOST:8786); without one, --executor dask starts "
        "a local cluster of --jobs workers.",
        group="performance",
        env=True,
        reported=False,
        metavar="ADDRESS",
        user_only=True,  # a scheduler's answers are unpickled: only the user names one
    )
    storage_options = Option[tuple[tuple[str, Any], ...]](
        KeyValues(),
        (),
        "A setting of the remote storage a URL names, given to fsspec (endpoint_url=…, "
        "anon=true); repeatable.",
        group="input",
        flag="--storage-option",
        multiple=True,
        config=False,
    )

    # ------------------------------------------------------------------ the table's use

    def __init__(self, values: Mapping[str, Any] | None = None, given: Iterable[str] = ()):
        defaults = {o.key: o.default for o in table()}
        object.__setattr__(self, "_values", {**defaults, **(values or {})})
        object.__setattr__(self, "_given", frozenset(given))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Options are frozen: use replace()")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, repr(v)) for k, v in self._values.items())))

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={self._values[k]!r}" for k in sorted(self._given))
        return f"Options({given})"

    def given(self, key: str) -> bool:
        """Whether a layer above the defaults set ``key``."""
        return key in self._given

    def replace(self, **changes: Any) -> Options:
        return Options({**self._values, **changes}, self._given | set(changes))

    def to_dict(self, command: Command = "scan") -> dict[str, Any]:
        """The effective configuration, as the JSON report of ``command`` states it: the
        options that command reads."""
        return {
            o.key: o.kind.dump(self._values[o.key])
            for o in table()
            if o.reported and command in o.commands
        }


def table() -> tuple[Option[Any], ...]:
    """Every option, in declaration order."""
    return _TABLE


_TABLE: tuple[Option[Any], ...] = tuple(v for v in vars(Options).values() if isinstance(v, Option))
BY_KEY: dict[str, Option[Any]] = {o.key: o for o in _TABLE}
# config-file keys at the top level, and per table ([training])
BY_CONFIG_KEY: dict[str, Option[Any]] = {
    o.config_key: o for o in _TABLE if o.config and o.top_level
}
CONFIG_TABLES: dict[str, dict[str, Option[Any]]] = {}
for _o in _TABLE:
    if _o.config and _o.table is not None:
        CONFIG_TABLES.setdefault(_o.table, {})[_o.config_key] = _o


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True, slots=True)
class Layer:
    """One source of values. ``text``: the values are the strings of flags or variables."""

    source: str  # "" for the command line, "environment", a config path, "option"…
    values: Mapping[str, Any]
    base: Path = Path(".")
    trusted: bool = True
    confine: Path | None = None  # untrusted: paths must also stay in this folder (PATH)
    text: bool = False
    config_file: bool = False  # keys are config keys (unknown ones are errors)
    command_line: bool = False  # keys are option keys; messages name the flags


def _where(layer: Layer, key: str, option: Option[Any]) -> Where:
    if layer.command_line and option.flag is not None:
        key = option.flag.split("/")[0]
    elif layer.source == "environment" and option.env_name is not None:
        key = option.env_name
    return Where(layer.source, key, layer.base, layer.trusted, layer.confine)


def _entries(layer: Layer) -> list[tuple[str, Option[Any], Any]]:
    """(key as the source names it, option, raw value) of every value of a layer; a config
    file's tables ([training]) are opened, and a value given twice (at the top level and in
    its table) is an error."""
    if not layer.config_file:
        return [(k, _option_for(layer, k), v) for k, v in layer.values.items()]
    out: list[tuple[str, Option[Any], Any]] = []
    for raw_key, raw in layer.values.items():
        table = CONFIG_TABLES.get(raw_key) or CONFIG_TABLES.get(raw_key.replace("-", "_"))
        if table is not None and isinstance(raw, Mapping):
            for sub_key, sub in raw.items():
                option = table.get(sub_key) or table.get(str(sub_key).replace("-", "_"))
                if option is None:
                    known = ", ".join(sorted(table))
                    raise ConfigError(
                        f"{layer.source}: {raw_key}.{sub_key}: unknown key (known in "
                        f"[{raw_key}]: {known})"
                    )
                out.append((f"{raw_key}.{sub_key}", option, sub))
        elif table is not None:
            raise ConfigError(f"{layer.source}: {raw_key}: expected a table ([{raw_key}])")
        else:
            out.append((raw_key, _option_for(layer, raw_key), raw))
    seen: dict[str, str] = {}
    for shown, option, _ in out:
        if option.key in seen:
            raise ConfigError(
                f"{layer.source}: {shown}: also given as {seen[option.key]}; give it once"
            )
        seen[option.key] = shown
    return out


def resolve(layers: Sequence[Layer]) -> Options:
    """The options from ``layers`` (lowest first). Unknown keys and bad values raise
    ConfigError naming the source and key (or the flag)."""
    values = {o.key: o.default for o in _TABLE}
    given: set[str] = set()
    for layer in layers:
        for raw_key, option, raw in _entries(layer):
            where = _where(layer, raw_key, option)
            if layer.text and option.multiple and isinstance(raw, list | tuple):
                value = option.kind.parse(list(raw), where)
            elif layer.text:
                value = option.kind.parse_text(raw, where)
            else:
                value = option.kind.parse(raw, where)
            if option.user_only and not layer.trusted:
                raise where.fail(
                    "a config found beside the data may not set this "
                    f"(use {option.flag} or --config)"
                )
            ceiling = option.kind.ceiling(values[option.key])
            if option.protective and not layer.trusted and (value is None or value > ceiling):
                raise where.fail(
                    f"{value if value is None else format(value, ',')} is above "
                    f"{ceiling:,}: a config found beside the data may lower this limit, not "
                    f"raise it (use {option.flag} or --config)"
                )
            values[option.key] = option.combine(values[option.key], value)
            given.add(option.key)
    return Options(values, given)


def _option_for(layer: Layer, raw_key: str) -> Option[Any]:
    if layer.config_file:
        option = BY_CONFIG_KEY.get(raw_key) or BY_CONFIG_KEY.get(raw_key.replace("-", "_"))
        if option is None:
            known = ", ".join(sorted([*BY_CONFIG_KEY, *(f"[{t}]" for t in CONFIG_TABLES)]))
            raise ConfigError(f"{layer.source}: {raw_key}: unknown key (known: {known})")
        return option
    option = BY_KEY.get(raw_key.replace("-", "_"))
    if option is None:
        raise ConfigError(f"{layer.source or 'option'}: {raw_key}: unknown option")
    return option


def environment_layer(environ: Mapping[str, str] | None = None) -> Layer:
    env = os.environ if environ is None else environ
    values = {
        o.key: env[o.env_name] for o in _TABLE if o.env_name is not None and env.get(o.env_name)
    }
    return Layer("environment", values, Path.cwd(), trusted=True, text=True)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the report's ``config`` part: a report states the options of the
    command that made it, so those of one command only are not required."""
    props = {o.key: o.kind.schema() for o in _TABLE if o.reported}
    required = [o.key for o in _TABLE if o.reported and set(o.commands) == set(BOTH)]
    return {"type": "object", "required": sorted(required), "properties": props}
