"""What a check may know beyond the record in front of it: its thresholds, the label
rules, its split's and the dataset's merged statistics, and the layout's hints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..aggregate import DatasetStats, FullScale, SplitView
from ..records import FileRecord
from ..rules import LabelRules, TrainingRules

Opts = TypeVar("Opts")

# A layout's explanation of out-of-range labels (labelIds, trimaps, palette luma…)
Hint = Callable[[Sequence[int], int | None], str | None]


@dataclass(frozen=True, slots=True)
class CheckContext(Generic[Opts]):
    options: Opts
    labels: LabelRules
    dataset: DatasetStats
    split: SplitView | None = None  # None for dataset checks
    hint: Hint | None = None
    training: TrainingRules = field(default_factory=TrainingRules)

    @property
    def here(self) -> SplitView:
        """The split of a file or split check."""
        assert self.split is not None, "a dataset check has no split"
        return self.split

    def explain(self, bad: Sequence[int]) -> str | None:
        return self.hint(bad, self.labels.num_classes) if self.hint is not None else None

    def scale(self, record: FileRecord) -> FullScale:
        return self.dataset.scale(record.dtype)

    def label_name(self, label: int) -> str:
        return self.labels.name(label)
