"""NA3xx: dataset and splits, from the merged records (no second pass over the pixels)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..model import FileRecord, Severity
from ..neardup import group_near_duplicates
from ..stats import merge_histograms
from .context import CheckContext
from .registry import Hit, Pair, check

ROOT = "."  # dataset findings without a file point at the scanned root
MAX_NAMED = 10  # files named in a message; data.files lists them all


@dataclass(frozen=True, slots=True)
class SplitView:
    name: str
    role: str
    labeled: bool
    pairs: tuple[Pair, ...]
    histogram: tuple[tuple[int, int], ...] = ()  # merged label histogram of the split's masks

    @property
    def images(self) -> list[FileRecord]:
        return [p.image for p in self.pairs if p.image is not None and p.image.pixels is not None]


@dataclass(frozen=True, slots=True)
class DatasetView:
    splits: tuple[SplitView, ...]
    batch_size: int | None = None
    drop_last: bool = False

    @property
    def training(self) -> list[SplitView]:
        """The training splits; a layout without splits trains on its one split."""
        train = [s for s in self.splits if s.role == "train"]
        if train:
            return train
        if len(self.splits) == 1 and self.splits[0].role in ("all", "other"):
            return list(self.splits)
        return []


def _class_counts(ctx: CheckContext, hist: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Pixels per class: labels in [0, C) when C is known, else every non-ignore label.
    Ids the layout declares unused (COCO-Stuff) are no class: NA201 reports them."""
    c, ignore = ctx.labels.num_classes, ctx.labels.ignore_index
    unused = set(ctx.labels.unused_ids)
    out = {
        v: n for v, n in hist if v != ignore and v >= 0 and (c is None or v < c) and v not in unused
    }
    if c is not None:
        for k in range(c):
            if k not in unused:
                out.setdefault(k, 0)
    return out


def _merged(splits: Sequence[SplitView]) -> tuple[tuple[int, int], ...]:
    hist: tuple[tuple[int, int], ...] = ()
    for s in splits:
        hist = merge_histograms(hist, s.histogram)
    return hist


def _names(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:MAX_NAMED])
    return shown + (f" and {len(paths) - MAX_NAMED} more" if len(paths) > MAX_NAMED else "")


@check("NA301", "class-absent", Severity.WARNING, "dataset")
def class_absent(ctx: CheckContext, ds: DatasetView) -> Iterator[Hit]:
    """A class in [0, C) has no pixel in the training split (needs C).

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
    counts = _class_counts(ctx, _merged(train))
    labeled_px = sum(counts.values())
    others = {s.name: dict(s.histogram) for s in ds.splits if s not in train and s.labeled}
    names = "+".join(s.name for s in train)
    for k in sorted(counts):
        if counts[k] == 0:
            elsewhere = ", ".join(f"{n}: {h[k]:,} px" for n, h in others.items() if h.get(k))
            yield Hit(
                f"class {ctx.label_name(k)} has no pixel in training split {names!r} "
                f"({labeled_px:,} labeled pixels)"
                + (f"; present in {elsewhere}" if elsewhere else ""),
                {"class": k, "labeled_pixels": labeled_px},
                path=ROOT,
                split=names,
            )


@check("NA302", "rare-class", Severity.INFO, "dataset", min_fraction=0.00001)
def rare_class(ctx: CheckContext, ds: DatasetView) -> Iterator[Hit]:
    """A class holds fewer than 0.001% of the labeled pixels of a split (min_fraction).

    Why: inverse-frequency weights explode for it, and its per-class metrics are noise.

    Fix: collect more samples of the class, or merge it; cap the class weights.
    """
    for s in ds.splits:
        if not s.labeled:
            continue
        counts = _class_counts(ctx, s.histogram)
        total = sum(counts.values())
        for k in sorted(counts):
            n = counts[k]
            if total and 0 < n < ctx.opt("min_fraction") * total:
                yield Hit(
                    f"class {ctx.label_name(k)} holds {n:,} of {total:,} labeled pixels "
                    f"({n / total:.5%}) in split {s.name!r}",
                    {"class": k, "pixels": n, "labeled_pixels": total},
                    path=ROOT,
                    split=s.name,
                )


@check("NA303", "class-imbalance", Severity.INFO, "dataset", max_ratio=1000.0)
def class_imbalance(ctx: CheckContext, ds: DatasetView) -> Iterator[Hit]:
    """In a split, the largest class pixel count is more than 1000 times the smallest
    non-zero one (max_ratio).

    Why: the loss is dominated by the large class; the small ones are barely learned.

    Fix: class weights (see the summary's median-frequency weights), a focal or Dice loss,
    or sampling that over-represents the rare classes.
    """
    for s in ds.splits:
        if not s.labeled:
            continue
        counts = {k: n for k, n in _class_counts(ctx, s.histogram).items() if n > 0}
        if len(counts) < 2:
            continue
        big = max(counts, key=lambda k: (counts[k], -k))
        small = min(counts, key=lambda k: (counts[k], k))
        ratio = counts[big] / counts[small]
        if ratio > ctx.opt("max_ratio"):
            yield Hit(
                f"split {s.name!r}: class {ctx.label_name(big)} has {counts[big]:,} px, class "
                f"{ctx.label_name(small)} {counts[small]:,} px (ratio {ratio:,.0f})",
                {"largest": big, "smallest": small, "ratio": ratio},
                path=ROOT,
                split=s.name,
            )


@check("NA304", "label-drift", Severity.WARNING, "dataset")
def label_drift(ctx: CheckContext, ds: DatasetView) -> Iterator[Hit]:
    """A class present in a validation or test split has no pixel in the training split
    (warning); a class of the training split is absent from validation (info).

    Why: the model is evaluated on a class it never saw; a class missing from validation
    gets a NaN per-class IoU, and mIoU averages over NaN or silently skips it.

    Fix: re-split the data so that every class occurs in every split (stratify by class).
    """
    train = [s for s in ds.training if s.labeled]
    if not train:
        return
    train_counts = _class_counts(ctx, _merged(train))
    train_names = "+".join(s.name for s in train)
    for s in ds.splits:
        if s in train or not s.labeled:
            continue
        counts = _class_counts(ctx, s.histogram)
        for k in sorted(counts):
            if counts[k] and not train_counts.get(k):
                yield Hit(
                    f"class {ctx.label_name(k)} has {counts[k]:,} px in {s.name!r} but none in "
                    f"training split {train_names!r}",
                    {"class": k, "pixels": counts[k]},
                    path=ROOT,
                    split=s.name,
                )
        if s.role == "val":
            for k in sorted(train_counts):
                if train_counts[k] and not counts.get(k):
                    yield Hit(
                        f"class {ctx.label_name(k)} occurs in training ({train_counts[k]:,} px) "
                        f"but not in {s.name!r}: its IoU there is NaN",
                        {"class": k, "train_pixels": train_counts[k]},
                        severity=Severity.INFO,
                        path=ROOT,
                        split=s.name,
                    )


def _content_key(rec: FileRecord) -> tuple[object, ...] | None:
    p = rec.pixels
    if p is None or not p.content_hash:
        return None
    moments = tuple((c.count, c.mean, c.m2, c.min, c.max, c.nan, c.inf) for c in p.channels)
    return (p.content_hash, rec.width, rec.height, rec.dtype, moments)


def _exact_groups(ds: DatasetView) -> list[list[FileRecord]]:
    groups: dict[tuple[object, ...], list[FileRecord]] = defaultdict(list)
    for s in ds.splits:
        for rec in s.images:
            key = _content_key(rec)
            if key is not None:
                groups[key].append(rec)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0].path)


@check("NA305", "duplicate-images", Severity.WARNING, "dataset")
def duplicate_images(ctx: CheckContext, ds: DatasetView) -> Iterator[Hit]:
    """Two or more images of one split have identical pixel content (compared by a hash of
    the decoded pixels, so a lossless re-encode or a renamed copy matches).

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
                    {"files": paths},
                    path=paths[0],
                    split=split,
                )


