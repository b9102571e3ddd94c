"""Records → split and dataset statistics, with one associative merge.

Every field of :class:`SplitStats` names how it merges (a sum, counts, a sorted multiset,
per-group moments, per-dtype ranges).  :meth:`SplitStats.merge` combines two statistics;
:func:`split_stats` folds the statistics of single files with the same field merges,
incrementally (linear in the number of files). Nothing depends on the order of the files:
counts are integers, multisets are sorted, and the groups' channel moments are summed
exactly and rounded once (moments.py), so the result is the same bytes however the records
were produced and grouped (one process, a pool, a cache, a Dask worker's partial
statistics of its batch: :func:`partial_stats`).
Thresholds are not applied here: checks read these statistics and apply their own.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from array import array
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .crops import extreme_sizes, ignore_only_crops
from .moments import ExactMoments, highest, lowest
from .records import FileKind, FileRecord, LabelStats, Pair, channel_of, content_fingerprint
from .rules import LabelRules, TrainingRules, training_names
from .signatures import ImageSignature, SignatureBuilder, Signatures
from .stats import ChannelStats, Floats


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


def mask_kind(record: FileRecord) -> str:
    """How a mask stores its classes: palette indices, colours, or gray values."""
    if record.mode in ("P", "PA"):
        return "palette"
    return "colour" if record.channels_differ else "gray"


@dataclass(frozen=True, slots=True)
class GroupStats:
    """Merged channel moments of the images that share (family, dtype, channels)."""

    images: int
    channels: tuple[ChannelStats, ...]

    def merge(self, other: GroupStats) -> GroupStats:
        acc = GroupMoments(len(self.channels))
        acc.add(self)
        acc.add(other)
        return acc.freeze()


class GroupMoments:
    """A group's images with their channel moments summed exactly (moments.py): the
    same statistics whatever the order of the images or the grouping of partial sums."""

    __slots__ = ("channels", "images")

    def __init__(self, channels: int) -> None:
        self.images = 0
        self.channels = [ExactMoments() for _ in range(channels)]

    def add(self, part: GroupStats | GroupMoments) -> None:
        if len(part.channels) != len(self.channels):
            raise ValueError(
                f"cannot merge {len(part.channels)}-channel stats with "
                f"{len(self.channels)}-channel stats"
            )
        self.images += part.images
        if isinstance(part, GroupMoments):
            for mine, theirs in zip(self.channels, part.channels, strict=True):
                mine.combine(theirs)
        else:
            for mine, ch in zip(self.channels, part.channels, strict=True):
                mine.add(ch)

    def freeze(self) -> GroupStats:
        return GroupStats(self.images, tuple(c.freeze() for c in self.channels))


# --------------------------------------------------------------------------- merges
# Each merge kind is an accumulator: a start value, how to add a part, how to freeze the
# result. merge(a, b) is freeze(add(add(start(), a), b)), so folding files one at a time and
# merging partial statistics cannot disagree.


class _Merge:
    def start(self) -> Any:
        raise NotImplementedError

    def add(self, acc: Any, value: Any) -> Any:
        raise NotImplementedError

    def freeze(self, acc: Any) -> Any:
        return acc


class _Sum(_Merge):
    def start(self) -> int:
        return 0

    def add(self, acc: int, value: int) -> int:
        return acc + value


class _Counts(_Merge):
    """Sparse counts as sorted (key, count) pairs."""

    def start(self) -> dict[Any, int]:
        return {}

    def add(self, acc: dict[Any, int], value: Iterable[tuple[Any, int]]) -> dict[Any, int]:
        for k, n in value:
            acc[k] = acc.get(k, 0) + n
        return acc

    def freeze(self, acc: dict[Any, int]) -> tuple[tuple[Any, int], ...]:
        return tuple(sorted(acc.items()))


class _Multiset(_Merge):
    """A sorted multiset."""

    def start(self) -> list[Any]:
        return []

    def add(self, acc: list[Any], value: Iterable[Any]) -> list[Any]:
        acc.extend(value)
        return acc

    def freeze(self, acc: list[Any]) -> tuple[Any, ...]:
        return tuple(sorted(acc))


class _Floats(_Merge):
    """A sorted multiset of floats (stats.Floats, 8 bytes a value): the floats of single
    files, or parts."""

    def start(self) -> array[float]:
        return array("d")

    def add(self, acc: array[float], value: Floats | Iterable[float]) -> array[float]:
        if isinstance(value, Floats):
            acc.frombytes(value.array().tobytes())
        else:
            acc.extend(value)
        return acc

    def freeze(self, acc: array[float]) -> Floats:
        return Floats.of(np.frombuffer(acc, np.float64))


class _KeyedFloats(_Merge):
    """Per key (sorted), a sorted multiset of floats: (key, float) rows of single files,
    or parts' (key, Floats)."""

    def start(self) -> dict[str, array[float]]:
        return {}

    def add(
        self, acc: dict[str, array[float]], value: Iterable[tuple[str, float | Floats]]
    ) -> dict[str, array[float]]:
        for key, v in value:
            column = acc.get(key)
            if column is None:
                column = acc[key] = array("d")
            if isinstance(v, Floats):
                column.frombytes(v.array().tobytes())
            else:
                column.append(v)
        return acc

    def freeze(self, acc: dict[str, array[float]]) -> tuple[tuple[str, Floats], ...]:
        return tuple((k, Floats.of(np.frombuffer(acc[k], np.float64))) for k in sorted(acc))


