"""The check registry: one decorated function per check; its docstring is its documentation.

A check declares its ID, name, default severity, its scope (what it is a function of) and
the frozen dataclass of its thresholds, each field typed and bounded by a value kind::

    @dataclass(frozen=True, slots=True)
    class LowVarianceOptions:
        min_std_ratio: float = threshold(0.005, Float(0, 1), "std below this share of full scale")

    @check("NA104", "low-variance", Severity.WARNING, "image", LowVarianceOptions)
    def low_variance(ctx: CheckContext[LowVarianceOptions], rec: FileRecord) -> Iterator[Hit]:
        ...

A docstring has three parts separated by blank lines: the first says what fires the check,
a paragraph starting ``Why:`` names the training failure it prevents, and a paragraph
starting ``Fix:`` gives the usual remedy.  ``nanaudit explain`` prints it.

Scopes: ``file`` (a file that could not be decoded), ``image`` and ``mask`` (one decoded
file), ``pair`` (an image and its mask), ``split`` and ``dataset`` (merged statistics).
Checks of what a training pipeline yields (``nanaudit samples``) have scopes of their own,
which a scan never runs: ``sample`` (one drawn sample), ``batch`` (the samples of one batch)
and ``draw`` (the whole draw).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from ..kinds import ValueKind, Where
from ..report import CheckDoc, Severity

Scope = Literal["file", "image", "mask", "pair", "split", "dataset", "sample", "batch", "draw"]
SAMPLE_SCOPES: frozenset[str] = frozenset({"sample", "batch", "draw"})
ID_PATTERN = re.compile(r"NA\d{3}")
Opts = TypeVar("Opts")


@dataclass(frozen=True, slots=True)
class Hit:
    """What a check function yields; the check stage turns it into a Finding."""

    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    severity: Severity | None = None  # overrides the default (not a configured severity)
    path: str | None = None
    split: str | None = None  # dataset checks only: the split concerned (None: several)


@dataclass(frozen=True, slots=True)
class NoOptions:
    """A check without thresholds."""


def threshold(default: Any, kind: ValueKind[Any], help: str) -> Any:
    """A check option: its default, its kind (type and bounds) and one line of help."""
    return field(default=default, metadata={"kind": kind, "help": help})


CheckFunc = Callable[..., Iterator[Hit]]


@dataclass(frozen=True, slots=True)
class CheckSpec(Generic[Opts]):
    id: str
    name: str
    severity: Severity
    scope: Scope
    func: CheckFunc
    options_type: type[Opts]
    doc: str

    @property
    def option_fields(self) -> tuple[dataclasses.Field[Any], ...]:
        return dataclasses.fields(self.options_type)  # type: ignore[arg-type]

    @property
    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.option_fields}

    def parse_option(self, key: str, value: object, where: Where) -> Any:
        """A configured threshold, checked against its kind; unknown keys are errors."""
        for f in self.option_fields:
            if f.name == key:
                kind: ValueKind[Any] = f.metadata["kind"]
                return kind.parse(value, where)
        known = ", ".join(["severity", "enabled", *(f.name for f in self.option_fields)])
        raise where.fail(f"unknown key for {self.id} (known: {known})")

    def make_options(self, values: Mapping[str, Any]) -> Opts:
        return self.options_type(**{**self.defaults, **values})

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

    def describe(self) -> CheckDoc:
        return CheckDoc(
            self.id, self.name, self.severity, self.summary, self.why, self.fix, self.scope
        )


REGISTRY: dict[str, CheckSpec[Any]] = {}


def check(
    check_id: str,
    name: str,
    severity: Severity,
    scope: Scope,
    options: type[Any] = NoOptions,
) -> Callable[[CheckFunc], CheckFunc]:
    """Register a check under a stable ID."""

    def register(func: CheckFunc) -> CheckFunc:
        if not ID_PATTERN.fullmatch(check_id):
            raise ValueError(f"bad check ID {check_id!r}")
        if check_id in REGISTRY:
            raise ValueError(f"duplicate check ID {check_id}")
        doc = inspect.cleandoc(func.__doc__ or "")
        REGISTRY[check_id] = CheckSpec(check_id, name, severity, scope, func, options, doc)
        return func

    return register


def all_checks() -> list[CheckSpec[Any]]:
    from . import dataset, files, images, masks, samples, training  # noqa: F401  (registers)

    return [REGISTRY[k] for k in sorted(REGISTRY)]


def get_check(check_id: str) -> CheckSpec[Any] | None:
    all_checks()
    return REGISTRY.get(check_id.upper())
