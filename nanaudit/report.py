"""The result of a scan: frozen data, no policy, and no import of the stages that make it.

Formatters see only this module (and the records it holds), so a report can be rendered
from a scan, from merged shards or from a saved document alike.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .findings import NO_DATA, FindingData
from .records import FileRecord
from .rules import LabelRules
from .severity import Severity
from .stats import ChannelStats, blurred_binary_share


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    name: str
    severity: Severity
    path: str
    split: str | None
    message: str
    data: FindingData = NO_DATA
    image: str | None = None
    mask: str | None = None
    sample: int | None = None  # a drawn sample's index in the draw (nanaudit samples)
    batch: int | None = None  # and its batch

    def sort_key(self) -> tuple[str, str]:
        # ties keep the checks' own (deterministic) order: class 5 before class 10
        return (self.path, self.check)

    @property
    def json_data(self) -> dict[str, Any]:
        """The data as reports write it: the check's, and the drawn sample's place."""
        out = self.data.to_json()
        if self.sample is not None:
            out["sample"] = self.sample
        if self.batch is not None:
            out["batch"] = self.batch
        return out

    @property
    def fingerprint(self) -> str:
        """A hash of the check, path, split and numbers: the same finding on the same data
        has the same fingerprint (baselines, SARIF partial fingerprints)."""
        content = json.dumps(
            {"check": self.check, "path": self.path, "split": self.split, "data": self.json_data},
            sort_keys=True,
            ensure_ascii=True,
            default=str,
        )
        return hashlib.sha256(content.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CheckDoc:
    """A check as reports describe it (SARIF rules, the terminal's reasons)."""

    id: str
    name: str
    severity: Severity  # the default
    summary: str
    why: str
    fix: str
    scope: str = ""  # file, image, mask, pair, split or dataset


# A check that fires for this share of a split's files (and at least MIN_FOLDED of them) says
# something about the split, not about each file: human formats show it once.
NEARLY_EVERY = 0.9
MIN_FOLDED = 5
FOLDED_EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class FoldedFindings:
    """The findings of one check, at one severity, on nearly every file of a split."""

    check: str
    name: str
    severity: Severity
    split: str
    files: int  # files the check fired on
    of: int  # the split's files of that kind
    kind: str  # images, masks or files
    findings: tuple[Finding, ...]

    @property
    def examples(self) -> tuple[Finding, ...]:
        return self.findings[:FOLDED_EXAMPLES]

    @property
    def headline(self) -> str:
        """``70 of 70 masks of split 'train'``."""
        return f"{self.files:,} of {self.of:,} {self.kind} of split {self.split!r}"


@dataclass(frozen=True, slots=True)
class ImageGroup:
    """Merged pixel statistics of the images of one split that share mode family, dtype and
    channel count."""

    family: str
    dtype: str
    images: int
    channels: tuple[ChannelStats, ...]


@dataclass(frozen=True, slots=True)
class CTClip:
    """nnU-Net's CT normalisation (CTNormalization) for these volumes: clip to the 0.5th and
    99.5th percentiles of the foreground intensities (image voxels where the label is > 0)
    of the split's cases, then subtract their mean and divide by their std; each case
    weighs the same, as nnU-Net samples as many voxels of each. Per channel."""

    cases: int  # cases with foreground voxels
    voxels: int  # their foreground voxels, all counted (nnU-Net samples them)
    lo: tuple[float, ...]  # 0.5th percentile, to ``resolution``
    hi: tuple[float, ...]  # 99.5th percentile
    mean: tuple[float, ...]
    std: tuple[float, ...]
    resolution: float  # the histogram's bin: exact for integer values, else within a bin


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
    # CT-like volumes: the clipping range and constants nnU-Net would use instead
    nnunet_ct: CTClip | None = None

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
class Spread:
    """A distribution over the files of a split, in a few numbers."""

    min: float
    median: float
    p95: float
    max: float
    mean: float


@dataclass(frozen=True, slots=True)
class TrainingScale:
    """A training split as the training settings will meet it (sizes are height x width)."""

    settings: str  # the settings in words
    smallest: tuple[int, int]  # the smallest image at the smallest scale (by area)
    largest: tuple[int, int]  # the largest image at the largest scale
    crops_per_image: Spread | None  # image area at training scale / crop area
    ignore_per_crop: Spread | None  # expected share of ignore pixels in a crop, per mask
    ignore_only_crops: float | None  # crops per epoch expected to hold no valid pixel
    all_ignore_batch: float | None  # probability that a batch holds nothing else


@dataclass(frozen=True, slots=True)
class TrainingSummary:
    """What a training script wants of a split: sizes, Normalize constants, class weights."""

    sizes: tuple[tuple[str, int], ...]  # ("HxW", images): height x width, as --crop-size
    modes: tuple[tuple[str, int], ...]
    dtypes: tuple[tuple[str, int], ...]
    normalize: Normalize | None
    image_min: float
    image_max: float
    classes: tuple[int, ...]  # the classes the weights and counts are about
    images_per_class: tuple[tuple[int, int], ...]
    valid_fraction: ValidFraction | None
    class_weights: tuple[tuple[int, float], ...]  # training splits only
    zero_weight_classes: tuple[int, ...]
    class_weights_method: str = ""
    at_training_scale: TrainingScale | None = None  # training splits, with training settings


@dataclass(frozen=True, slots=True)
class SplitReport:
    name: str
    role: str
    labeled: bool
    image_root: str
    mask_root: str | None
    images: int
    masks: int
    pairs: int
    skipped: int
    unreadable: int
    image_groups: tuple[ImageGroup, ...]
    nan: int
    inf: int
    label_histogram: tuple[tuple[int, int], ...]
    mask_pixels: int
    ignore_pixels: int
    implied_classes: int | None
    training: TrainingSummary


@dataclass(frozen=True, slots=True, order=True)
class BaselineEntry:
    check: str
    path: str
    fingerprint: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class BaselineResult:
    file: str
    hidden: int
    stale: tuple[BaselineEntry, ...]


def worst_first(findings: Sequence[Finding]) -> list[Finding]:
    """A check's findings, the worst first: severity, then the check's own measure (its
    data's badness), then path."""
    return sorted(findings, key=lambda f: (-f.severity, -f.data.badness(), f.path))


def check_groups(findings: Iterable[Finding]) -> list[tuple[str, list[Finding]]]:
    """Findings by check, the most severe check first (the HTML report's cards)."""
    groups: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        groups[f.check].append(f)
    order = sorted(groups, key=lambda c: (-max(f.severity for f in groups[c]), c))
    return [(c, worst_first(groups[c])) for c in order]


@dataclass(frozen=True, slots=True)
class Picture:
    """An encoded thumbnail (JPEG or PNG), ready to be a data URI."""

    media_type: str
    data: bytes
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Panel:
    """One sample as the HTML report shows it: image | mask | overlay (the mask in the class
    palette over the image, offending pixels highlighted)."""

    image_path: str | None
    mask_path: str | None
    image: Picture | None
    mask: Picture | None
    overlay: Picture | None
    notes: tuple[str, ...] = ()  # how it is shown (a stretch, an EXIF rotation, highlights)
    missing: tuple[str, ...] = ()  # "image" or "mask": the sample has no such file


@dataclass(frozen=True, slots=True)
class LegendEntry:
    label: int | None  # None: not a label (values that are not integers, other labels)
    name: str
    colour: str  # #rrggbb


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts in equal bins over [lo, hi)."""

    lo: float
    hi: float
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SplitPictures:
    split: str
    channel_basis: str  # which images the channel histograms count
    channel_histograms: tuple[Histogram, ...]
    valid_fractions: Histogram | None  # masks by valid-pixel fraction, over [0, 1]
    examples: tuple[Panel, ...]  # samples without findings: what normal looks like


@dataclass(frozen=True, slots=True)
class ShownFinding:
    finding: Finding
    panels: tuple[Panel, ...]


@dataclass(frozen=True, slots=True)
class ShownGroup:
    """A check's worst findings, with their pictures."""

    check: str
    shown: tuple[ShownFinding, ...]


@dataclass(frozen=True, slots=True)
class Gallery:
    """The pictures of an HTML report, made from thumbnails taken at decode time."""

    per_check: int  # findings of a check shown with pictures
    thumbnail_max: int
    highlight: str  # the colour of offending pixels, #rrggbb
    legend: tuple[LegendEntry, ...]
    groups: tuple[ShownGroup, ...]
    splits: tuple[SplitPictures, ...]
    left_out: tuple[str, ...] = ()  # what the page's caps left without pictures, in words

    def group(self, check_id: str) -> ShownGroup | None:
        for g in self.groups:
            if g.check == check_id:
                return g
        return None

    def split(self, name: str) -> SplitPictures | None:
        for s in self.splits:
            if s.split == name:
                return s
        return None


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a formatter renders. The same for the command line and the API."""

    root: str
    version: str
    layout: str
    layout_reason: str
    preset: str
    notes: tuple[str, ...]
    labels: LabelRules  # the label convention the masks were audited against
    fail_on: Severity | None  # None: never fail
    config: Mapping[str, Any]  # the effective configuration, as the JSON report states it
    config_file: str | None
    checks: tuple[CheckDoc, ...]  # every check nanaudit knows, in ID order
    splits: tuple[SplitReport, ...]
    findings: tuple[Finding, ...]
    # every file, in path order: a tuple, or (a scan too large for memory) read back from
    # its record store each time it is iterated
    files: Iterable[FileRecord]
    skipped: tuple[tuple[str, str], ...]
    # folders holding images that no split audits: (folder relative to the root, images)
    unaudited: tuple[tuple[str, int], ...] = ()
    warnings: tuple[str, ...] = ()  # usage warnings: settings that contradict each other
    suppressed: int = 0  # findings dropped by per-file-ignores
    baselined: tuple[Finding, ...] = ()  # findings hidden by --baseline
    baseline: BaselineResult | None = None
    gallery: Gallery | None = None  # pictures, when thumbnails were made (HTML reports)
    # the findings were recorded as the accepted state (--write-baseline): the scan exits 0
    baseline_written: bool = False

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    def check(self, check_id: str) -> CheckDoc:
        for doc in self.checks:
            if doc.id == check_id:
                return doc
        raise KeyError(check_id)

    @property
    def exit_code(self) -> int:
        if self.fail_on is None or self.baseline_written:
            return 0
        return 1 if any(f.severity >= self.fail_on for f in self.findings) else 0

    @property
    def implied_classes(self) -> int | None:
        values = [s.implied_classes for s in self.splits if s.implied_classes is not None]
        return max(values) if values else None

    @property
    def label_values(self) -> tuple[int, ...]:
        return tuple(sorted({v for s in self.splits for v, _ in s.label_histogram}))

    def folded(self) -> tuple[tuple[FoldedFindings, ...], tuple[Finding, ...]]:
        """The findings as people read them: a check firing on nearly every file of a split
        (NEARLY_EVERY of them, MIN_FOLDED at least) folded into one entry per split, and
        the other findings one by one. Machine formats keep every finding."""
        scopes = {doc.id: doc.scope for doc in self.checks}
        splits = {s.name: s for s in self.splits}
        groups: dict[tuple[str, Severity, str], list[Finding]] = {}
        for f in self.findings:
            scope = scopes.get(f.check, "")
            if f.split in splits and scope in ("file", "image", "mask", "pair", "sample"):
                groups.setdefault((f.check, f.severity, f.split), []).append(f)
        folded: list[FoldedFindings] = []
        taken: set[int] = set()
        for (check, severity, name), items in groups.items():
            sp, scope = splits[name], scopes[check]
            if scope in ("file", "pair") and all(f.mask is None for f in items):
                scope = "image"  # a pair finding on images alone: NA003 (no mask)
            elif scope in ("file", "pair") and all(f.image is None for f in items):
                scope = "mask"  # on masks alone: NA004 (no image)
            kind, of = {
                "image": ("images", sp.images),
                "mask": ("masks", sp.masks),
                "sample": ("samples", sp.pairs),  # drawn from a pipeline (NA5xx)
            }.get(scope, ("files", sp.images + sp.masks))
            files = len({f.path for f in items})
            if files >= MIN_FOLDED and files >= NEARLY_EVERY * of:
                folded.append(
                    FoldedFindings(
                        check, items[0].name, severity, name, files, of, kind, tuple(items)
                    )
                )
                taken.update(id(f) for f in items)
        rest = tuple(f for f in self.findings if id(f) not in taken)
        order = {s: i for i, s in enumerate(splits)}
        folded.sort(key=lambda g: (-g.severity, g.check, order[g.split]))
        return tuple(folded), rest

    def _blurred_binary_share(self) -> float | None:
        counts: dict[int, int] = {}
        for sp in self.splits:
            for v, n in sp.label_histogram:
                counts[v] = counts.get(v, 0) + n
        return blurred_binary_share(counts)

    def classes_in_words(self) -> str:
        """The class count as the reader needs it: the one given, or, without it, the labels
        found and the C they probably mean."""
        info = self.labels
        if info.num_classes is not None:
            return f"C = {info.num_classes}"
        values = self.label_values
        if not values:
            return "not given, and no labels found"
        ignore = info.ignore_index
        valid = [v for v in values if v != ignore]
        ign = f" and {ignore} (the ignore index)" if ignore in values else ""
        if set(values) == {0, 255} and ignore == 255 and not info.transform:
            return (
                "not given. The masks hold 0 and 255 only: binary masks stored as 0/255, "
                "where 255 is the ignore index. If the loader divides them by 255 (or "
                "thresholds them), you probably mean 2 classes: --label-map 255:1 -C 2 "
                "--ignore-index none"
            )
        if not valid:
            return f"not given; the masks hold only the ignore index {ignore}"
        blurred = self._blurred_binary_share()
        if blurred is not None and ignore in (255, None) and not info.transform:
            return (
                f"not given. The masks hold 0 and 255 ({blurred:.1%} of the pixels) and "
                f"{len(values) - 2} values in between: binary 0/255 masks with blurred edges "
                "(lossy compression, NA206, or a smooth resize, NA209). A loader that "
                "thresholds them sees 2 classes (-C 2 --label-map 255:1 --ignore-index "
                "none); the values in between stay out of range until the masks are "
                "thresholded and saved losslessly"
            )
        lo, hi = valid[0], valid[-1]
        if lo == 0 and len(valid) == hi + 1:  # sorted, distinct: no list up to hi
            found = f"labels {lo} to {hi}" if hi > lo else f"label {lo} only"
            return (
                f"not given; the masks hold {found}{ign}: you probably mean "
                f"{hi + 1} classes (-C {hi + 1})"
            )
        shown = ", ".join(str(v) for v in valid[:12]) + (" …" if len(valid) > 12 else "")
        if lo < 0:
            return f"not given; the masks hold {len(valid)} values ({shown}){ign}, some negative"
        return (
            f"not given; the masks hold {len(valid)} values ({shown}){ign}: with the "
            f"largest, {hi}, C is at least {hi + 1} (-C {hi + 1}), unless the values need "
            "a --label-map or --label-offset"
        )
