"""The guard as a PyTorch Lightning callback, on a planted cause: a hand-written
cross-entropy, -(y * log(softmax(x))).sum(), that meets a probability of exactly 0.

    python examples/lightning_guard.py

Trains the small DeepLab-like net of tiny_seg.py on CPU with Lightning; the callback raises
nanaudit.NonFiniteLoss out of trainer.fit at the first non-finite loss, and the replay of
the batch names the operation (torch.log met zeros), not the data.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import lightning.pytorch as pl
import torch
from tiny_seg import CLASSES, FolderDataset, TinyDeepLab, write_dataset
from torch import nn
from torch.utils.data import DataLoader

import nanaudit
from nanaudit.integrations.lightning import NanGuardCallback


def hand_written_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    y = nn.functional.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    return -(y * torch.log(torch.softmax(logits, 1))).sum() / target.numel()


class Segmenter(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = TinyDeepLab()
        self.criterion = hand_written_ce  # the callback replays the loss with it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], idx: int) -> torch.Tensor:
        images, masks = batch
        return self.criterion(self(images), masks)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=5.0, momentum=0.9)


def main() -> int:
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    pl.seed_everything(0, verbose=False)
    scratch = tempfile.mkdtemp(prefix="nanaudit-example-")
    atexit.register(shutil.rmtree, scratch, True)  # the example leaves nothing behind
    root = Path(scratch) / "data"
    write_dataset(root, 32)
    loader = DataLoader(FolderDataset(root), batch_size=4, shuffle=True)
    guard = NanGuardCallback(num_classes=CLASSES, ignore_index=255)
    trainer = pl.Trainer(
        max_epochs=10,
        accelerator="cpu",
        devices=1,
        callbacks=[guard],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    try:
        trainer.fit(Segmenter(), loader)
    except nanaudit.NonFiniteLoss as err:
        print(str(err).replace(str(root), "data"))
        print(f"verdict={err.verdict} step={err.step}")
        print("findings:", " ".join(sorted({f.check for f in err.report.findings})))
        return 0
    print("no failure")
    return 1


if __name__ == "__main__":
    sys.exit(main())
