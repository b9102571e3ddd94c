"""The guard as a Hugging Face transformers callback, on a planted cause: NaN pixels in one
image file.

    python examples/huggingface_guard.py

A SegFormer built in code from a tiny config (nothing is downloaded: HF_HUB_OFFLINE), trained
on CPU with the Trainer on a dataset of real files; the callback raises
nanaudit.NonFiniteLoss out of trainer.train() at the first non-finite loss and names the
sample and its file.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import numpy as np
from tiny_seg import CLASSES, IGNORE, FolderDataset, write_dataset
from transformers import (
    SegformerConfig,
    SegformerForSemanticSegmentation,
    Trainer,
    TrainingArguments,
)

import nanaudit
from nanaudit.integrations.huggingface import NanGuardCallback


class SegmentationFiles(FolderDataset):
    """The folder dataset as the Trainer's models take it: pixel_values and labels."""

    def __getitem__(self, i: int) -> dict[str, Any]:  # type: ignore[override]
        image, mask = super().__getitem__(i)
        return {"pixel_values": image, "labels": mask}


def tiny_segformer() -> SegformerForSemanticSegmentation:
    config = SegformerConfig(
        num_channels=3,
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[8, 16],
        patch_sizes=[3, 3],
        strides=[2, 2],
        num_attention_heads=[1, 1],
        mlp_ratios=[2, 2],
        decoder_hidden_size=16,
        num_labels=CLASSES,
        semantic_loss_ignore_index=IGNORE,
    )
    return SegformerForSemanticSegmentation(config)


def main() -> int:
    scratch = tempfile.mkdtemp(prefix="nanaudit-example-")
    atexit.register(shutil.rmtree, scratch, True)  # the example leaves nothing behind
    root = Path(scratch)
    data = root / "data"
    write_dataset(data, 16)
    image = np.load(data / "images/img_011.npy")
    image[8, 8, 1] = np.nan  # a hole in one capture
    np.save(data / "images/img_011.npy", image)
    args = TrainingArguments(
        output_dir=str(root / "out"),
        per_device_train_batch_size=4,
        num_train_epochs=2,
        learning_rate=1e-3,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = Trainer(
        model=tiny_segformer(),
        args=args,
        train_dataset=SegmentationFiles(data),
        callbacks=[NanGuardCallback(num_classes=CLASSES, ignore_index=IGNORE)],
    )
    try:
        trainer.train()
    except nanaudit.NonFiniteLoss as err:
        print(str(err).replace(str(data), "data"))
        print(f"verdict={err.verdict} step={err.step}")
        print("findings:", " ".join(sorted({f.check for f in err.report.findings})))
        return 0
    print("no failure")
    return 1


if __name__ == "__main__":
    sys.exit(main())
