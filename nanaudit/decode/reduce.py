"""Reductions: pixels → the statistics a record keeps. Pure functions of an array (or of an
8-bit Pillow image, reduced through its C histograms), testable without a file.

8-bit data goes through Pillow's histograms: exact moments and zero counts at a fraction
of numpy's cost; numpy serves 16-bit, integer and float data. What is only ever compared
loosely is taken cheaply: the luminance of a large colour image (NA112/NA113's percentiles,
the perceptual hash) over a regular grid of about 65,536 of its pixels, and a hash of the
whole content only when asked (the second read of a duplicate candidate).
Thresholds are not applied here: NA209's boundary test, for one, runs on every label rarer
than BOUNDARY_SCOPE of the mask, and the check picks its own fraction below that.
"""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..neardup import DETAIL_SIDE
from ..neardup import frame_of as _frame
from ..records import (
    BOUNDARY_SCOPE,
    GRID_ALPHABET,
    GRID_MIXED,
    CellGrid,
    LabelStats,
    PixelStats,
    grid_cell,
)
from ..stats import (
    channel_stats_from_array,
    channel_stats_from_histogram,
    channels_last,
    luminance,
    percentiles,
    percentiles_from_histogram,
    sparse_histogram,
)
from .readers import DecodeFailure, Raster

FP16_MAX = 65504.0
FLOAT32_LOWEST = -3.4028234663852886e38  # np.finfo(np.float32).min
NODATA_SENTINELS = (-9999.0, -32768.0, FLOAT32_LOWEST)
ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
MAX_BOUNDARY_LABELS = 64  # the rarest labels that get the boundary test


def reduce_image(
    raster: Raster,
    *,
    identity: bool = True,
    content: bool = False,
    nodata: float | None = None,
    hashed_rows: slice | None = None,
) -> PixelStats:
    """The statistics of an image's pixels. The content hash, a full pass over the pixels,
    is taken only when ``content`` asks for it: collect.py asks on a second read of the
    few images whose cheap fingerprints collide (duplicate candidates). ``identity=False``
    leaves out what only a file needs: the perceptual hash (NA307) and the luminance
    percentiles (NA112/NA113). A sample drawn from a training pipeline (samples/) has no
    identity to compare and no capture to judge, and its audit must cost less than drawing
    it. ``nodata``: the value the file declares as nodata, whose values are counted.
    ``hashed_rows``: the rows the perceptual hash and the detail thumbnail are taken of (a
    volume's middle slice: a hash of its stacked slices would compare nothing)."""
    if isinstance(raster, Image.Image):
        im = _as_seen(raster)
        eight = _pixel_stats_8bit(im, content)
        if nodata is not None and math.isfinite(nodata) and nodata == int(nodata):
            hist, v = im.histogram(), int(nodata)
            bands = range(len(im.getbands()))
            counted = sum(hist[b * 256 + v] for b in bands) if 0 <= v < 256 else 0
            eight = replace(eight, nodata_values=counted)
        return eight
    arr = raster
    if arr.dtype == np.bool_:  # 1-bit: measured as 0/255 (its full scale, aggregate.py)
        arr = arr.astype(np.uint8) * np.uint8(255)
    chans = channels_last(arr)
    stats = tuple(channel_stats_from_array(c) for c in chans)
    overflow = 0
    sentinels: tuple[tuple[float, int], ...] = ()
    if arr.dtype.kind == "f":
        lo = min(s.min for s in stats)
        hi = max(s.max for s in stats)
        if max(abs(lo), abs(hi)) >= FP16_MAX:
            overflow = int(np.count_nonzero(np.abs(arr[np.isfinite(arr)]) >= FP16_MAX))
        if math.isfinite(lo):
            found = []
            for value in NODATA_SENTINELS:
                if lo <= value:
                    n = int(np.count_nonzero(arr == np.asarray(value, dtype=arr.dtype)))
                    if n:
                        found.append((value, n))
            sentinels = tuple(found)
    declared = 0
    if nodata is not None and math.isfinite(nodata):
        declared = int(np.count_nonzero(arr == nodata))
    if not identity:
        return PixelStats(stats, math.nan, math.nan, overflow, sentinels, nodata_values=declared)
    luma = luminance(arr)
    p5, p99 = _luma_percentiles(luma)
    hashed = luma if hashed_rows is None else luma[hashed_rows]
    gray = hashed.astype(np.float32, copy=False)  # no second copy of a float32 image
    if any(c.nan or c.inf for c in stats) or not np.isfinite(gray).all():
        f32 = float(np.finfo(np.float32).max)
        gray = np.nan_to_num(np.clip(hashed, -f32, f32), nan=0.0).astype(np.float32)
    gray_image = Image.fromarray(gray, "F")
    content_hash, phash = _content_hash(arr) if content else "", _phash(gray_image)
    detail = detail_thumbnail(gray_image) if content else ""
    return PixelStats(stats, p5, p99, overflow, sentinels, content_hash, phash, detail, declared)


