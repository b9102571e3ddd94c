"""``NanGuardCallback``: the training guard as a PyTorch Lightning callback.

    from nanaudit.integrations.lightning import NanGuardCallback
    trainer = L.Trainer(callbacks=[NanGuardCallback(num_classes=19, ignore_index=255)])

Each training batch is declared to the guard with its dataset indices (the train loaders'
index samplers are wrapped when training starts); the loss is taken before backward and
checked, with the gradient norm, before the optimizer step: a non-finite one raises
``nanaudit.NonFiniteLoss`` out of ``trainer.fit``. An exception raised in the training step
is diagnosed too: its message gains the diagnosis as a note, and ``callback.failure`` holds
the ``StepFailed`` (Lightning re-raises its own exception, after tearing down).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import torch

from ..guard import NanGuard, NonFiniteLoss
from ..guard.watch import LoaderTap, attach, detach


class NanGuardCallback(pl.Callback):
    """The guard in a Lightning Trainer. ``criterion(output, target)``: the loss, for the
    replay of a failing batch to name the operation (default: the module's ``criterion``
    or ``loss_fn`` attribute, when it has one); ``forward(module, batch)`` replaces
    ``module(images)``. The other arguments are NanGuard's."""

    def __init__(
        self,
        num_classes: int | None = None,
        ignore_index: int | None = 255,
        *,
        criterion: Callable[[Any, Any], Any] | None = None,
        forward: Callable[[Any, Any], Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        self.guard = NanGuard(num_classes, ignore_index, forward=forward, **options)
        self.criterion = criterion
        self.failure: NonFiniteLoss | None = None
        self._taps: list[LoaderTap] = []
        self._loss: torch.Tensor | None = None

    def _criterion(self, module: pl.LightningModule) -> Callable[[Any, Any], Any] | None:
        if self.criterion is not None:
            return self.criterion
        for name in ("criterion", "loss_fn"):
            found = getattr(module, name, None)
            if callable(found):
                return found  # type: ignore[no-any-return]
        return None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        combined = getattr(trainer.fit_loop, "_combined_loader", None)
        loaders = list(getattr(combined, "flattened", []) or [])
        self._taps = [t for t in (attach(dl) for dl in loaders[:1]) if t is not None]
        fetcher = getattr(trainer.fit_loop, "_data_fetcher", None)
        if self._taps and fetcher is not None:
            iter(fetcher)  # the first epoch's iterator, made again with the indices recorded

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for tap in self._taps:
            detach(tap)
        self._taps = []

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        tap = self._taps[0] if self._taps else None
        self.guard.see(batch, tap.take() if tap else None, tap=tap, batch_index=batch_idx)
        self._loss = None

    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        self._loss = loss

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        if self._loss is None:
            return
        scaler = getattr(trainer.precision_plugin, "scaler", None)
        self.guard.check(
            self._loss,
            model=pl_module,
            optimizer=optimizer,
            scaler=scaler,
            criterion=self._criterion(pl_module),
        )

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        if isinstance(exception, NonFiniteLoss) or not isinstance(exception, Exception):
            return
        try:
            with self.guard.step(model=pl_module, criterion=self._criterion(pl_module)):
                raise exception
        except NonFiniteLoss as failure:
            self.failure = failure
            exception.add_note(failure.message)
        except Exception:  # the diagnosis must never hide the original exception
            return
