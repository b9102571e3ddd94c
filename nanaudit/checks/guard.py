"""NA6xx: a training step that failed, as the training guard (``nanaudit.NanGuard``) saw it.

These checks judge what the guard measured at the failure (``guard.facts.StepFacts``): the
loss and gradient norm of the step, the short history before it, the weights, the replay of
the batch through the model with hooks. A scan or a samples audit never runs them; the
failing batch itself is audited with the sample checks (NA1xx, NA2xx, NA5xx).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from ..findings import NO_DATA, FindingData, finite, optional
from ..guard.facts import StepFacts, Tensorish
from ..guard.history import find_explosion
from ..kinds import Float, Int
from ..severity import Severity
from .context import CheckContext
from .registry import Hit, NoOptions, check, threshold
from .scopes import STEP

MAX_NAMED = 4
Ctx = CheckContext[NoOptions]

# How the guard reads the failing batch's own findings (the sample checks'):
# The batch's findings that explain a non-finite loss, and those that explain an exception
# (a step's or the loader's); other findings of the batch are reported beside them.
EXPLAINS_NON_FINITE = frozenset({"NA101", "NA102", "NA201", "NA207", "NA504"})
EXPLAINS_EXCEPTION = frozenset(
    {"NA001", "NA006", "NA101", "NA102", "NA201", "NA207", "NA501", "NA502", "NA504", "NA505"}
)
# the cause a message leads with: the first of these among the findings
PRIORITY = (
    "NA101",
    "NA102",
    "NA504",
    "NA201",
    "NA207",
    "NA505",
    "NA006",
    "NA501",
    "NA502",
    "NA001",
    "NA609",
    "NA603",
    "NA607",
    "NA606",
    "NA605",
    "NA604",
    "NA602",
    "NA608",
    "NA610",
    "NA601",
)
# checks of a whole draw's classes: one batch holding no pixel of a class says nothing
NOT_FOR_ONE_BATCH = frozenset({"NA301", "NA302", "NA303"})
# the training-time checks themselves (the causes a "not data" message leads with)
STEP_CHECKS = frozenset(c for c in PRIORITY if c.startswith("NA6"))


def _number(x: float | None) -> float | str | None:
    """A float as JSON can hold it: NaN and Inf as their names."""
    return x if x is None or math.isfinite(x) else str(x)


@dataclass(frozen=True, slots=True)
class NonFiniteLossData(FindingData):
    step: int
    loss: float | str | None
    grad_norm: float | str | None = optional()


@dataclass(frozen=True, slots=True)
class NonFiniteGradientData(FindingData):
    step: int
    layers: tuple[str, ...]
    backward_node: str | None = optional()


@dataclass(frozen=True, slots=True)
class ExplodingData(FindingData):
    left_at: int
    left_norm: float | str
    usual_norm: float
    growth: float | str
    clip: float
    lr: float | None = optional()

    def badness(self) -> float:
        return finite(self.growth) if isinstance(self.growth, float) else 0.0


@dataclass(frozen=True, slots=True)
class LossOpData(FindingData):
    output_max: float
    op: str | None = optional()
    zeros: int | None = optional()


@dataclass(frozen=True, slots=True)
class ModuleData(FindingData):
    module: str | None
    type: str | None
    op: str | None = optional()


@dataclass(frozen=True, slots=True)
class Fp16Data(FindingData):
    module: str | None = optional()
    op: str | None = optional()
    input_max: float | None = optional()
    scale: float | None = optional()


@dataclass(frozen=True, slots=True)
class WeightsData(FindingData):
    tensors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StepErrorData(FindingData):
    error: str


@dataclass(frozen=True, slots=True)
class SampleShapeData(FindingData):
    sample: int | None
    image: tuple[int, ...]
    mask: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CollateData(FindingData):
    error: str
    samples: tuple[int | None, ...]
    shapes: tuple[SampleShapeData, ...]


def _value(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _tensors(items: tuple[Tensorish, ...]) -> str:
    shown = [
        f"{t.name} ({t.nan + t.inf:,} of {t.size:,} values"
        + (f": {t.nan:,} NaN" if t.nan else ": ")
        + (f"{', ' if t.nan else ''}{t.inf:,} Inf" if t.inf else "")
        + ")"
        for t in items[:MAX_NAMED]
    ]
    more = f", and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""
    return ", ".join(shown) + more


def _where(facts: StepFacts) -> str:
    return f"step {facts.step}" + (f" (batch {facts.batch})" if facts.batch is not None else "")


@check("NA601", "non-finite-loss", Severity.ERROR, STEP)
def non_finite_loss(ctx: Ctx, facts: StepFacts) -> Iterator[Hit]:
    """The loss of a training step is NaN or Inf.

    Why: one non-finite loss makes every gradient NaN; the optimizer step then writes NaN
    into the weights and every later step is NaN too, while the run goes on.

    Fix: the other findings of the report name the cause: the batch (its samples and files),
    the loss, a module, the gradients' growth or the weights.
    """
    if facts.kind == "loss" and facts.loss is not None:
        norm = f", gradient norm {_value(facts.grad_norm)}" if facts.grad_norm is not None else ""
        yield Hit(
            f"the loss of {_where(facts)} is {_value(facts.loss)}{norm}",
            NonFiniteLossData(facts.step, _number(facts.loss), _number(facts.grad_norm)),
        )


@check("NA602", "non-finite-gradient", Severity.ERROR, STEP)
def non_finite_gradient(ctx: Ctx, facts: StepFacts) -> Iterator[Hit]:
    """The loss of a step is finite but a gradient is NaN or Inf: the backward pass made it.

    Why: an operation whose derivative is infinite where it is evaluated (sqrt or a norm at
    0, pow with a fractional exponent at 0, acos or asin at ±1, a division by a value that
    underflowed) gives a NaN gradient from a finite loss; the optimizer step spreads it.

    Fix: add an epsilon inside the operation (torch.sqrt(x + 1e-12), x.clamp_min(eps)), or
    clip its input away from the singular point; anomaly mode names the backward node.
    """
    if facts.kind != "gradient":
        return
    node = (
        f"; the first backward node returning NaN: {facts.backward_node}"
        if (facts.backward_node)
        else ""
    )
    layers = f" in {_tensors(facts.grads)}" if facts.grads else ""
    yield Hit(
        f"the loss of {_where(facts)} is finite ({_value(facts.loss)}) but the gradient norm "
        f"is {_value(facts.grad_norm)}: non-finite gradients{layers}{node}",
        NonFiniteGradientData(facts.step, tuple(t.name for t in facts.grads), facts.backward_node),
    )


@dataclass(frozen=True, slots=True)
class ExplodingOptions:
    factor: float = threshold(
        10.0, Float(1.5, 1e12), "a gradient norm above this many times the usual one left its range"
    )
    reference_steps: int = threshold(
        20, Int(1, 100_000), "the first steps of the history whose median norm is the usual one"
    )


@check("NA603", "exploding-gradients", Severity.ERROR, STEP, ExplodingOptions)
def exploding_gradients(ctx: CheckContext[ExplodingOptions], facts: StepFacts) -> Iterator[Hit]:
    """The gradient norm left its usual range (10 times the median norm of the first steps
    the guard saw, factor) some steps before the failure and stayed out of it: the
    gradients exploded.

    Why: a learning rate too high for the model (or a warm-up too short) makes each update
    overshoot; the weights and activations grow until a value overflows to Inf and the loss
    turns NaN. The data is not to blame: the same batches trained fine before.

    Fix: clip the gradient norm (torch.nn.utils.clip_grad_norm_(model.parameters(),
    max_norm=the clip value given, from the norms observed in range), lower the learning
    rate, or warm it up.
    """
    records = [r for r in facts.history if r.step < facts.step]
    found = find_explosion(records, ctx.options.factor, ctx.options.reference_steps)
    if found is None:
        return
    lr = next((r.lr for r in reversed(facts.history) if r.lr is not None), None)
    lr_text = f"; learning rate {lr:.3g}" if lr is not None else ""
    yield Hit(
        f"the gradient norm left its range at step {found.left_at} ({found.left_norm:.3g}, "
        f"usual {found.baseline:.3g}, the median of the {found.reference_steps} step"
        f"{'s' if found.reference_steps != 1 else ''} before) and grew "
        f"to {found.factor:.3g} times the usual before {_where(facts)}{lr_text}: exploding "
        f"gradients. Clip at max_norm={found.clip:g} (the 95th percentile of the norms in "
        f"range) or lower the learning rate",
        ExplodingData(
            found.left_at,
            _number(found.left_norm) or 0.0,
            found.baseline,
            _number(found.factor) or 0.0,
            found.clip,
            lr,
        ),
    )


def _op_words(facts: StepFacts) -> str:
    first = facts.first
    if first is None or first.op is None:
        return ""
    op = first.op
    short = op.rsplit(".", 1)[-1]
    what = f"{op} turned finite inputs into NaN/Inf"
    if short in ("log", "log2", "log10", "__rtruediv__", "__truediv__", "div", "reciprocal"):
        if first.zeros:
            word = "log" if short.startswith("log") else "a division"
            what = f"{op} met {first.zeros:,} zeros ({word} of 0)"
    elif short in ("sqrt", "rsqrt", "log", "pow", "__pow__") and first.negatives:
        what = f"{op} met {first.negatives:,} negative values"
    elif short == "exp" or first.input_max > 1e30:
        what = f"{op} overflowed (inputs up to {first.input_max:.3g})"
    return what


@check("NA604", "loss-turns-non-finite", Severity.ERROR, STEP)
def loss_turns_non_finite(ctx: Ctx, facts: StepFacts) -> Iterator[Hit]:
    """Replayed on the failing batch, the model's output is finite but the loss computed
    from it is not, and the batch explains nothing: the loss function makes the NaN.

    Why: a hand-written loss takes the log of a probability that is exactly 0
    (-(y * torch.log(torch.softmax(x, 1))).sum(): softmax underflows to 0 for a confident
    wrong class, log(0) = -inf, and 0 * -inf = NaN), divides by a count or a sum that is 0,
    or takes the sqrt of a negative value.

    Fix: compute the log in log space (torch.log_softmax, F.cross_entropy, F.nll_loss), or
    clamp before the log (p.clamp_min(1e-12)); add a smoothing term to ratios (Dice).

    Example: ``examples/plain_pytorch.py log0`` stops at step 6 with "the model's output on
    the batch of step 6 (batch 6) is finite (up to 88.8) but the loss is nan: torch.log met
    25 zeros (log of 0)".
    """
    if facts.kind != "loss" or facts.data_checks or facts.output_finite is not True:
        return
    first = facts.first
    if first is not None and first.in_model:
        return
    if facts.criterion and facts.result_finite is not False:
        return  # the loss replayed finite: not reproduced (NA610)
    where = _op_words(facts)
    if where:
        where = f": {where}"
    elif not facts.criterion:
        where = " (give the guard criterion= to name the operation)"
    yield Hit(
        f"the model's output on the batch of {_where(facts)} is finite (up to "
        f"{facts.output_max:.3g}) but the loss is {_value(facts.loss)}{where}",
        LossOpData(
            facts.output_max,
            first.op if first is not None else None,
            first.zeros if first is not None else None,
        ),
    )


@check("NA605", "module-turns-non-finite", Severity.ERROR, STEP)
def module_turns_non_finite(ctx: Ctx, facts: StepFacts) -> Iterator[Hit]:
    """Replayed on the failing batch, a module of the model turns finite inputs into NaN or
    Inf, in float32 (float16 overflow is NA606).

    Why: an operation of the module has no finite value where it is evaluated: a division
    by a variance or norm of 0 (a normalisation over a constant input), a log or sqrt of 0
    or of a negative value, an exp that overflows; or the weights grew until a product
    overflows.

    Fix: look at the module the message names: add an epsilon to its denominators, clamp
    its inputs, or find why its inputs grew (the gradient history, NA603).
    """
    first = facts.first
    if facts.data_checks or first is None or not first.in_model or first.autocast == "float16":
        return
    if facts.kind not in ("loss", "gradient") or facts.weights:
        return
    name = first.module or "(the model itself)"
    op = f": {_op_words(facts)}" if first.op else ""
    yield Hit(
        f"module {name} ({first.module_type}) turns finite inputs (up to "
        f"{first.input_max:.3g}) into NaN/Inf{op}",
        ModuleData(first.module, first.module_type, first.op),
    )


@check("NA606", "fp16-overflow", Severity.ERROR, STEP)
def fp16_overflow(ctx: Ctx, facts: StepFacts) -> Iterator[Hit]:
    """Replayed under float16 autocast, a module's output overflows (|x| > 65504) from
    finite inputs, while in float32 the same batch gives finite values; or the GradScaler's
    scale collapsed while every step's gradients overflowed.

    Why: float16 holds values up to 65504. Activations of un-normalised inputs, large
    logits, or sums over many elements overflow to Inf under autocast, and Inf - Inf or
    0 * Inf is NaN.

    Fix: train in bfloat16 (torch.autocast(dtype=torch.bfloat16)), keep the overflowing
    module in float32 (torch.autocast(enabled=False) around it), normalise the inputs, or
    scale the values down before the module.
    """
    first = facts.first
    if first is not None and first.autocast == "float16" and not facts.data_checks:
        name = first.module if first.module is not None else "(the loss)"
        yield Hit(
            f"under float16 autocast, {name} ({first.module_type or first.op}) overflows: "
            f"inputs up to {first.input_max:.3g}, beyond float16's 65504 once multiplied; "
            "the same batch is finite in float32",
            Fp16Data(first.module, first.op, first.input_max),
        )
        return
    scales = [r.scale for r in facts.history if r.scale is not None]
    if facts.scaler and scales and scales[-1] < 2.0**-14:
        yield Hit(
            f"the GradScaler's scale fell to {scales[-1]:.3g}: every step's gradients "
            "overflow float16 even scaled down",
            Fp16Data(scale=scales[-1]),
        )


@check("NA607", "non-finite-weights", Severity.ERROR, STEP)
def non_finite_weights(ctx: Ctx, facts: StepFacts) -> Iterator[Hit]:
    """Parameters or buffers of the model (BatchNorm's running statistics among them) held
    NaN or Inf before the failing step.

    Why: a model whose weights are non-finite gives NaN on every batch: the failure was
    written earlier, by an optimizer step on non-finite or exploded gradients, a checkpoint
    saved after that, or a BatchNorm that averaged a NaN batch into its running statistics
    (whose effect shows in eval mode: a NaN validation loss).

    Fix: resume from a checkpoint before the NaN; guard every step (check before
    optimizer.step()) so that a bad step raises before it writes the weights.
    """
    if facts.weights:
        yield Hit(
            f"the model's weights were already non-finite before {_where(facts)}: "
            f"{_tensors(facts.weights)}",
            WeightsData(tuple(t.name for t in facts.weights)),
        )


@check("NA608", "step-exception", Severity.ERROR, STEP)
def step_exception(ctx: Ctx, facts: StepFacts) -> Iterator[Hit]:
    """The training step raised an exception (``with guard.step(...)``).

    Why: a step that raises stops the run; the exception names an operation, rarely the
    sample: a label out of range ("Target 25 is out of bounds"), a float mask ("expected
    scalar type Long"), a batch of one sample under BatchNorm ("Expected more than 1
    value per channel when training").

    Fix: the batch's findings name the samples at fault; for a batch of one sample, drop
    the last incomplete batch (DataLoader(drop_last=True)).
    """
    if facts.kind == "exception" and facts.error:
        yield Hit(f"{_where(facts)} raised {facts.error}", StepErrorData(facts.error))


def _shape(s: tuple[int, ...] | None) -> str:
    return "×".join(str(v) for v in s) if s is not None else "?"


@check("NA609", "collate-error", Severity.ERROR, STEP)
def collate_error(ctx: Ctx, facts: StepFacts) -> Iterator[Hit]:
    """The loader raised while it formed a batch (the default collate function's "stack
    expects each tensor to be equal size", a dataset's __getitem__ failing); the samples of
    that batch are named with their shapes.

    Why: the samples of one batch must share a shape to be stacked; a transform without a
    final fixed-size crop or resize lets images of different sizes through.

    Fix: end the transform with a fixed-size crop or resize of image and mask together,
    or pad in the collate function on purpose.
    """
    if facts.kind != "loader" or not facts.error:
        return
    shown = "; ".join(
        f"sample {s.index}"
        + (f" ({s.name})" if s.name else "")
        + f": image {_shape(s.image)}, mask {_shape(s.mask)}"
        for s in facts.shapes[:8]
    )
    more = f"; and {len(facts.shapes) - 8} more" if len(facts.shapes) > 8 else ""
    yield Hit(
        f"the loader could not form batch {facts.batch}: {facts.error}"
        + (f". Its samples: {shown}{more}" if shown else ""),
        CollateData(
            facts.error,
            tuple(s.index for s in facts.shapes),
            tuple(SampleShapeData(s.index, s.image or (), s.mask or ()) for s in facts.shapes),
        ),
    )


@check("NA610", "not-reproduced", Severity.WARNING, STEP)
def not_reproduced(ctx: Ctx, facts: StepFacts) -> Iterator[Hit]:
    """Replayed once more on the failing batch, the model and the loss give finite values,
    and the weights are finite: the failure did not reproduce.

    Why: the NaN came from something the replay does not repeat: randomness (dropout, a
    random transform on the GPU), float16 autocast not declared to the guard, an
    in-place change of the batch, or nondeterministic kernels.

    Fix: give the guard the criterion (criterion=) and run the step under the guard's
    context manager (with guard.step(...)), so that the replay repeats the whole step.
    """
    if facts.kind not in ("loss", "gradient") or not facts.replayed or facts.data_checks:
        return
    if facts.kind == "gradient" and facts.backward_node:
        return  # NA602 names the backward node
    if facts.first is None and facts.output_finite and not facts.weights:
        if facts.result_finite is False or (not facts.criterion and facts.kind == "gradient"):
            return
        if not facts.criterion and facts.kind == "loss":
            return  # NA604 names the loss
        yield Hit(
            f"the batch of {_where(facts)} replays finite (loss {_value(facts.loss)} in the step)",
            NO_DATA,
        )
