"""Records as rows: the record store's own codec, a few times faster than the JSON one.

The record store (store.py) writes every record of a large scan once and reads it back
three times (the statistics, the checks, the report). Through the records codec that is
JSON text and a typed walk of the fields, some 50 µs a record each way. Here a record is
a tuple of its stored fields in declaration order (nested records as nested tuples, the
enums as their values, floats as floats), serialised with :mod:`marshal` (a fixed format
of plain values: no code is run and no class is looked up when it is read), by functions
generated once per record type from its type hints.

What comes back equals what the records codec gives back (``decode(encode(rec))``): the
fields that are not stored (``stored=False``) are left at their defaults, floats are
floats (an int in a float field becomes a float, as JSON gives it back), sequences are
tuples. The rows are the store's own, written and read by one process in a private
folder, never a file a user hands over: they are not validated as a cache row or a
partial file is (:func:`records.decode` does that). A row of another nanaudit never
meets this code (the store lives as long as its scan).
"""

from __future__ import annotations

import dataclasses
import enum
import marshal
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar, Union

T = TypeVar("T")
MARSHAL_VERSION = 4

_PLAIN = (str, int, bool, bytes)


def dumps(value: Any) -> bytes:
    """A record (any dataclass of the records module) as a row."""
    tp: Any = type(value)
    return marshal.dumps(_encoder(tp)(value), MARSHAL_VERSION)


def loads(cls: type[T], row: bytes) -> T:
    """The record of type ``cls`` that :func:`dumps` wrote."""
    decoder: Callable[[tuple[Any, ...]], T] = _decoder(cls)  # type: ignore[arg-type]
    return decoder(marshal.loads(row))


# code generation: an expression per field, in one function per dataclass --------------


class _Gen:
    """Collects the helper functions the generated code names."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}

    def name(self, value: Any) -> str:
        key = f"_h{len(self.names)}"
        self.names[key] = value
        return key


def _optional(tp: Any) -> Any | None:
    """X of ``X | None``, else None."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        options = typing.get_args(tp)
        inner = [t for t in options if t is not type(None)]
        if len(inner) == 1 and len(options) == 2:
            return inner[0]
    return None


def _enc_expr(tp: Any, v: str, gen: _Gen) -> str:
    """Python source that turns the value ``v`` of type ``tp`` into plain data."""
    inner = _optional(tp)
    if inner is not None:
        return f"(None if {v} is None else {_enc_expr(inner, v, gen)})"
    if tp is float:
        return f"float({v})"
    if tp in _PLAIN or tp is Any:
        return v
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _enc_expr(args[0], "x", gen)
            return f"tuple({v})" if item == "x" else f"tuple([{item} for x in {v}])"
        parts = ", ".join(_enc_expr(a, f"{v}[{i}]", gen) for i, a in enumerate(args))
        return f"({parts},)" if args else "()"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return f"{v}.value"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return f"{gen.name(_encoder(tp))}({v})"
    raise TypeError(f"rows: no encoding for {tp!r}")


def _dec_expr(tp: Any, v: str, gen: _Gen) -> str:
    """Python source that turns plain data ``v`` back into a value of type ``tp``."""
    inner = _optional(tp)
    if inner is not None:
        body = _dec_expr(inner, v, gen)
        return v if body == v else f"(None if {v} is None else {body})"
    if tp in _PLAIN or tp is float or tp is Any:
        return v
    if typing.get_origin(tp) is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _dec_expr(args[0], "x", gen)
            return v if item == "x" else f"tuple([{item} for x in {v}])"
        if all(_dec_expr(a, "x", gen) == "x" for a in args):
            return v
        parts = ", ".join(_dec_expr(a, f"{v}[{i}]", gen) for i, a in enumerate(args))
        return f"({parts},)"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return f"{gen.name(tp)}({v})"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return f"{gen.name(_decoder(tp))}({v})"
    raise TypeError(f"rows: no decoding for {tp!r}")


@cache
def _stored(cls: type) -> tuple[tuple[str, Any], ...]:
    hints = typing.get_type_hints(cls)
    return tuple(
        (f.name, hints[f.name])
        for f in dataclasses.fields(cls)
        if f.init and f.metadata.get("stored", True)
    )


@cache
def _encoder(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    gen = _Gen()
    items = ", ".join(_enc_expr(tp, f"o.{name}", gen) for name, tp in _stored(cls))
    source = f"def encode(o):\n    return ({items},)\n"
    return _compile(source, "encode", gen)


@cache
def _decoder(cls: type) -> Callable[[tuple[Any, ...]], Any]:
    """A function from a row's tuple to the record. A frozen record with slots and no
    ``__post_init__`` is made without its ``__init__`` (which sets each field through
    ``object.__setattr__``): its slots are filled directly, those not stored with their
    defaults, at less than half the cost."""
    gen = _Gen()
    stored = _stored(cls)
    slots = _slots(cls)
    if slots is None:
        args = ", ".join(
            f"{name}={_dec_expr(tp, f't[{i}]', gen)}" for i, (name, tp) in enumerate(stored)
        )
        source = f"def decode(t):\n    return {gen.name(cls)}({args})\n"
        return _compile(source, "decode", gen)
    at = {name: i for i, (name, _) in enumerate(stored)}
    lines = [f"    o = {gen.name(object.__new__)}({gen.name(cls)})"]
    for f in dataclasses.fields(cls):
        put = gen.name(slots[f.name])
        if f.name in at:
            i = at[f.name]
            lines.append(f"    {put}(o, {_dec_expr(stored[i][1], f't[{i}]', gen)})")
        elif f.default is not dataclasses.MISSING:
            lines.append(f"    {put}(o, {gen.name(f.default)})")
        else:
            lines.append(f"    {put}(o, {gen.name(f.default_factory)}())")
    source = "def decode(t):\n" + "\n".join(lines) + "\n    return o\n"
    return _compile(source, "decode", gen)


def _slots(cls: type) -> dict[str, Callable[[Any, Any], None]] | None:
    """The setters of a record's slots, by field, when it can be made without its
    ``__init__``; else None."""
    if getattr(cls, "__post_init__", None) is not None:
        return None
    out: dict[str, Callable[[Any, Any], None]] = {}
    for f in dataclasses.fields(cls):
        slot = next((k.__dict__[f.name] for k in cls.__mro__ if f.name in k.__dict__), None)
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if not isinstance(slot, types.MemberDescriptorType) or (
            no_default and not (f.init and f.metadata.get("stored", True))
        ):
            return None
        out[f.name] = slot.__set__
    return out


def _compile(source: str, name: str, gen: _Gen) -> Callable[[Any], Any]:
    scope: dict[str, Any] = dict(gen.names)
    exec(compile(source, f"<rows {name}>", "exec"), scope)
    function: Callable[[Any], Any] = scope[name]
    return function
