"""The torch side of the guard: the per-step measurement, and at the failure the scan of
weights and gradients and the replay of the batch with hooks.

Only the guard's methods import this module, so ``import nanaudit`` never imports torch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

FP16_MAX = 65504.0
MAX_NAMED = 5


# --------------------------------------------------------------------------- every step


def trainable(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.requires_grad]


def grad_norm(params: Sequence[torch.Tensor]) -> torch.Tensor | None:
    """The total L2 norm of the gradients, as a tensor on their device (no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return None
    if len({(g.device, g.dtype) for g in grads}) == 1:
        norms = torch._foreach_norm(grads)
        total: torch.Tensor = torch.linalg.vector_norm(torch.stack(norms))
        return total
    mixed: torch.Tensor = torch.nn.utils.get_total_norm(grads)
    return mixed


def measure(
    loss: torch.Tensor, norm: torch.Tensor | None, scale: torch.Tensor | None
) -> tuple[float, float | None, float | None]:
    """Loss, gradient norm and scale brought to the host in one transfer (a loss that is
    not a scalar counts by its sum: a NaN anywhere in it stays NaN)."""
    first = loss.detach()
    first = first.reshape(()) if first.numel() == 1 else first.sum()
    parts = [first.float()]
    if norm is not None:
        parts.append(norm.detach().reshape(()).float().to(first.device))
    if scale is not None:
        parts.append(scale.detach().reshape(()).float().to(first.device))
    values = torch.stack(parts).tolist() if len(parts) > 1 else [parts[0].item()]
    it = iter(values[1:])
    g = next(it) if norm is not None else None
    s = next(it) if scale is not None else None
    return values[0], g, s


def scale_tensor(scaler: Any) -> torch.Tensor | None:
    """A GradScaler's current scale as a tensor (no sync), when it has one."""
    if scaler is None or not getattr(scaler, "is_enabled", lambda: False)():
        return None
    scale = getattr(scaler, "_scale", None)
    return scale if isinstance(scale, torch.Tensor) else None


# --------------------------------------------------------------------------- at the failure


@dataclass(frozen=True, slots=True)
class BadTensor:
    name: str  # "backbone.0.weight", "bn1.running_var"
    nan: int
    inf: int
    size: int


def _count(t: torch.Tensor) -> tuple[int, int]:
    t = t.detach()
    if not t.is_floating_point() and not t.is_complex():
        return 0, 0
    return int(torch.isnan(t).sum()), int(torch.isinf(t).sum())


def nonfinite_weights(model: torch.nn.Module) -> list[BadTensor]:
    """Parameters holding NaN or Inf. Only the optimizer step writes them, after the
    check: found at the check, they were non-finite before the step. (Buffers are left
    out: BatchNorm's running statistics take this step's batch in its forward.)"""
    out = []
    seen: set[int] = set()
    for name, t in model.named_parameters():
        if id(t) in seen:
            continue
        seen.add(id(t))
        nan, inf = _count(t)
        if nan or inf:
            out.append(BadTensor(name, nan, inf, t.numel()))
    return out


def nonfinite_grads(model: torch.nn.Module) -> list[BadTensor]:
    out = []
    for name, p in model.named_parameters():
        if p.grad is not None:
            nan, inf = _count(p.grad)
            if nan or inf:
                out.append(BadTensor(name, nan, inf, p.grad.numel()))
    return out


def weight_norms(model: torch.nn.Module) -> list[tuple[str, float]]:
    """The largest parameter tensors by max |value| (for the message on exploding weights)."""
    out = []
    for name, p in model.named_parameters():
        d = p.detach()
        if d.numel() and d.is_floating_point():
            finite = d[torch.isfinite(d)]
            out.append((name, float(finite.abs().max()) if finite.numel() else math.inf))
    return sorted(out, key=lambda kv: -kv[1])


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)
    elif hasattr(value, "__dataclass_fields__") or hasattr(value, "to_tuple"):
        # ModelOutput (transformers), dataclass outputs
        items = value.values() if hasattr(value, "values") else vars(value).values()
        for v in items:
            yield from _tensors(v)


def _floats(value: Any) -> list[torch.Tensor]:
    return [t for t in _tensors(value) if t.is_floating_point()]


def _all_finite(value: Any) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in _floats(value))


def _max_abs(value: Any) -> float:
    out = 0.0
    for t in _floats(value):
        d = t.detach()
        finite = d[torch.isfinite(d)]
        if finite.numel():
            out = max(out, float(finite.abs().max()))
    return out


@dataclass(frozen=True, slots=True)
class BadOp:
    """The first operation whose output turned non-finite while its inputs were finite."""

    op: str  # "torch.log", "Tensor.__truediv__", "torch.nn.functional.cross_entropy"
    module: str | None  # the innermost module running it ("" the model itself); None: outside
    module_type: str | None
    out_dtype: str
    zeros: int  # zeros among its tensor inputs
    negatives: int
    input_max: float  # largest |value| among its inputs
    output_nan: int
    output_inf: int


@dataclass(frozen=True, slots=True)
class BadModule:
    """The first module (in the order outputs are produced) whose output is non-finite."""

    name: str
    type: str
    inputs_finite: bool
    out_dtype: str
    input_max: float


@dataclass
class Replay:
    first_op: BadOp | None = None
    first_module: BadModule | None = None
    output_finite: bool | None = None  # the model's output
    output_max: float = 0.0
    result_finite: bool | None = None  # what the replay returned (the loss, or the output)
    result: float | None = None
    error: str | None = None
    autocast: str | None = None  # the autocast dtype of this replay, if any
    ops: int = 0
    stack: list[str] = field(default_factory=list)


