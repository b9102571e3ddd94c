"""What a finding carries besides its message: the check's typed data, and what the checks
tell the report's readers about it (how bad it is, which pixels it is about).

Each check declares a frozen dataclass of its data (``checks/``); the JSON report writes it
with :meth:`FindingData.to_json` (the field names are the JSON keys, in field order), the
report orders a check's findings the worst first by :meth:`FindingData.badness`, and the
HTML report's gallery highlights what :meth:`FindingData.marks` names. A leaf module: it
imports nothing of nanaudit, so that the report model, the checks and the formats share it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

ImageFlag = Literal["", "nan", "inf", "fp16", "nodata"]


@dataclass(frozen=True, slots=True)
class Marks:
    """The pixels a finding is about, as the gallery can find them in the thumbnails."""

    what: str = "offending pixels"  # the highlight's legend: "NaN pixels"
    image_flag: ImageFlag = ""  # positions flagged at decode time (NaN, Inf, fp16, nodata)
    labels: frozenset[int] = frozenset()  # these labels of the mask (as the checks see them)
    ignore: bool = False  # the ignore index's pixels
    boundary_labels: bool = False  # the labels the mask's record found only on boundaries
    non_integer: bool = False  # the mask's values that are not integers
    overlap: bool = False  # where image and mask (of different sizes) do not overlap
    differs_from_first: bool = False  # a group's image where it differs from the first
    exif_turn: bool = False  # the overlay shows the image turned as EXIF-aware loaders do

    @property
    def on_mask(self) -> bool:
        return bool(self.labels) or self.ignore or self.boundary_labels or self.non_integer


NO_MARKS = Marks()


def json_key(name: str) -> dict[str, Any]:
    """Field metadata: the JSON key of a field whose name Python reserves (``class``)."""
    return {"key": name}


OPTIONAL: dict[str, Any] = {"optional": True}  # metadata: a None value is left out of JSON


def optional() -> Any:
    """A field that is left out of the JSON when it is None."""
    return field(default=None, metadata=OPTIONAL)


def _json(value: Any) -> Any:
    if isinstance(value, FindingData):
        return value.to_json()
    if isinstance(value, tuple | list | frozenset):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, slots=True)
class FindingData:
    """The data of a finding; each check subclasses it with the fields it reports."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form: fields in order, under their names (or ``json_key``)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("optional"):
                continue
            out[f.metadata.get("key", f.name)] = _json(value)
        return out

    def badness(self) -> float:
        """How bad the finding is among its check's (larger: shown first); 0 when the check
        has no measure."""
        return 0.0

    def marks(self) -> Marks:
        """The pixels the finding is about, for the HTML report's pictures."""
        return NO_MARKS

    def group(self) -> tuple[str, ...]:
        """The files of a finding about a group of files (duplicates), the first first."""
        return ()


@dataclass(frozen=True, slots=True)
class NoData(FindingData):
    """A finding whose message says it all."""


NO_DATA = NoData()


def finite(value: float) -> float:
    """A measure for :meth:`FindingData.badness`: non-finite values count as 0."""
    return value if math.isfinite(value) else 0.0
