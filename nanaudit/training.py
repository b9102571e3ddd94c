"""What a training script wants of a split, from its merged statistics alone.

Normalize constants (per-channel mean and std of the majority image group, raw and divided
by full scale), the valid-pixel distribution, and, for the training split, median-frequency
class weights (Eigen & Fergus) that never hold inf or NaN: a class without pixels gets
weight 0 and is listed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

import numpy as np

from .aggregate import ASSUMED_SCALE, FullScale, SplitStats, finite_range
from .crops import all_ignore_batch_probability, extreme_sizes, ratios, scaled_size
from .records import FOREGROUND_BIN
from .report import (
    CTClip,
    ImageGroup,
    Normalize,
    Spread,
    TrainingScale,
    TrainingSummary,
    ValidFraction,
)
from .rules import LabelRules, TrainingRules
from .stats import Floats


def image_groups(stats: SplitStats) -> tuple[ImageGroup, ...]:
    return tuple(ImageGroup(f, d, g.images, g.channels) for f, d, g in stats.image_groups)


CENTRED_BOUND = 64.0  # normalised samples stay within a few std of 0 (CT spans ±1000 HU)


def normalize_constants(
    groups: Sequence[ImageGroup],
    scales: Mapping[str, FullScale],
    nnunet_ct: CTClip | None = None,
) -> Normalize | None:
    """The Normalize constants of the largest group (the split's majority images); None
    when a channel of it holds no finite value (all NaN or Inf): no constant would do, or
    when float images are centred already (every channel negative and positive, within
    ±CENTRED_BOUND: normalised samples drawn from a pipeline), whose constants would invite
    a second Normalize. ``nnunet_ct``: the group's CT clipping range, stated beside them."""
    if not groups:
        return None
    top = groups[0]
    if any(c.count == 0 for c in top.channels):
        return None
    if top.dtype.startswith("float") and all(
        -CENTRED_BOUND <= c.min < 0 < c.max <= CENTRED_BOUND for c in top.channels
    ):
        # centred already (every channel on both sides of 0): a Normalize applied, and
        # constants taken of it would invite a second one
        return None
    total = sum(g.images for g in groups)
    scale = scales.get(top.dtype, ASSUMED_SCALE)
    return Normalize(
        basis=f"{top.family} {top.dtype} images ({top.images:,} of {total:,})",
        images=top.images,
        mean=tuple(c.mean for c in top.channels),
        std=tuple(c.std for c in top.channels),
        scale_lo=scale.lo,
        scale_span=scale.span,
        scale_basis=scale.basis,
        nnunet_ct=nnunet_ct,
    )


def ct_clip(stats: SplitStats) -> CTClip | None:
    """nnU-Net's CT clipping range and constants for the split's majority image group, from
    its cases' foreground intensities (records.Foreground); None when it has none (not a
    CT-like volume, or no case with foreground). Each case weighs the same: the mean is the
    mean of the cases' means, the variance that of their equal mixture, and the percentiles
    are inverted-CDF ones of the summed histograms, whose counts sum to the same total per
    case."""
    if not stats.groups or not stats.foreground_cases:
        return None
    key = sorted(stats.groups, key=lambda kv: (-kv[1].images, kv[0]))[0][0]
    channels = key[2]
    cases = [
        [(n, m, v) for k, c, n, m, v in stats.foreground_cases if k == key and c == ch]
        for ch in range(channels)
    ]
    if not all(cases):
        return None
    bins: list[list[tuple[int, int]]] = [[] for _ in range(channels)]
    for (k, c, b), n in stats.foreground_shares:
        if k == key:
            bins[c].append((b, n))
    lo, hi, mean, std = [], [], [], []
    for per_case, counts in zip(cases, bins, strict=True):
        m = math.fsum(x for _, x, _ in per_case) / len(per_case)
        second = math.fsum(v + x * x for _, x, v in per_case) / len(per_case)
        mean.append(m)
        std.append(math.sqrt(max(second - m * m, 0.0)))
        low, high = _histogram_percentiles(counts, ((1, 200), (199, 200)))
        lo.append(low)
        hi.append(high)
    return CTClip(
        cases=len(cases[0]),
        voxels=sum(n for n, _, _ in cases[0]),
        lo=tuple(lo),
        hi=tuple(hi),
        mean=tuple(mean),
        std=tuple(std),
        resolution=FOREGROUND_BIN,
    )


def _histogram_percentiles(
    counts: Sequence[tuple[int, int]], fractions: Sequence[tuple[int, int]]
) -> list[float]:
    """Inverted-CDF percentiles of sorted (bin, count) pairs at the fractions p/q, in
    integers: the lowest bin whose cumulative count c satisfies c·q ≥ p·total."""
    total = sum(n for _, n in counts)
    out = []
    for p, q in fractions:
        cum = 0
        for b, n in counts:
            cum += n
            if cum * q >= p * total:
                out.append(float(b))
                break
        else:
            out.append(math.nan)
    return out


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    """Inverted-CDF quantile of an already sorted list."""
    if not sorted_values:
        return math.nan
    idx = max(0, math.ceil(q * len(sorted_values)) - 1)
    return sorted_values[min(idx, len(sorted_values) - 1)]


def valid_fraction(fractions: Sequence[float]) -> ValidFraction | None:
    if not fractions:
        return None
    fs = fractions if isinstance(fractions, Floats) else Floats.of(fractions)
    return ValidFraction(
        len(fs),
        fs[0],
        _quantile(fs, 0.05),
        _quantile(fs, 0.5),
        _quantile(fs, 0.95),
        fs[-1],
        sum(fs) / len(fs),
        int(np.count_nonzero(fs.array() == 0)),
    )


def _by_count(items: Sequence[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(items, key=lambda kv: (-kv[1], kv[0])))


CLASS_WEIGHTS_METHOD = (
    "median frequency balancing (Eigen & Fergus, 2015): weight(c) = median(freq) / freq(c), "
    "freq(c) = pixels of class c / non-ignore pixels of the training masks in which c is "
    "present"
)


def spread(values: Sequence[float], weights: Sequence[int] | None = None) -> Spread | None:
    """min, median, 95th percentile, max and mean of values (each ``weights`` times)."""
    if not values:
        return None
    if weights is None:  # each value once: the sorted column is the order of ``pairs``
        column = values if isinstance(values, Floats) else Floats.of(values)

        def nth(q: float) -> float:
            return column[min(max(1, math.ceil(q * len(column))), len(column)) - 1]

        return Spread(column[0], nth(0.5), nth(0.95), column[-1], sum(column) / len(column))
    counts = weights
    pairs = sorted(zip(values, counts, strict=True))
    total = sum(counts)

    def at(q: float) -> float:
        need = max(1, math.ceil(q * total))
        seen = 0
        for v, n in pairs:
            seen += n
            if seen >= need:
                return v
        return pairs[-1][0]

    mean = sum(v * n for v, n in pairs) / total
    return Spread(pairs[0][0], at(0.5), at(0.95), pairs[-1][0], mean)


def at_training_scale(stats: SplitStats, training: TrainingRules) -> TrainingScale | None:
    """The split's images at training scale, the crops they yield, the ignore in them."""
    if not stats.sizes:
        return None
    small, large = [], []
    for (w, h), _ in stats.sizes:
        lo, hi = extreme_sizes(h, w, training)
        small.append(lo)
        large.append(hi)
    smallest = min(small, key=lambda s: (s[0] * s[1], s))
    largest = max(large, key=lambda s: (s[0] * s[1], s))
    crops = None
    if training.crop_size is not None:
        area = training.crop_size[0] * training.crop_size[1]
        per_size = []
        for (w, h), _ in stats.sizes:
            scaled = [scaled_size(h, w, training, r) for r in ratios(training)]
            per_size.append(sum(a * b for a, b in scaled) / len(scaled) / area)
        crops = spread(per_size, [n for _, n in stats.sizes])
    ignore_only = batch = None
    if stats.crop_masks:
        shares = [e for _, e, _, _ in stats.ignore_only_crops]
        ignore_only = sum(shares)
        batch = all_ignore_batch_probability(shares, stats.samples, training.batch_size or 1)
    return TrainingScale(
        settings=training.describe(),
        smallest=smallest,
        largest=largest,
        crops_per_image=crops,
        ignore_per_crop=spread(stats.crop_ignore_shares),
        ignore_only_crops=ignore_only,
        all_ignore_batch=batch,
    )


def training_summary(
    stats: SplitStats,
    scales: Mapping[str, FullScale],
    rules: LabelRules,
    labeled: bool,
    training: bool = True,
    settings: TrainingRules | None = None,
) -> TrainingSummary:
    """The split's summary; class weights only for a labeled training split (weights are
    what a loss is trained with: the other splits' frequencies must not leak into them)."""
    pixels = {v: n for v, n in stats.labels if v != rules.ignore_index} if labeled else {}
    present = dict(stats.present_pixels)
    c = rules.num_classes
    unused = {*rules.unused_ids, rules.ignore_index}
    classes = tuple(k for k in (range(c) if c is not None else sorted(pixels)) if k not in unused)
    freqs = {k: pixels[k] / present[k] for k in classes if pixels.get(k) and present.get(k)}
    med = statistics.median(freqs.values()) if freqs else 0.0
    # a class without pixels gets weight 0 (never inf) and is listed, even when none has any
    # no C, and blurred 0/255 masks: the values in between are edges, not classes to weigh
    weigh = labeled and training and not rules.blurred_without_classes(stats.labels)
    weights = tuple((k, med / freqs[k] if k in freqs else 0.0) for k in classes) if weigh else ()
    zero = tuple(k for k in classes if k not in freqs) if weigh else ()
    per_class = dict(stats.masks_per_label)
    lo, hi = finite_range(stats)
    return TrainingSummary(
        # height x width, as --crop-size and NA401 take them: a size copied from the
        # summary into --crop-size means what it says
        sizes=_by_count([(f"{h}x{w}", n) for (w, h), n in stats.sizes]),
        modes=_by_count(list(stats.modes)),
        dtypes=_by_count(list(stats.dtypes)),
        normalize=normalize_constants(image_groups(stats), scales, ct_clip(stats)),
        image_min=lo,
        image_max=hi,
        classes=classes,
        images_per_class=tuple((k, per_class.get(k, 0)) for k in classes),
        valid_fraction=valid_fraction(stats.valid_fractions),
        class_weights=weights,
        zero_weight_classes=zero,
        class_weights_method=CLASS_WEIGHTS_METHOD if weigh else "",
        at_training_scale=at_training_scale(stats, settings)
        if settings is not None and settings.described
        else None,
    )
