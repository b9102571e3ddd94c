"""The foreground intensities of a CT-like image volume (records.Foreground): what nnU-Net's
CT normalisation is computed from, read from the image's voxels where its case's label
volume is not background.

nnU-Net's dataset fingerprint samples, for every training case, the same number of image
voxels where the segmentation is > 0 (with replacement), and CTNormalization clips to the
0.5th and 99.5th percentiles of those samples and standardises with their mean and std.
Here every such voxel is counted instead of sampled: per case the exact moments and a
histogram of 1-unit bins whose counts are scaled to FOREGROUND_SHARES (largest remainders),
so that cases weigh the same, as nnU-Net's equal samples make them, and so that the split's
histogram is an exact sum. The percentiles come from that histogram (to a bin: exact for
integer-valued data, within 1 HU otherwise).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..records import (
    FOREGROUND_BIN,
    FOREGROUND_HIGH,
    FOREGROUND_LOW,
    FOREGROUND_SHARES,
    Foreground,
    PixelStats,
)
from ..stats import channel_stats_from_array, channels_last

# Hounsfield-like: air is -1000 HU and scanners pad outside the field of view with -1024,
# -2048, -3024 (or the int16 minimum), so a CT volume's lowest value lies in this range; MR,
# PET and normalised volumes stay far above it. Its highest value fits int16.
HU_LOWEST = (-32768.0, -500.0)
HU_HIGHEST = 32767.0


def hounsfield_like(pixels: PixelStats) -> bool:
    """Whether an image's values look like CT in Hounsfield units."""
    finite = [c for c in pixels.channels if c.count]
    if not finite:
        return False
    lo, hi = min(c.min for c in finite), max(c.max for c in finite)
    return HU_LOWEST[0] <= lo <= HU_LOWEST[1] and 0 <= hi <= HU_HIGHEST


def foreground_of(image: npt.NDArray[Any], labels: npt.NDArray[Any]) -> Foreground | None:
    """The intensities of ``image`` (a volume's tall image, channels last) where ``labels``
    (the label volume's tall image, the same voxel grid) is > 0; None when the two are not
    the same grid (NA701 says so)."""
    if labels.ndim != 2 or image.shape[:2] != labels.shape:
        return None
    inside = labels > 0  # NaN labels are not foreground
    voxels = int(np.count_nonzero(inside))
    stats, shares = [], []
    for channel in channels_last(image):
        values = channel[inside]
        found = channel_stats_from_array(values)
        stats.append(found)
        if found.nan or found.inf:
            values = values[np.isfinite(values)]
        shares.append(scaled_histogram(values))
    return Foreground(voxels, tuple(stats), tuple(shares))


def scaled_histogram(values: npt.NDArray[Any]) -> tuple[tuple[int, int], ...]:
    """(bin, count) of ``values`` in FOREGROUND_BIN-wide bins (a bin named by its lower
    edge; values beyond [FOREGROUND_LOW, FOREGROUND_HIGH] in the edge bins), the counts
    scaled to sum to FOREGROUND_SHARES by largest remainders (ties: the lower bin)."""
    if values.size == 0:
        return ()
    clipped = np.clip(values, FOREGROUND_LOW, FOREGROUND_HIGH)
    if clipped.dtype.kind == "f":
        clipped = np.floor(clipped / FOREGROUND_BIN)
    index = clipped.astype(np.int64) - FOREGROUND_LOW
    counts = np.bincount(index, minlength=FOREGROUND_HIGH - FOREGROUND_LOW + 1)
    bins = np.flatnonzero(counts)
    kept = counts[bins].astype(np.int64)
    total = int(kept.sum())
    # counts × 2**20 stay below 2**63 for any volume the pixel limit lets through
    scaled, rest = np.divmod(kept * FOREGROUND_SHARES, total)
    short = FOREGROUND_SHARES - int(scaled.sum())
    if short:
        scaled[np.lexsort((bins, -rest))[:short]] += 1
    return tuple((int(b) + FOREGROUND_LOW, int(n)) for b, n in zip(bins, scaled, strict=True) if n)
