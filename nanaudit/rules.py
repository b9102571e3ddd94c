"""The rules the data is audited against, settled before the scan starts: the label
convention (and the transform a loader applies to labels) and the training settings.

Cached records keep the labels as stored; the transform (``label_map``, then
``reduce_zero_label`` and ``label_offset``) is applied to each record after it is read,
before the checks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .records import FileRecord, LabelStats
from .report import LabelInfo


@dataclass(frozen=True, slots=True)
class LabelRules:
    num_classes: int | None = None
    ignore_index: int | None = 255
    background: int | None = 0
    unused_ids: tuple[int, ...] = ()  # ids in [0, C) that are not classes (COCO-Stuff)
    label_offset: int = 0  # added to every label but the ignore index
    reduce_zero_label: bool = False  # 0 → ignore index, every other label - 1 (ADE20K)
    class_names: tuple[str, ...] = ()
    label_map: tuple[tuple[int, int], ...] = ()  # stored label → label, before the rest

    @property
    def transformed(self) -> bool:
        """Labels were mapped or shifted: stored values are not what the checks see."""
        return bool(self.label_map or self.label_offset or self.reduce_zero_label)

    @property
    def info(self) -> LabelInfo:
        return LabelInfo(
            self.num_classes,
            self.ignore_index,
            self.background,
            self.class_names,
            self.label_map,
            self.label_offset,
            self.reduce_zero_label,
        )

    def name(self, label: int) -> str:
        return self.info.name(label)

    def map(self, value: int) -> int:
        """A stored label as the training loop sees it: the label map first (what the
        loader does to the stored values), then reduce_zero_label and the offset, which
        leave the ignore index alone."""
        for src, dst in self.label_map:
            if value == src:
                value = dst
                break
        if value == self.ignore_index:
            return value
        if self.reduce_zero_label:
            ignore = self.ignore_index if self.ignore_index is not None else 255
            if value == 0:
                return ignore
            value -= 1
        return value + self.label_offset

    def apply(self, record: FileRecord) -> FileRecord:
        """A mask record with the transform applied (a no-op without one)."""
        if not self.transformed or record.labels is None:
            return record
        labels: LabelStats = record.labels
        hist: dict[int, int] = {}
        for v, n in labels.histogram:
            new = self.map(v)
            hist[new] = hist.get(new, 0) + n
        return replace(
            record,
            labels=replace(
                labels,
                histogram=tuple(sorted(hist.items())),
                boundary_labels=tuple(self.map(v) for v in labels.boundary_labels),
            ),
        )


@dataclass(frozen=True, slots=True)
class TrainingRules:
    """The training pipeline the data will meet, as far as the user described it."""

    batch_size: int | None = None
    drop_last: bool = False
