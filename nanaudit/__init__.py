"""nanaudit: audit segmentation datasets for the defects that turn the loss into NaN."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("nanaudit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from .api import scan  # noqa: E402

__all__ = ["__version__", "scan"]
