"""The data at training scale: sizes after the resize, and the random crops of a mask that
hold no valid pixel, estimated from the mask's cell grid (records.CellGrid).

Sizes follow mmcv/mmseg: ``RandomResize(scale, ratio_range)`` scales the target size by a
ratio drawn uniformly from the range (``int(side * ratio)``); with ``keep_ratio`` the image
is scaled by one factor so that its long side fits the target's long side and its short side
the target's short side, each side rounded as ``int(side * factor + 0.5)``; without a resize
the scale range applies to the image's own size.  A random crop takes every offset with the
same probability (``randint(0, size - crop + 1)`` along each axis); an image smaller than the
crop is padded at its bottom and right edges, or, without padding, cropped whole.

The ignore-only estimate works on cells.  A crop that meets no cell holding a valid pixel
holds none (``low`` counts those); a crop that covers a whole cell holding a valid pixel
holds one (``high`` counts the rest).  The truth lies in [low, high]; the estimate is their
middle, and the band is about one cell wide on either side of each crop edge
(docs/guides/training.md, "How NA402 estimates ignore-only crops", states the tolerance
tested against brute force).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from .records import GRID_ALPHABET, CellGrid, grid_cell
from .rules import TrainingRules

SCALE_SAMPLES = 5  # ratios at which a scale range is evaluated (the midpoints of 5 bins)
MAX_OFFSETS = 4096  # crop offsets evaluated per side and ratio (evenly spaced beyond it)


def _round(x: float) -> int:
    return int(x + 0.5)


def scaled_size(height: int, width: int, rules: TrainingRules, ratio: float) -> tuple[int, int]:
    """(height, width) of an image after the resize at scale ``ratio``."""
    if rules.resize is not None:
        box_h, box_w = int(rules.resize[0] * ratio), int(rules.resize[1] * ratio)
        if not rules.keep_ratio:
            return box_h, box_w
        if min(height, width) <= 0:
            return 0, 0
        factor = min(max(box_h, box_w) / max(height, width), min(box_h, box_w) / min(height, width))
        return _round(height * factor), _round(width * factor)
    if rules.scale_range is not None:
        return _round(height * ratio), _round(width * ratio)
    return height, width


def extreme_sizes(
    height: int, width: int, rules: TrainingRules
) -> tuple[tuple[int, int], tuple[int, int]]:
    """The size at the smallest and at the largest scale."""
    lo, hi = rules.scales
    return scaled_size(height, width, rules, lo), scaled_size(height, width, rules, hi)


def ratios(rules: TrainingRules) -> tuple[float, ...]:
    """The scale factors the estimates average over: the midpoints of SCALE_SAMPLES equal
    bins of the scale range (its one value when the range is a point; 1 without one)."""
    lo, hi = rules.scales
    if lo == hi:
        return (lo,)
    return tuple(lo + (hi - lo) * (i + 0.5) / SCALE_SAMPLES for i in range(SCALE_SAMPLES))


def below_crop_share(height: int, width: int, rules: TrainingRules) -> float:
    """The share of the scale range at which the image is smaller than the crop."""
    if rules.crop_size is None:
        return 0.0
    ch, cw = rules.crop_size
    lo, hi = rules.scales
    if lo == hi:
        h, w = scaled_size(height, width, rules, lo)
        return 1.0 if h < ch or w < cw else 0.0

    # the scaled size grows with the ratio: bisect for the smallest ratio that fits
    def fits(r: float) -> bool:
        h, w = scaled_size(height, width, rules, r)
        return h >= ch and w >= cw

    if fits(lo):
        return 0.0
    if not fits(hi):
        return 1.0
    a, b = lo, hi
    for _ in range(40):
        mid = (a + b) / 2
        a, b = (a, mid) if fits(mid) else (mid, b)
    return (b - lo) / (hi - lo)


# --------------------------------------------------------------------------- ignore-only crops


def valid_cells(grid: CellGrid, ignore: int | None) -> npt.NDArray[np.bool_]:
    """(rows, cols): whether a cell may hold a valid pixel (it is not uniform in ignore)."""
    codes = np.frombuffer(grid.cells.encode("ascii"), np.uint8).reshape(grid.rows, grid.cols)
    valid = np.ones(codes.shape, np.bool_)
    for i, label in enumerate(grid.labels):
        if label == ignore:
            valid &= codes != ord(GRID_ALPHABET[i])
    return valid


@dataclass(frozen=True, slots=True)
class CropEstimate:
    """For one mask: the share of random crops (over the scale range) that hold no valid
    pixel, bounded in [low, high], and the expected share of ignore pixels in a crop."""

    low: float
    high: float
    ignore_share: float

    @property
    def estimate(self) -> float:
        return (self.low + self.high) / 2


NO_IGNORE_ONLY = CropEstimate(0.0, 0.0, 0.0)


def _offsets(n: int, scaled: Any, crop: int, cell: int, cells: int) -> tuple[Any, ...]:
    """Along one axis, for every scale (``scaled``: the scaled length at each ratio) and every
    crop offset at it: the ratio's index, the first cell the crop meets and how many it
    meets, the first cell it covers whole and how many (0: none); and the number of offsets
    at each ratio. Offsets are in scaled pixels; a scaled pixel j shows the original pixel
    floor((j + 0.5) * n / scaled) (nearest neighbour)."""
    per_ratio = np.maximum(scaled - crop + 1, 1)
    # a side scaled to millions of pixels (resize 65536 at scale 100) takes MAX_OFFSETS
    # evenly spaced offsets, not all of them: the arrays stay a few hundred kB whatever the
    # settings, and the sample errs by at most one offset in MAX_OFFSETS per cell edge
    taken = np.minimum(per_ratio, MAX_OFFSETS)
    ratio = np.repeat(np.arange(scaled.size), taken)
    nth = np.arange(ratio.size) - np.repeat(np.cumsum(taken) - taken, taken)
    spread = ((nth + 0.5) * (per_ratio[ratio] / taken[ratio])).astype(np.int64)
    offset = np.where(taken[ratio] < per_ratio[ratio], spread, nth)
    step = n / scaled[ratio]
    whole = scaled[ratio] <= crop  # the crop holds the whole side
    r0 = np.where(whole, 0, ((offset + 0.5) * step).astype(np.int64))
    r1 = np.where(
        whole, n - 1, np.minimum(((offset + (crop - 0.5)) * step).astype(np.int64), n - 1)
    )
    first = r0 // cell
    first_whole = -(-r0 // cell)
    last_whole = np.where(r1 == n - 1, cells - 1, (r1 + 1) // cell - 1)
    wholes = np.maximum(last_whole - first_whole + 1, 0)
    return ratio, first, r1 // cell - first + 1, np.minimum(first_whole, cells), wholes, taken


def _weights(ratio: Any, first: Any, spans: Any, cells: int, ratios: int) -> tuple[int, Any]:
    """How many of each ratio's offsets start a span of each length at each cell: (the
    shortest length, an array ratios × lengths × (cells + 1)), from one bincount."""
    shortest = int(spans.min())
    lengths = int(spans.max()) - shortest + 1
    width = cells + 1
    index = (ratio * lengths + (spans - shortest)) * width + first
    counts = np.bincount(index, minlength=ratios * lengths * width)
    return shortest, counts.reshape(ratios, lengths, width).astype(np.float64)


@dataclass(frozen=True, slots=True)
class _Scales:
    """The crops of one mask size over the scale range, before looking at the mask."""

    ratios: int  # ratios at which no side collapses
    fill: float  # mean share of the crop the mask fills
    padding: float  # mean share of the crop that is padding
    valid_padding: bool  # padding writes a valid label
    todo: tuple[tuple[int, int], ...]  # scaled sizes whose crops can miss every valid pixel
    spans_a_cell: bool  # at each of those the crop covers a whole cell each way


@lru_cache(maxsize=256)
def _scales(height: int, width: int, rules: TrainingRules, ignore: int) -> _Scales:
    assert rules.crop_size is not None
    ch, cw = rules.crop_size
    pad_value = rules.pad_value if rules.pad_value is not None else ignore
    valid_padding = rules.pad and pad_value != ignore
    sizes = [scaled_size(height, width, rules, r) for r in ratios(rules)]
    sizes = [(h, w) for h, w in sizes if h > 0 and w > 0]  # a collapsed side is NA405's
    fill = padding = 0.0
    todo = []
    for hs, ws in sizes:
        filled = min(hs, ch) * min(ws, cw)
        padded = rules.pad and (hs < ch or ws < cw)
        area = ch * cw if padded else filled
        fill += filled / area
        padding += (area - filled) / area
        if not (padded and valid_padding):  # valid padding: every crop holds some
            todo.append((hs, ws))
    n = max(len(sizes), 1)
    cell_h, cell_w = grid_cell(height), grid_cell(width)
    spans_a_cell = all(
        (ch - 1) * height >= 2 * cell_h * hs and (cw - 1) * width >= 2 * cell_w * ws
        for hs, ws in todo
    )
    return _Scales(len(sizes), fill / n, padding / n, valid_padding, tuple(todo), spans_a_cell)


@dataclass(frozen=True, slots=True)
class _Windows:
    """Every crop window of one mask size, in cells: for each window (a size and a start
    cell) that some crop offset takes, the flat summed-area indices of its four corners,
    and the share of the crops (per ratio, summed over the ratios) that take it as the low
    bound's window (the cells it meets) and as the high bound's (the cells it covers
    whole). It depends only on the size, the grid and the settings: masks of one size
    share it, and a mask costs a gather and two dot products."""

    corners: Any  # (4, windows): the corners (bottom-right, top-right, bottom-left, top-left)
    low: Any
    high: Any


@lru_cache(maxsize=64)
def _windows(
    height: int, width: int, rows: int, cols: int, rules: TrainingRules, todo: tuple[Any, ...]
) -> _Windows:
    assert rules.crop_size is not None
    ch, cw = rules.crop_size
    cell_h, cell_w = grid_cell(height), grid_cell(width)
    ry, y_first, y_meets, y_whole, y_wholes, ny = _offsets(
        height, np.array([h for h, _ in todo]), ch, cell_h, rows
    )
    rx, x_first, x_meets, x_whole, x_wholes, nx = _offsets(
        width, np.array([w for _, w in todo]), cw, cell_w, cols
    )
    k = len(todo)
    bounds = (
        (_weights(ry, y_first, y_meets, rows, k), _weights(rx, x_first, x_meets, cols, k)),
        (_weights(ry, y_whole, y_wholes, rows, k), _weights(rx, x_whole, x_wholes, cols, k)),
    )
    pairs_at = (ny * nx).astype(np.float64)  # offset pairs at each ratio
    found = []
    for (y0, wy), (x0, wx) in bounds:
        ratio, py, px = np.nonzero(wy.any(axis=2)[:, :, None] & wx.any(axis=2)[:, None, :])
        found.append((py + y0, px + x0, wy[ratio, py] / pairs_at[ratio][:, None], wx[ratio, px]))
    # the window sizes that occur, once; per size and start cell, the share of each bound
    kh = np.concatenate([f[0] for f in found])
    kw = np.concatenate([f[1] for f in found])
    sizes_found, which = np.unique(kh * (cols + 1) + kw, return_inverse=True)
    shares = np.zeros((2, sizes_found.size, rows + 1, cols + 1))
    at = 0
    for bound, (_, _, vy, vx) in enumerate(found):
        q = vy.shape[0]
        np.add.at(shares[bound], which[at : at + q], vy[:, :, None] * vx[:, None, :])
        at += q
    size, i, j = np.nonzero(shares.sum(axis=0))
    uh, uw = sizes_found[size] // (cols + 1), sizes_found[size] % (cols + 1)
    i1, j1 = np.minimum(i + uh, rows), np.minimum(j + uw, cols)
    stride = cols + 1
    corners = np.stack([i1 * stride + j1, i * stride + j1, i1 * stride + j, i * stride + j])
    return _Windows(corners, shares[0][size, i, j], shares[1][size, i, j])


def ignore_only_crops(
    grid: CellGrid,
    height: int,
    width: int,
    ignore: int | None,
    ignore_fraction: float,
    rules: TrainingRules,
) -> CropEstimate:
    """The share of the random crops of a mask that hold no valid pixel, averaged over the
    scale range (see the module docstring), and the expected share of ignore pixels in a
    crop (the mask's ignore fraction over the part of the crop it fills; padding with the
    ignore index adds the rest)."""
    if rules.crop_size is None or ignore is None or not grid.usable(height, width):
        return NO_IGNORE_ONLY
    scales = _scales(height, width, rules, ignore)
    if not scales.ratios:
        return NO_IGNORE_ONLY
    share = ignore_fraction * scales.fill + (0.0 if scales.valid_padding else scales.padding)
    if ignore_fraction <= 0 or not scales.todo:
        return CropEstimate(0.0, 0.0, share)  # every crop holds a valid mask pixel or padding
    valid = valid_cells(grid, ignore)
    if scales.spans_a_cell and bool(valid.all()):
        return CropEstimate(0.0, 0.0, share)  # every crop covers a cell holding a valid pixel
    if not valid.any():  # no cell holds a valid pixel: every crop of the todo sizes is empty
        every = len(scales.todo) / scales.ratios
        return CropEstimate(every, every, share)
    windows = _windows(height, width, grid.rows, grid.cols, rules, scales.todo)
    table = np.zeros((grid.rows + 1, grid.cols + 1), np.int32)
    table[1:, 1:] = valid.cumsum(0).cumsum(1)
    a, b, c, d = table.ravel()[windows.corners]
    empty = ((a - b - c + d) == 0).astype(np.float64)
    # einsum keeps BLAS (and its threads) out of it, as for the perceptual hash
    high = min(1.0, float(np.einsum("i,i->", windows.high, empty)) / scales.ratios)
    low = min(high, float(np.einsum("i,i->", windows.low, empty)) / scales.ratios)
    return CropEstimate(low, high, share)


def all_ignore_batch_probability(shares: Sequence[float], samples: int, batch: int) -> float:
    """The probability that a batch of ``batch`` samples drawn without replacement from
    ``samples`` (a shuffled epoch) crops nothing but ignore pixels, when sample i does so
    with probability shares[i] (the others never): e_batch(shares) / C(samples, batch),
    e the elementary symmetric polynomial. Exact for independent crops."""
    p = [s for s in shares if s > 0]
    if batch < 1 or samples < batch or len(p) < batch:
        return 0.0
    # e_k over the shares, k = 0..batch, as a log-scaled recurrence to avoid underflow
    e = np.zeros(batch + 1)
    e[0] = 1.0
    log_scale = 0.0
    for s in p:
        e[1:] = e[1:] + s * e[:-1]
        top = e.max()
        if top > 1e100 or top < 1e-100:
            e /= top
            log_scale += float(np.log(top))
    if e[batch] <= 0:
        return 0.0
    from math import lgamma, log

    log_choose = lgamma(samples + 1) - lgamma(batch + 1) - lgamma(samples - batch + 1)
    value = float(np.exp(log(e[batch]) + log_scale - log_choose))
    return min(1.0, value)
