"""Formatters behind one interface: ``render(report, RenderOptions) -> str`` per format.

A format is a module of this package with that ``render`` function (and, when it streams,
``render_chunks``) and one member of :class:`Format`: the command line's choices (``--format``,
``-o FORMAT:FILE``), the escaping tests and the docs all read this enum.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Iterator

from ..report import Report
from .base import RenderOptions, summary_line


class Format(enum.StrEnum):
    """The formats, one member each; the value names the module (formats/<value>.py) unless
    MODULES says otherwise."""

    RICH = "rich"
    JSON = "json"
    SARIF = "sarif"
    JUNIT = "junit"
    GITHUB = "github"
    MARKDOWN = "markdown"
    HTML = "html"

    @property
    def module(self) -> str:
        """The module that renders it, imported when it is used (Rich is not loaded to
        write JSON)."""
        return MODULES.get(self.value, self.value)


# formats whose module is named otherwise (a module json.py would hide the standard library's
# json from tools that run files by path)
MODULES = {"rich": "terminal", "json": "json_report"}

Formatter = Callable[[Report, RenderOptions], str]


def formatter(fmt: Format) -> Formatter:
    module = importlib.import_module(f"{__name__}.{fmt.module}")
    func: Formatter = module.render
    return func


def render(report: Report, fmt: Format, options: RenderOptions | None = None) -> str:
    return formatter(fmt)(report, options or RenderOptions())


def render_chunks(
    report: Report, fmt: Format, options: RenderOptions | None = None
) -> Iterator[str]:
    """The rendering in pieces: JSON streams (a report of 100,000 files is never held
    whole); the other formats come in one piece."""
    module = importlib.import_module(f"{__name__}.{fmt.module}")
    chunks = getattr(module, "render_chunks", None)
    if chunks is not None:
        yield from chunks(report, options or RenderOptions())
    else:
        yield render(report, fmt, options)


__all__ = [
    "Format",
    "RenderOptions",
    "formatter",
    "render",
    "render_chunks",
    "summary_line",
]
