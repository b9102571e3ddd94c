"""Formatters behind one interface: ``render(report, RenderOptions) -> str`` per format."""

from __future__ import annotations

import enum
from collections.abc import Callable

from ..engine import Report
from . import json_report, terminal
from .base import RenderOptions, summary_line


class Format(enum.StrEnum):
    RICH = "rich"
    JSON = "json"


Formatter = Callable[[Report, RenderOptions], str]

FORMATTERS: dict[Format, Formatter] = {
    Format.RICH: terminal.render,
    Format.JSON: json_report.render,
}


def render(report: Report, fmt: Format, options: RenderOptions | None = None) -> str:
    return FORMATTERS[fmt](report, options or RenderOptions())


__all__ = ["FORMATTERS", "Format", "RenderOptions", "render", "summary_line"]
