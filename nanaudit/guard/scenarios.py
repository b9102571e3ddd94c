"""Small training loops with a planted cause each, for the check pages' examples (docsgen):
each runs a real torch loop under the guard and returns the findings of its failure. Needs
torch; nothing here runs on ``import nanaudit``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, cast

import torch
from torch import nn
from torch.utils.data import DataLoader

from .core import NanGuard
from .errors import NonFiniteLoss

C = 3


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=2, dilation=2), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, C, 1)
    )


class _DeepLabLike(nn.Module):
    """A dilated block, an ASPP of two rates and an image-pooling branch, BatchNorm after
    every convolution, a 1x1 classifier: DeepLabv3's shape at 16x16."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()

        def cbr(cin: int, cout: int, k: int = 3, d: int = 1, s: int = 1) -> nn.Sequential:
            conv = nn.Conv2d(cin, cout, k, stride=s, padding=d * (k // 2), dilation=d, bias=False)
            return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.ReLU())

        self.stem = nn.Sequential(cbr(3, width, s=2), cbr(width, width, d=2))
        self.aspp = nn.ModuleList([cbr(width, width, k=1), cbr(width, width, d=3)])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), cbr(width, width, k=1))
        self.project = cbr(3 * width, width, k=1)
        self.classifier = nn.Conv2d(width, 4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.stem(x)
        parts = [m(f) for m in self.aspp] + [self.pool(f).expand(-1, -1, *f.shape[-2:])]
        out = self.classifier(self.project(torch.cat(parts, 1)))
        return nn.functional.interpolate(out, size=x.shape[-2:], mode="bilinear")


def _images(n: int = 32) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """16x16 images and masks of two regions: a class on the right, the background left."""
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        mask = torch.zeros(16, 16, dtype=torch.long)
        mask[:, 8:] = 1 + i % 3
        out.append((torch.rand(3, 16, 16, generator=g), mask))
    return out


def _batches(n: int = 32) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, 8, 8, generator=g)
    y = torch.randint(0, C, (n, 8, 8), generator=g)
    return [(x[i], y[i]) for i in range(n)]


def _loader(samples: list[tuple[torch.Tensor, torch.Tensor]], **kw: Any) -> DataLoader[Any]:
    # a list is a map-style dataset, which DataLoader's annotation does not say
    return DataLoader(samples, **kw)  # type: ignore[arg-type]


def _train(
    guard: NanGuard,
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    loader: Any,
    lr: float = 0.01,
    epochs: int = 1,
) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(epochs):
        for images, masks in guard.watch(loader):
            with guard.step(model=model):
                loss = loss_fn(model(images), masks)
                loss.backward()  # type: ignore[no-untyped-call]
                guard.check(loss, model=model, optimizer=opt)
            opt.step()
            opt.zero_grad()


# --------------------------------------------------------------------------- the scenarios


def hand_written_cross_entropy() -> None:
    def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        y = nn.functional.one_hot(target, C).permute(0, 3, 1, 2).float()
        return -(y * torch.log(torch.softmax(logits, 1))).sum() / target.numel()

    model = _model()
    bias = cast(nn.Conv2d, model[3]).bias
    assert bias is not None
    with torch.no_grad():
        bias[1] = -200.0  # a confident model: class 1's probability underflows to 0
    guard = NanGuard(num_classes=C, criterion=loss_fn)
    _train(guard, model, loss_fn, _loader(_batches(), batch_size=4))


def learning_rate_too_high() -> None:
    torch.manual_seed(0)
    guard = NanGuard(num_classes=4)
    loader = _loader(_images(), batch_size=4, shuffle=True)
    _train(guard, _DeepLabLike(), nn.CrossEntropyLoss(), loader, lr=100.0, epochs=20)