def _as_seen(im: Image.Image) -> Image.Image:
    """An 8-bit image as loaders see it: a palette through its colours, 1-bit as 0/255."""
    if im.mode in ("P", "PA"):
        return im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
    if im.mode == "1":
        return im.convert("L")
    return im


PERCENTILE_SAMPLE = 1 << 16


def _luma_percentiles(luma: npt.NDArray[Any]) -> tuple[float, float]:
    """5th and 99th percentiles of the luminance. One 8- or 16-bit integer channel: exact,
    from its histogram. Otherwise (float, or a 16-bit colour image's weighted luma): exact
    up to 65,536 pixels, and above that over a regular grid of every k-th row and column
    that keeps at most 65,536 of them — a full selection over millions of floats would
    cost more than the decode, for two informational checks (NA112/NA113)."""
    if luma.dtype.kind in "ui" and luma.dtype.itemsize <= 2:
        flat = luma.reshape(-1)
        offset = 0 if luma.dtype.kind == "u" else -(1 << (8 * luma.dtype.itemsize - 1))
        hist = np.bincount((flat.astype(np.int64) - offset) if offset else flat)
        p5, p99 = percentiles_from_histogram(hist, (5, 99), offset)
        return p5, p99
    if luma.size > PERCENTILE_SAMPLE and luma.ndim == 2:
        k = grid_step(luma.size)
        luma = luma[::k, ::k]
    p5, p99 = percentiles(luma, (5, 99))
    return p5, p99


_PHASH_N = 32
_K = np.arange(_PHASH_N)
_DCT = np.sqrt(2 / _PHASH_N) * np.cos(np.pi * (2 * _K[None, :] + 1) * _K[:, None] / (2 * _PHASH_N))
_DCT[0] /= np.sqrt(2)  # orthonormal DCT-II matrix
_DCT8 = np.ascontiguousarray(_DCT[:8])


def _content_hash(pixels: Image.Image | npt.NDArray[Any]) -> str:
    """A 128-bit BLAKE2b of the decoded pixels, seeded with dtype and shape (the same for
    Pillow and numpy, so that the same pixels in a PNG and in a .npy match)."""
    if isinstance(pixels, Image.Image):
        w, h = pixels.size
        bands = len(pixels.getbands())
        shape: tuple[int, ...] = (h, w) if bands == 1 else (h, w, bands)
        dtype, data = np.dtype(np.uint8).str, memoryview(pixels.tobytes())
    else:
        arr = np.ascontiguousarray(pixels)
        shape, dtype, data = arr.shape, arr.dtype.str, arr.data
    seed = repr((dtype, tuple(int(x) for x in shape))).encode()
    digest = hashlib.blake2b(seed, digest_size=16)
    digest.update(data)
    return digest.hexdigest()


