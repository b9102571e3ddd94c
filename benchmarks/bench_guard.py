"""What the training guard costs on a healthy training step: the same CPU training loop with
and without ``nanaudit.NanGuard`` (``watch`` on the DataLoader, ``check`` after backward).

    python benchmarks/bench_guard.py                  # 41 rounds of 2 × 10 steps
    python benchmarks/bench_guard.py --rounds 31 --steps 40 --size 96 --threads 2

The net is a small DeepLab-like one (a strided stem, a dilated block, an ASPP of two rates
and an image-pooling branch, BatchNorm after every convolution, a 1×1 classifier,
upsampled), trained with SGD and cross-entropy on random batches of --batch images of
--size² pixels drawn by a shuffled DataLoader. Each round runs --steps steps without the
guard and --steps steps with it (and, with --anomaly, under torch.autograd.detect_anomaly),
in an order that rotates from round to round so that the machine's noise hits all alike; the
ratio is taken within each round, for the wall time and for this process's CPU time, and the
table gives the median and the range over the rounds. The guard's own share is also timed
directly: ``check`` alone (the gradient norm and the one transfer to the host), per call,
against the step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nanaudit

CLASSES = 8


def block(cin: int, cout: int, k: int = 3, d: int = 1, s: int = 1) -> nn.Sequential:
    pad = d * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=s, padding=pad, dilation=d, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


class DeepLabLike(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(block(3, width, s=2), block(width, width, s=2))
        self.body = nn.Sequential(block(width, 2 * width, d=2), block(2 * width, 2 * width, d=4))
        w = 2 * width
        self.aspp = nn.ModuleList([block(w, w, k=1), block(w, w, d=6), block(w, w, d=12)])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), block(w, w, k=1))
        self.project = block(4 * w, w, k=1)
        self.classifier = nn.Conv2d(w, CLASSES, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.body(self.stem(x))
        branches = [m(f) for m in self.aspp]
        branches.append(self.pool(f).expand(-1, -1, *f.shape[-2:]))
        out = self.classifier(self.project(torch.cat(branches, 1)))
        return nn.functional.interpolate(out, size=x.shape[-2:], mode="bilinear")


def batches(
    dl: DataLoader[tuple[torch.Tensor, ...]], steps: int
) -> Iterator[tuple[torch.Tensor, ...]]:
    n = 0
    while True:
        for b in dl:
            yield b
            n += 1
            if n == steps:
                return


def run(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    dl: DataLoader,
    steps: int,
    guard: nanaudit.NanGuard | str | None,
) -> tuple[float, float]:  # type: ignore[type-arg]
    crit = nn.CrossEntropyLoss(ignore_index=255)
    anomaly = guard == "anomaly"
    if anomaly:
        guard = None
    wall, cpu = time.perf_counter(), time.process_time()
    n = 0
    while n < steps:
        source = guard.watch(dl) if guard is not None else dl
        for images, masks in source:
            if anomaly:
                with torch.autograd.detect_anomaly(check_nan=True):
                    loss = crit(model(images), masks)
                    loss.backward()
            else:
                loss = crit(model(images), masks)
                loss.backward()
            if guard is not None:
                guard.check(loss, model=model, optimizer=opt)
            opt.step()
            opt.zero_grad()
            n += 1
            if n == steps:
                break
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=41)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--anomaly", action="store_true", help="also time torch.autograd.detect_anomaly"
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", "Anomaly Detection has been enabled")
    torch.manual_seed(0)
    n = args.batch * 16
    x = torch.rand(n, 3, args.size, args.size)
    y = torch.randint(0, CLASSES, (n, args.size, args.size))
    dl = DataLoader(TensorDataset(x, y), batch_size=args.batch, shuffle=True, drop_last=True)
    model = DeepLabLike(args.width)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    guard = nanaudit.NanGuard(num_classes=CLASSES)
    run(model, opt, dl, 5, None)  # warm-up: allocator, kernels, the guard's imports
    run(model, opt, dl, 5, guard)
    ratios: dict[str, tuple[list[float], list[float]]] = {"guard": ([], []), "anomaly": ([], [])}
    step_ms = []
    arms: list[nanaudit.NanGuard | str | None] = [None, guard]
    if args.anomaly:
        arms.append("anomaly")
    for r in range(args.rounds):
        order = arms[r % len(arms) :] + arms[: r % len(arms)]  # rotates from round to round
        times = {}
        for arm in order:
            key = "none" if arm is None else "anomaly" if arm == "anomaly" else "guard"
            times[key] = run(model, opt, dl, args.steps, arm)
        for key, (walls, cpus) in ratios.items():
            if key in times:
                walls.append(times[key][0] / times["none"][0])
                cpus.append(times[key][1] / times["none"][1])
        step_ms.append(1000 * times["none"][0] / args.steps)

    # check() alone: the gradient norm and the one transfer, on the gradients of a real step
    crit = nn.CrossEntropyLoss(ignore_index=255)
    images, masks = next(iter(dl))
    loss = crit(model(images), masks)
    loss.backward()
    calls = 200
    per_call = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(calls):
            guard.check(loss, model=model, optimizer=opt)
        per_call.append((time.perf_counter() - t) / calls)
    check_us = statistics.median(per_call) * 1e6
    step = statistics.median(step_ms)

    def row(name: str, ratios: list[float]) -> str:
        med = statistics.median(ratios)
        return (
            f"| {name} | {med:.4f} ({100 * (med - 1):+.2f}%) | "
            f"{min(ratios):.4f} – {max(ratios):.4f} |"
        )

    params = sum(p.numel() for p in model.parameters())
    print(
        f"DeepLab-like net, {params:,} parameters, batch {args.batch}×3×{args.size}×{args.size}, "
        f"{args.threads} thread(s); {args.rounds} rounds of {args.steps} steps each way"
    )
    print(f"step without the guard: median {step:.1f} ms")
    print()
    print("| against the plain step | median | range over rounds |")
    print("|---|---|---|")
    for key, (walls, cpus) in ratios.items():
        if walls:
            name = "with the guard" if key == "guard" else "under detect_anomaly"
            print(row(f"{name}, wall time", walls))
            print(row(f"{name}, CPU time", cpus))
    print()
    print(
        f"check() alone: {check_us:.0f} µs per call, "
        f"{100 * check_us / 1000 / step:.2f}% of the step"
    )


if __name__ == "__main__":
    main()