@check("NA306", "split-leakage", Severity.ERROR, "dataset")
def split_leakage(ctx: CheckContext, ds: DatasetView) -> Iterator[Hit]:
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
                {"files": paths, "splits": splits},
                path=paths[0],
                split=None,
            )


@check("NA307", "near-duplicates", Severity.WARNING, "dataset", max_distance=5)
def near_duplicates(ctx: CheckContext, ds: DatasetView) -> Iterator[Hit]:
    """Images whose 64-bit perceptual (DCT) hashes lie within a Hamming distance of 5
    (max_distance): resized or re-encoded copies, near-identical frames. A warning across
    splits, info within one. Exact copies are left to NA305/NA306; flat images (no
    structure to hash) are left out.

    Why: near-copies across splits leak training data into validation just as exact copies
    do; within a split they over-weight a scene.

    Fix: de-duplicate, or split by scene or video rather than by frame.
    """
    images = [
        r
        for s in ds.splits
        for r in s.images
        if r.pixels is not None and not all(c.min == c.max for c in r.pixels.channels)
    ]
    if len(images) < 2:
        return
    hashes = [r.pixels.phash for r in images if r.pixels is not None]
    for idx in group_near_duplicates(hashes, int(ctx.opt("max_distance"))):
        group = [images[i] for i in idx]
        if len({_content_key(r) for r in group}) < 2:
            continue  # all exact copies: NA305/NA306 say it
        paths = [r.path for r in group]
        splits = sorted({r.split for r in group})
        across = len(splits) > 1
        yield Hit(
            f"{len(group)} near-identical images"
            + (f" across splits {', '.join(splits)}" if across else "")
            + f": {_names(paths)}",
            {"files": paths, "splits": splits},
            severity=None if across else Severity.INFO,
            path=paths[0],
            split=None if across else splits[0],
        )


@check("NA308", "batch-remainder", Severity.ERROR, "dataset")
def batch_remainder(ctx: CheckContext, ds: DatasetView) -> Iterator[Hit]:
    """With a training batch size given (--batch-size), the number of training samples
    modulo the batch size is 1 and drop_last is not declared.

    Why: the last batch holds one sample, and train-mode BatchNorm (DeepLabv3's
    image-pooling branch) raises "Expected more than 1 value per channel when training".

    Fix: DataLoader(drop_last=True) (then declare --drop-last), or add or remove a sample.
    """
    bs = ds.batch_size
    if bs is None or ds.drop_last or bs < 2:
        return
    train = ds.training
    samples = sum(
        1
        for s in train
        for p in s.pairs
        if p.image is not None and (p.mask is not None or not s.labeled)
    )
    if samples and samples % bs == 1:
        names = "+".join(s.name for s in train)
        yield Hit(
            f"{samples:,} training samples in {names!r} with batch size {bs}: the last batch "
            "holds 1 sample",
            {"samples": samples, "batch_size": bs},
            path=ROOT,
            split=names,
        )
