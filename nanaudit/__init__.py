"""nanaudit: audit segmentation datasets for the defects that turn the loss into NaN."""

from __future__ import annotations

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)

from .api import scan

__all__ = ["__version__", "scan"]
