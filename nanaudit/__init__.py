"""nanaudit: audit segmentation datasets for the defects that turn the loss into NaN."""

from __future__ import annotations

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)

from .api import audit_samples, scan
from .kinds import ConfigError
from .layouts import DiscoveryError
from .samples import SampleInputError

__all__ = [
    "ConfigError",
    "DiscoveryError",
    "SampleInputError",
    "__version__",
    "audit_samples",
    "scan",
]
