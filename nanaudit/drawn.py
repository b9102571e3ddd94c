"""What a draw from a training pipeline reduces to: frozen, small, no arrays.

Each sample's image and mask become :class:`FileRecord` values by the reductions a scanned
file gets (decode/); the sample keeps where it came from (its index in the draw, its batch,
the file the dataset names for it) and the facts of its mask that a record does not
hold: the range of its values, fractional ones included (NA502), and the labels found only as
thin lines between two others (NA508). A model module, beside records.py: the checks of
samples (checks/samples.py) read it, the samples stage (samples/) makes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .records import FileRecord, Pair

SPLIT = "samples"  # the one split of a draw, as the report names it


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample the pipeline yielded, reduced to its records."""

    index: int  # position in the draw, from 0
    batch: int | None  # the batch it came in (or was grouped in, with batch_size)
    name: str | None  # the file the dataset names for it, when it does
    image: FileRecord  # its path is the sample's label: "sample 007 (batch 01, a.png)"
    mask: FileRecord
    mask_range: tuple[float, float] | None = None  # finite min and max of the mask's values
    # labels (below THIN_SCOPE of the mask) found only as thin lines between two other
    # labels, for the first THIN_TESTED samples (NA508); None: not tested
    thin_labels: tuple[int, ...] | None = None

    @property
    def label(self) -> str:
        return self.image.path

    @property
    def pair(self) -> Pair:
        return Pair(SPLIT, self.image, self.mask)


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """The samples of one batch, as the pipeline yielded them or as batch_size groups them."""

    index: int
    label: str  # "batch 03"
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class PipelineFailure:
    """The pipeline raised while drawing: the draw stops there."""

    index: int  # the sample it was drawing
    label: str
    error: str  # "ValueError: …"


@dataclass(frozen=True, slots=True)
class Draw:
    """Everything drawn, in order: what the ``draw`` checks see."""

    source: str  # what was drawn from: "pipeline:make_loader", "DataLoader"
    samples: tuple[Sample, ...]
    batches: tuple[SampleBatch, ...]  # empty when samples came one at a time, ungrouped
    failure: PipelineFailure | None
    passes: int  # passes over the pipeline (started)
    limit: int  # the samples asked for
    exhausted: bool  # the pipeline ended before the limit and cannot be iterated again
    notes: tuple[str, ...] = ()
    # records of the image files the dataset names for the first samples, decoded as a
    # scan decodes them: what the images were before the pipeline (NA509)
    sources: tuple[FileRecord, ...] = ()
