"""nanaudit: audit segmentation datasets for the defects that turn the loss into NaN."""

from __future__ import annotations

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)

from .api import scan
from .kinds import ConfigError
from .layouts import DiscoveryError

__all__ = ["ConfigError", "DiscoveryError", "__version__", "scan"]
