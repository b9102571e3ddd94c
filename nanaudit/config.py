"""Settings: command-line flags over NANAUDIT_* variables over the config file over defaults.

The config file is ``--config FILE``, else the nearest ``nanaudit.toml`` (top-level keys,
or a ``[tool.nanaudit]`` table) or ``pyproject.toml`` with ``[tool.nanaudit]``, searched
from the scanned folder upward.  Unknown keys and bad values are errors naming the key.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .checks.registry import CheckSpec, all_checks
from .discovery import SplitSpec
from .model import DEFAULT_SENTINELS, DecodeSettings, Severity


class ConfigError(Exception):
    """A bad setting: the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class CheckConfig:
    enabled: bool = True
    severity: Severity | None = None  # None: the check's default
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Settings:
    num_classes: int | None = None
    ignore_index: int | None = 255
    background: int | None = 0
    fail_on: Severity | None = Severity.ERROR  # None: never fail
    pair_key: str | None = None
    splits: tuple[SplitSpec, ...] = ()
    unlabeled_splits: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    checks: Mapping[str, CheckConfig] = field(default_factory=dict)
    select: tuple[str, ...] = ()  # ID prefixes; empty: every check
    ignore: tuple[str, ...] = ()  # ID prefixes; the longest matching prefix wins
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (glob, ID prefixes)
    batch_size: int | None = None  # NA308
    drop_last: bool = False
    layout: str | None = None  # a preset name; None or "auto": detect
    label_encoding: str | None = None  # a preset's alternative encoding (cityscapes labelIds)
    label_offset: int = 0  # added to every label but the ignore index before the checks
    reduce_zero_label: bool = False  # 0 → ignore index, every other label - 1 (ADE20K)
    unused_ids: tuple[int, ...] = ()  # ids in [0, C) that are not classes (COCO-Stuff)
    given: frozenset[str] = frozenset()  # the keys the user set (config, variables, flags)
    config_file: str | None = None

    def selected(self, check_id: str) -> bool:
        """Whether a check runs: enabled, and chosen by the longest matching prefix."""
        if not self.check_config(check_id).enabled:
            return False
        best_select = max((len(p) for p in self.select if check_id.startswith(p)), default=-1)
        best_ignore = max((len(p) for p in self.ignore if check_id.startswith(p)), default=-1)
        if best_select < 0 and best_ignore < 0:
            return not self.select
        return best_select > best_ignore

    def ignored_for_path(self, check_id: str, path: str) -> bool:
        return any(
            fnmatch.fnmatchcase(path, glob) and any(check_id.startswith(p) for p in prefixes)
            for glob, prefixes in self.per_file_ignores
        )

    def check_config(self, check_id: str) -> CheckConfig:
        return self.checks.get(check_id, CheckConfig())

    def options_for(self, spec: CheckSpec) -> dict[str, Any]:
        return {**spec.options, **self.check_config(spec.id).options}

    def severity_for(self, spec: CheckSpec) -> Severity | None:
        return self.check_config(spec.id).severity

    def decode_settings(self) -> DecodeSettings:
        checks = {c.id: c for c in all_checks()}
        return DecodeSettings(
            max_pixels=int(self.options_for(checks["NA002"])["max_pixels"]),
            rare_label_fraction=float(self.options_for(checks["NA209"])["max_fraction"]),
            sentinels=DEFAULT_SENTINELS,
            hashes=any(self.selected(c) for c in ("NA305", "NA306", "NA307")),
        )

    def pair_key_pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.pair_key) if self.pair_key else None

    def to_dict(self) -> dict[str, Any]:
        """The effective configuration, as the JSON report states it."""
        return {
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
            "background": self.background,
            "fail_on": self.fail_on.label if self.fail_on else "never",
            "pair_key": self.pair_key,
            "splits": [
                {
                    "name": s.name,
                    "images": shown_path(s.images),
                    "masks": shown_path(s.masks) if s.masks else None,
                }
                for s in self.splits
            ],
            "unlabeled_splits": list(self.unlabeled_splits),
            "select": list(self.select),
            "ignore": list(self.ignore),
            "per_file_ignores": {glob: list(ids) for glob, ids in self.per_file_ignores},
            "class_names": list(self.class_names),
            "batch_size": self.batch_size,
            "drop_last": self.drop_last,
            "layout": self.layout or "auto",
            "label_encoding": self.label_encoding,
            "label_offset": self.label_offset,
            "reduce_zero_label": self.reduce_zero_label,
            "unused_ids": list(self.unused_ids),
            "checks": {
                spec.id: {
                    "enabled": self.selected(spec.id),
                    "severity": (self.severity_for(spec) or spec.severity).label,
                    **self.options_for(spec),
                }
                for spec in all_checks()
            },
            "config_file": self.config_file,
        }


