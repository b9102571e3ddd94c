"""What the guard measured about a failing step: frozen, small, no tensors.

The diagnosis (diagnose.py) fills it once, at the failure; the training-time checks
(NA6xx, checks/guard.py) judge it, as the other checks judge a file's record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .history import StepRecord

Kind = Literal["loss", "gradient", "exception", "loader"]


@dataclass(frozen=True, slots=True)
class Tensorish:
    """A parameter, buffer or gradient holding NaN or Inf."""

    name: str
    nan: int
    inf: int
    size: int


@dataclass(frozen=True, slots=True)
class FirstNonFinite:
    """Where the replay of the batch first produced NaN/Inf from finite inputs."""

    op: str | None  # "torch.log", "torch.nn.functional.cross_entropy"
    module: str | None  # the module's name in the model ("" the model itself); None: outside
    module_type: str | None
    in_model: bool  # False: after the model's output (the loss)
    dtype: str  # of the non-finite output
    zeros: int  # zeros among the operation's inputs
    negatives: int
    input_max: float  # largest |value| among the inputs
    autocast: str | None  # the autocast dtype under which it happened, if any


@dataclass(frozen=True, slots=True)
class SampleShape:
    index: int | None  # dataset index
    name: str | None
    image: tuple[int, ...] | None
    mask: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class StepFacts:
    step: int  # the guard's count of batches, from 0
    batch: int | None  # the batch's index in its pass over the loader
    kind: Kind
    loss: float | None
    grad_norm: float | None
    error: str | None  # "RuntimeError: stack expects…" for exceptions
    history: tuple[StepRecord, ...]
    indices: tuple[int, ...] | None
    names: tuple[str | None, ...]
    batch_audited: bool  # the batch was audited with the sample checks
    data_checks: tuple[str, ...]  # the batch's findings that explain a failure (their IDs)
    weights: tuple[Tensorish, ...]  # non-finite parameters and buffers, before this step
    grads: tuple[Tensorish, ...]  # non-finite gradients of this step
    replayed: bool  # the batch was replayed through the model
    replay_error: str | None
    output_finite: bool | None  # the model's output on the replay
    output_max: float  # largest |value| of the model's output on the replay
    result_finite: bool | None  # the replayed loss
    first: FirstNonFinite | None
    backward_node: str | None  # anomaly mode's first NaN-returning backward node
    shapes: tuple[SampleShape, ...]  # the samples' shapes (a loader's collate error)
    scaler: bool
    criterion: bool  # the loss could be replayed
