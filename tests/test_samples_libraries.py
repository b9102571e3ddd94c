"""Real pipelines through the libraries that cause the bugs: albumentations and torch, and
the "Audit your data loader" examples of docs/guides/samples.md, run as written.

torchvision cannot be installed beside the torch build these machines install (PyPI's
torchvision fails to import with it: "operator torchvision::nms does not exist"), so the
ToTensor-on-the-mask bug is written with torch operations exactly as torchvision's
``transforms.functional.to_tensor`` does it: uint8 → float, divided by 255.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import need_module
from PIL import Image
from test_samples import MEAN, STD, audit, found, labelled

from nanaudit.cli import cli

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network check at import
GUIDE = Path(__file__).resolve().parent.parent / "docs" / "guides" / "samples.md"


# --------------------------------------------------------------------------- albumentations


class Augmented:
    """A Dataset whose samples go through an albumentations Compose (dicts out)."""

    def __init__(self, transform: Any, size: int, n: int = 8) -> None:
        self.transform = transform
        self.items = [labelled(i, size) for i in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> Any:
        image, mask = self.items[i]
        return self.transform(image=image, mask=mask)


def test_albumentations_pad_and_crop_with_the_ignore_fill() -> None:
    A = need_module("albumentations")
    cv2 = need_module("cv2")

    def crops(pad: int) -> Any:
        return A.Compose(
            [
                A.PadIfNeeded(pad, pad, border_mode=cv2.BORDER_CONSTANT, fill=0, fill_mask=255),
                A.RandomCrop(32, 32),
                A.Normalize(),
            ],
            seed=0,
        )

    # 24×24 tiles padded to 96 with the ignore value: many crops see padding only
    report = audit(Augmented(crops(96), 24), num_classes=3, batch_size=2, max_samples=48)
    assert {"NA202", "NA504"} <= found(report), found(report)
    # padded to the crop size only: every crop holds the whole tile
    fixed = audit(Augmented(crops(32), 24), num_classes=3, batch_size=2, max_samples=48)
    assert fixed.findings == (), [(f.check, f.message) for f in fixed.findings]


def test_albumentations_resize_with_linear_mask_interpolation() -> None:
    A = need_module("albumentations")
    cv2 = need_module("cv2")

    def resize(mask_interpolation: int) -> Any:
        return A.Compose(
            [A.Resize(40, 40, mask_interpolation=mask_interpolation), A.Normalize()], seed=0
        )

    report = audit(Augmented(resize(cv2.INTER_LINEAR), 48), num_classes=3, max_samples=16)
    assert {"NA201", "NA209"} <= found(report), found(report)
    fixed = audit(Augmented(resize(cv2.INTER_NEAREST), 48), num_classes=3, max_samples=16)
    assert fixed.findings == (), [(f.check, f.message) for f in fixed.findings]


# --------------------------------------------------------------------------- torch


def to_tensor(pic: Image.Image) -> Any:
    """torchvision.transforms.functional.to_tensor for a PIL image, line by line."""
    import torch

    img = torch.from_numpy(np.array(pic, np.uint8, copy=True))
    img = img.view(pic.size[1], pic.size[0], len(pic.getbands()))
    img = img.permute((2, 0, 1)).contiguous()
    if isinstance(img, torch.ByteTensor):
        return img.to(dtype=torch.get_default_dtype()).div(255)
    return img


def segmentation_set(mask_transform: Any, sizes: tuple[int, ...] = (32,)) -> Any:
    """A torch Dataset of PIL images and masks, as tutorials write it."""
    torch = need_module("torch")

    class Segmentation(torch.utils.data.Dataset):
        def __init__(self) -> None:
            self.items = [labelled(i, sizes[i % len(sizes)]) for i in range(8)]
            self.files = [f"img_{i:02d}.png" for i in range(8)]

        def __len__(self) -> int:
            return len(self.items)

        def __getitem__(self, i: int) -> Any:
            image, mask = (Image.fromarray(a) for a in self.items[i])
            x = to_tensor(image)
            x = (x - torch.tensor(MEAN)[:, None, None]) / torch.tensor(STD)[:, None, None]
            return x, mask_transform(mask)

    return Segmentation()


def test_torch_dataloader_with_to_tensor_on_the_mask() -> None:
    torch = need_module("torch")
    loader = torch.utils.data.DataLoader
    bug = loader(segmentation_set(to_tensor), batch_size=4)  # B×1×H×W floats
    report = audit(bug, num_classes=3, max_samples=16)
    assert {"NA501", "NA502", "NA207"} <= found(report), found(report)
    first = min((f for f in report.findings if f.check == "NA501"), key=lambda f: f.path)
    assert first.path == "sample 00 (batch 0, img_00.png)" and first.image == "img_00.png"
    assert (first.json_data["sample"], first.json_data["batch"]) == (0, 0)
    assert "torch tensors were detached and moved to the CPU" in report.notes
    cast_back = loader(segmentation_set(lambda m: to_tensor(m).long()[0]), batch_size=4)
    assert "NA502" in found(audit(cast_back, num_classes=3, max_samples=16))
    fixed = loader(
        segmentation_set(lambda m: torch.as_tensor(np.array(m), dtype=torch.long)),
        batch_size=4,
        shuffle=True,
    )
    report = audit(fixed, num_classes=3, max_samples=16)
    assert report.findings == (), [(f.check, f.message) for f in report.findings]
    assert report.splits[0].images == 16


def test_torch_collate_error_on_mixed_sizes_is_a_finding() -> None:
    torch = need_module("torch")
    mixed = segmentation_set(lambda m: torch.as_tensor(np.array(m)).long(), sizes=(32, 40))
    report = audit(torch.utils.data.DataLoader(mixed, batch_size=2), num_classes=3)
    (f,) = [f for f in report.findings if f.check == "NA506"]
    assert "stack expects each tensor to be equal size" in f.message
    assert f.path == "sample 0"  # the first batch failed: nothing said the items were batches
    grouped = audit(mixed, num_classes=3, batch_size=2, max_samples=4)  # the Dataset itself
    assert "NA505" in found(grouped)


# --------------------------------------------------------------------------- the guide


def guide_block(marker: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    found_block = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)```", text, re.S)
    assert found_block, f"{GUIDE.name} has no block after <!-- {marker} -->"
    return found_block.group(1)


def test_readme_torch_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_module("torch")
    (tmp_path / "train_data.py").write_text(guide_block("samples:torch"))
    command = guide_block("samples:torch-command").strip().split()
    assert command[:2] == ["nanaudit", "samples"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "train_data", raising=False)
    result = CliRunner().invoke(cli, [*command[1:], "--format", "json"])
    doc = json.loads(result.stdout)  # (the schema is checked on smaller reports elsewhere)
    assert result.exit_code == 1
    assert {f["check"] for f in doc["findings"]} == {"NA501", "NA502", "NA207", "NA301"}


def test_readme_albumentations_example_runs_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    need_module("albumentations")
    block = guide_block("samples:albumentations")
    exec(compile(block, GUIDE.name, "exec"), {})
    printed = capsys.readouterr().out
    assert "NA201" in printed and "NA202" in printed, printed
    assert f"# {printed.strip()}" == block.strip().splitlines()[-1]  # the output it states
