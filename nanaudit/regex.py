"""The engine of ``pair_key``: RE2, whose matching time is linear in the length of the text
whatever the pattern, so that a pattern such as ``^((a+)+)$`` (from a config that came with
the data, or typed by mistake) cannot hang discovery. RE2 has no backreferences and no
lookaround; ``\\d`` and ``\\w`` are ASCII. Patterns longer than 256 characters are refused
by the option itself."""

from __future__ import annotations

from typing import Any, Protocol

import re2  # type: ignore[import-untyped]


class KeyMatch(Protocol):
    def group(self, index: int) -> str | None: ...


class KeyPattern(Protocol):
    """What pairing needs of a compiled pattern."""

    @property
    def groups(self) -> int: ...

    def search(self, text: str) -> KeyMatch | None: ...


class PatternError(ValueError):
    """A pattern RE2 cannot compile: the message says why."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # the error is ours to report, in one line
    return options


def compile_key(pattern: str) -> KeyPattern:
    try:
        compiled: KeyPattern = re2.compile(pattern, _options())
    except re2.error as exc:
        why = exc.args[0] if exc.args else exc
        if isinstance(why, bytes):
            why = why.decode("utf-8", "replace")
        raise PatternError(
            f"{why} (RE2 syntax: no backreferences or lookaround; \\d and \\w are ASCII)"
        ) from None
    return compiled
