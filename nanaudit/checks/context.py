"""What a check may know beyond the record in front of it: settings and split facts."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..model import FileRecord


@dataclass(frozen=True, slots=True)
class LabelSettings:
    num_classes: int | None = None
    ignore_index: int | None = 255
    background: int | None = 0
    unused_ids: tuple[int, ...] = ()  # ids in [0, C) that are no class (COCO-Stuff)
    transformed: bool = False  # labels were shifted (label_offset, reduce_zero_label)


@dataclass(frozen=True, slots=True)
class FullScale:
    """The range a pixel type is measured against (see "full scale" in CHECKS.md)."""

    lo: float
    span: float  # full scale, what NA104's std ratio is taken of
    basis: str
    extent: float = 0.0  # the value range [lo, lo + extent] the luminance checks measure in

    def at(self, fraction: float) -> float:
        """The value at ``fraction`` of the range (NA112/NA113): for data in [-1, 1] that
        is -1 + fraction × 2, whatever the full scale says."""
        return self.lo + fraction * (self.extent or self.span)


def colour_family(record: FileRecord) -> str:
    """The colour mode as a loader sees it: gray, RGB, RGBA, palette, CMYK…"""
    mode = record.mode or ""
    if mode in ("1", "L", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return "gray"
    if mode in ("RGB", "YCbCr", "RGBX", "LAB", "HSV"):
        return "RGB"
    if mode in ("P", "PA"):
        return "palette"
    if mode == "LA":
        return "gray+alpha"
    if mode.startswith("array"):
        return {1: "gray", 2: "gray+alpha", 3: "RGB", 4: "RGBA"}.get(
            record.channels, f"{record.channels}-channel"
        )
    return mode or "unknown"


def majority(values: Iterable[str]) -> tuple[str | None, Counter[str]]:
    counts = Counter(values)
    if not counts:
        return None, counts
    best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return best, counts


@dataclass(frozen=True, slots=True)
class SplitFacts:
    """Per-split facts that file checks compare a file against."""

    name: str
    labeled: bool = True
    images: int = 0  # readable images
    files: int = 0  # image files, readable or not
    family: str | None = None
    family_counts: Mapping[str, int] = field(default_factory=dict)
    dtype: str | None = None
    dtype_counts: Mapping[str, int] = field(default_factory=dict)
    size_fences: tuple[float, float] | None = None

    @classmethod
    def from_images(
        cls, name: str, labeled: bool, images: list[FileRecord], iqr_factor: float
    ) -> SplitFacts:
        ok = [r for r in images if r.ok]
        family, fam_counts = majority(colour_family(r) for r in ok)
        dtype, dt_counts = majority(r.dtype or "?" for r in ok)
        fences = None
        if len(ok) >= 5:
            roots = np.sqrt(np.array([r.width * r.height for r in ok], dtype=np.float64))
            q1, median, q3 = np.percentile(roots, [25, 50, 75])
            iqr = max(q3 - q1, 0.1 * median)
            fences = (float(q1 - iqr_factor * iqr), float(q3 + iqr_factor * iqr))
        return cls(
            name,
            labeled,
            len(ok),
            len(images),
            family,
            dict(fam_counts),
            dtype,
            dict(dt_counts),
            fences,
        )


def full_scales(images: Iterable[FileRecord]) -> dict[str, FullScale]:
    """Full scale per dtype: 255 and 65535 for uint8/16, else the dataset's observed range."""
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    for r in images:
        if r.pixels is None or r.dtype is None:
            continue
        for c in r.pixels.channels:
            if c.count:
                lo[r.dtype] = min(lo.get(r.dtype, math.inf), c.min)
                hi[r.dtype] = max(hi.get(r.dtype, -math.inf), c.max)
    scales: dict[str, FullScale] = {
        "uint8": FullScale(0.0, 255.0, "uint8 full scale 255"),
        "bool": FullScale(0.0, 255.0, "1-bit read as 0/255"),
        "uint16": FullScale(0.0, 65535.0, "uint16 full scale 65535"),
    }
    for dtype in lo:
        if dtype in scales:
            continue
        a, b = lo[dtype], hi[dtype]
        if dtype.startswith("float") and a >= -1.0 and b <= 1.0:
            if a < 0:
                scales[dtype] = FullScale(-1.0, 1.0, "float data in [-1, 1]: 1.0", extent=2.0)
            else:
                scales[dtype] = FullScale(0.0, 1.0, "float data in [0, 1]: 1.0")
        else:
            span = b - a if b > a else 1.0
            scales[dtype] = FullScale(a, span, f"observed {dtype} range [{a:g}, {b:g}]")
    return scales


@dataclass(frozen=True, slots=True)
class CheckContext:
    labels: LabelSettings
    options: Mapping[str, Any]
    split: SplitFacts
    scales: Mapping[str, FullScale]
    class_names: tuple[str, ...] = ()
    # The layout preset's explanation of out-of-range labels (labelIds, trimaps, luma…)
    hint: Callable[[Sequence[int], int | None], str | None] | None = None

    def explain(self, bad: Sequence[int]) -> str | None:
        return self.hint(bad, self.labels.num_classes) if self.hint is not None else None

    def opt(self, key: str) -> Any:
        return self.options[key]

    def scale(self, record: FileRecord) -> FullScale:
        return self.scales.get(record.dtype or "", FullScale(0.0, 255.0, "assumed 255"))

    def label_name(self, label: int) -> str:
        if 0 <= label < len(self.class_names):
            return f"{label} ({self.class_names[label]})"
        return str(label)
