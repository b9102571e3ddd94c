"""The exceptions the training guard raises: light, no torch, no report machinery."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ..report import Report

Verdict = Literal["data", "not data"]


class NonFiniteLoss(RuntimeError):
    """A training step failed and the guard found out why: the loss or a gradient turned
    NaN or Inf (or, :class:`StepFailed`, the step or the loader raised).

    ``report`` is the :class:`nanaudit.report.Report` of the diagnosis (the failing batch
    audited with the sample checks, the training-time findings NA6xx), rendered by every
    format; ``verdict`` is ``"data"`` when the batch explains the failure and ``"not data"``
    when it does not; ``step`` is the batch's index in the guard's count (from 0); the
    message says in a few lines what happened and what to do.
    """

    def __init__(self, message: str, *, report: Report, verdict: Verdict, step: int) -> None:
        super().__init__(message)
        self.report = report
        self.verdict: Verdict = verdict
        self.step = step

    @property
    def message(self) -> str:
        return str(self.args[0])

    def render(self, fmt: str = "rich") -> str:
        """The report in one of the formats (rich, json, sarif, junit, github, markdown,
        html), as ``nanaudit scan --format`` writes it."""
        from ..formats import Format, render

        return render(self.report, Format(fmt))


class StepFailed(NonFiniteLoss):
    """The step body (``with guard.step(...)``) or the loader (``guard.watch``) raised: the
    original exception is the ``__cause__``; ``error`` is it on one line. A subclass of
    NonFiniteLoss, so that one ``except nanaudit.NonFiniteLoss`` catches every diagnosis."""

    def __init__(
        self, message: str, *, report: Report, verdict: Verdict, step: int, error: str
    ) -> None:
        super().__init__(message, report=report, verdict=verdict, step=step)
        self.error = error