class _Groups(_Merge):
    """Per key, the images' moments summed exactly (GroupMoments): single files'
    GroupStats, merged statistics, or a worker's partial sums."""

    def start(self) -> dict[Any, GroupMoments]:
        return {}

    def add(
        self, acc: dict[Any, GroupMoments], value: Iterable[tuple[Any, GroupStats | GroupMoments]]
    ) -> dict[Any, GroupMoments]:
        for k, g in value:
            moments = acc.get(k)
            if moments is None:
                moments = acc[k] = GroupMoments(len(g.channels))
            moments.add(g)
        return acc

    def freeze(self, acc: dict[Any, GroupMoments]) -> tuple[tuple[Any, GroupStats], ...]:
        return tuple((k, acc[k].freeze()) for k in sorted(acc))


class _Ranges(_Merge):
    """Per key, the (lowest, highest) value."""

    def start(self) -> dict[str, tuple[float, float]]:
        return {}

    def add(
        self, acc: dict[str, tuple[float, float]], value: Iterable[tuple[str, float, float]]
    ) -> dict[str, tuple[float, float]]:
        for k, lo, hi in value:
            old = acc.get(k)
            acc[k] = (lo, hi) if old is None else (lowest(old[0], lo), highest(old[1], hi))
        return acc

    def freeze(self, acc: dict[str, tuple[float, float]]) -> tuple[tuple[str, float, float], ...]:
        return tuple((k, lo, hi) for k, (lo, hi) in sorted(acc.items()))


class _Signatures(_Merge):
    """The duplicate checks' columns (signatures.py): rows of single files, or parts."""

    def start(self) -> SignatureBuilder:
        return SignatureBuilder()

    def add(
        self, acc: SignatureBuilder, value: Signatures | Iterable[ImageSignature]
    ) -> SignatureBuilder:
        if isinstance(value, Signatures):
            acc.merge(value)
        else:
            for sig in value:
                acc.add(sig)
        return acc

    def freeze(self, acc: SignatureBuilder) -> Signatures:
        return acc.freeze()


SUM, COUNTS, MULTISET, GROUPS, RANGES = _Sum(), _Counts(), _Multiset(), _Groups(), _Ranges()
FLOATS, KEYED_FLOATS = _Floats(), _KeyedFloats()
NO_FLOATS = Floats()
SIGNATURES = _Signatures()


def stat(merge: _Merge) -> Any:
    """A statistic: its empty value and how it merges."""
    return field(default=merge.freeze(merge.start()), metadata={"merge": merge})


