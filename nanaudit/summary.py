"""The training summary of a split, from the per-file records alone (no second pass).

Normalize constants, label statistics, the valid-pixel fraction distribution and
median-frequency class weights that never contain inf or NaN.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from .checks.context import FullScale, LabelSettings, colour_family
from .checks.registry import Pair
from .model import FileRecord
from .stats import ChannelStats, merge_channels


@dataclass(frozen=True, slots=True)
class Normalize:
    """Per-channel mean and std over every pixel of the split's majority image group."""

    basis: str  # which images, e.g. "RGB uint8 images (950 of 1,000)"
    images: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    scale_lo: float
    scale_span: float
    scale_basis: str

    @property
    def mean_scaled(self) -> tuple[float, ...]:
        return tuple((m - self.scale_lo) / self.scale_span for m in self.mean)

    @property
    def std_scaled(self) -> tuple[float, ...]:
        return tuple(s / self.scale_span for s in self.std)


@dataclass(frozen=True, slots=True)
class ValidFraction:
    """Distribution over masks of the fraction of pixels that are not ignore."""

    masks: int
    min: float
    p5: float
    median: float
    p95: float
    max: float
    mean: float
    empty: int  # masks with no valid pixel


@dataclass(frozen=True, slots=True)
class SplitTraining:
    sizes: tuple[tuple[str, int], ...]
    modes: tuple[tuple[str, int], ...]
    dtypes: tuple[tuple[str, int], ...]
    normalize: Normalize | None
    image_min: float
    image_max: float
    classes: tuple[int, ...]  # the classes the weights and counts are about
    images_per_class: tuple[tuple[int, int], ...]
    valid_fraction: ValidFraction | None
    class_weights: tuple[tuple[int, float], ...]
    zero_weight_classes: tuple[int, ...]


def _counted(c: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Inverted-CDF quantile of an already sorted list."""
    if not sorted_values:
        return math.nan
    idx = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[min(idx, len(sorted_values) - 1)]


@dataclass(frozen=True, slots=True)
class ImageGroup:
    """Merged pixel statistics of the images of one split that share mode family, dtype and
    channel count."""

    family: str
    dtype: str
    images: int
    channels: tuple[ChannelStats, ...]


def image_groups(images: Sequence[FileRecord]) -> tuple[ImageGroup, ...]:
    """Merge the images' channel statistics by (family, dtype, channels), largest first."""
    groups: dict[tuple[str, str, int], tuple[int, tuple[ChannelStats, ...]]] = {}
    for rec in images:
        if rec.pixels is None:
            continue
        chans = rec.pixels.channels
        key = (colour_family(rec), rec.dtype or "?", len(chans))
        if key in groups:
            n, merged = groups[key]
            groups[key] = (n + 1, merge_channels(merged, chans))
        else:
            groups[key] = (1, chans)
    ordered = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))
    return tuple(ImageGroup(f, d, n, ch) for (f, d, _), (n, ch) in ordered)


def normalize_constants(
    groups: Sequence[ImageGroup], scales: dict[str, FullScale]
) -> Normalize | None:
    """The Normalize constants of the largest group (the split's majority images)."""
    if not groups:
        return None
    top = groups[0]
    total = sum(g.images for g in groups)
    scale = scales.get(top.dtype, FullScale(0.0, 255.0, "assumed 255"))
    return Normalize(
        basis=f"{top.family} {top.dtype} images ({top.images:,} of {total:,})",
        images=top.images,
        mean=tuple(c.mean for c in top.channels),
        std=tuple(c.std for c in top.channels),
        scale_lo=scale.lo,
        scale_span=scale.span,
        scale_basis=scale.basis,
    )


def split_training(
    pairs: Sequence[Pair],
    groups: Sequence[ImageGroup],
    scales: dict[str, FullScale],
    labels: LabelSettings,
    labeled: bool,
) -> SplitTraining:
    images = [p.image for p in pairs if p.image is not None and p.image.ok]
    masks = list(
        {
            p.mask.path: p.mask for p in pairs if p.mask is not None and p.mask.labels is not None
        }.values()
    )
    sizes = Counter(f"{r.width}x{r.height}" for r in images)
    modes = Counter(r.mode or "?" for r in images)
    dtypes = Counter(r.dtype or "?" for r in images)
    lo = min(
        (c.min for r in images if r.pixels for c in r.pixels.channels if c.count), default=math.nan
    )
    hi = max(
        (c.max for r in images if r.pixels for c in r.pixels.channels if c.count), default=math.nan
    )

    ignore = labels.ignore_index
    per_class = Counter[int]()
    pixels = Counter[int]()
    present_pixels = Counter[int]()  # valid pixels of the masks in which a class occurs
    fractions: list[float] = []
    for m in masks if labeled else []:
        assert m.labels is not None
        valid = m.labels.pixels - m.labels.count(ignore)
        fractions.append(valid / m.labels.pixels if m.labels.pixels else 0.0)
        for v, n in m.labels.histogram:
            if v == ignore:
                continue
            per_class[v] += 1
            pixels[v] += n
            present_pixels[v] += valid
    c = labels.num_classes
    unused = set(labels.unused_ids)
    classes = tuple(k for k in (range(c) if c is not None else sorted(pixels)) if k not in unused)
    freqs = {k: pixels[k] / present_pixels[k] for k in classes if pixels[k] and present_pixels[k]}
    med = statistics.median(freqs.values()) if freqs else 0.0
    # a class without pixels gets weight 0 (never inf) and is listed, even when none has any
    weights = tuple((k, med / freqs[k] if k in freqs else 0.0) for k in classes) if labeled else ()
    zero = tuple(k for k in classes if k not in freqs) if labeled else ()
    valid_fraction = None
    if fractions:
        fs = sorted(fractions)
        valid_fraction = ValidFraction(
            len(fs),
            fs[0],
            _quantile(fs, 0.05),
            _quantile(fs, 0.5),
            _quantile(fs, 0.95),
            fs[-1],
            sum(fs) / len(fs),
            sum(1 for f in fs if f == 0),
        )
    return SplitTraining(
        sizes=_counted(sizes),
        modes=_counted(modes),
        dtypes=_counted(dtypes),
        normalize=normalize_constants(groups, scales),
        image_min=lo,
        image_max=hi,
        classes=classes,
        images_per_class=tuple((k, per_class[k]) for k in classes),
        valid_fraction=valid_fraction,
        class_weights=weights,
        zero_weight_classes=zero,
    )
