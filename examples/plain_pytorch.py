"""The guard in a plain PyTorch loop, on a planted cause.

    python examples/plain_pytorch.py            # NaN pixels in one image file
    python examples/plain_pytorch.py explode    # a learning rate that explodes the gradients
    python examples/plain_pytorch.py log0       # -(y * log(softmax(x))).sum() meets log(0)

Writes a tiny dataset to a temporary folder, trains the small DeepLab-like net of
tiny_seg.py on it under ``nanaudit.NanGuard`` and prints what the guard says.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from tiny_seg import CLASSES, IGNORE, FolderDataset, TinyDeepLab, write_dataset
from torch import nn
from torch.utils.data import DataLoader

import nanaudit


def hand_written_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    y = nn.functional.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    return -(y * torch.log(torch.softmax(logits, 1))).sum() / target.numel()


def main(cause: str) -> int:
    torch.manual_seed(0)
    scratch = tempfile.mkdtemp(prefix="nanaudit-example-")
    atexit.register(shutil.rmtree, scratch, True)  # the example leaves nothing behind
    root = Path(scratch) / "data"
    write_dataset(root, 32)
    lr, criterion = 0.01, nn.CrossEntropyLoss(ignore_index=IGNORE)
    if cause == "nan":
        image = np.load(root / "images/img_005.npy")
        image[3, 4, 0] = np.nan  # a hole in one capture
        np.save(root / "images/img_005.npy", image)
    elif cause == "explode":
        lr = 100.0
    elif cause == "log0":
        lr, criterion = 5.0, hand_written_ce

    loader = DataLoader(FolderDataset(root), batch_size=4, shuffle=True, num_workers=2)
    model = TinyDeepLab()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    guard = nanaudit.NanGuard(num_classes=CLASSES, ignore_index=IGNORE, criterion=criterion)
    try:
        for _epoch in range(10):
            for images, masks in guard.watch(loader):
                loss = criterion(model(images), masks)
                loss.backward()
                guard.check(loss, model=model, optimizer=optimizer)
                optimizer.step()
                optimizer.zero_grad()
    except nanaudit.NonFiniteLoss as err:
        print(str(err).replace(str(root), "data"))
        print(f"verdict={err.verdict} step={err.step}")
        return 0
    print("no failure")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "nan"))