def grid_step(pixels: int) -> int:
    """k such that every k-th row and column of an image keep about PERCENTILE_SAMPLE of
    its pixels (1: all of them)."""
    if pixels <= PERCENTILE_SAMPLE:
        return 1
    return math.ceil(math.sqrt(pixels / PERCENTILE_SAMPLE))


def _grid(im: Image.Image, k: int) -> Image.Image:
    """Every k-th pixel of every k-th row (from k // 2), by Pillow's nearest-neighbour
    resize: no filtering, so the sample's values are pixels of the image."""
    if k == 1:
        return im
    w, h = im.size
    nw, nh = max(1, w // k), max(1, h // k)
    box = (0, 0, min(w, nw * k), min(h, nh * k))
    return im.resize((nw, nh), Image.Resampling.NEAREST, box=box)


def _phash(gray: Image.Image) -> int:
    """64-bit perceptual hash (pHash): the signs, against their median, of the 8×8 lowest
    frequencies of the DCT of a 32×32 thumbnail. Resizes and re-encodes move few bits;
    unlike a difference hash, smooth gradients do not make unrelated pictures collide."""
    small = gray.resize((_PHASH_N, _PHASH_N), Image.Resampling.BILINEAR, reducing_gap=2.0)
    a = np.asarray(small, dtype=np.float64)
    if _frame(a) is not None:
        a = _unframed(gray, a)
    # only the 8 lowest frequencies; einsum keeps BLAS (and its threads) out of the hot path,
    # and two products of two cost a seventh of one product of three
    low = np.einsum("ik,lk->il", np.einsum("ij,jk->ik", _DCT8, a), _DCT8).reshape(-1)
    rest = low[1:]  # the DC term is left out of the median; 63 values: the 32nd smallest
    bits = low > np.partition(rest, rest.size // 2)[rest.size // 2]
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def detail_thumbnail(gray: Image.Image) -> str:
    """The luminance as a DETAIL_SIDE × DETAIL_SIDE 8-bit thumbnail (stretched over its
    1st–99th percentiles), base64: taken on the second read of a near-duplicate candidate,
    where two pictures whose hashes matched are compared for their details (vessels, cells,
    texture), not only their layout."""
    small = gray.resize((DETAIL_SIDE, DETAIL_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    a = np.asarray(small, dtype=np.float64)
    if not np.isfinite(a).all():
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = np.percentile(a, (1, 99))
    scaled = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    data = np.clip(np.rint(scaled), 0, 255).astype(np.uint8).tobytes()
    return base64.b64encode(data).decode("ascii")


def _unframed(gray: Image.Image, small: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The thumbnail of a framed picture with its frame made uniform: a frame shared by
    every image (retina photographs) would otherwise decide the hash and make different
    pictures near-duplicates. Done at twice the size, the frame grown by a pixel so that
    the blend along its edge goes too, then halved: resizes and re-encodes still match."""
    big = np.asarray(
        gray.resize((2 * _PHASH_N, 2 * _PHASH_N), Image.Resampling.BILINEAR, reducing_gap=2.0),
        dtype=np.float64,
    )
    frame = _frame(big)
    if frame is None:
        return small
    grown = frame.copy()
    grown[1:] |= frame[:-1]
    grown[:-1] |= frame[1:]
    grown[:, 1:] |= frame[:, :-1]
    grown[:, :-1] |= frame[:, 1:]
    if grown.all():
        return small
    big[grown] = big[~grown].mean()
    out: npt.NDArray[np.float64] = big.reshape(_PHASH_N, 2, _PHASH_N, 2).mean(axis=(1, 3))
    return out


def _pixel_stats_8bit(im: Image.Image, content: bool = False) -> PixelStats:
    """Exact moments from Pillow's C histogram. The luminance serves NA112/NA113 (two
    info-level percentiles) and the perceptual hash: for an image of more than
    PERCENTILE_SAMPLE pixels it is taken over the grid of every k-th row and column
    (about 65,536 pixels), not converted at full resolution; one band is its own luminance,
    and its percentiles stay exact (its histogram is there anyway)."""
    bands = len(im.getbands())
    hist = im.histogram()
    stats = tuple(channel_stats_from_histogram(hist[256 * b : 256 * (b + 1)]) for b in range(bands))
    w, h = im.size
    sample = _grid(im, grid_step(w * h))
    if bands == 1:
        luma, gray = hist, sample
    elif im.mode in ("RGB", "RGBA", "RGBX"):
        gray = sample.convert("L")  # per pixel: the same as sampling the converted image
        luma = gray.histogram()
    else:  # LA, CMYK, YCbCr…: the first band is the best single stand-in
        gray = sample.getchannel(0)
        luma = hist[:256]
    p5, p99 = percentiles_from_histogram(luma, (5, 99))
    if not content:
        return PixelStats(stats, p5, p99, phash=_phash(gray))
    return PixelStats(
        stats,
        p5,
        p99,
        content_hash=_content_hash(im),
        phash=_phash(gray),
        detail=detail_thumbnail(gray),
    )


# --------------------------------------------------------------------------- masks


@dataclass(frozen=True, slots=True)
class MaskStats:
    """What a mask reduces to: its labels, or that its channels differ (colour coding)."""

    labels: LabelStats | None = None
    channels_differ: bool = False
    colours: int = 0


def reduce_mask(raster: Raster, mode: str | None = None, *, grid: bool = True) -> MaskStats:
    """The statistics of a mask's labels. ``mode`` is the decoder's colour mode (its alpha
    band is not a label channel). ``grid=False`` leaves out the cell grid, which only the
    training checks on files use (NA402's crops; a drawn sample is already cropped)."""
    if isinstance(raster, Image.Image):
        im = raster
        if im.mode in ("L", "P"):
            w, h = im.size
            # tobytes + frombuffer: a tenth of the cost of np.asarray on a Pillow image
            gray = np.frombuffer(im.tobytes(), np.uint8).reshape(h, w)
            cells = cell_grid(gray) if grid else None
            labels = LabelStats(sparse_histogram(im.histogram()), w * h, grid=cells)
            if _has_rare(labels):
                labels = _with_boundaries(labels, gray)
            return MaskStats(_with_between(labels, gray))
        arr = np.asarray(im)
        mode = mode or im.mode
    else:
        arr = raster
    if arr.ndim == 3:
        colour = arr[..., :3] if mode in ALPHA_MODES or arr.shape[2] == 4 else arr
        if mode in ("LA", "PA"):
            colour = arr[..., :1]
        first = colour[..., 0]
        differ = any(not np.array_equal(first, colour[..., c]) for c in range(1, colour.shape[2]))
        if differ:
            return MaskStats(None, True, _count_colours(colour))
        arr = first
    if arr.dtype == np.bool_:
        # 0/1, as np.asarray(Image.open(p)) yields it; a view would read Pillow's bytes of a
        # 1-bit image, 0/255
        arr = arr.astype(np.uint8)
    unsigned = arr.dtype.kind == "u"
    if arr.dtype.kind == "f" and arr.ndim == 2:
        # labels saved as floats (NIfTI label volumes often are), all whole bytes: the same
        # labels as uint8, a quarter of the bytes for every pass below
        small = _whole_bytes(arr)
        arr = arr if small is None else small
    labels = label_stats(arr)
    if grid and not (labels.non_integer or labels.nan or labels.inf):
        labels = replace(labels, grid=cell_grid(arr))
    if _has_rare(labels):
        labels = _with_boundaries(labels, arr)
    return MaskStats(_with_between(labels, arr, with_perimeters=unsigned))


def _with_between(
    labels: LabelStats, arr: npt.NDArray[Any], *, with_perimeters: bool = True
) -> LabelStats:
    """The in-between counts of a mask of three labels or more (NA218), and the labels'
    perimeters (NA406; ``with_perimeters``: the mask was stored as unsigned integers), from
    one pass per direction that finds the label edges."""
    if labels.distinct < 2 or labels.non_integer or labels.nan or labels.inf or arr.ndim != 2:
        return labels
    edges = label_edges(arr)
    if with_perimeters:
        labels = replace(labels, perimeters=perimeters(edges, labels))
    if labels.distinct < 3:
        return labels
    between, crossings = in_between(edges)
    return replace(labels, between=between, crossings=crossings)


MAX_PERIMETER_LABELS = 256
SPARSE_EDGES = 8  # edges kept as indices while at most 1/8 of the neighbour pairs differ
QUIET_ROWS_MIN = 64  # masks of this many rows or more skip their rows of background 0


@dataclass(frozen=True, slots=True)
class EdgeRun:
    """The neighbour pairs of one direction of a 2-D label array ``flat`` (read in C order):
    pair ``i`` is ``(flat[i], flat[i + step])``, ``i < pairs``. ``pick`` selects those whose
    labels differ (never a pair that would wrap around a row): their indices when few do
    (``sparse``), else a boolean per pair, cheaper than indices when edges are dense."""

    across: bool  # left-right (else up-down)
    step: int
    pairs: int
    pick: npt.NDArray[Any]
    sparse: bool
    triples: int  # triple starts s (s, s + step, s + 2·step) that lie in the array


@dataclass(frozen=True, slots=True)
class LabelEdges:
    """Where neighbouring labels differ, left-right and up-down (segmentation masks have
    few edges: what depends on them then costs a pass per direction, not twenty)."""

    flat: npt.NDArray[Any]
    width: int
    runs: tuple[EdgeRun, ...]


def label_edges(arr: npt.NDArray[Any]) -> LabelEdges:
    h, w = arr.shape
    flat = np.ascontiguousarray(arr).reshape(-1)
    busy = _busy_rows(flat, h, w)
    runs = []
    for across, step, triples in ((True, 1, h * max(w - 2, 0)), (False, w, max(h - 2, 0) * w)):
        pairs = max(flat.size - step, 0)
        if busy is not None:
            pick = _edges_in_rows(flat, h, w, busy, across)
            if pick.size * SPARSE_EDGES <= pairs:
                runs.append(EdgeRun(across, step, pairs, pick, True, triples))
                continue
        differ = flat[step:] != flat[:pairs]
        if across:
            differ[w - 1 :: w] = False  # (last of a row, first of the next): not neighbours
        sparse = int(np.count_nonzero(differ)) * SPARSE_EDGES <= pairs
        pick = np.flatnonzero(differ) if sparse else differ
        runs.append(EdgeRun(across, step, pairs, pick, sparse, triples))
    return LabelEdges(flat, w, tuple(runs))


def _busy_rows(flat: npt.NDArray[Any], h: int, w: int) -> npt.NDArray[np.intp] | None:
    """The rows holding a label other than 0, when they are at most half of a tall integer
    mask (a label volume's slices are mostly background); None otherwise. An edge lies in
    such a row, or (up-down) between one and its neighbour: the other rows are not read."""
    if h < QUIET_ROWS_MIN or w == 0 or flat.dtype.kind not in "ui":
        return None
    rows = flat.reshape(h, w)
    if (w * flat.itemsize) % 8 == 0:  # eight bytes at a time
        rows = rows.view(np.uint64)
    busy = np.flatnonzero(rows.any(axis=1))
    return busy if busy.size * 2 <= h else None


def _edges_in_rows(
    flat: npt.NDArray[Any], h: int, w: int, busy: npt.NDArray[np.intp], across: bool
) -> npt.NDArray[np.intp]:
    """The indices of the differing pairs of one direction (as label_edges's sparse route
    gives them, ascending), read from the busy rows alone."""
    grid = flat.reshape(h, w)
    if across:
        rows = busy
        differ = grid[rows, 1:] != grid[rows, :-1]
        k = np.flatnonzero(differ)
        return rows[k // max(w - 1, 1)] * w + k % max(w - 1, 1)
    # up-down pairs (r, r + 1) with r or r + 1 busy
    rows = np.union1d(busy, busy - 1)
    rows = rows[(rows >= 0) & (rows < h - 1)]
    differ = grid[rows + 1] != grid[rows]
    k = np.flatnonzero(differ)
    return rows[k // w] * w + k % w


def perimeters(edges: LabelEdges, labels: LabelStats) -> tuple[tuple[int, int], ...]:
    """Per label, the pixel edges it shares with another label (left-right and up-down
    neighbours), for unsigned 8- or 16-bit masks of at most 256 labels."""
    flat = edges.flat
    if flat.dtype.kind != "u" or flat.dtype.itemsize > 2 or labels.distinct > MAX_PERIMETER_LABELS:
        return ()
    top = int(labels.histogram[-1][0]) + 1
    counts = np.zeros(top, np.int64)
    for run in edges.runs:
        counts += np.bincount(flat[: run.pairs][run.pick], minlength=top)[:top]
        counts += np.bincount(flat[run.step :][run.pick], minlength=top)[:top]
    return tuple((v, int(counts[v])) for v, _ in labels.histogram if counts[v])


def in_between(edges: LabelEdges) -> tuple[int, int]:
    """(pixels whose label lies strictly between the different labels of its left and
    right, or upper and lower, neighbours; triples whose outer neighbours differ). A nearest
    resize keeps labels on both sides of an edge; a bilinear one fills the edge between
    labels 0 and 2 with 1s. Only triples with an edge in them can have different outer
    labels: with few edges, only those are read."""
    flat, w = edges.flat, edges.width
    between = crossings = 0
    for run in edges.runs:
        step, n = run.step, run.triples
        if n == 0:
            continue
        if not run.sparse:
            lo, mid, hi = flat[:n], flat[step : step + n], flat[2 * step : 2 * step + n]
            if run.across:  # triples that wrap around a row are not triples
                lo, mid, hi = (flat.reshape(-1, w)[:, k : w - 2 + k] for k in range(3))
        else:
            # the triple starting at s has an edge at s or at s + step; each once: s where
            # the first pair differs, s = i - step where only the second one, i, does
            at = run.pick
            first = at[at % w <= w - 3] if run.across else at[at < n]
            later = at[at % w >= 1] if run.across else at[at >= step]
            later = later[flat[later - step] == flat[later]] - step
            starts = np.concatenate([first, later])
            lo, mid, hi = flat[starts], flat[starts + step], flat[starts + 2 * step]
        crossings += int(np.count_nonzero(lo != hi))
        inside = ((lo < mid) & (mid < hi)) | ((lo > mid) & (mid > hi))
        between += int(np.count_nonzero(inside))
    return between, crossings


def _with_boundaries(labels: LabelStats, arr: npt.NDArray[Any]) -> LabelStats:
    return replace(labels, boundary_labels=boundary_labels(arr, labels))


_GRID_CODES = np.frombuffer((GRID_ALPHABET + GRID_MIXED).encode("ascii"), np.uint8)


def cell_grid(arr: npt.NDArray[Any]) -> CellGrid | None:
    """The mask's uniform cells on the fixed grid (records.CellGrid): per cell the minimum
    and maximum label, reduced over row strips, then over the cells of each strip; a cell is
    uniform when they agree. The labels of uniform cells form the palette, most cells first
    (at most 64; a uniform cell of a label beyond them is written as mixed)."""
    if arr.ndim != 2 or arr.size == 0:
        return None
    h, w = arr.shape
    ch, cw = grid_cell(h), grid_cell(w)
    full = h // ch
    starts = np.arange(0, w, cw)
    extremes = []
    for reduce in (np.minimum, np.maximum):
        strips = reduce.reduce(arr[: full * ch].reshape(full, ch, w), axis=1)
        if full * ch < h:  # the last, shorter strip
            strips = np.concatenate([strips, reduce.reduce(arr[full * ch :], axis=0)[None]])
        extremes.append(reduce.reduceat(strips, starts, axis=1))
    lo, hi = extremes
    uniform = lo == hi
    found = lo[uniform]
    mixed = len(GRID_ALPHABET)
    if found.dtype == np.uint8:  # the common case: a lookup table instead of a search
        counts = np.bincount(found, minlength=256)
        values = np.flatnonzero(counts)
        palette = values[np.lexsort((values, -counts[values]))[:mixed]]
        table = np.full(256, mixed, np.intp)
        table[palette] = np.arange(palette.size)
        index = np.where(uniform, table[lo], mixed)
    else:
        values, counts = np.unique(found, return_counts=True)
        palette = values[np.lexsort((values, -counts))[:mixed]]
        index = np.full(lo.shape, mixed, np.intp)
        if palette.size:
            by_value = np.argsort(palette)
            pos = np.minimum(np.searchsorted(palette[by_value], lo), palette.size - 1)
            known = uniform & (palette[by_value][pos] == lo)
            index[known] = by_value[pos][known]
    cells = _GRID_CODES[index].tobytes().decode("ascii")
    return CellGrid(lo.shape[0], lo.shape[1], tuple(int(v) for v in palette), cells)


def label_stats(arr: npt.NDArray[Any]) -> LabelStats:
    pixels = int(arr.size)
    if arr.dtype == np.uint8 or arr.dtype.kind == "f":
        small = arr if arr.dtype == np.uint8 else _whole_bytes(arr)
        if small is not None and small.ndim == 2:
            return LabelStats(sparse_histogram(_byte_histogram(small)), pixels)
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        nan = int(np.count_nonzero(np.isnan(arr)))
        inf = pixels - int(np.count_nonzero(finite)) - nan
        values = arr[finite] if nan or inf else arr.reshape(-1)
        integral = values == np.floor(values)
        non_integer = int(values.size - np.count_nonzero(integral))
        whole = values[integral] if non_integer else values
        lo, hi = (float(whole.min()), float(whole.max())) if whole.size else (0.0, 0.0)
        if lo < -(2**62) or hi > 2**62:
            raise DecodeFailure("NA001", "float mask values beyond the integer range")
        if whole.size and lo >= 0 and hi < (1 << 16):
            # labels saved as floats (NIfTI label volumes often are): counted, not sorted
            counted = sparse_histogram(np.bincount(whole.astype(np.intp)))
            return LabelStats(counted, pixels, non_integer, nan, inf)
        uniq, counts = np.unique(whole.astype(np.int64), return_counts=True)
        hist = tuple((int(u), int(c)) for u, c in zip(uniq, counts, strict=True))
        return LabelStats(hist, pixels, non_integer, nan, inf)
    flat = arr.reshape(-1)
    if flat.dtype.kind == "u" and flat.dtype.itemsize <= 2:
        return LabelStats(sparse_histogram(np.bincount(flat)), pixels)
    # wider integer masks (torch's int64 targets) whose labels lie in [0, 65536) are counted
    # as 16-bit masks are, without sorting every pixel
    wide = flat.size and flat.dtype.kind in "iu" and flat.dtype != np.uint64
    if wide and flat.min() >= 0 and flat.max() < (1 << 16):
        return LabelStats(sparse_histogram(np.bincount(flat)), pixels)
    uniq, counts = np.unique(flat, return_counts=True)
    return LabelStats(tuple((int(u), int(c)) for u, c in zip(uniq, counts, strict=True)), pixels)


def _whole_bytes(arr: npt.NDArray[Any]) -> npt.NDArray[np.uint8] | None:
    """A float mask whose values are all whole numbers in [0, 256) (label volumes are
    often saved as float32) as uint8; None otherwise (NaN fails both bounds)."""
    if arr.size == 0:
        return None
    lo, hi = float(arr.min()), float(arr.max())
    if not (lo >= 0 and hi < 256):
        return None
    as_bytes = arr.astype(np.uint8)
    if np.count_nonzero(as_bytes != arr):
        return None
    return as_bytes


def _byte_histogram(arr: npt.NDArray[np.uint8]) -> list[int]:
    """The 256 counts of a 2-D uint8 array, by Pillow's C histogram (a sixth of the time
    of np.bincount, which widens every value to 64 bits first)."""
    rows, cols = arr.shape
    data = np.ascontiguousarray(arr)
    counts: list[int] = Image.frombuffer("L", (cols, rows), data, "raw", "L", 0, 1).histogram()
    return counts


def _has_rare(labels: LabelStats) -> bool:
    limit = BOUNDARY_SCOPE * labels.pixels
    return labels.distinct >= 3 and any(c < limit for _, c in labels.histogram)


def boundary_labels(arr: npt.NDArray[Any], labels: LabelStats) -> tuple[int, ...]:
    """Rare labels (below BOUNDARY_SCOPE of the pixels; the rarest 64) every pixel of which
    touches two different other labels (NA209)."""
    if arr.ndim != 2:
        return ()
    limit = BOUNDARY_SCOPE * labels.pixels
    candidates = sorted((c, v) for v, c in labels.histogram if c < limit)
    return touching_two_others(arr, sorted(v for _, v in candidates[:MAX_BOUNDARY_LABELS]))


def touching_two_others(arr: npt.NDArray[Any], rare: list[int]) -> tuple[int, ...]:
    """Those of the labels ``rare`` (a few) every pixel of which touches two different
    other labels in its 8-neighbourhood, in the 2-D label array ``arr``."""
    if arr.ndim != 2 or not rare:
        return ()
    h, w = arr.shape
    if len(rare) <= 4:  # one comparison per label costs less than isin's lookup table
        hit = arr == rare[0]
        for v in rare[1:]:
            hit |= arr == v
    else:
        hit = np.isin(arr, np.asarray(rare))
    ys, xs = np.divmod(np.flatnonzero(hit), w)
    values = arr[ys, xs]
    # the 8 neighbours, the border repeated outward (np.pad's "edge") by clipping the index
    rows = [np.clip(ys + d, 0, h - 1) for d in (-1, 0, 1)]
    cols = [np.clip(xs + d, 0, w - 1) for d in (-1, 0, 1)]
    offsets = [(dy, dx) for dy in (0, 1, 2) for dx in (0, 1, 2) if (dy, dx) != (1, 1)]
    neighbours = np.stack([arr[rows[dy], cols[dx]] for dy, dx in offsets]).astype(np.int64)
    # per rare pixel, the number of distinct other labels around it, without a Python loop:
    # its own label becomes a sentinel, the column is sorted, and the changes are counted
    sentinel = np.int64(np.iinfo(np.int64).max)
    nb = np.where(neighbours == values.astype(np.int64)[None, :], sentinel, neighbours)
    nb.sort(axis=0)
    real = nb != sentinel
    changes = (nb[1:] != nb[:-1]) & real[1:]
    distinct = real[0].astype(np.int64) + changes.sum(axis=0)
    found: list[int] = []
    for v in rare:  # at most MAX_BOUNDARY_LABELS
        here = values == v
        if here.any() and bool((distinct[here] >= 2).all()):
            found.append(int(v))
    return tuple(found)


def _count_colours(colour: npt.NDArray[Any]) -> int:
    flat = colour.reshape(-1, colour.shape[-1])
    if flat.dtype == np.uint8 and flat.shape[1] <= 4:
        packed = np.zeros(flat.shape[0], dtype=np.uint32)
        for c in range(flat.shape[1]):
            packed |= flat[:, c].astype(np.uint32) << np.uint32(8 * c)
        return int(np.unique(packed).size)
    return int(np.unique(flat, axis=0).shape[0])