def shown_path(path: Path) -> str:
    """A path as reports show it: relative to the working folder when it lies below it, so
    that reports do not change with where a checkout lives; else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError):
        return path.resolve().as_posix() if path.is_absolute() else path.as_posix()


TOP_KEYS = {
    "num_classes",
    "ignore_index",
    "background",
    "fail_on",
    "max_pixels",
    "pair_key",
    "splits",
    "unlabeled_splits",
    "class_names",
    "checks",
    "select",
    "ignore",
    "per_file_ignores",
    "batch_size",
    "drop_last",
    "class_names_file",
    "layout",
    "label_encoding",
    "label_offset",
    "reduce_zero_label",
}


def find_config(start: Path) -> Path | None:
    """The nearest nanaudit.toml, or pyproject.toml with [tool.nanaudit], from start upward."""
    here = start.resolve()
    if here.is_file():
        here = here.parent
    for d in (here, *here.parents):
        candidate = d / "nanaudit.toml"
        if candidate.is_file():
            return candidate
        py = d / "pyproject.toml"
        if py.is_file():
            try:
                data = tomllib.loads(py.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            if isinstance(data.get("tool"), dict) and "nanaudit" in data["tool"]:
                return py
    return None


def read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = data.get("tool")
    if isinstance(tool, dict) and "nanaudit" in tool:
        section = tool["nanaudit"]
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [tool.nanaudit] must be a table")
        return section
    if path.name == "pyproject.toml":
        return {}
    return data


def _key(name: str) -> str:
    return name.replace("-", "_")


def _int(
    where: str, value: Any, minimum: int | None = None, allow_none: bool = False
) -> int | None:
    if allow_none and (value is None or (isinstance(value, str) and value.lower() == "none")):
        return None
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        extra = " or 'none'" if allow_none else ""
        raise ConfigError(f"{where}: expected an integer{extra}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{where}: must be at least {minimum}, got {value}")
    return value


def _fail_on(where: str, value: Any) -> Severity | None:
    if isinstance(value, str) and value.lower() == "never":
        return None
    if isinstance(value, str):
        try:
            return Severity.parse(value)
        except ValueError:
            pass
    raise ConfigError(f"{where}: expected error, warning, info or never, got {value!r}")


def _pattern(where: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a regular expression string, got {value!r}")
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ConfigError(f"{where}: invalid regular expression: {exc}") from None
    if compiled.groups < 1:
        raise ConfigError(f"{where}: the regular expression needs a group: group 1 is the key")
    return value


def _str_list(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(value)


def _prefixes(where: str, value: Any) -> tuple[str, ...]:
    """Check-ID prefixes from a list or a comma-separated string; each must match a check."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of check IDs or prefixes")
    ids = [c.id for c in all_checks()]
    out: list[str] = []
    for item in value:
        for raw in item.split(","):
            prefix = raw.strip().upper()
            if not prefix:
                continue
            if not re.fullmatch(r"NA\d{0,3}|N|NA", prefix) or not any(
                i.startswith(prefix) for i in ids
            ):
                raise ConfigError(f"{where}: {raw.strip()!r} matches no check ID")
            out.append(prefix)
    return tuple(dict.fromkeys(out))


