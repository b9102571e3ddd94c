"""``NanGuardCallback``: the training guard as a Hugging Face ``transformers`` callback.

    from nanaudit.integrations.huggingface import NanGuardCallback
    trainer = Trainer(model, args, train_dataset=ds, callbacks=[NanGuardCallback(num_classes=19)])

The Trainer hands its callbacks neither the batch nor the loss, so the callback reads them
off the model: a forward pre-hook sees each training batch (its keyword inputs:
``pixel_values``, ``labels``), a forward hook its output's ``loss``; the train loader's index
sampler, wrapped when training begins, gives the batch's dataset indices. Before each
optimizer step the loss and the gradient norm are checked: a non-finite one raises
``nanaudit.NonFiniteLoss`` out of ``trainer.train()``. The replay of a failing batch calls
``model(**inputs)``, loss included.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from ..guard import NanGuard
from ..guard.watch import LoaderTap, attach, detach


def _forward(model: Any, batch: Any) -> Any:
    return model(**batch)


class NanGuardCallback(TrainerCallback):
    """The guard in a Hugging Face Trainer; the arguments are NanGuard's."""

    def __init__(
        self, num_classes: int | None = None, ignore_index: int | None = 255, **options: Any
    ) -> None:
        self.guard = NanGuard(num_classes, ignore_index, forward=_forward, **options)
        self._tap: LoaderTap | None = None
        self._loss: torch.Tensor | None = None
        self._handles: list[Any] = []

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        train_dataloader: Any = None,
        **kwargs: Any,
    ) -> None:
        self._tap = attach(train_dataloader) if train_dataloader is not None else None
        if model is not None:
            self._handles = [
                model.register_forward_pre_hook(self._inputs, with_kwargs=True),
                model.register_forward_hook(self._output),
            ]

    def _inputs(self, module: Any, args: Any, kwargs: dict[str, Any]) -> None:
        if module.training and torch.is_grad_enabled():
            tap = self._tap
            batch = dict(kwargs)
            self.guard.see(batch, tap.take() if tap is not None else None, tap=tap)

    def _output(self, module: Any, args: Any, output: Any) -> None:
        if module.training and torch.is_grad_enabled():
            loss = getattr(output, "loss", None)
            if loss is None and isinstance(output, dict):
                loss = output.get("loss")
            self._loss = loss if isinstance(loss, torch.Tensor) else None

    def on_pre_optimizer_step(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        optimizer: Any = None,
        **kwargs: Any,
    ) -> None:
        if self._loss is not None:
            self.guard.check(self._loss, model=model, optimizer=optimizer)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        if self._tap is not None:
            detach(self._tap)
            self._tap = None
