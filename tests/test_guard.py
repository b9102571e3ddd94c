"""The training guard on real torch training loops (CPU) with planted causes: it names
each one, the samples and files of the batch when the data is to blame."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REQUIRE_REAL_PARTS

try:
    import torch
except ImportError:  # a developer's machine without torch; CI installs it
    if REQUIRE_REAL_PARTS:
        raise
    pytest.skip("torch is not installed", allow_module_level=True)

from guard_loops import (
    IGNORE,
    C,
    FileDataset,
    TinyDeepLab,
    hand_written_ce,
    loader,
    train,
    write_dataset,
)
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import nanaudit
from nanaudit.formats import Format, render


def _ce() -> nn.Module:
    return nn.CrossEntropyLoss(ignore_index=IGNORE)


def _fails(**kw: object) -> nanaudit.NonFiniteLoss:
    with pytest.raises(nanaudit.NonFiniteLoss) as info:
        train(**kw)  # type: ignore[arg-type]
    return info.value


def _checks(err: nanaudit.NonFiniteLoss) -> set[str]:
    return {f.check for f in err.report.findings}


def test_all_ignore_batch_under_mean_cross_entropy(tmp_path: Path) -> None:
    torch.manual_seed(0)
    write_dataset(tmp_path, 12)
    for i in (2, 7, 9, 11):  # the second batch: four masks of the ignore index only
        Image.fromarray(np.full((16, 16), IGNORE, np.uint8)).save(
            tmp_path / f"masks/img_{i:03d}.png"
        )
    ds = FileDataset(tmp_path)
    dl = DataLoader(ds, batch_size=4, sampler=[0, 1, 3, 4, 2, 7, 9, 11, 5, 6])
    err = _fails(
        guard=nanaudit.NanGuard(num_classes=C), dl=dl, model=TinyDeepLab(), criterion=_ce()
    )
    assert err.verdict == "data"
    assert err.step == 1
    na504 = [f for f in err.report.findings if f.check == "NA504"]
    assert len(na504) == 1
    assert sorted(na504[0].json_data["samples"]) == [2, 7, 9, 11]
    assert "NA504" in err.message and "ignore index 255" in err.message
    assert "NA301" not in _checks(err)  # one batch's classes say nothing of the dataset's


def test_nan_pixels_in_one_image_name_the_sample_and_its_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    files = write_dataset(tmp_path, 16)
    img = np.load(files[5])
    img[3, 4, 0] = np.nan
    np.save(files[5], img)
    ds = FileDataset(tmp_path)
    guard = nanaudit.NanGuard(num_classes=C, ignore_index=IGNORE)
    # shuffled, two worker processes prefetching: the indices come from the sampler
    dl = loader(ds, num_workers=2, prefetch_factor=2)
    err = _fails(guard=guard, dl=dl, model=TinyDeepLab(), criterion=_ce())
    assert err.verdict == "data"
    nan = [f for f in err.report.findings if f.check == "NA101"]
    assert len(nan) == 1
    assert nan[0].json_data["sample"] == 5
    assert nan[0].path == f"sample 5 ({files[5]})"
    assert str(files[5]) in err.message and "NA101" in err.message


def test_exploding_gradients_from_the_learning_rate(tmp_path: Path) -> None:
    torch.manual_seed(0)
    write_dataset(tmp_path, 32)
    err = _fails(
        guard=nanaudit.NanGuard(num_classes=C),
        dl=loader(FileDataset(tmp_path)),
        model=TinyDeepLab(),
        criterion=_ce(),
        lr=100.0,
        epochs=10,
    )
    assert err.verdict == "not data"
    assert "The batch is clean" in err.message
    (na603,) = [f for f in err.report.findings if f.check == "NA603"]
    assert 0 < na603.json_data["clip"] < na603.json_data["left_norm"]
    assert na603.json_data["left_at"] < err.step
    assert "exploding gradients" in err.message and "max_norm=" in err.message
    assert "NA603" in err.message.splitlines()[2]


def test_hand_written_cross_entropy_meets_a_zero_probability(tmp_path: Path) -> None:
    torch.manual_seed(0)
    write_dataset(tmp_path, 32)
    err = _fails(
        guard=nanaudit.NanGuard(num_classes=C, criterion=hand_written_ce),
        dl=loader(FileDataset(tmp_path)),
        model=TinyDeepLab(),
        criterion=hand_written_ce,
        lr=5.0,
        epochs=10,
    )
    assert err.verdict == "not data"
    (na604,) = [f for f in err.report.findings if f.check == "NA604"]
    assert na604.json_data["op"] == "torch.log" and na604.json_data["zeros"] > 0
    assert "NA603" not in _checks(err)  # the gradient norms stayed in range
    assert "log of 0" in err.message


def test_hand_written_loss_without_criterion_still_blames_the_loss(tmp_path: Path) -> None:
    torch.manual_seed(0)
    write_dataset(tmp_path, 32)
    err = _fails(
        guard=nanaudit.NanGuard(num_classes=C),
        dl=loader(FileDataset(tmp_path)),
        model=TinyDeepLab(),
        criterion=hand_written_ce,
        lr=5.0,
        epochs=10,
    )
    assert err.verdict == "not data"
    assert "NA604" in _checks(err) and "criterion=" in err.message


@pytest.mark.parametrize("workers", [0, 2])
def test_collate_error_names_the_samples_and_their_sizes(tmp_path: Path, workers: int) -> None:
    write_dataset(tmp_path, 8)
    write_dataset(tmp_path / "small", 1, size=12)
    shutil.copy(tmp_path / "small/images/img_000.npy", tmp_path / "images/img_003.npy")
    shutil.copy(tmp_path / "small/masks/img_000.png", tmp_path / "masks/img_003.png")
    guard = nanaudit.NanGuard(num_classes=C)
    dl = DataLoader(FileDataset(tmp_path), batch_size=4, num_workers=workers)
    with pytest.raises(nanaudit.StepFailed) as info:
        train(guard, dl, TinyDeepLab(), _ce())
    err = info.value
    assert err.verdict == "data" and err.step == 0
    # in a worker, the default collate stacks into shared memory and says it differently
    expected = "stack expects each tensor to be equal size" if not workers else "resize storage"
    assert err.error.startswith("RuntimeError: ") and expected in err.error
    assert isinstance(err.__cause__, RuntimeError)
    (na609,) = [f for f in err.report.findings if f.check == "NA609"]
    assert na609.json_data["samples"] == [0, 1, 2, 3]
    sizes = {s["sample"]: s["image"] for s in na609.json_data["shapes"]}
    assert sizes[3] == [3, 12, 12] and sizes[0] == [3, 16, 16]
    assert "NA505" in _checks(err)
    assert "sample 3 (" in err.message and "image 3×12×12" in err.message


class Indexed(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Tiny samples whose image holds its own index (to check the recorded indices)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img = torch.full((3, 8, 8), float(i) / self.n)
        img[:, :4] += torch.rand(3, 4, 8)
        mask = torch.zeros(8, 8, dtype=torch.long)
        mask[:, 4:] = 1 + i % (C - 1)
        mask[0, 0] = i % C
        return img, mask


@pytest.mark.parametrize("workers", [0, 2])
def test_clean_run_raises_nothing_and_records_every_batch(workers: int) -> None:
    torch.manual_seed(0)
    ds = Indexed(40)
    kw: dict[str, object] = {"num_workers": workers}
    if workers:
        kw.update(prefetch_factor=3, persistent_workers=True)
    dl = loader(ds, batch_size=2, **kw)
    guard = nanaudit.NanGuard(num_classes=C)
    model = TinyDeepLab(width=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    crit = _ce()
    steps = 0
    for _ in range(8 if workers else 15):  # 160 / 300 steps
        for images, masks in guard.watch(dl):
            current = guard._current
            assert current is not None and current.indices is not None
            seen = [round(float(images[k, 0, 7, 0]) * ds.n) for k in range(len(images))]
            assert current.indices == seen
            loss = crit(model(images), masks)
            loss.backward()
            guard.check(loss, model=model, optimizer=opt)
            opt.step()
            opt.zero_grad()
            steps += 1
    assert steps == (160 if workers else 300)
    assert len(guard.history) == min(steps, 512)
    assert all(r.finite for r in guard.history.records)


def test_label_out_of_range_in_the_step_body(tmp_path: Path) -> None:
    write_dataset(tmp_path, 8)
    Image.fromarray(np.full((16, 16), 7, np.uint8)).save(tmp_path / "masks/img_006.png")
    dl = DataLoader(FileDataset(tmp_path), batch_size=4)
    with pytest.raises(nanaudit.StepFailed) as info:
        train(nanaudit.NanGuard(num_classes=C), dl, TinyDeepLab(), _ce(), context=True)
    err = info.value
    assert err.verdict == "data" and err.step == 1
    assert "out of bounds" in err.error
    na201 = [f for f in err.report.findings if f.check == "NA201"]
    assert [f.json_data["sample"] for f in na201] == [6]
    assert "NA608" in _checks(err)


def test_batch_of_one_under_batchnorm(tmp_path: Path) -> None:
    write_dataset(tmp_path, 9)
    dl = DataLoader(FileDataset(tmp_path), batch_size=4)  # 4 + 4 + 1
    with pytest.raises(nanaudit.StepFailed) as info:
        train(nanaudit.NanGuard(num_classes=C), dl, TinyDeepLab(), _ce(), context=True)
    err = info.value
    assert err.step == 2 and err.verdict == "data"
    assert "drop_last=True" in err.message


def test_weights_already_non_finite(tmp_path: Path) -> None:
    write_dataset(tmp_path, 8)
    model = TinyDeepLab()
    with torch.no_grad():
        model.aspp2[0].weight[0, 0, 0, 0] = float("nan")  # a corrupted checkpoint
    err = _fails(
        guard=nanaudit.NanGuard(num_classes=C),
        dl=DataLoader(FileDataset(tmp_path), batch_size=4),
        model=model,
        criterion=_ce(),
    )
    assert err.verdict == "not data" and err.step == 0
    (na607,) = [f for f in err.report.findings if f.check == "NA607"]
    assert na607.json_data["tensors"] == ["aspp2.0.weight"]


def test_the_report_renders_in_every_format(tmp_path: Path) -> None:
    torch.manual_seed(0)
    files = write_dataset(tmp_path, 8)
    img = np.load(files[2])
    img[0, 0, 1] = np.inf
    np.save(files[2], img)
    err = _fails(
        guard=nanaudit.NanGuard(num_classes=C),
        dl=DataLoader(FileDataset(tmp_path), batch_size=4),
        model=TinyDeepLab(),
        criterion=_ce(),
    )
    assert err.verdict == "data" and "NA102" in _checks(err)
    for fmt in Format:
        text = render(err.report, fmt)
        assert "NA102" in text, fmt
    doc = json.loads(err.render("json"))
    assert {f["check"] for f in doc["findings"]} >= {"NA102", "NA601"}


def test_import_nanaudit_imports_no_torch() -> None:
    code = (
        "import sys, nanaudit; nanaudit.NanGuard; "
        "print(sorted(m for m in ('torch', 'lightning', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_tensor_dataset_and_plain_iterables() -> None:
    """A TensorDataset has no names; an iterable has no sampler: batches are still checked."""
    torch.manual_seed(0)
    x = torch.rand(8, 3, 8, 8)
    x[5, 0, 0, 0] = float("nan")
    y = torch.randint(0, C, (8, 8, 8))
    for source in (DataLoader(TensorDataset(x, y), batch_size=4), [(x[:4], y[:4]), (x[4:], y[4:])]):
        guard = nanaudit.NanGuard(num_classes=C)
        with pytest.raises(nanaudit.NonFiniteLoss) as info:
            train(guard, source, TinyDeepLab(width=4), _ce())
        err = info.value
        assert err.verdict == "data" and err.step == 1
        (f,) = [f for f in err.report.findings if f.check == "NA101"]
        assert f.json_data["sample"] == (5 if isinstance(source, DataLoader) else 1)


def test_fp16_overflow_under_autocast() -> None:
    """Logits beyond float16's range under autocast (no GradScaler): the guard sees the
    casts in the loss's graph, replays in float16 and names the module."""
    torch.manual_seed(0)
    x, y = torch.rand(8, 3, 16, 16), torch.randint(0, C, (8, 16, 16))
    model = TinyDeepLab()
    with torch.no_grad():
        model.classifier.weight.mul_(1e5)  # weights grown far beyond the float16 range
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    guard = nanaudit.NanGuard(num_classes=C)
    with pytest.raises(nanaudit.NonFiniteLoss) as info:
        for images, masks in guard.watch(DataLoader(TensorDataset(x, y), batch_size=4)):
            with torch.autocast("cpu", dtype=torch.float16):
                loss = _ce()(model(images), masks)
            loss.backward()
            guard.check(loss, model=model, optimizer=opt)
            opt.step()
            opt.zero_grad()
    err = info.value
    assert err.verdict == "not data"
    (na606,) = [f for f in err.report.findings if f.check == "NA606"]
    assert na606.json_data["module"] == "classifier"
    assert "NA610" not in _checks(err)
