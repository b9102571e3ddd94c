"""NA3xx: dataset and splits, from the merged records (no second pass over the pixels)."""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..aggregate import DatasetStats, merged_histogram
from ..findings import FindingData, Marks, json_key, optional
from ..kinds import Float, Int
from ..neardup import group_near_duplicates, same_picture
from ..records import FileRecord
from ..severity import Severity
from ..signatures import MASK64, ImageSignature, exact_groups, near_groups
from .context import CheckContext
from .readers import ids_beyond_storage
from .registry import Hit, NoOptions, check, threshold
from .scopes import DATASET

ROOT = "."  # dataset findings without a file point at the scanned root
MAX_NAMED = 10  # files named in a message; data.files lists them all
Ctx = CheckContext[NoOptions]


def _class_counts(ctx: CheckContext[Any], hist: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Pixels per class: labels in [0, C) when C is known, else every non-ignore label.
    Ids the layout declares unused (COCO-Stuff) are no class: NA201 reports them."""
    c, ignore = ctx.labels.num_classes, ctx.labels.ignore_index
    unused = set(ctx.labels.unused_ids)
    out = {
        v: n for v, n in hist if v != ignore and v >= 0 and (c is None or v < c) and v not in unused
    }
    if c is not None:
        for k in range(c):
            if k not in unused and k != ignore:  # an ignore index inside [0, C): a warning
                out.setdefault(k, 0)
    return out


def _names(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:MAX_NAMED])
    return shown + (f" and {len(paths) - MAX_NAMED} more" if len(paths) > MAX_NAMED else "")


@dataclass(frozen=True, slots=True)
class ClassAbsentData(FindingData):
    class_: int = field(metadata=json_key("class"))
    labeled_pixels: int
    more: int | None = optional()  # the last finding: how many more classes it stands for


ABSENT_NAMED = 64  # classes named one finding each; the rest fold into one more finding


@check("NA301", "class-absent", Severity.WARNING, DATASET, samples=True)
def class_absent(ctx: Ctx, ds: DatasetStats) -> Iterator[Hit]:
    """A class in [0, C) has no pixel in the training split (needs C). The first 64 such
    classes get a finding each; the rest are counted in one more finding (its ``more``).

    Why: inverse-frequency class weights become 1/0 = inf, and the loss turns NaN the first
    time the class appears; the model also never learns the class.

    Fix: add training samples of the class, merge it into another, or reduce C. nanaudit's
    suggested class weights give such a class weight 0 instead of inf.
    """
    if ctx.labels.num_classes is None:
        return
    train = [s for s in ds.training if s.labeled]
    if not train:
        return
    counts = _class_counts(ctx, merged_histogram(train))
    labeled_px = sum(counts.values())
    others = {s.name: dict(s.stats.labels) for s in ds.splits if s not in train and s.labeled}
    names = "+".join(s.name for s in train)
    stored_8_bit = ids_beyond_storage(ctx.labels.num_classes, ds)
    # ids no 8-bit mask can hold are left to NA216, which says so once
    absent = [k for k in sorted(counts) if counts[k] == 0 and not (stored_8_bit and k > 255)]
    for k in absent[:ABSENT_NAMED]:
        elsewhere = ", ".join(f"{n}: {h[k]:,} px" for n, h in others.items() if h.get(k))
        yield Hit(
            f"class {ctx.label_name(k)} has no pixel in training split {names!r} "
            f"({labeled_px:,} labeled pixels)" + (f"; present in {elsewhere}" if elsewhere else ""),
            ClassAbsentData(k, labeled_px),
            path=ROOT,
            split=names,
        )
    rest = absent[ABSENT_NAMED:]
    if rest:  # a C from a stranger's config must not size the report: one finding more
        yield Hit(
            f"{len(rest):,} more classes have no pixel in training split {names!r} "
            f"(classes {ctx.label_name(rest[0])} to {ctx.label_name(rest[-1])}; "
            f"{labeled_px:,} labeled pixels)",
            ClassAbsentData(rest[0], labeled_px, len(rest)),
            path=ROOT,
            split=names,
        )


@dataclass(frozen=True, slots=True)
class RareClassOptions:
    min_fraction: float = threshold(
        0.00001, Float(0.0, 1.0), "share of a split's labeled pixels below which a class is rare"
    )


@dataclass(frozen=True, slots=True)
class RareClassData(FindingData):
    class_: int = field(metadata=json_key("class"))
    pixels: int
    labeled_pixels: int


@check("NA302", "rare-class", Severity.INFO, DATASET, RareClassOptions, samples=True)
def rare_class(ctx: CheckContext[RareClassOptions], ds: DatasetStats) -> Iterator[Hit]:
    """A class holds fewer than 0.001% of the labeled pixels of a split (min_fraction).

    Why: inverse-frequency weights explode for it, and its per-class metrics are noise.

    Fix: collect more samples of the class, or merge it; cap the class weights.
    """
    for s in ds.splits:
        if not s.labeled or ctx.labels.blurred_without_classes(s.stats.labels):
            continue  # no C, and the values besides 0/255 are blurred edges, not classes
        counts = _class_counts(ctx, s.stats.labels)
        total = sum(counts.values())
        for k in sorted(counts):
            n = counts[k]
            if total and 0 < n < ctx.options.min_fraction * total:
                yield Hit(
                    f"class {ctx.label_name(k)} holds {n:,} of {total:,} labeled pixels "
                    f"({n / total:.5%}) in split {s.name!r}",
                    RareClassData(k, n, total),
                    path=ROOT,
                    split=s.name,
                )


@dataclass(frozen=True, slots=True)
class ImbalanceOptions:
    max_ratio: float = threshold(
        1000.0, Float(1.0, 1e18), "largest / smallest non-zero class pixel count above this"
    )


@dataclass(frozen=True, slots=True)
class ImbalanceData(FindingData):
    largest: int
    smallest: int
    ratio: float


@check("NA303", "class-imbalance", Severity.INFO, DATASET, ImbalanceOptions, samples=True)
def class_imbalance(ctx: CheckContext[ImbalanceOptions], ds: DatasetStats) -> Iterator[Hit]:
    """In a split, the largest class pixel count is more than 1000 times the smallest
    non-zero one (max_ratio).

    Why: the loss is dominated by the large class; the small ones are barely learned.

    Fix: class weights (see the summary's median-frequency weights), a focal or Dice loss,
    or sampling that over-represents the rare classes.
    """
    for s in ds.splits:
        if not s.labeled or ctx.labels.blurred_without_classes(s.stats.labels):
            continue  # no C, and the values besides 0/255 are blurred edges, not classes
        counts = {k: n for k, n in _class_counts(ctx, s.stats.labels).items() if n > 0}
        if len(counts) < 2:
            continue
        big = max(counts, key=lambda k: (counts[k], -k))
        small = min(counts, key=lambda k: (counts[k], k))
        ratio = counts[big] / counts[small]
        if ratio > ctx.options.max_ratio:
            yield Hit(
                f"split {s.name!r}: class {ctx.label_name(big)} has {counts[big]:,} px, class "
                f"{ctx.label_name(small)} {counts[small]:,} px (ratio {ratio:,.0f})",
                ImbalanceData(big, small, ratio),
                path=ROOT,
                split=s.name,
            )


@dataclass(frozen=True, slots=True)
class DriftData(FindingData):
    class_: int = field(metadata=json_key("class"))
    pixels: int


@dataclass(frozen=True, slots=True)
class MissingInValData(FindingData):
    class_: int = field(metadata=json_key("class"))
    train_pixels: int


@check("NA304", "label-drift", Severity.WARNING, DATASET)
def label_drift(ctx: Ctx, ds: DatasetStats) -> Iterator[Hit]:
    """A class present in a validation or test split has no pixel in the training split
    (warning); a class of the training split is absent from validation (info).

    Why: the model is evaluated on a class it never saw; a class missing from validation
    gets a NaN per-class IoU, and mIoU averages over NaN or silently skips it.

    Fix: re-split the data so that every class occurs in every split (stratify by class).
    """
    train = [s for s in ds.training if s.labeled]
    if not train:
        return
    train_counts = _class_counts(ctx, merged_histogram(train))
    train_names = "+".join(s.name for s in train)
    for s in ds.splits:
        if s in train or not s.labeled:
            continue
        counts = _class_counts(ctx, s.stats.labels)
        for k in sorted(counts):
            if counts[k] and not train_counts.get(k):
                yield Hit(
                    f"class {ctx.label_name(k)} has {counts[k]:,} px in {s.name!r} but none in "
                    f"training split {train_names!r}",
                    DriftData(k, counts[k]),
                    path=ROOT,
                    split=s.name,
                )
        if s.role == "val":
            for k in sorted(train_counts):
                if train_counts[k] and not counts.get(k):
                    yield Hit(
                        f"class {ctx.label_name(k)} occurs in training ({train_counts[k]:,} px) "
                        f"but not in {s.name!r}: its IoU there is NaN",
                        MissingInValData(k, train_counts[k]),
                        severity=Severity.INFO,
                        path=ROOT,
                        split=s.name,
                    )


def _exact_groups(ds: DatasetStats) -> list[list[ImageSignature]]:
    return exact_groups([s.stats.signatures for s in ds.splits])


@dataclass(frozen=True, slots=True)
class DuplicatesData(FindingData):
    """A group of identical images: the gallery shows its first files, images alone."""

    files: tuple[str, ...]

    def badness(self) -> float:
        return len(self.files)

    def group(self) -> tuple[str, ...]:
        return self.files


@dataclass(frozen=True, slots=True)
class GroupAcrossData(DuplicatesData):
    splits: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NearDuplicatesData(GroupAcrossData):
    def marks(self) -> Marks:
        return Marks("where it differs from the group's first image", differs_from_first=True)


@check("NA305", "duplicate-images", Severity.WARNING, DATASET)
def duplicate_images(ctx: Ctx, ds: DatasetStats) -> Iterator[Hit]:
    """Two or more images of one split have identical pixel content (compared by a hash of
    the decoded pixels, so a lossless re-encode or a renamed copy matches). The hash is
    taken, on a second read, only of images whose exact fingerprints (size, dtype, every
    channel's moments) collide: identical pixels always share them.

    Why: duplicates over-weight their samples and inflate the apparent dataset size.

    Fix: keep one copy of each group.
    """
    for group in _exact_groups(ds):
        by_split: dict[str, list[str]] = defaultdict(list)
        for r in group:
            by_split[r.split].append(r.path)
        for split, paths in sorted(by_split.items()):
            if len(paths) > 1:
                yield Hit(
                    f"{len(paths)} identical images: {_names(paths)}",
                    DuplicatesData(tuple(paths)),
                    path=paths[0],
                    split=split,
                )


@check("NA306", "split-leakage", Severity.ERROR, DATASET)
def split_leakage(ctx: Ctx, ds: DatasetStats) -> Iterator[Hit]:
    """Identical pixel content occurs in two different splits.

    Why: the validation (or test) score is inflated by samples the model trained on.

    Fix: remove the copies from all but one split.
    """
    for group in _exact_groups(ds):
        splits = sorted({r.split for r in group})
        if len(splits) > 1:
            paths = [r.path for r in group]
            yield Hit(
                f"identical image in splits {', '.join(splits)}: {_names(paths)}",
                GroupAcrossData(tuple(paths), tuple(splits)),
                path=paths[0],
                split=None,
            )


@dataclass(frozen=True, slots=True)
class NearDuplicateOptions:
    max_distance: int = threshold(
        5, Int(0, 16), "Hamming distance between 64-bit perceptual hashes, at most"
    )
    min_similarity: float = threshold(
        0.7,
        Float(-1.0, 1.0),
        "correlation of two candidates' details (after the best small crop), at least",
    )


SEARCHED_PAIRS = 200  # candidate pairs per scan compared under crops (tens of ms each)


def _confirmed(
    images: Sequence[ImageSignature], options: NearDuplicateOptions, budget: list[int]
) -> list[list[int]]:
    """The parts of a hash group whose pictures are confirmed alike (neardup.same_picture),
    joined pair by pair. A pair lacking a detail (records from a path that did not take
    one) is judged by its hashes alone."""
    parent = list(range(len(images)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            if root(i) == root(j):
                continue
            a, b = images[i], images[j]
            search = budget[0] > 0
            score = same_picture(a.detail, b.detail, search=search, enough=options.min_similarity)
            if score is not None and search and score < options.min_similarity:
                budget[0] -= 1
            if score is None or score >= options.min_similarity:
                parent[max(root(i), root(j))] = min(root(i), root(j))
    parts: dict[int, list[int]] = defaultdict(list)
    for i in range(len(images)):
        parts[root(i)].append(i)
    return [p for p in parts.values() if len(p) > 1]


def near_duplicate_candidates(
    options: NearDuplicateOptions, records: Iterable[FileRecord]
) -> Iterator[int]:
    """The images whose perceptual hashes lie within max_distance of another's: their
    second read takes the detail thumbnail that confirms them."""
    structured, hashes = array("q"), array("Q")
    for i, rec in enumerate(records):
        if (p := rec.pixels) is not None and not all(c.min == c.max for c in p.channels):
            structured.append(i)
            hashes.append(p.phash & MASK64)
    index = np.frombuffer(structured, np.int64) if structured else np.zeros(0, np.int64)
    h = np.frombuffer(hashes, np.uint64) if hashes else np.zeros(0, np.uint64)
    for group in group_near_duplicates(h, options.max_distance):
        yield from index[group].tolist()


@check(
    "NA307",
    "near-duplicates",
    Severity.WARNING,
    DATASET,
    NearDuplicateOptions,
    rereads=near_duplicate_candidates,
)
def near_duplicates(ctx: CheckContext[NearDuplicateOptions], ds: DatasetStats) -> Iterator[Hit]:
    """Images that are the same picture: resized or re-encoded copies, small crops,
    near-identical frames. A warning across splits, info within one. Exact copies are left
    to NA305/NA306; flat images (no structure to hash) are left out.

    Candidates are images whose 64-bit perceptual (DCT) hashes lie within a Hamming
    distance of 5 (max_distance). A hash sees the layout, and pictures of one layout
    (fundus photographs in their black disc, slides, CT slices of different patients) share
    it, so each candidate is read a second time for a 64×64 thumbnail of its details, and
    a pair is reported only when the correlation of their details, frames left out,
    reaches 0.7 (min_similarity), directly or under the small crop (up to a fifth of a
    side) of either that best aligns them. Re-encodes and resizes score about 0.99,
    different subjects of one layout far less. The crop search runs on the first 200
    candidate pairs that need it; later pairs are compared without a crop.

    Why: near-copies across splits leak training data into validation just as exact copies
    do; within a split they over-weight a scene.

    Fix: de-duplicate, or split by scene or video rather than by frame.
    """
    budget = [SEARCHED_PAIRS]
    candidates = near_groups([s.stats.signatures for s in ds.splits], ctx.options.max_distance)
    # the candidates' details, from their records (one pass, keeping only theirs)
    wanted = {(place[0], place[1]) for c in candidates for place, _ in c}
    details = ds.details(wanted) if ds.details is not None and wanted else {}
    confirmed: list[tuple[tuple[int, str, str], list[ImageSignature]]] = []
    for c in candidates:
        images = [replace(sig, detail=details.get(p[:2], "")) for p, sig in c]
        confirmed.extend(
            (c[p[0]][0], [images[i] for i in p]) for p in _confirmed(images, ctx.options, budget)
        )
    confirmed.sort(key=lambda placed: placed[0])
    for _, group in confirmed:
        if len({r.content or r.path for r in group}) < 2:
            continue  # all exact copies: NA305/NA306 say it
        paths = [r.path for r in group]
        splits = sorted({r.split for r in group})
        across = len(splits) > 1
        yield Hit(
            f"{len(group)} near-identical images"
            + (f" across splits {', '.join(splits)}" if across else "")
            + f": {_names(paths)}",
            NearDuplicatesData(tuple(paths), tuple(splits)),
            severity=None if across else Severity.INFO,
            path=paths[0],
            split=None if across else splits[0],
        )


@dataclass(frozen=True, slots=True)
class RemainderData(FindingData):
    samples: int
    batch_size: int


@check("NA308", "batch-remainder", Severity.ERROR, DATASET)
def batch_remainder(ctx: Ctx, ds: DatasetStats) -> Iterator[Hit]:
    """With a training batch size given (--batch-size), the number of training samples
    modulo the batch size is 1 and drop_last is not declared.

    Why: the last batch holds one sample, and train-mode BatchNorm (DeepLabv3's
    image-pooling branch) raises "Expected more than 1 value per channel when training".

    Fix: DataLoader(drop_last=True) (then declare --drop-last), or add or remove a sample.
    """
    bs = ctx.training.batch_size
    if bs is None or ctx.training.drop_last or bs < 2:
        return
    train = ds.training
    samples = sum(s.stats.samples for s in train)
    if samples and samples % bs == 1:
        names = "+".join(s.name for s in train)
        yield Hit(
            f"{samples:,} training samples in {names!r} with batch size {bs}: the last batch "
            "holds 1 sample",
            RemainderData(samples, bs),
            path=ROOT,
            split=names,
        )
