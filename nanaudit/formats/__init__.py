"""Formatters behind one interface: ``render(report, RenderOptions) -> str`` per format."""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Iterator

from ..report import Report
from .base import RenderOptions, summary_line


class Format(enum.StrEnum):
    RICH = "rich"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"
    GITHUB = "github"
    MARKDOWN = "markdown"
    HTML = "html"


Formatter = Callable[[Report, RenderOptions], str]

# Each format's module, imported when it is used (Rich is not loaded to write JSON).
FORMATTERS: dict[Format, str] = {
    Format.RICH: "terminal",
    Format.JSON: "json_report",
    Format.SARIF: "sarif",
    Format.JUNIT: "junit",
    Format.GITHUB: "github",
    Format.MARKDOWN: "markdown",
    Format.HTML: "html",
}


def formatter(fmt: Format) -> Formatter:
    module = importlib.import_module(f"{__name__}.{FORMATTERS[fmt]}")
    func: Formatter = module.render
    return func


def render(report: Report, fmt: Format, options: RenderOptions | None = None) -> str:
    return formatter(fmt)(report, options or RenderOptions())


def render_chunks(
    report: Report, fmt: Format, options: RenderOptions | None = None
) -> Iterator[str]:
    """The rendering in pieces: JSON streams (a report of 100,000 files is never held
    whole); the other formats come in one piece."""
    module = importlib.import_module(f"{__name__}.{FORMATTERS[fmt]}")
    chunks = getattr(module, "render_chunks", None)
    if chunks is not None:
        yield from chunks(report, options or RenderOptions())
    else:
        yield render(report, fmt, options)


__all__ = [
    "FORMATTERS",
    "Format",
    "RenderOptions",
    "formatter",
    "render",
    "render_chunks",
    "summary_line",
]