def _per_file_ignores(where: str, value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of glob = [check IDs]")
    return tuple((glob, _prefixes(f"{where}.{glob!r}", ids)) for glob, ids in value.items())


def _read_class_names(where: str, path: Path) -> tuple[str, ...]:
    """One class name per line; blank lines and lines starting with # are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read class names from {path}: {exc}") from None
    names = tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
    if not names:
        raise ConfigError(f"{where}: {path} holds no class names")
    return names


def _check_table(where: str, value: Any) -> dict[str, CheckConfig]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of check IDs")
    specs = {c.id: c for c in all_checks()}
    out: dict[str, CheckConfig] = {}
    for raw_id, table in value.items():
        cid = raw_id.upper()
        here = f"{where}.{raw_id}"
        spec = specs.get(cid)
        if spec is None:
            raise ConfigError(f"{here}: unknown check ID {raw_id!r}")
        if not isinstance(table, dict):
            raise ConfigError(f"{here}: expected a table")
        enabled, severity, options = True, None, {}
        for raw_key, v in table.items():
            k = _key(raw_key)
            if k == "severity":
                if isinstance(v, str) and v.lower() in ("off", "none", "disabled"):
                    enabled = False
                else:
                    try:
                        severity = Severity.parse(str(v))
                    except ValueError:
                        raise ConfigError(
                            f"{here}.severity: expected error, warning, info or off, got {v!r}"
                        ) from None
            elif k == "enabled":
                if not isinstance(v, bool):
                    raise ConfigError(f"{here}.enabled: expected true or false")
                enabled = v
            elif k in spec.options:
                options[k] = _option(f"{here}.{raw_key}", spec.options[k], v)
            else:
                known = ", ".join(["severity", "enabled", *spec.options]) or "severity"
                raise ConfigError(f"{here}: unknown key {raw_key!r} (known: {known})")
        out[cid] = CheckConfig(enabled, severity, options)
    return out


def _option(where: str, default: Any, value: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{where}: expected a non-negative integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"{where}: expected a non-negative number, got {value!r}")
        return float(value)
    return value


def _splits(where: str, value: Any, base: Path) -> tuple[SplitSpec, ...]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table of splits, e.g. [splits.train] images = ...")
    out = []
    for name, table in value.items():
        here = f"{where}.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{here}: expected a table with images and masks")
        unknown = set(table) - {"images", "masks"}
        if unknown:
            raise ConfigError(f"{here}: unknown key {sorted(unknown)[0]!r} (known: images, masks)")
        if not isinstance(table.get("images"), str):
            raise ConfigError(f"{here}.images: expected a folder path")
        masks = table.get("masks")
        if masks is not None and not isinstance(masks, str):
            raise ConfigError(f"{here}.masks: expected a folder path")
        out.append(SplitSpec(name, base / table["images"], base / masks if masks else None))
    return tuple(out)


def settings_from_mapping(data: Mapping[str, Any], source: str, base: Path) -> Settings:
    """Validate a config table (file contents, or the API's keyword options)."""
    s = Settings()
    for raw_key, value in data.items():
        k = _key(raw_key)
        where = f"{source}: {raw_key}"
        if k not in TOP_KEYS:
            raise ConfigError(f"{where}: unknown key (known: {', '.join(sorted(TOP_KEYS))})")
        if k == "num_classes":
            s = replace(s, num_classes=_int(where, value, 1, allow_none=True))
        elif k == "ignore_index":
            s = replace(s, ignore_index=_int(where, value, allow_none=True))
        elif k == "background":
            s = replace(s, background=_int(where, value, allow_none=True))
        elif k == "fail_on":
            s = replace(s, fail_on=_fail_on(where, value))
        elif k == "max_pixels":
            pixels = _int(where, value, 1)
            s = _with_option(s, "NA002", "max_pixels", pixels)
        elif k == "pair_key":
            s = replace(s, pair_key=_pattern(where, value) if value is not None else None)
        elif k == "splits":
            s = replace(s, splits=_splits(where, value, base))
        elif k == "unlabeled_splits":
            s = replace(s, unlabeled_splits=_str_list(where, value))
        elif k == "class_names":
            s = replace(s, class_names=_str_list(where, value))
        elif k == "checks":
            table = _check_table(f"{source}: checks", value)
            merged = dict(s.checks)
            for cid, cfg in table.items():  # keep what other keys set (max_pixels → NA002)
                old = merged.get(cid)
                merged[cid] = (
                    cfg if old is None else replace(cfg, options={**old.options, **cfg.options})
                )
            s = replace(s, checks=merged)
        elif k == "select":
            s = replace(s, select=_prefixes(where, value))
        elif k == "ignore":
            s = replace(s, ignore=_prefixes(where, value))
        elif k == "per_file_ignores":
            s = replace(s, per_file_ignores=_per_file_ignores(where, value))
        elif k == "batch_size":
            s = replace(s, batch_size=_int(where, value, 1, allow_none=True))
        elif k == "drop_last":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false, got {value!r}")
            s = replace(s, drop_last=value)
        elif k == "class_names_file":
            s = replace(s, class_names=_read_class_names(where, base / str(value)))
        elif k == "layout":
            from .presets import PRESETS

            if not isinstance(value, str) or (value != "auto" and value not in PRESETS):
                raise ConfigError(
                    f"{where}: expected auto or one of {', '.join(PRESETS)}, got {value!r}"
                )
            s = replace(s, layout=value)
        elif k == "label_encoding":
            if not isinstance(value, str):
                raise ConfigError(f"{where}: expected a string, got {value!r}")
            s = replace(s, label_encoding=value)
        elif k == "label_offset":
            s = replace(s, label_offset=_int(where, value) or 0)
        elif k == "reduce_zero_label":
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: expected true or false, got {value!r}")
            s = replace(s, reduce_zero_label=value)
    return replace(s, given=frozenset(_key(k) for k in data))


def _with_option(s: Settings, check_id: str, key: str, value: Any) -> Settings:
    current = s.check_config(check_id)
    updated = replace(current, options={**current.options, key: value})
    return replace(s, checks={**s.checks, check_id: updated})


def load_settings(root: Path, config: Path | None, overrides: Mapping[str, Any]) -> Settings:
    """The file's settings (explicit or found), then the given overrides on top."""
    path = config if config is not None else find_config(root)
    if config is not None and not config.is_file():
        raise ConfigError(f"config file not found: {config}")
    base = Settings()
    if path is not None:
        base = settings_from_mapping(read_config(path), str(path), path.parent)
        base = replace(base, config_file=shown_path(path))
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return base
    top = settings_from_mapping(given, "option", Path.cwd())
    merged = replace(base, given=base.given | top.given)
    for k in given:
        k = _key(k)
        if k == "max_pixels":
            merged = _with_option(
                merged,
                "NA002",
                "max_pixels",
                top.options_for({c.id: c for c in all_checks()}["NA002"])["max_pixels"],
            )
        elif k == "class_names_file":
            merged = replace(merged, class_names=top.class_names)
        elif k == "checks":
            merged = replace(merged, checks={**merged.checks, **top.checks})
        else:
            merged = replace(merged, **{k: getattr(top, k)})
    return merged
