"""Training settings that come with nanaudit: the losses it knows, and training presets.

A training preset is the pipeline of a common config (mmsegmentation's dataset configs):
crop, resize, scale range, padding, per-GPU batch size and loss.  It applies only when asked
for (``--training-preset NAME``), as a layer of option values below the config file, the
environment and the flags, so every setting the user gives wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Whether each loss honours the ignore index as the common libraries ship it (docs/guides/
# training.md, "Losses and the ignore index", gives the sources). CE and Lovasz take an ignore
# label; Dice, focal and BCE one-hot or compare the target as it is, and an ignore value
# of 255 indexes past the classes.
LOSSES: dict[str, bool] = {
    "ce": True,
    "lovasz": True,
    "dice": False,
    "focal": False,
    "bce": False,
}


@dataclass(frozen=True, slots=True)
class TrainingPreset:
    name: str
    source: str  # the config the values follow
    values: Mapping[str, Any]  # option key → value

    def describe(self) -> str:
        v = self.values
        parts = [f"crop {v['crop_size'][0]}x{v['crop_size'][1]}"]
        if v.get("resize"):
            ratio = " keeping the ratio" if v.get("keep_ratio", True) else ""
            parts.append(f"resize {v['resize'][0]}x{v['resize'][1]}{ratio}")
        if v.get("scale_range"):
            lo, hi = v["scale_range"]
            parts.append(f"scale {lo:g}-{hi:g}")
        if v.get("pad"):
            parts.append("padded with the ignore index")
        parts.append(f"batch {v['batch_size']} per GPU")
        parts.append("loss " + "+".join(v["loss"]))
        return ", ".join(parts)


def _mmseg(crop: tuple[int, int], long_short: tuple[int, int], batch: int) -> dict[str, Any]:
    # mmseg's RandomResize(scale=(long, short), ratio_range=(0.5, 2.0), keep_ratio=True),
    # RandomCrop(crop_size), SegDataPreProcessor(size=crop_size, seg_pad_val=255)
    long, short = long_short
    return {
        "crop_size": crop,
        "resize": (short, long),
        "keep_ratio": True,
        "scale_range": (0.5, 2.0),
        "pad": True,
        "batch_size": batch,
        "loss": ("ce",),
    }


TRAINING_PRESETS: dict[str, TrainingPreset] = {
    p.name: p
    for p in (
        TrainingPreset(
            "cityscapes-512x1024",
            "mmsegmentation configs/_base_/datasets/cityscapes.py (4xb2)",
            _mmseg((512, 1024), (2048, 1024), 2),
        ),
        TrainingPreset(
            "ade20k-512x512",
            "mmsegmentation configs/_base_/datasets/ade20k.py (4xb4)",
            _mmseg((512, 512), (2048, 512), 4),
        ),
        TrainingPreset(
            "voc-512x512",
            "mmsegmentation configs/_base_/datasets/pascal_voc12.py (4xb4)",
            _mmseg((512, 512), (2048, 512), 4),
        ),
    )
}
