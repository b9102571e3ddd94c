"""The training guard: from a NaN (or a crash) during training back to its cause.

core.py      NanGuard: watch the batches, check each step, diagnose the first failure
watch.py     the dataset indices of each batch, from the loader's own sampler
history.py   the short per-step history, and its reading (exploding gradients)
replay.py    torch: the per-step measurement, the replay with hooks (imported on use)
diagnose.py  the failing batch audited, the replay, the NA6xx checks → Report
facts.py     what the guard measured at the failure (what the NA6xx checks judge)
errors.py    NonFiniteLoss, StepFailed

Importing this package imports neither torch nor the audit machinery.
"""

from __future__ import annotations

from .core import NanGuard
from .errors import NonFiniteLoss, StepFailed

__all__ = ["NanGuard", "NonFiniteLoss", "StepFailed"]
