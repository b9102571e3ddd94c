"""Small real training loops for the guard's tests (torch CPU): a DeepLab-like net with
BatchNorm and dilated convolutions, datasets of real files, and the planted causes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

torch.set_num_threads(1)  # the suite runs one test per core

C = 4  # classes
IGNORE = 255


class TinyDeepLab(nn.Module):
    """A stem, a dilated block, an ASPP of two rates and an image-pooling branch, a 1x1
    classifier, upsampled to the input size: DeepLabv3's shape at 16x16."""

    def __init__(self, classes: int = C, width: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        self.block = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=2, dilation=2, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        self.aspp1 = nn.Sequential(
            nn.Conv2d(width, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        self.aspp2 = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=3, dilation=3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        self.pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(width, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )
        self.project = nn.Sequential(
            nn.Conv2d(3 * width, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()
        )
        self.classifier = nn.Conv2d(width, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        f = self.block(self.stem(x))
        pooled = self.pool(f).expand(-1, -1, *f.shape[-2:])
        y = self.project(torch.cat([self.aspp1(f), self.aspp2(f), pooled], 1))
        out = self.classifier(y)
        return nn.functional.interpolate(out, size=size, mode="bilinear", align_corners=False)


def write_dataset(root: Path, n: int, size: int = 16, seed: int = 0) -> list[Path]:
    """n float32 images (.npy, channels last, in [0, 1]) and 8-bit PNG masks."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        img = rng.random((size, size, 3), dtype=np.float32)
        mask = np.zeros((size, size), np.uint8)
        mask[:, size // 2 :] = 1 + i % (C - 1)
        mask[: size // 4] = rng.integers(0, C, (size // 4, size), dtype=np.uint8)
        f = root / "images" / f"img_{i:03d}.npy"
        np.save(f, img)
        Image.fromarray(mask).save(root / "masks" / f"img_{i:03d}.png")
        files.append(f)
    return files


class FileDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Reads an image (.npy, no pickle) and its PNG mask per sample; ``files`` names them."""

    def __init__(self, root: Path) -> None:
        self.files = sorted((root / "images").glob("*.npy"))
        self.root = root

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = np.load(self.files[i], allow_pickle=False)
        mask = np.array(Image.open(self.root / "masks" / (self.files[i].stem + ".png")))
        return torch.from_numpy(img).permute(2, 0, 1).contiguous(), torch.from_numpy(mask).long()


def loader(ds: Dataset[Any], batch_size: int = 4, **kw: Any) -> DataLoader[Any]:
    kw.setdefault("shuffle", True)
    kw.setdefault("generator", torch.Generator().manual_seed(0))
    return DataLoader(ds, batch_size=batch_size, **kw)


def hand_written_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-(y * log(softmax(x))).sum(), as people write it: log(0) once softmax underflows."""
    y = nn.functional.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    return -(y * torch.log(torch.softmax(logits, 1))).sum() / target.numel()


def train(
    guard: Any,
    dl: Any,
    model: nn.Module,
    criterion: Any,
    *,
    lr: float = 0.01,
    epochs: int = 1,
    max_steps: int | None = None,
    context: bool = False,
    optimizer: Any = None,
) -> int:
    """A plain training loop under the guard; returns the steps taken."""
    opt = optimizer or torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    steps = 0
    for _ in range(epochs):
        for images, masks in guard.watch(dl):
            if context:
                with guard.step(model=model, optimizer=opt):
                    loss = criterion(model(images), masks)
                    loss.backward()
                    guard.check(loss, model=model, optimizer=opt)
            else:
                loss = criterion(model(images), masks)
                loss.backward()
                guard.check(loss, model=model, optimizer=opt)
            opt.step()
            opt.zero_grad()
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return steps
    return steps
