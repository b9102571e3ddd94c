"""Value kinds: how an option's value is read, bounded, written back and described.

A kind reads a value from a TOML table or an API keyword (``parse``) and from the text of a
flag or an environment variable (``parse_text``), refuses what is out of its bounds with a
message that names where the value came from, writes the value back as JSON (``dump``) and
describes it as JSON Schema (``schema``).  The options
table (options.py) and every check's thresholds (checks/registry.py) are built from kinds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """A bad setting: the message names where it came from (file and key, or flag)."""


@dataclass(frozen=True, slots=True)
class Where:
    """Where a value came from: ``source`` is a config file, ``environment`` or
    ``command line``; ``key`` the config key, variable or flag. Paths resolve against
    ``base``; an untrusted source (a config found inside the scanned data) may not reach
    outside ``base``."""

    source: str
    key: str
    base: Path = Path(".")
    trusted: bool = True
    # where an untrusted source's paths must stay: its folder, and, for a config found
    # above the scanned folder, that folder (None: ``base``)
    confine: Path | None = None

    def __str__(self) -> str:
        return f"{self.source}: {self.key}" if self.source else self.key

    def fail(self, problem: str) -> ConfigError:
        return ConfigError(f"{self}: {problem}")


class ValueKind(Generic[T]):
    """A value type with its bounds."""

    metavar = "VALUE"

    def parse(self, value: object, where: Where) -> T:
        raise NotImplementedError

    def parse_text(self, text: str, where: Where) -> T:
        return self.parse(text, where)

    def dump(self, value: T) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        """The accepted values in a few words, for `nanaudit explain` and --help."""
        return self.metavar.lower()

    def ceiling(self, value: T) -> Any:
        """What a protective limit's value allows, to compare a lower layer's value with
        (a default of None may stand for a limit computed at run time)."""
        return value


def _is_none(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip().lower() == "none")


@dataclass(frozen=True)
class Int(ValueKind[Any]):
    """An integer within [minimum, maximum]; with ``none``, also "none" (None)."""

    minimum: int | None = None
    maximum: int | None = None
    none: bool = False
    metavar: str = "N"

    def parse(self, value: object, where: Where) -> int | None:
        if self.none and _is_none(value):
            return None
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,30}\s*", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            extra = " or 'none'" if self.none else ""
            raise where.fail(f"expected an integer{extra}, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise where.fail(f"must be at least {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise where.fail(f"must be at most {self.maximum:,}, got {value:,}")
        return value

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": ["integer", "null"] if self.none else "integer"}
        if self.minimum is not None:
            s["minimum"] = self.minimum
        if self.maximum is not None:
            s["maximum"] = self.maximum
        return s

    def describe(self) -> str:
        lo = "" if self.minimum is None else f"≥ {self.minimum:,}"
        hi = "" if self.maximum is None else f"≤ {self.maximum:,}"
        bounds = ", ".join(b for b in (lo, hi) if b)
        return "an integer" + (f" ({bounds})" if bounds else "") + (" or none" if self.none else "")


_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


@dataclass(frozen=True)
class Size(ValueKind[Any]):
    """A number of bytes within [minimum, maximum]: an integer, or text with a binary unit
    (``512M``, ``4G``, ``1.5GiB``); with ``none``, None stands for a default computed at
    run time by ``auto``."""

    minimum: int = 0
    maximum: int = 1 << 50
    none: bool = True
    auto: Any = None  # () -> int: what None means
    metavar: str = "BYTES"

    def parse(self, value: object, where: Where) -> int | None:
        if self.none and _is_none(value):
            return None
        if isinstance(value, str):
            found = re.fullmatch(
                r"\s*(\d{1,20}(?:\.\d{1,6})?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", value
            )
            if found is None:
                raise where.fail(f"expected a size such as 512M or 4G, got {value!r}")
            value = int(float(found.group(1)) * _SIZE_UNITS[found.group(2).lower()])
        if isinstance(value, bool) or not isinstance(value, int):
            raise where.fail(f"expected a size in bytes, got {value!r}")
        if value < self.minimum:
            raise where.fail(f"must be at least {self.minimum:,} bytes, got {value:,}")
        if value > self.maximum:
            raise where.fail(f"must be at most {self.maximum:,} bytes, got {value:,}")
        return value

    def ceiling(self, value: int | None) -> Any:
        return self.auto() if value is None and self.auto is not None else value

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": ["integer", "null"] if self.none else "integer"}
        s.update(minimum=self.minimum, maximum=self.maximum)
        return s

    def describe(self) -> str:
        return "a size in bytes (K, M, G, T suffixes)" + (" or none" if self.none else "")


@dataclass(frozen=True)
class Float(ValueKind[float]):
    """A finite number within [minimum, maximum] (NaN and Inf are refused)."""

    minimum: float | None = None
    maximum: float | None = None
    metavar: str = "X"

    def parse(self, value: object, where: Where) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise where.fail(f"expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise where.fail(f"expected a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number):
            raise where.fail(f"expected a finite number, got {value!r}")
        if self.minimum is not None and number < self.minimum:
            raise where.fail(f"must be at least {self.minimum:g}, got {number:g}")
        if self.maximum is not None and number > self.maximum:
            raise where.fail(f"must be at most {self.maximum:g}, got {number:g}")
        return number

    def schema(self) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "number"}
        if self.minimum is not None:
            s["minimum"] = self.minimum
        if self.maximum is not None:
            s["maximum"] = self.maximum
        return s

    def describe(self) -> str:
        lo = "" if self.minimum is None else f"≥ {self.minimum:g}"
        hi = "" if self.maximum is None else f"≤ {self.maximum:g}"
        bounds = ", ".join(b for b in (lo, hi) if b)
        return "a number" + (f" ({bounds})" if bounds else "")


@dataclass(frozen=True)
class Bool(ValueKind[bool]):
    metavar: str = "BOOL"

    def parse(self, value: object, where: Where) -> bool:
        if isinstance(value, str):
            low = value.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
        if not isinstance(value, bool):
            raise where.fail(f"expected true or false, got {value!r}")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Choice(ValueKind[Any]):
    """One of ``choices``; with ``none``, also None (or "none")."""

    choices: tuple[str, ...] = ()
    metavar: str = "NAME"
    none: bool = False

    def parse(self, value: object, where: Where) -> str | None:
        if self.none and _is_none(value):
            return None
        if isinstance(value, str) and value.strip().lower() in self.choices:
            return value.strip().lower()
        raise where.fail(f"expected one of {', '.join(self.choices)}, got {value!r}")

    def schema(self) -> dict[str, Any]:
        return {"enum": [*self.choices, None] if self.none else list(self.choices)}

    def describe(self) -> str:
        return "one of " + ", ".join(self.choices)


@dataclass(frozen=True)
class Text(ValueKind[Any]):
    """A string of at most ``max_length`` characters; with ``none``, also None."""

    max_length: int = 4096
    none: bool = True
    metavar: str = "TEXT"

    def parse(self, value: object, where: Where) -> str | None:
        if self.none and value is None:
            return None
        if not isinstance(value, str):
            raise where.fail(f"expected a string, got {value!r}")
        if len(value) > self.max_length:
            raise where.fail(f"longer than {self.max_length} characters")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": ["string", "null"] if self.none else "string"}

    def describe(self) -> str:
        return "a string"


@dataclass(frozen=True)
class TextList(ValueKind[tuple[str, ...]]):
    """A list of strings; from text, comma-separated (flags may also repeat)."""

    max_items: int = 10_000
    metavar: str = "NAMES"

    def parse(self, value: object, where: Where) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise where.fail("expected a list of strings")
        if len(value) > self.max_items:
            raise where.fail(f"more than {self.max_items:,} items")
        return tuple(value)

    def dump(self, value: tuple[str, ...]) -> Any:
        return list(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string"}}

    def describe(self) -> str:
        return "a list of strings"


@dataclass(frozen=True)
class ImageSize(ValueKind[Any]):
    """A height and width in pixels: ``HxW`` text (``512x1024``; one number for a square), a
    ``[H, W]`` list, or None. Each side within [1, maximum]."""

    maximum: int = 1 << 16
    metavar: str = "HxW"

    def parse(self, value: object, where: Where) -> tuple[int, int] | None:
        if value is None or (isinstance(value, str) and _is_none(value)):
            return None
        if isinstance(value, str):
            text = value.strip().lower().replace("×", "x")
            if not re.fullmatch(r"\d{1,9}(\s*x\s*\d{1,9})?", text):
                raise where.fail(f"expected HxW (height x width, e.g. 512x1024), got {value!r}")
            value = [int(v) for v in text.split("x")]
        elif isinstance(value, int) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple) or len(value) not in (1, 2):
            raise where.fail(f"expected [height, width], got {value!r}")
        if any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise where.fail(f"expected integer sides [height, width], got {value!r}")
        h, w = (value[0], value[0]) if len(value) == 1 else (value[0], value[1])
        for side in (h, w):
            if not 1 <= side <= self.maximum:
                raise where.fail(f"sides must lie in [1, {self.maximum:,}], got {h}x{w}")
        return (h, w)

    def dump(self, value: tuple[int, int] | None) -> Any:
        return None if value is None else list(value)

    def schema(self) -> dict[str, Any]:
        side = {"type": "integer", "minimum": 1, "maximum": self.maximum}
        pair = {"type": "array", "prefixItems": [side, side], "minItems": 2, "maxItems": 2}
        return {"anyOf": [pair, {"type": "null"}]}

    def describe(self) -> str:
        return "HxW (height x width) or [H, W]"


@dataclass(frozen=True)
class BandTriple(ValueKind[Any]):
    """Three band numbers (1-based) shown as red, green and blue: ``R,G,B`` text
    (``4,3,2``), a ``[R, G, B]`` list, or None. Each within [1, maximum]."""

    maximum: int = 64
    metavar: str = "R,G,B"

    def parse(self, value: object, where: Where) -> tuple[int, int, int] | None:
        if value is None or (isinstance(value, str) and _is_none(value)):
            return None
        if isinstance(value, str):
            text = value.strip()
            if not re.fullmatch(r"\d{1,3}\s*,\s*\d{1,3}\s*,\s*\d{1,3}", text):
                raise where.fail(f"expected three band numbers R,G,B (e.g. 4,3,2), got {value!r}")
            value = [int(v) for v in text.split(",")]
        if not isinstance(value, list | tuple) or len(value) != 3:
            raise where.fail(f"expected [red, green, blue] band numbers, got {value!r}")
        if any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise where.fail(f"expected integer band numbers, got {value!r}")
        if not all(1 <= v <= self.maximum for v in value):
            raise where.fail(f"band numbers lie in [1, {self.maximum}] (1 is the first band)")
        return (value[0], value[1], value[2])

    def dump(self, value: tuple[int, int, int] | None) -> Any:
        return None if value is None else list(value)

    def schema(self) -> dict[str, Any]:
        band = {"type": "integer", "minimum": 1, "maximum": self.maximum}
        triple = {"type": "array", "items": band, "minItems": 3, "maxItems": 3}
        return {"anyOf": [triple, {"type": "null"}]}

    def describe(self) -> str:
        return "R,G,B band numbers (1-based) or [R, G, B]"


@dataclass(frozen=True)
class NumberRange(ValueKind[Any]):
    """Two numbers ``lo ≤ hi`` within [minimum, maximum]: ``LO,HI`` text or ``[lo, hi]``;
    one number for a fixed value; or None."""

    minimum: float = 0.0
    maximum: float = 1.0
    metavar: str = "LO,HI"

    def parse(self, value: object, where: Where) -> tuple[float, float] | None:
        if value is None or (isinstance(value, str) and _is_none(value)):
            return None
        if isinstance(value, str):
            value = [v for v in re.split(r"[,\s]+", value.strip()) if v]
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list | tuple) or len(value) not in (1, 2):
            raise where.fail(f"expected two numbers lo,hi, got {value!r}")
        number = Float(self.minimum, self.maximum)
        parts = [number.parse(v, where) for v in value]
        lo, hi = parts[0], parts[-1]
        if lo > hi:
            raise where.fail(f"the low end {lo:g} is above the high end {hi:g}")
        return (lo, hi)

    def dump(self, value: tuple[float, float] | None) -> Any:
        return None if value is None else list(value)

    def schema(self) -> dict[str, Any]:
        end = {"type": "number", "minimum": self.minimum, "maximum": self.maximum}
        pair = {"type": "array", "prefixItems": [end, end], "minItems": 2, "maxItems": 2}
        return {"anyOf": [pair, {"type": "null"}]}

    def describe(self) -> str:
        return f"two numbers lo,hi in [{self.minimum:g}, {self.maximum:g}]"


@dataclass(frozen=True)
class ChoiceList(ValueKind[tuple[str, ...]]):
    """Names from ``choices``: a list, or comma-separated text (flags may also repeat)."""

    choices: tuple[str, ...] = ()
    metavar: str = "NAMES"

    def parse(self, value: object, where: Where) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
            raise where.fail(f"expected a list of names ({', '.join(self.choices)})")
        out: list[str] = []
        for item in items:
            for raw in item.split(","):
                name = raw.strip().lower()
                if not name:
                    continue
                if name not in self.choices:
                    raise where.fail(
                        f"unknown name {raw.strip()!r} (known: {', '.join(self.choices)})"
                    )
                out.append(name)
        return tuple(dict.fromkeys(out))

    def dump(self, value: tuple[str, ...]) -> Any:
        return list(value)

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": {"enum": list(self.choices)}}

    def describe(self) -> str:
        return "a list of " + ", ".join(self.choices)


@dataclass(frozen=True)
class PathValue(ValueKind[Any]):
    """A file or folder path, resolved against the folder of the config file that names it
    (the working folder for flags, variables and the API). From a config found inside the
    scanned data, a path must stay inside that config's folder."""

    none: bool = True
    metavar: str = "PATH"

    def parse(self, value: object, where: Where) -> Path | None:
        if self.none and value is None:
            return None
        if not isinstance(value, str | Path) or not str(value) or "\x00" in str(value):
            raise where.fail(f"expected a path, got {value!r}")
        return resolve_inside(Path(value), where)

    def dump(self, value: Path | None) -> Any:
        return None if value is None else shown_path(value)

    def schema(self) -> dict[str, Any]:
        return {"type": ["string", "null"] if self.none else "string"}

    def describe(self) -> str:
        return "a path"


def resolve_inside(path: Path, where: Where) -> Path:
    """``path`` against ``where.base``; from an untrusted source it must stay inside it."""
    full = path if path.is_absolute() else where.base / path
    if not where.trusted:
        fences = [where.base, *([where.confine] if where.confine is not None else [])]
        try:
            inside = all(full.resolve().is_relative_to(f.resolve()) for f in fences)
        except (OSError, RuntimeError):
            inside = False
        if not inside:
            raise where.fail(
                f"{str(path)!r} lies outside the folder of the config file that names it or "
                "outside the scanned folder; a config found beside the data may only name "
                "paths inside both (give the path on the command line, or the config with "
                "--config)"
            )
    return full


def shown_path(path: Path) -> str:
    """A path as reports show it: relative to the working folder when it lies below it, so
    that reports do not change with where a checkout lives; else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):
        try:
            return path.resolve().as_posix() if path.is_absolute() else path.as_posix()
        except (OSError, RuntimeError):
            return path.as_posix()
