"""The Lightning and Hugging Face integrations: the examples run as they are (real
packages, CPU, nothing downloaded), and the Lightning callback records the right indices."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from conftest import REQUIRE_REAL_PARTS, need_module

try:
    import torch
except ImportError:  # a developer's machine without torch; CI installs it
    if REQUIRE_REAL_PARTS:
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def _run_example(name: str, *args: str) -> str:
    """The example's output; it runs with a temporary folder of its own, which it must
    leave empty (each run left its dataset behind in /tmp)."""
    with tempfile.TemporaryDirectory() as scratch:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "HF_HUB_OFFLINE": "1",
            "OMP_NUM_THREADS": "1",
            "TMPDIR": scratch,
        }
        out = subprocess.run(
            [sys.executable, str(EXAMPLES / name), *args],
            cwd=EXAMPLES,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        left = sorted(p.name for p in Path(scratch).iterdir())
        assert not [n for n in left if n.startswith("nanaudit-example-")], left
    return out.stdout


def test_lightning_example_blames_the_hand_written_loss() -> None:
    need_module("lightning")
    out = _run_example("lightning_guard.py")
    assert "verdict=not data" in out
    assert "findings: NA601 NA604" in out
    assert "torch.log met" in out and "log of 0" in out
    assert "The batch is clean" in out


def test_huggingface_example_names_the_nan_file() -> None:
    need_module("transformers")
    need_module("accelerate")
    out = _run_example("huggingface_guard.py")
    assert "verdict=data" in out
    assert "sample 11 (data/images/img_011.npy): 1 NaN values" in out
    assert "NA101" in out


def test_plain_example_as_the_guide_shows_it() -> None:
    out = _run_example("plain_pytorch.py")
    readme = (REPO / "docs" / "guides" / "nan-guard.md").read_text(encoding="utf-8")
    assert "verdict=data" in out and "sample 5 (data/images/img_005.npy)" in out
    for line in out.splitlines():
        assert line in readme, line


def test_lightning_callback_records_each_batch_indices(tmp_path: Path) -> None:
    pl = need_module("lightning.pytorch")
    from torch.utils.data import DataLoader, Dataset

    from nanaudit.integrations.lightning import NanGuardCallback

    class Indexed(Dataset[tuple[torch.Tensor, torch.Tensor]]):
        def __len__(self) -> int:
            return 24

        def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
            return torch.full((3, 8, 8), float(i)), torch.zeros(8, 8, dtype=torch.long)

    seen: list[tuple[list[int] | None, list[int]]] = []

    class Spy(pl.Callback):  # type: ignore[misc]
        def __init__(self, guard: NanGuardCallback) -> None:
            self.guard = guard

        def on_train_batch_start(self, trainer: object, module: object, batch: Any, i: int) -> None:
            current = self.guard.guard._current
            assert current is not None
            images = batch[0]
            seen.append((current.indices, [int(v) for v in images[:, 0, 0, 0]]))

    class Net(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 2, 1)

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], i: int) -> torch.Tensor:
            x, y = batch
            return torch.nn.functional.cross_entropy(self.conv(x / 24), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    guard = NanGuardCallback(num_classes=2)
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        callbacks=[guard, Spy(guard)],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    dl = DataLoader(Indexed(), batch_size=4, shuffle=True, num_workers=2, persistent_workers=True)
    trainer.fit(Net(), dl)
    assert len(seen) == 12
    assert all(indices == content for indices, content in seen), seen
    assert type(dl.batch_sampler).__name__ == "BatchSampler"  # put back after training


def test_lightning_callback_diagnoses_an_exception_in_the_training_step(tmp_path: Path) -> None:
    pl = need_module("lightning.pytorch")
    from torch.utils.data import DataLoader, TensorDataset

    from nanaudit.integrations.lightning import NanGuardCallback

    x = torch.rand(8, 3, 8, 8)
    y = torch.zeros(8, 8, 8, dtype=torch.long)
    y[5, 2, 2] = 7  # a label out of range for 2 classes

    class Net(pl.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 2, 1)

        def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], i: int) -> torch.Tensor:
            images, masks = batch
            return torch.nn.functional.cross_entropy(self.conv(images), masks)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    guard = NanGuardCallback(num_classes=2)
    trainer = pl.Trainer(
        max_epochs=1,
        accelerator="cpu",
        callbacks=[guard],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    with pytest.raises(IndexError) as info:  # Lightning re-raises the step's own exception
        trainer.fit(Net(), DataLoader(TensorDataset(x, y), batch_size=4))
    failure = guard.failure
    assert failure is not None and failure.verdict == "data" and failure.step == 1
    assert [f.json_data["sample"] for f in failure.report.findings if f.check == "NA201"] == [5]
    assert any("NA201" in note for note in getattr(info.value, "__notes__", []))
