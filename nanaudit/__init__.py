"""nanaudit: audit segmentation datasets for the defects that turn the loss into NaN."""

from __future__ import annotations

from .api import audit_samples, scan
from .guard import NanGuard, NonFiniteLoss, StepFailed
from .kinds import ConfigError
from .layouts import DiscoveryError
from .samples import SampleInputError
from .version import __version__

__all__ = [
    "ConfigError",
    "DiscoveryError",
    "NanGuard",
    "NonFiniteLoss",
    "SampleInputError",
    "StepFailed",
    "__version__",
    "audit_samples",
    "scan",
]
