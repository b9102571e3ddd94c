"""``nanaudit.NanGuard``: watch a training loop's batches, check each step's loss and
gradients at next to no cost, and explain the first step that fails.

The healthy path: ``watch`` hands each batch over unchanged and notes its dataset indices
(read from the loader's sampler); ``check`` computes the gradient norm on the gradients'
device and brings the loss, the norm and a GradScaler's scale to the host in one transfer
(the only synchronisation), keeps them in a short history and compares them with Inf.
Everything else (the audit of the batch, the replay, the reading of the history) runs once,
when a step fails, and ends in :class:`NonFiniteLoss`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .errors import NonFiniteLoss
from .history import History, StepRecord
from .watch import LoaderTap

MAX_SKIPPED = 8  # consecutive GradScaler-skipped steps (gradients overflowing) before it raises


@dataclass
class _Current:
    step: int
    batch_index: int
    indices: list[int] | None
    tap: LoaderTap | None
    batch: Any


class NanGuard:
    """Guards a training loop::

        guard = nanaudit.NanGuard(num_classes=19, ignore_index=255)
        for images, masks in guard.watch(loader):
            loss = criterion(model(images), masks)
            loss.backward()
            guard.check(loss, model=model, optimizer=optimizer)   # raises NonFiniteLoss
            optimizer.step(); optimizer.zero_grad()

    ``num_classes``, ``ignore_index`` and ``options`` are those of ``audit_samples`` (the
    failing batch is audited with the sample checks). ``criterion(output, target)`` lets
    the replay of a failing batch run the loss too (it names the operation that made the
    NaN); ``forward(model, batch)`` replaces ``model(images)`` for models that take more
    than the images. ``history`` steps are kept.
    """

    def __init__(
        self,
        num_classes: int | None = None,
        ignore_index: int | None = 255,
        *,
        criterion: Callable[[Any, Any], Any] | None = None,
        forward: Callable[[Any, Any], Any] | None = None,
        history: int = 512,
        **options: Any,
    ) -> None:
        from pathlib import Path

        from ..options import Layer
        from ..options import resolve as resolve_options

        values = {k: v for k, v in {"num_classes": num_classes, **options}.items() if v is not None}
        values["ignore_index"] = ignore_index
        self.options = resolve_options([Layer("option", values, Path.cwd())])
        self.criterion = criterion
        self.forward = forward
        self.history = History(history)
        self.steps = 0  # batches handed over by watch
        self._current: _Current | None = None
        self._params: tuple[int, list[Any]] | None = None
        self._skipped = 0
        self._checked = -1

    # ------------------------------------------------------------------ the batches

    def watch(self, loader: Iterable[Any]) -> Iterator[Any]:
        """The loader's batches, unchanged; each one's dataset indices are noted. A batch
        the loader cannot form (a collate error) raises :class:`StepFailed` with the
        samples of that batch audited."""
        tap = LoaderTap(loader)
        it = tap.open()
        index = 0
        while True:
            try:
                batch = next(it)
            except StopIteration:
                return
            except Exception as exc:
                raise self._loader_failure(exc, tap, index) from exc
            self._current = _Current(self.steps, index, tap.take(), tap, batch)
            try:
                yield batch
            finally:
                self.steps += 1
                index += 1

    def see(
        self,
        batch: Any,
        indices: list[int] | None = None,
        *,
        tap: LoaderTap | None = None,
        batch_index: int | None = None,
    ) -> None:
        """Declare the batch of the step about to run, for loops that cannot iterate through
        ``watch`` (the integrations: the trainer iterates the loader). ``indices``: its
        dataset indices, when known."""
        index = batch_index if batch_index is not None else self.steps
        self._current = _Current(self.steps, index, indices, tap, batch)
        self.steps += 1

    # ------------------------------------------------------------------ every step

    def _trainable(self, model: Any) -> list[Any]:
        if self._params is None or self._params[0] != id(model):
            from .replay import trainable

            self._params = (id(model), trainable(model))
        return self._params[1]

    def check(
        self,
        loss: Any,
        model: Any = None,
        optimizer: Any = None,
        scaler: Any = None,
        *,
        criterion: Callable[[Any, Any], Any] | None = None,
        grad_norm: Any = None,
    ) -> None:
        """Raise :class:`NonFiniteLoss` when the loss or (with ``model``) the gradient norm
        is not finite. Call it after ``backward()`` and before ``optimizer.step()``. With a
        GradScaler (``scaler``), gradients that overflow are the scaler's to skip; the guard
        raises when they keep overflowing. ``grad_norm``: the norm you computed already
        (clip_grad_norm_'s return value)."""
        from .replay import grad_norm as norm_of
        from .replay import measure, scale_tensor

        current = self._current
        step = current.step if current is not None else self._checked + 1
        self._checked = step
        norm = grad_norm
        if norm is None and model is not None:
            norm = norm_of(self._trainable(model))
        elif norm is not None and not hasattr(norm, "detach"):
            import torch

            norm = torch.tensor(float(norm))
        loss_v, norm_v, scale_v = measure(loss, norm, scale_tensor(scaler))
        lr = _lr(optimizer)
        self.history.add(StepRecord(step, loss_v, norm_v, lr, scale_v))
        if math.isfinite(loss_v) and (norm_v is None or math.isfinite(norm_v)):
            self._skipped = 0
            return
        if scale_v is not None and math.isfinite(loss_v):
            self._skipped += 1  # the scaler skips this step and lowers its scale
            if self._skipped < MAX_SKIPPED:
                return
        kind = "loss" if not math.isfinite(loss_v) else "gradient"
        from .replay import has_casts

        amp = scaler is not None or has_casts(loss)
        raise self._failure(kind, loss_v, norm_v, None, model, criterion, scaler is not None, amp)

    @contextlib.contextmanager
    def step(
        self,
        model: Any = None,
        optimizer: Any = None,
        scaler: Any = None,
        *,
        criterion: Callable[[Any, Any], Any] | None = None,
    ) -> Iterator[None]:
        """``with guard.step(model=model):`` around the step body: an exception raised in
        it becomes :class:`StepFailed` with the batch audited (a label out of range, a
        float mask, a batch of one under BatchNorm); NonFiniteLoss passes through."""
        try:
            yield
        except NonFiniteLoss:
            raise
        except Exception as exc:
            from ..samples.draw import describe

            raise self._failure(
                "exception", None, None, describe(exc), model, criterion, scaler is not None
            ) from exc

    # ------------------------------------------------------------------ the failure

    def _failure(
        self,
        kind: Any,
        loss: float | None,
        norm: float | None,
        error: str | None,
        model: Any,
        criterion: Callable[[Any, Any], Any] | None,
        scaler: bool,
        amp: bool = False,
    ) -> NonFiniteLoss:
        from .diagnose import Failure, diagnose, split_batch

        current = self._current
        batch = None
        if current is not None:
            names = current.tap.names(current.indices) if current.tap and current.indices else []
            batch = split_batch(current.batch, current.indices, names)
        crit = criterion or self.criterion
        run = self._replay_run(model, crit) if model is not None and current is not None else None
        step = current.step if current is not None else self._checked
        failure = Failure(
            kind=kind,
            step=step,
            batch_index=current.batch_index if current is not None else None,
            loss=loss,
            grad_norm=norm,
            error=error,
            history=tuple(self.history.records),
            batch=batch,
            model=model,
            run=run,
            criterion=crit is not None,
            scaler=scaler,
            amp=amp or scaler or _autocast_on(model),
            params=self._trainable(model) if model is not None else (),
            loader_note=current.tap.note if current is not None and current.tap else None,
        )
        return diagnose(failure, self.options)

    def _replay_run(
        self, model: Any, criterion: Callable[[Any, Any], Any] | None
    ) -> Callable[[], Any] | None:
        current = self._current
        if current is None:
            return None
        from ..samples.draw import _parts
        from .replay import device_of, to_device

        batch = current.batch
        forward = self.forward

        def run() -> Any:
            device = device_of(model)
            moved = to_device(batch, device)
            if forward is not None:
                out = forward(model, moved)
                target = _parts(moved, None, None)[1] if criterion is not None else None
            else:
                image, target, _ = _parts(moved, None, None)
                out = model(image)
            return criterion(out, target) if criterion is not None else out

        return run

    def _loader_failure(self, exc: Exception, tap: LoaderTap, index: int) -> NonFiniteLoss:
        from .diagnose import Failure, diagnose, fetch_batch

        indices = tap.peek()
        batch = None
        dataset = tap.dataset
        if indices is not None and dataset is not None and hasattr(dataset, "__getitem__"):
            batch = fetch_batch(dataset, indices, tap.names(indices))
        failure = Failure(
            kind="loader",
            step=self.steps,
            batch_index=index,
            loss=None,
            grad_norm=None,
            error=loader_error(exc),
            history=tuple(self.history.records),
            batch=batch,
            model=None,
            run=None,
            criterion=False,
            scaler=False,
            amp=False,
            loader_note=tap.note,
        )
        return diagnose(failure, self.options)


def loader_error(exc: BaseException) -> str:
    """The exception on one line; a worker's error (its traceback in the message) by the
    traceback's last line, the original exception."""
    from ..samples.draw import describe

    text = str(exc)
    if "Original Traceback" in text:
        last = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if last:
            return " ".join(last[-1].split())[:500]
    return describe(exc)[:500]


def _lr(optimizer: Any) -> float | None:
    groups = getattr(optimizer, "param_groups", None)
    if not groups:
        return None
    lr = groups[0].get("lr")
    try:
        return float(lr)
    except (TypeError, ValueError):
        return None


def _autocast_on(model: Any) -> bool:
    if model is None:
        return False
    import torch

    from .replay import device_of

    return bool(torch.is_autocast_enabled(device_of(model).type))