@dataclass(frozen=True, slots=True)
class SplitStats:
    """Merged statistics of a split's files. Empty is the identity of :meth:`merge`."""

    image_files: int = stat(SUM)  # image files, readable or not
    images: int = stat(SUM)  # images decoded
    masks: int = stat(SUM)  # mask files
    unreadable: int = stat(SUM)
    pairs: int = stat(SUM)  # an image with its mask
    samples: int = stat(SUM)  # what a training loader yields: pairs (or images, unlabeled)
    groups: tuple[tuple[tuple[str, str, int], GroupStats], ...] = stat(GROUPS)
    families: tuple[tuple[str, int], ...] = stat(COUNTS)
    dtypes: tuple[tuple[str, int], ...] = stat(COUNTS)
    modes: tuple[tuple[str, int], ...] = stat(COUNTS)
    sizes: tuple[tuple[tuple[int, int], int], ...] = stat(COUNTS)  # (width, height)
    value_ranges: tuple[tuple[str, float, float], ...] = stat(RANGES)  # per dtype
    # per dtype, the largest channel std of each image that is not flat (NA104 compares)
    image_stds: tuple[tuple[str, Floats], ...] = stat(KEYED_FLOATS)
    signatures: Signatures = stat(SIGNATURES)  # noqa: RUF009 (frozen) NA305-NA307 compare it
    labels: tuple[tuple[int, int], ...] = stat(COUNTS)  # label → pixels
    mask_pixels: int = stat(SUM)
    # labeled splits only: the valid (not ignore) share of each mask, the masks each label
    # occurs in, and the valid pixels of those masks (median-frequency class weights)
    valid_fractions: Floats = stat(FLOATS)  # noqa: RUF009 (frozen)
    masks_per_label: tuple[tuple[int, int], ...] = stat(COUNTS)
    present_pixels: tuple[tuple[int, int], ...] = stat(COUNTS)
    ignore_masks: int = stat(SUM)  # masks holding the ignore index (NA403)
    reduced_pixels: int = stat(SUM)  # pixels reduce_zero_label made ignore (NA407)
    # training splits with training settings only: masks whose random crops were estimated
    # (NA402), the (path, estimate, low, high) of those that may crop ignore only, the
    # expected ignore share of a crop per mask, and per label the masks in which it falls
    # below one pixel at the largest training scale (NA406)
    crop_masks: int = stat(SUM)
    ignore_only_crops: tuple[tuple[str, float, float, float], ...] = stat(MULTISET)
    crop_ignore_shares: Floats = stat(FLOATS)  # noqa: RUF009 (frozen)
    vanishing: tuple[tuple[int, int], ...] = stat(COUNTS)
    # how the masks are stored (decode/profiles.py): per (palette index, colour) the masks
    # that use the index with that colour (NA214), the masks per storage kind (palette,
    # colour, gray; NA215) and per dtype as read (NA216)
    palettes: tuple[tuple[tuple[int, int], int], ...] = stat(COUNTS)
    mask_kinds: tuple[tuple[str, int], ...] = stat(COUNTS)
    mask_dtypes: tuple[tuple[str, int], ...] = stat(COUNTS)
    # labeled splits: the masks holding a label besides background and ignore, and per n
    # the masks whose labels besides those are exactly 1..n (instance numbering, NA217)
    foreground_masks: int = stat(SUM)
    numbered: tuple[tuple[int, int], ...] = stat(COUNTS)
    # CT-like image volumes (records.Foreground): per case with foreground voxels, its
    # (image group, channel, voxels, mean, variance) under the labels, and per (image group,
    # channel, bin) the cases' scaled counts (nnU-Net's CT clipping range, training.py)
    foreground_cases: tuple[tuple[tuple[str, str, int], int, int, float, float], ...] = stat(
        MULTISET
    )
    foreground_shares: tuple[tuple[tuple[tuple[str, str, int], int, int], int], ...] = stat(COUNTS)

    def merge(self, other: SplitStats) -> SplitStats:
        values = {}
        for f in dataclasses.fields(self):
            m: _Merge = f.metadata["merge"]
            acc = m.add(m.add(m.start(), getattr(self, f.name)), getattr(other, f.name))
            values[f.name] = m.freeze(acc)
        return SplitStats(**values)

    # derived facts --------------------------------------------------------------------

    def majority(self, counts: Sequence[tuple[str, int]]) -> str | None:
        if not counts:
            return None
        return sorted(counts, key=lambda kv: (-kv[1], kv[0]))[0][0]

    @property
    def family(self) -> str | None:
        return self.majority(self.families)

    @property
    def dtype(self) -> str | None:
        return self.majority(self.dtypes)

    @property
    def image_groups(self) -> list[tuple[str, str, GroupStats]]:
        """(family, dtype, stats) per group, largest first."""
        ordered = sorted(self.groups, key=lambda kv: (-kv[1].images, kv[0]))
        return [(f, d, g) for (f, d, _), g in ordered]

    def label_count(self, label: int | None) -> int:
        return dict(self.labels).get(label, 0) if label is not None else 0


