"""What a check may know beyond the record in front of it: its thresholds, the label
rules, its split's and the dataset's merged statistics, and the layout's hints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ..aggregate import DatasetStats, FullScale, SplitView
from ..layouts.hints import palette_luma_hint
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
        """The layout's explanation of out-of-range labels, else a reader-level cause that
        holds whatever the layout (a palette read as gray)."""
        hint = self.hint(bad, self.labels.num_classes) if self.hint is not None else None
        return hint or palette_luma_hint(bad, self.labels.num_classes)

    def scale(self, record: FileRecord) -> FullScale:
        return self.dataset.scale(record.dtype)

    def label_name(self, label: int) -> str:
        return self.labels.name(label)