def log_inside_the_model() -> None:
    class LogFeatures(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.log(x)  # ReLU's zeros: log(0) = -inf

    model = _model()
    model.insert(3, LogFeatures())
    guard = NanGuard(num_classes=C)
    _train(guard, model, nn.CrossEntropyLoss(), _loader(_batches(), batch_size=4))


def float16_overflow() -> None:
    model = _model()
    head = cast(nn.Conv2d, model[3])
    with torch.no_grad():
        head.weight.mul_(1e5)  # weights grown beyond float16's range
    loss_fn = nn.CrossEntropyLoss()

    guard = NanGuard(num_classes=C)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for images, masks in guard.watch(_loader(_batches(), batch_size=4)):
        with torch.autocast("cpu", dtype=torch.float16):
            loss = loss_fn(model(images), masks)
        loss.backward()
        guard.check(loss, model=model, optimizer=opt)
        opt.step()
        opt.zero_grad()


def weights_from_a_bad_checkpoint() -> None:
    model = _model()
    first = cast(nn.Conv2d, model[0])
    with torch.no_grad():
        first.weight[0, 0, 0, 0] = float("nan")
    guard = NanGuard(num_classes=C)
    _train(guard, model, nn.CrossEntropyLoss(), _loader(_batches(), batch_size=4))


def sqrt_at_zero() -> None:
    def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # a feature-matching distance to a target equal to the features: sqrt's derivative
        # at 0 is infinite, times the square's 0 it is NaN
        ce = nn.functional.cross_entropy(logits, target)
        return ce + torch.sqrt(((logits - logits.detach()) ** 2).sum(1)).mean()

    guard = NanGuard(num_classes=C, criterion=loss_fn)
    _train(guard, _model(), loss_fn, _loader(_batches(), batch_size=4))


def label_out_of_range() -> None:
    samples = _batches()
    samples[6] = (samples[6][0], torch.full((8, 8), 7))  # label 7 with 3 classes
    guard = NanGuard(num_classes=C)
    _train(guard, _model(), nn.CrossEntropyLoss(), _loader(samples, batch_size=4))


def images_of_two_sizes() -> None:
    samples = _batches(8)
    samples[2] = (torch.rand(3, 6, 6), torch.zeros(6, 6, dtype=torch.long))
    guard = NanGuard(num_classes=C)
    _train(guard, _model(), nn.CrossEntropyLoss(), _loader(samples, batch_size=4))


def a_term_the_guard_does_not_replay() -> None:
    ce = nn.CrossEntropyLoss()

    def loss_fn(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss: torch.Tensor = ce(logits, target)
        if torch.is_grad_enabled():  # in the step, not in the guard's replay
            zero = torch.zeros(())
            loss = loss + zero / zero  # 0/0
        return loss

    guard = NanGuard(num_classes=C, criterion=ce)
    _train(guard, _model(), loss_fn, _loader(_batches(), batch_size=4))


SCENARIOS: tuple[Callable[[], None], ...] = (
    hand_written_cross_entropy,
    learning_rate_too_high,
    log_inside_the_model,
    float16_overflow,
    weights_from_a_bad_checkpoint,
    sqrt_at_zero,
    label_out_of_range,
    images_of_two_sizes,
    a_term_the_guard_does_not_replay,
)


def run() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(intro, findings) of each scenario's failure; on one thread, so that the figures
    (an explosion's step, its norms) do not depend on the machine's cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield from _run()
    finally:
        torch.set_num_threads(threads)


def _run() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    for scenario in SCENARIOS:
        try:
            scenario()
        except NonFiniteLoss as err:
            source = inspect.getsource(scenario).rstrip()
            intro = (
                "A training loop under the guard (`nanaudit.NanGuard`) with a planted cause "
                f"(`nanaudit/guard/scenarios.py`):\n\n```python\n{source}\n```\n\n"
                f"The loop stops with `{type(err).__name__}` (verdict: {err.verdict}); the guard"
            )
            yield (
                intro,
                [
                    {
                        "check": f.check,
                        "name": f.name,
                        "severity": f.severity.label,
                        "path": f.path,
                        "message": f.message,
                    }
                    for f in err.report.findings
                ],
            )
