"""The check registry: one decorated function per check, its docstring is its documentation.

A check's docstring has three parts separated by blank lines: the first line says what
fires it, a paragraph starting ``Why:`` names the training failure it prevents, and a
paragraph starting ``Fix:`` gives the usual remedy.  ``nanaudit explain`` prints it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..model import FileRecord, Severity

Scope = Literal["file", "image", "mask", "pair", "split", "dataset"]
ID_PATTERN = re.compile(r"NA\d{3}")


@dataclass(frozen=True, slots=True)
class Hit:
    """What a check function yields; the engine turns it into a Finding."""

    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None  # overrides the default (not a configured severity)
    path: str | None = None
    split: str | None = None  # dataset checks only: the split concerned (None: several)


@dataclass(frozen=True, slots=True)
class Pair:
    """An image and its mask, either of which may be missing."""

    split: str
    image: FileRecord | None
    mask: FileRecord | None
    labeled: bool = True


CheckFunc = Callable[..., Iterator[Hit]]


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    name: str
    severity: Severity
    scope: Scope
    func: CheckFunc
    options: Mapping[str, Any]
    doc: str

    @property
    def summary(self) -> str:
        return self.doc.split("\n\n", 1)[0].replace("\n", " ").strip()

    def section(self, head: str) -> str:
        for part in self.doc.split("\n\n"):
            text = " ".join(part.split())
            if text.startswith(head + ":"):
                return text[len(head) + 1 :].strip()
        return ""

    @property
    def why(self) -> str:
        return self.section("Why")

    @property
    def fix(self) -> str:
        return self.section("Fix")


REGISTRY: dict[str, CheckSpec] = {}


def check(
    check_id: str, name: str, severity: Severity, scope: Scope, **options: Any
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check under a stable ID. Options are its configurable thresholds."""

    def register(func: CheckFunc) -> CheckFunc:
        if not ID_PATTERN.fullmatch(check_id):
            raise ValueError(f"bad check ID {check_id!r}")
        if check_id in REGISTRY:
            raise ValueError(f"duplicate check ID {check_id}")
        doc = inspect.cleandoc(func.__doc__ or "")
        REGISTRY[check_id] = CheckSpec(check_id, name, severity, scope, func, dict(options), doc)
        return func

    return register


def all_checks() -> list[CheckSpec]:
    from . import dataset, files, images, masks  # noqa: F401  (importing registers the checks)

    return [REGISTRY[k] for k in sorted(REGISTRY)]


def get_check(check_id: str) -> CheckSpec | None:
    all_checks()
    return REGISTRY.get(check_id.upper())
