"""The check registry: one decorated function per check, which carries everything the rest
of nanaudit needs to know of it.

A check declares its ID, name, default severity, its scope (what it is a function of: the
function's second parameter has the scope's type), the frozen dataclass of its thresholds
(each field typed and bounded by a value kind), whether it applies to the samples a
training pipeline yields, and the frozen dataclass of its findings' data, which says how
the data reads in JSON, how bad a finding is (the report shows the worst first) and which
pixels it is about (the HTML report's highlight)::

    @dataclass(frozen=True, slots=True)
    class LowVarianceOptions:
        min_std_ratio: float = threshold(0.005, Float(0, 1), "std below this share of full scale")

    @dataclass(frozen=True, slots=True)
    class LowVarianceData(FindingData):
        std: tuple[float, ...]
        limit: float

    @check("NA104", "low-variance", Severity.WARNING, IMAGE, LowVarianceOptions, samples=True)
    def low_variance(ctx: CheckContext[LowVarianceOptions], rec: FileRecord) -> Iterator[Hit]:
        ...
        yield Hit("std 0.2 in every channel…", LowVarianceData(stds, limit))

A docstring has three parts separated by blank lines: the first says what fires the check,
a paragraph starting ``Why:`` names the training failure it prevents, and a paragraph
starting ``Fix:`` gives the usual remedy.  ``nanaudit explain`` prints it.

Scopes (scopes.py): ``FILE`` (a file that could not be decoded), ``IMAGE`` and ``MASK`` (one
decoded file; ``ANY_MASK`` also colour masks, which hold no labels), ``PAIR`` (an image and
its mask), ``SPLIT`` and ``DATASET`` (merged statistics). Checks of what a training
pipeline yields (``nanaudit samples``) have scopes of their own, which a scan never runs:
``SAMPLE`` (one drawn sample), ``BATCH`` (the samples of one batch) and ``DRAW`` (the whole
draw). A check of another scope runs on drawn samples too when it says ``samples=True``.
The training guard's checks (NA6xx) have the scope ``STEP``: what the guard measured about a
failing training step; neither a scan nor ``nanaudit samples`` runs them.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from ..findings import NO_DATA, FindingData
from ..kinds import ValueKind, Where
from ..records import FileRecord
from ..report import CheckDoc
from ..severity import Severity
from .context import CheckContext
from .scopes import Scope

ID_PATTERN = re.compile(r"NA\d{3}")
Opts = TypeVar("Opts")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Hit:
    """What a check function yields; the check stage turns it into a Finding."""

    message: str
    data: FindingData = NO_DATA
    severity: Severity | None = None  # overrides the default (not a configured severity)
    path: str | None = None
    split: str | None = None  # dataset checks only: the split concerned (None: several)


@dataclass(frozen=True, slots=True)
class NoOptions:
    """A check without thresholds."""


def threshold(default: Any, kind: ValueKind[Any], help: str) -> Any:
    """A check option: its default, its kind (type and bounds) and one line of help."""
    return field(default=default, metadata={"kind": kind, "help": help})


# A check of subject type T: (context, subject) -> hits
CheckFunc = Callable[[CheckContext[Any], T], Iterator[Hit]]
# The records (of the scan's decoded files) a check needs read a second time for a detail
# the first read keeps only for candidates (NA307's detail thumbnail): their indices
Rereads = Callable[[Any, Sequence[FileRecord]], Iterable[int]]


@dataclass(frozen=True, slots=True)
class CheckSpec(Generic[Opts]):
    id: str
    name: str
    severity: Severity
    scope: Scope[Any]
    func: CheckFunc[Any]
    options_type: type[Opts]
    doc: str
    samples: bool = False  # runs on what a training pipeline yields (nanaudit samples)
    rereads: Rereads | None = None

    @property
    def applies_to_samples(self) -> bool:
        return (self.samples or self.scope.sample_only) and not self.scope.step_only

    @property
    def applies_to_scans(self) -> bool:
        return not self.scope.sample_only and not self.scope.step_only

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
            self.id, self.name, self.severity, self.summary, self.why, self.fix, self.scope.name
        )


REGISTRY: dict[str, CheckSpec[Any]] = {}


def check(
    check_id: str,
    name: str,
    severity: Severity,
    scope: Scope[T],
    options: type[Any] = NoOptions,
    *,
    samples: bool = False,
    rereads: Rereads | None = None,
) -> Callable[[CheckFunc[T]], CheckFunc[T]]:
    """Register a check under a stable ID: a function of its scope's subject."""

    def register(func: CheckFunc[T]) -> CheckFunc[T]:
        if not ID_PATTERN.fullmatch(check_id):
            raise ValueError(f"bad check ID {check_id!r}")
        if check_id in REGISTRY:
            raise ValueError(f"duplicate check ID {check_id}")
        doc = inspect.cleandoc(func.__doc__ or "")
        REGISTRY[check_id] = CheckSpec(
            check_id, name, severity, scope, func, options, doc, samples, rereads
        )
        return func

    return register


def all_checks() -> list[CheckSpec[Any]]:
    from . import (  # noqa: F401  (registers)
        dataset,
        files,
        geometry,
        guard,
        images,
        masks,
        readers,
        samples,
        training,
    )

    return [REGISTRY[k] for k in sorted(REGISTRY)]


def get_check(check_id: str) -> CheckSpec[Any] | None:
    all_checks()
    return REGISTRY.get(check_id.upper())
