"""The rules the data is audited against, settled before the scan starts: the label
convention (and the transform a loader applies to labels) and the training settings.

Cached records keep the labels as stored; the transform (``label_map``, then
``reduce_zero_label`` and ``label_offset``) is applied to each record after it is read,
before the checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from .records import FileRecord, LabelStats
from .stats import blurred_binary_share


@dataclass(frozen=True, slots=True)
class LabelRules:
    """The label convention the masks are audited against (the report states it)."""

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

    def blurred_without_classes(self, histogram: Iterable[tuple[int, int]]) -> bool:
        """No C given, and the labels are binary 0/255 masks with blurred edges (JPEG,
        a smooth resize): the values in between are no classes, so no class statistic
        (NA302, NA303, class weights) is taken over them; the label hint says what to do."""
        if self.num_classes is not None or self.transformed or self.ignore_index not in (255, None):
            return False
        return blurred_binary_share(dict(histogram)) is not None

    @property
    def transform(self) -> str:
        """What was done to the stored labels before the checks, in words ("" for nothing)."""
        parts = [f"{a} → {b}" for a, b in self.label_map]
        if self.reduce_zero_label:
            parts.append("reduce_zero_label (0 → ignore, the rest - 1)")
        if self.label_offset:
            parts.append(f"{self.label_offset:+d} to every label but the ignore index")
        return ", ".join(parts)

    def name(self, label: int) -> str:
        """``3 (car)`` when the class has a name, else ``3``."""
        if 0 <= label < len(self.class_names):
            return f"{label} ({self.class_names[label]})"
        return str(label)

    def map(self, value: int) -> int:
        """A stored label as the training loop sees it: the label map first (what the
        loader does to the stored values), then reduce_zero_label and the offset, which
        leave the ignore index alone."""
        value = self._mapped(value)
        if value == self.ignore_index:
            return value
        if self.reduce_zero_label:
            if value == 0:
                return self.reduced_to
            value -= 1
        return value + self.label_offset

    @property
    def reduced_to(self) -> int:
        """What reduce_zero_label writes for label 0: the ignore index, or 255 (mmseg's)
        when there is none."""
        return self.ignore_index if self.ignore_index is not None else 255

    def _mapped(self, value: int) -> int:
        for src, dst in self.label_map:
            if value == src:
                return dst
        return value

    def _reduces(self, value: int) -> bool:
        """Whether reduce_zero_label is what turns the stored ``value`` into reduced_to."""
        return self.reduce_zero_label and self.ignore_index != 0 and self._mapped(value) == 0

    def apply(self, record: FileRecord) -> FileRecord:
        """A mask record with the transform applied (a no-op without one)."""
        if not self.transformed or record.labels is None:
            return record
        labels: LabelStats = record.labels
        hist: dict[int, int] = {}
        reduced = 0
        for v, n in labels.histogram:
            new = self.map(v)
            hist[new] = hist.get(new, 0) + n
            if self._reduces(v):
                reduced += n
        edges: dict[int, int] = {}
        for v, n in labels.perimeters:
            edges[self.map(v)] = edges.get(self.map(v), 0) + n
        grid = labels.grid
        if grid is not None:
            grid = replace(grid, labels=tuple(self.map(v) for v in grid.labels))
        return replace(
            record,
            labels=replace(
                labels,
                histogram=tuple(sorted(hist.items())),
                boundary_labels=tuple(self.map(v) for v in labels.boundary_labels),
                perimeters=tuple(sorted(edges.items())),
                grid=grid,
                reduced=reduced,
            ),
        )


@dataclass(frozen=True, slots=True)
class TrainingRules:
    """The training pipeline the data will meet, as far as the user described it.

    Sizes are (height, width). ``described``: a setting of the pipeline itself was given
    (anything but batch_size and drop_last, which NA308 has always used alone); then what
    is not declared is taken as absent (no crop_size: no crop) and NA401-NA407 apply.
    """

    batch_size: int | None = None
    drop_last: bool = False
    crop_size: tuple[int, int] | None = None
    pad: bool = False
    pad_value: int | None = None  # None: the ignore index
    resize: tuple[int, int] | None = None
    keep_ratio: bool = True
    scale_range: tuple[float, float] | None = None
    losses: tuple[str, ...] = ()
    described: bool = False
    # the readers the user stated (--image-reader, --mask-reader, --reader); None: not
    # stated, the files are read as pillow and NA211 flags what depends on the reader
    image_reader: str | None = None
    mask_reader: str | None = None

    @property
    def scales(self) -> tuple[float, float]:
        """The smallest and largest scale factor."""
        return self.scale_range if self.scale_range is not None else (1.0, 1.0)

    @property
    def resizes(self) -> bool:
        """Whether the pipeline changes the image size before the crop."""
        return self.resize is not None or self.scale_range is not None

    def describe(self) -> str:
        """The settings in a few words, for messages and the summary."""
        parts = []
        if self.resize is not None:
            how = "keeping the ratio" if self.keep_ratio else "exactly"
            parts.append(f"resize {self.resize[0]}x{self.resize[1]} {how}")
        if self.scale_range is not None:
            lo, hi = self.scale_range
            parts.append(f"scale {lo:g}-{hi:g}" + ("" if self.resize else " of the image"))
        if self.crop_size is not None:
            parts.append(f"crop {self.crop_size[0]}x{self.crop_size[1]}")
            parts.append("padded" if self.pad else "no padding")
        elif self.pad:
            parts.append("padding without a crop (pads nothing)")
        if self.batch_size is not None:
            parts.append(f"batch {self.batch_size}")
        if self.losses:
            parts.append("loss " + "+".join(self.losses))
        return ", ".join(parts) or "no training settings"


def training_names(splits: Sequence[tuple[str, str]]) -> set[str]:
    """The training splits among (name, role): those whose role is train; a layout without
    one trains on its only split."""
    train = {name for name, role in splits if role == "train"}
    if train:
        return train
    if len(splits) == 1 and splits[0][1] in ("all", "other"):
        return {splits[0][0]}
    return set()