def _fold(parts: Iterable[SplitStats | Mapping[str, Any]]) -> SplitStats:
    """SplitStats.merge over many parts (statistics, or the fields a part fills),
    incrementally."""
    folder = Folder()
    for part in parts:
        folder.add(part)
    return folder.freeze()


def partial_stats(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Parts (single files' fields) folded into one part that :func:`_fold` takes: a Dask
    worker's statistics of a batch (:meth:`Folder.partial`)."""
    folder = Folder()
    for part in parts:
        folder.add(part)
    return folder.partial()


class Folder:
    """A :class:`SplitStats` being folded: parts added one at a time (statistics, or the
    fields a part fills), frozen at the end."""

    __slots__ = ("acc",)

    def __init__(self) -> None:
        self.acc = {name: m.start() for name, m in _SPECS}

    def add(self, part: SplitStats | Mapping[str, Any]) -> None:
        acc = self.acc
        if isinstance(part, Mapping):
            for name, value in part.items():
                acc[name] = _MERGES[name].add(acc[name], value)
            return
        for name, m in _SPECS:
            value = getattr(part, name)
            if value != _EMPTY_FIELDS[name]:
                acc[name] = m.add(acc[name], value)

    def freeze(self) -> SplitStats:
        return SplitStats(**{name: m.freeze(self.acc[name]) for name, m in _SPECS})

    def partial(self) -> dict[str, Any]:
        """The fields filled so far as one part: every one frozen but the groups, which
        keep their exact sums (GroupMoments: a freeze would round them), so that folding
        partial statistics gives the bytes that folding the files one at a time gives."""
        out: dict[str, Any] = {}
        for name, m in _SPECS:
            if name == "groups":
                if self.acc[name]:
                    out[name] = tuple(sorted(self.acc[name].items(), key=lambda kv: kv[0]))
                continue
            value = m.freeze(self.acc[name])
            if value != _EMPTY_FIELDS[name]:
                out[name] = value
        return out


_SPECS: list[tuple[str, _Merge]] = [
    (f.name, f.metadata["merge"]) for f in dataclasses.fields(SplitStats)
]
_MERGES = dict(_SPECS)
_EMPTY_FIELDS = {name: getattr(SplitStats(), name) for name, _ in _SPECS}


def content_key(rec: FileRecord) -> str:
    """Equal for identical pixel content: the content hash with the fingerprint, or "" for
    an image whose content was not hashed (its fingerprint is unique in the scan)."""
    p = rec.pixels
    if p is None or not p.content_hash:
        return ""
    return f"{p.content_hash}|{content_fingerprint(rec)}"


def file_fields(
    rec: FileRecord, rules: LabelRules, labeled: bool, training: TrainingRules | None = None
) -> dict[str, Any]:
    """The statistics of one file, as the :class:`SplitStats` fields it fills (the rest
    are empty): what :func:`split_stats` folds, without a SplitStats per file."""
    bad = 0 if rec.ok else 1
    if rec.kind is FileKind.IMAGE:
        p = rec.pixels
        if p is None:
            return {"image_files": 1, "unreadable": bad}
        family, dtype = colour_family(rec), rec.dtype or "?"
        group = family
        channel = (
            channel_of(rec.path.rsplit("/", 1)[-1])
            if (rec.format or "").startswith("NIfTI")
            else None
        )
        if channel is not None:  # nnU-Net's one file per modality: constants per modality
            group = f"{family} channel {channel[1]}"
        finite = [c for c in p.channels if c.count]
        ranges = (
            ((dtype, min(c.min for c in finite), max(c.max for c in finite)),) if finite else ()
        )
        flat = all(c.min == c.max for c in p.channels)
        stds = [c.std for c in finite]
        key = (group, dtype, len(p.channels))
        return {
            **_foreground_fields(rec, key),
            "image_files": 1,
            "images": 1,
            "unreadable": bad,
            "groups": (((group, dtype, len(p.channels)), GroupStats(1, p.channels)),),
            "families": ((family, 1),),
            "dtypes": ((dtype, 1),),
            "modes": ((rec.mode or "?", 1),),
            "sizes": (((rec.width, rec.height), 1),),
            "value_ranges": ranges,
            "image_stds": ((dtype, max(stds)),) if stds and not flat else (),
            "signatures": (
                ImageSignature(rec.path, rec.split, content_key(rec), p.phash, flat, p.detail),
            ),
        }
    lab = rec.labels
    stored: dict[str, Any] = {}
    if rec.ok:
        stored = {
            "palettes": tuple((entry, 1) for entry in rec.palette),
            "mask_kinds": ((mask_kind(rec), 1),),
            "mask_dtypes": ((rec.dtype or "?", 1),),
        }
    if lab is None:
        return {"masks": 1, "unreadable": bad, **stored}
    fields: dict[str, Any] = {
        "masks": 1,
        "labels": lab.histogram,
        "mask_pixels": lab.pixels,
        **stored,
    }
    if not labeled:
        return fields
    ignore = rules.ignore_index
    ignored = lab.count(ignore)
    valid = lab.pixels - ignored
    present = [v for v, _ in lab.histogram if v != ignore]
    fields["valid_fractions"] = (valid / lab.pixels if lab.pixels else 0.0,)
    fields["masks_per_label"] = tuple((v, 1) for v in present)
    fields["present_pixels"] = tuple((v, valid) for v in present)
    fields["ignore_masks"] = 1 if ignored else 0
    foreground = [v for v in present if v != rules.background]
    if foreground:
        fields["foreground_masks"] = 1
        n = len(foreground)
        if n >= 2 and foreground[0] == 1 and foreground[-1] == n:
            fields["numbered"] = ((n, 1),)
    fields["reduced_pixels"] = lab.reduced
    if training is None or not training.described:
        return fields
    fields.update(_training_file_stats(rec, lab, ignore, training))
    return fields


def _foreground_fields(rec: FileRecord, key: tuple[str, str, int]) -> dict[str, Any]:
    """A CT-like volume's intensities under its labels, as the SplitStats fields they fill
    (a case without foreground voxels adds nothing, as it adds no sample in nnU-Net)."""
    fg = rec.foreground
    if fg is None or not fg.voxels:
        return {}
    cases = tuple(
        (key, c, ch.count, ch.mean, ch.m2 / ch.count)
        for c, ch in enumerate(fg.channels)
        if ch.count
    )
    shares = tuple(((key, c, b), n) for c, bins in enumerate(fg.shares) for b, n in bins)
    return {"foreground_cases": cases, "foreground_shares": shares}


def _training_file_stats(
    rec: FileRecord, lab: LabelStats, ignore: int | None, training: TrainingRules
) -> dict[str, Any]:
    """A mask's statistics at training scale: its ignore-only crops and vanishing labels."""
    out: dict[str, Any] = {}
    if training.crop_size is not None and lab.grid is not None and lab.pixels:
        estimate = ignore_only_crops(
            lab.grid, rec.height, rec.width, ignore, lab.count(ignore) / lab.pixels, training
        )
        out["crop_masks"] = 1
        out["crop_ignore_shares"] = (estimate.ignore_share,)
        if estimate.high > 0:
            out["ignore_only_crops"] = ((rec.path, estimate.estimate, estimate.low, estimate.high),)
    if training.resizes and rec.height and rec.width:
        _, (h, w) = extreme_sizes(rec.height, rec.width, training)
        factor = h * w / (rec.height * rec.width)  # area at the largest scale
        edges = dict(lab.perimeters)
        linear = math.sqrt(factor)
        out["vanishing"] = tuple(
            (v, 1)
            for v, n in lab.histogram
            if v != ignore and (n * factor < 1 or thinner_than_a_pixel(n, edges.get(v), linear))
        )
    return out


def thinner_than_a_pixel(pixels: int, edges: int | None, linear: float) -> bool:
    """Whether a label's regions, of mean thickness 4 × pixels / edges (a square of side s:
    4s² / 4s = s; a line of width 1 counts about 2), are under half a pixel thick once
    scaled by ``linear``: specks a nearest resize keeps with a chance of their scaled area,
    a quarter at most."""
    return bool(edges) and 4 * pixels / (edges or 1) * linear < 0.5


@runtime_checkable
class StoredSplit(Protocol):
    """A split's pairs kept out of memory (store.StoredPairs): its files are read back in
    path order rather than gathered."""

    def sorted_files(self) -> Iterator[FileRecord]: ...

    def pair_counts(self, labeled: bool) -> tuple[int, int]: ...


def split_stats(
    pairs: Sequence[Pair],
    rules: LabelRules,
    labeled: bool,
    training: TrainingRules | None = None,
) -> SplitStats:
    """The statistics of a split: every file once (in path order), and its pairs. A
    training split gets ``training``, the settings its crops and resizes follow."""
    if isinstance(pairs, StoredSplit):
        paired, samples = pairs.pair_counts(labeled)
        return fold_files(pairs.sorted_files(), paired, samples, rules, labeled, training)
    files: dict[tuple[str, FileKind], FileRecord] = {}
    for p in pairs:
        for rec in (p.image, p.mask):
            if rec is not None:
                files.setdefault((rec.path, rec.kind), rec)
    paired = sum(1 for p in pairs if p.image is not None and p.mask is not None)
    samples = sum(1 for p in pairs if p.image is not None and (p.mask is not None or not labeled))
    return fold_files((files[k] for k in sorted(files)), paired, samples, rules, labeled, training)


def fold_files(
    files: Iterable[FileRecord],
    pairs: int,
    samples: int,
    rules: LabelRules,
    labeled: bool,
    training: TrainingRules | None = None,
) -> SplitStats:
    """The statistics of a split's distinct ``files`` (in (path, kind) order: the sums of
    moments are associated in that order) with its counts of pairs and samples, folded as
    the files come."""
    parts: Iterator[Mapping[str, Any]] = (
        file_fields(rec, rules, labeled, training) for rec in files
    )
    return _fold(itertools.chain(parts, ({"pairs": pairs, "samples": samples},)))


# --------------------------------------------------------------------------- the dataset


@dataclass(frozen=True, slots=True)
class FullScale:
    """The range a pixel type is measured against (see "full scale" in CHECKS.md)."""

    lo: float
    span: float  # full scale, what NA104's std ratio is taken of
    basis: str
    extent: float = 0.0  # the value range [lo, lo + extent] the luminance checks measure in
    note: str = ""  # what the report should say about the choice (fewer bits than the type)

    def at(self, fraction: float) -> float:
        """The value at ``fraction`` of the range (NA112/NA113): for data in [-1, 1] that
        is -1 + fraction × 2, whatever the full scale says."""
        return self.lo + fraction * (self.extent or self.span)


ASSUMED_SCALE = FullScale(0.0, 255.0, "assumed 255")


SENSOR_BITS = (10, 12, 14)  # the depths of cameras whose data 16-bit files hold


def _uint16_scale(high: float) -> FullScale:
    """uint16 data's full scale from the bits it uses: 12-bit data (max ≤ 4095) stored in
    16-bit files is measured against 4095, as its loader should divide by. Data that never
    exceeds 255 is 8-bit values saved as 16 bits (a loader dividing by 65535 sees it dark):
    it keeps 65535."""
    bits = next((b for b in SENSOR_BITS if 255 < high <= (1 << b) - 1), 16)
    if bits == 16:
        return FullScale(0.0, 65535.0, "uint16 full scale 65535")
    top = float((1 << bits) - 1)
    return FullScale(
        0.0,
        top,
        f"{bits}-bit data in uint16 (max {high:,.0f}): full scale {top:,.0f}",
        note=(
            f"uint16 images use {bits} of their 16 bits (max {high:,.0f}): full scale is "
            f"{top:,.0f} for NA104, NA112, NA113 and the Normalize constants"
        ),
    )


def full_scales(ranges: Iterable[tuple[str, float, float]]) -> dict[str, FullScale]:
    """Full scale per dtype: 255 for uint8; for uint16 the bits the data uses (65535, or
    4095 for 12-bit data…); else the dataset's observed range."""
    scales: dict[str, FullScale] = {
        "uint8": FullScale(0.0, 255.0, "uint8 full scale 255"),
        "bool": FullScale(0.0, 255.0, "1-bit read as 0/255"),
        "uint16": FullScale(0.0, 65535.0, "uint16 full scale 65535"),
    }
    for dtype, a, b in ranges:
        if dtype == "uint16":
            scales[dtype] = _uint16_scale(b)
            continue
        if dtype in scales:
            continue
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
class SplitView:
    """A split as the checks see it: its name and role, and its statistics."""

    name: str
    role: str  # train / val / test / all / other
    labeled: bool
    stats: SplitStats
    # folders below the split's roots that could not be listed: (display path, reason)
    unreadable_folders: tuple[tuple[str, str], ...] = ()
    # hidden files with an image suffix in the split's folders (AppleDouble ._x.png): not
    # audited, but listed by loaders that list folders (NA012)
    hidden_images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DatasetStats:
    splits: tuple[SplitView, ...]
    scales: Mapping[str, FullScale] = field(default_factory=dict)
    # per dtype, the sorted largest-channel stds of the images that are not flat
    stds: Mapping[str, Floats] = field(default_factory=dict)
    # the detail thumbnails of named images, read from their records (NA307's candidates;
    # the statistics do not keep them): None when no record is at hand
    details: DetailLookup | None = field(default=None, compare=False)

    def typical_std(self, dtype: str | None, own: float, at_least: int = 4) -> float | None:
        """The median std of the other images of ``dtype`` (this image's own std ``own``
        left out once), or None with fewer than ``at_least`` others."""
        values = self.stds.get(dtype or "", NO_FLOATS)
        n = len(values) - 1 if own in values else len(values)
        if n < at_least:
            return None
        skip = values.bisect_left(own) if n < len(values) else len(values)

        def other(k: int) -> float:  # the k-th of the others
            return values[k if k < skip else k + 1]

        mid = n // 2
        return other(mid) if n % 2 else (other(mid - 1) + other(mid)) / 2

    @property
    def training(self) -> list[SplitView]:
        """The training splits; a layout without splits trains on its one split."""
        names = training_names([(s.name, s.role) for s in self.splits])
        return [s for s in self.splits if s.name in names]

    def scale(self, dtype: str | None) -> FullScale:
        return self.scales.get(dtype or "", ASSUMED_SCALE)


# (split index, path) of images → their records' detail thumbnails ("" when none)
DetailLookup = Callable[[Collection[tuple[int, str]]], dict[tuple[int, str], str]]


def details_from(splits: Sequence[Iterable[Pair]]) -> DetailLookup:
    """A :data:`DetailLookup` over the pairs of each split (a list, or the record store's
    stream): one pass over the splits that hold a wanted image, keeping only those."""

    def lookup(wanted: Collection[tuple[int, str]]) -> dict[tuple[int, str], str]:
        by_split: dict[int, set[str]] = {}
        for k, path in wanted:
            by_split.setdefault(k, set()).add(path)
        found = dict.fromkeys(wanted, "")
        for k, paths in sorted(by_split.items()):
            for pair in splits[k] if 0 <= k < len(splits) else ():
                rec = pair.image
                if rec is not None and rec.pixels is not None and rec.path in paths:
                    found[(k, rec.path)] = rec.pixels.detail
        return found

    return lookup


def dataset_stats(splits: Iterable[SplitView], details: DetailLookup | None = None) -> DatasetStats:
    views = tuple(splits)
    # the fields the dataset's statistics need, not every image's signature once more
    merged = _fold(
        {"value_ranges": s.stats.value_ranges, "image_stds": s.stats.image_stds} for s in views
    )
    return DatasetStats(views, full_scales(merged.value_ranges), dict(merged.image_stds), details)


def merged_histogram(splits: Iterable[SplitView]) -> tuple[tuple[int, int], ...]:
    return _fold(SplitStats(labels=s.stats.labels) for s in splits).labels


def finite_range(stats: SplitStats) -> tuple[float, float]:
    lo = min((r[1] for r in stats.value_ranges), default=math.nan)
    hi = max((r[2] for r in stats.value_ranges), default=math.nan)
    return lo, hi