def _op_name(func: Any) -> str:
    name = getattr(func, "__name__", repr(func))
    module = getattr(func, "__module__", None) or ""
    qual = getattr(func, "__qualname__", name)
    if qual.startswith("TensorBase.") or qual.startswith("Tensor."):
        return "Tensor." + name
    if module.startswith("torch.nn.functional"):
        return "torch.nn.functional." + name
    if module.startswith("torch") and not module.startswith("torch._"):
        return f"{module}.{name}"
    return f"torch.{name}"


class _FirstBadOp(TorchFunctionMode):
    """Watches every torch function call: the first whose float output holds NaN/Inf while
    every float input is finite."""

    def __init__(self, replay: Replay, stack: list[tuple[str, str]]) -> None:
        super().__init__()
        self.replay = replay
        self.stack = stack

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        r = self.replay
        r.ops += 1
        if r.first_op is not None:
            return out
        outs = _floats(out)
        if not outs:
            return out
        bad = [t for t in outs if not bool(torch.isfinite(t).all())]
        if not bad:
            return out
        ins = _floats(list(args) + list(kwargs.values()))
        if not all(bool(torch.isfinite(t).all()) for t in ins):
            return out
        zeros = sum(int((t == 0).sum()) for t in ins)
        negatives = sum(int((t < 0).sum()) for t in ins)
        module, module_type = self.stack[-1] if self.stack else (None, None)
        nan = sum(int(torch.isnan(t).sum()) for t in bad)
        inf = sum(int(torch.isinf(t).sum()) for t in bad)
        r.first_op = BadOp(
            _op_name(func),
            module,
            module_type,
            str(bad[0].dtype).replace("torch.", ""),
            zeros,
            negatives,
            _max_abs(ins),
            nan,
            inf,
        )
        return out


@contextlib.contextmanager
def _restored(model: torch.nn.Module) -> Iterator[None]:
    """The model's buffers (BatchNorm's running statistics) as they were."""
    saved = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for b, copy in saved:
                b.copy_(copy)


def replay(
    model: torch.nn.Module,
    run: Callable[[], Any],
    autocast: torch.dtype | None = None,
) -> Replay:
    """Run ``run`` (the batch through the model, and the loss) once more, without
    gradients, with forward hooks on every module and every torch call watched; the
    model's buffers and the random state are left as they were."""
    r = Replay(autocast=str(autocast).replace("torch.", "") if autocast is not None else None)
    stack: list[tuple[str, str]] = []
    names = {id(m): n for n, m in model.named_modules()}

    def pre(module: torch.nn.Module, args: Any) -> None:
        stack.append((names.get(id(module), "?"), type(module).__name__))

    def post(module: torch.nn.Module, args: Any, output: Any) -> None:
        if stack:
            stack.pop()
        name = names.get(id(module), "?")
        if module is model:
            r.output_finite = _all_finite(output)
            r.output_max = _max_abs(output)
        if r.first_module is None and not _all_finite(output):
            outs = _floats(output)
            r.first_module = BadModule(
                name,
                type(module).__name__,
                _all_finite(args),
                str(outs[0].dtype).replace("torch.", "") if outs else "?",
                _max_abs(args),
            )

    handles = []
    for m in model.modules():
        handles.append(m.register_forward_pre_hook(pre))
        handles.append(m.register_forward_hook(post))
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    devices = [device] if device.type == "cuda" else []
    try:
        with (
            _restored(model),
            torch.random.fork_rng(devices=devices),
            torch.no_grad(),
            torch.autocast(device.type, dtype=autocast, enabled=autocast is not None),
            _FirstBadOp(r, stack),
        ):
            result = run()
        loss = _floats(result)
        if loss:
            r.result_finite = _all_finite(result)
            first = loss[0].detach().reshape(-1)
            r.result = float(first[0]) if first.numel() else None
    except Exception as exc:  # the replay of a failing step may fail too: say how
        r.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
    finally:
        for h in handles:
            h.remove()
    return r


def anomaly(
    model: torch.nn.Module, run: Callable[[], Any], params: Sequence[torch.Tensor]
) -> str | None:
    """The backward node that first returns NaN (torch's anomaly mode, run once here),
    without touching ``.grad``; the model's buffers are put back."""
    import warnings

    try:
        with (
            _restored(model),
            warnings.catch_warnings(action="ignore"),  # anomaly mode warns of itself
            torch.autograd.detect_anomaly(check_nan=True),
            torch.random.fork_rng(),
        ):
            out = run()
            loss = _floats(out)
            if not loss or not loss[0].requires_grad:
                return None
            torch.autograd.grad(loss[0].sum(), list(params), allow_unused=True)
    except RuntimeError as exc:
        text = str(exc)
        if "returned nan values" in text:
            return text.split(" returned")[0].replace("Function ", "").strip("'")
        return None
    return None


def has_casts(loss: Any, limit: int = 5000) -> bool:
    """Whether the loss's autograd graph holds dtype casts (autocast's, or .half()): walked
    once, at the failure; the nodes outlive backward(), their saved tensors do not."""
    start = getattr(loss, "grad_fn", None)
    seen: set[int] = set()
    todo = [start] if start is not None else []
    while todo and len(seen) < limit:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if type(node).__name__ == "ToCopyBackward0":
            return True
        todo.extend(n for n, _ in getattr(node, "next_functions", ()) if n is not None)
    return False


def device_of(model: torch.nn.Module) -> torch.device:
    return next((p.device for p in model.parameters()), torch.device("cpu"))


def to_device(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, list | tuple):
        return type(value)(to_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    return value


FLOAT16 = torch.float16


def is_cpu(t: Any) -> bool:
    return isinstance(t, torch.Tensor) and t.device.type == "cpu"
