"""What the examples share: a small DeepLab-like net and a dataset of real files.

The net has BatchNorm after every convolution, a dilated block, an ASPP of two rates and an
image-pooling branch, as DeepLabv3 has, at 16×16 pixels. The dataset reads float32 images
(.npy, read without pickle) and 8-bit PNG masks from a folder, and names its files in
``files`` (which the guard reports).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import Dataset

CLASSES = 4
IGNORE = 255


def conv(cin: int, cout: int, k: int = 3, dilation: int = 1, stride: int = 1) -> nn.Sequential:
    pad = dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class TinyDeepLab(nn.Module):
    def __init__(self, classes: int = CLASSES, width: int = 8) -> None:
        super().__init__()
        self.stem = conv(3, width, stride=2)
        self.block = conv(width, width, dilation=2)
        self.aspp = nn.ModuleList([conv(width, width, k=1), conv(width, width, dilation=3)])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), conv(width, width, k=1))
        self.project = conv(3 * width, width, k=1)
        self.classifier = nn.Conv2d(width, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.block(self.stem(x))
        parts = [m(f) for m in self.aspp] + [self.pool(f).expand(-1, -1, *f.shape[-2:])]
        out = self.classifier(self.project(torch.cat(parts, 1)))
        return nn.functional.interpolate(out, size=x.shape[-2:], mode="bilinear")


def write_dataset(root: Path, n: int = 16, size: int = 16) -> None:
    """n random images in [0, 1] and masks of two regions (a class and the background)."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        mask = np.zeros((size, size), np.uint8)
        mask[:, size // 2 :] = 1 + i % (CLASSES - 1)
        np.save(root / "images" / f"img_{i:03d}.npy", rng.random((size, size, 3), np.float32))
        Image.fromarray(mask).save(root / "masks" / f"img_{i:03d}.png")


class FolderDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    def __init__(self, root: Path) -> None:
        self.files = sorted((root / "images").glob("*.npy"))
        self.masks = root / "masks"

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = np.load(self.files[i], allow_pickle=False)
        mask = np.array(Image.open(self.masks / f"{self.files[i].stem}.png"))
        return torch.from_numpy(image).permute(2, 0, 1), torch.from_numpy(mask).long()
