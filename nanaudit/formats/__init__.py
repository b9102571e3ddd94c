"""Formatters behind one interface: ``render(report, RenderOptions) -> str`` per format."""

from __future__ import annotations

import enum
from collections.abc import Callable

from ..engine import Report
from . import github, json_report, junit, markdown, sarif, terminal
from .base import RenderOptions, summary_line


class Format(enum.StrEnum):
    RICH = "rich"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"
    GITHUB = "github"
    MARKDOWN = "markdown"


Formatter = Callable[[Report, RenderOptions], str]

FORMATTERS: dict[Format, Formatter] = {
    Format.RICH: terminal.render,
    Format.JSON: json_report.render,
    Format.SARIF: sarif.render,
    Format.JUNIT: junit.render,
    Format.GITHUB: github.render,
    Format.MARKDOWN: markdown.render,
}


def render(report: Report, fmt: Format, options: RenderOptions | None = None) -> str:
    return FORMATTERS[fmt](report, options or RenderOptions())


__all__ = ["FORMATTERS", "Format", "RenderOptions", "render", "summary_line"]
