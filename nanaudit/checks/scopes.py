"""What a check is a function of (its scope), and where each scope finds its subjects.

A scope is typed by its subject: ``IMAGE`` hands a check an image's :class:`FileRecord`,
``PAIR`` a :class:`Pair`, ``SPLIT`` a split's merged statistics, ``DATASET`` the dataset's,
and the scopes of ``nanaudit samples`` a drawn :class:`Sample`, a :class:`SampleBatch` or the
whole :class:`Draw`. The registry's ``@check`` takes a scope and a function of its subject,
so mypy refuses a check whose function takes something else; the check stage
(``run.py``) asks the scope for its targets in a :class:`Unit` (one split of a scan, or the
one split of a draw) and runs the function on each.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..aggregate import DatasetStats, SplitView
from ..drawn import Draw, Sample, SampleBatch
from ..guard.facts import StepFacts
from ..records import FileRecord, Pair

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Unit:
    """One split as the checks meet it: its pairs and statistics, and for a draw from a
    training pipeline the samples the pairs are of (in the same order), batches and draw."""

    name: str
    where: str  # the path a split-wide finding points at
    pairs: Sequence[Pair]
    view: SplitView
    samples: Sequence[Sample] = ()
    batches: Sequence[SampleBatch] = ()
    draw: Draw | None = None
    # per pair, whether its image and its mask are met for the first time in the split:
    # a split's pairs checked a part at a time (a spilled store) say so; empty: the unit
    # holds all of them, and file checks skip what they have seen
    firsts: Sequence[tuple[bool, bool]] = ()
    part: bool = False  # a chunk of a split's pairs: its split checks run on the whole


@dataclass(frozen=True, slots=True)
class Target(Generic[T]):
    """One subject of a check, with what a finding about it names by default."""

    subject: T
    where: str  # the finding's path, unless the check names one
    image: str | None = None
    mask: str | None = None
    sample: Sample | None = None  # a drawn sample's findings name it
    batch: int | None = None


class Scope(Generic[T]):
    """What a check is a function of. ``name`` is how reports and docs say it."""

    name: str = ""
    sample_only = False  # only ``nanaudit samples`` has such subjects
    step_only = False  # only the training guard has such subjects (NanGuard)

    def targets(self, unit: Unit) -> Iterator[Target[T]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<scope {self.name}>"


def _pair_targets(unit: Unit) -> Iterator[tuple[Pair, Sample | None, str | None, str | None]]:
    samples: Sequence[Sample | None] = unit.samples or [None] * len(unit.pairs)
    for pair, sample in zip(unit.pairs, samples, strict=True):
        img = pair.image.path if pair.image is not None else None
        msk = pair.mask.path if pair.mask is not None else None
        yield pair, sample, img, msk


def _about(sample: Sample | None, img: str | None, msk: str | None) -> dict[str, Any]:
    if sample is None:
        return {"image": img, "mask": msk}
    return {"image": sample.name, "mask": None, "sample": sample, "batch": sample.batch}


class _FileScope(Scope[FileRecord]):
    name = "file"

    def wanted(self, pair: Pair) -> Iterator[FileRecord]:
        yield from (r for r in (pair.image, pair.mask) if r is not None and r.error is not None)

    def targets(self, unit: Unit) -> Iterator[Target[FileRecord]]:
        seen: set[tuple[str, str]] = set()  # a label shared by a case's channel files
        firsts = iter(unit.firsts) if unit.firsts else None
        for pair, sample, img, msk in _pair_targets(unit):
            first = next(firsts) if firsts is not None else None
            for rec in self.wanted(pair):
                if first is not None:
                    if not first[0 if rec is pair.image else 1]:
                        continue
                elif sample is None:
                    if (rec.path, rec.kind) in seen:
                        continue
                    seen.add((rec.path, rec.kind))
                yield Target(rec, rec.path, **_about(sample, img, msk))


class _ImageScope(_FileScope):
    name = "image"

    def wanted(self, pair: Pair) -> Iterator[FileRecord]:
        if pair.image is not None and pair.image.pixels is not None:
            yield pair.image


class _MaskScope(_FileScope):
    name = "mask"

    def __init__(self, labels: bool) -> None:
        self.labels = labels

    def wanted(self, pair: Pair) -> Iterator[FileRecord]:
        mask = pair.mask
        usable = mask is not None and mask.ok and pair.labeled
        if usable and mask is not None and (mask.labels is not None or not self.labels):
            yield mask


class _PairScope(Scope[Pair]):
    name = "pair"

    def targets(self, unit: Unit) -> Iterator[Target[Pair]]:
        for pair, sample, img, msk in _pair_targets(unit):
            yield Target(pair, img or msk or "", **_about(sample, img, msk))


class _SplitScope(Scope[SplitView]):
    name = "split"

    def targets(self, unit: Unit) -> Iterator[Target[SplitView]]:
        if not unit.part:
            yield Target(unit.view, unit.where)


class _DatasetScope(Scope[DatasetStats]):
    """Run once per scan (or draw), not per split: the check stage hands it the dataset."""

    name = "dataset"

    def targets(self, unit: Unit) -> Iterator[Target[DatasetStats]]:
        return iter(())


class _SampleScope(Scope[Sample]):
    name = "sample"
    sample_only = True

    def targets(self, unit: Unit) -> Iterator[Target[Sample]]:
        for s in unit.samples:
            yield Target(s, s.label, **_about(s, None, None))


class _BatchScope(Scope[SampleBatch]):
    name = "batch"
    sample_only = True

    def targets(self, unit: Unit) -> Iterator[Target[SampleBatch]]:
        for b in unit.batches:
            yield Target(b, b.label, batch=b.index)


class _DrawScope(Scope[Draw]):
    name = "draw"
    sample_only = True

    def targets(self, unit: Unit) -> Iterator[Target[Draw]]:
        if unit.draw is not None:
            yield Target(unit.draw, ".")


class _StepScope(Scope[StepFacts]):
    """A failing training step: the guard hands its checks what it measured, itself."""

    name = "step"
    step_only = True

    def targets(self, unit: Unit) -> Iterator[Target[StepFacts]]:
        return iter(())


FILE: Scope[FileRecord] = _FileScope()  # a file that could not be decoded
IMAGE: Scope[FileRecord] = _ImageScope()  # a decoded image
MASK: Scope[FileRecord] = _MaskScope(labels=True)  # a decoded mask of class labels
ANY_MASK: Scope[FileRecord] = _MaskScope(labels=False)  # colour masks too (they have none)
PAIR: Scope[Pair] = _PairScope()
SPLIT: Scope[SplitView] = _SplitScope()
DATASET: Scope[DatasetStats] = _DatasetScope()
SAMPLE: Scope[Sample] = _SampleScope()
BATCH: Scope[SampleBatch] = _BatchScope()
DRAW: Scope[Draw] = _DrawScope()
STEP: Scope[StepFacts] = _StepScope()
