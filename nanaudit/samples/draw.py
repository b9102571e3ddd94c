"""Drawing from a training pipeline: whatever the user's object is, one sample at a time.

The samples object may be a Dataset (``len`` and integer indexing), a DataLoader or any
iterable, or a dict from file names to samples.  Each item it yields is an
``(image, mask[, name])`` tuple, a dict (``{"image", "mask"}`` as albumentations returns
them, or keys the user names), a batch of either (a leading batch axis, detected or
declared), or a list of samples (a ``collate_fn`` that returns lists).  Arrays are anything
``numpy.asarray`` accepts; torch tensors are detached and moved to the CPU first.  Nothing is
imported: objects are recognised by what they offer.

A pipeline that raises while drawing ends the draw (the audit covers what came before and
NA506 reports the error); an item that is not a sample at all is a :class:`SampleInputError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from . import SampleInputError

IMAGE_KEYS = ("image", "img", "images", "input", "x", "pixel_values")
MASK_KEYS = (
    "mask",
    "masks",
    "label",
    "labels",
    "target",
    "seg",
    "segmentation",
    "gt",
    "y",
    "gt_semantic_seg",
)
NAME_KEYS = (
    "filename",
    "file_name",
    "file",
    "path",
    "image_path",
    "img_path",
    "image_file",
    "img_file",
    "name",
)
NAME_ATTRIBUTES = ("filenames", "files")  # a dataset's file names, in index order

NameOf = Callable[[int], str | None]  # a sample's position in its pass → its file name


@dataclass(frozen=True, slots=True)
class Yielded:
    """One sample as the pipeline yielded it: its arrays (converted to numpy where they
    could be) and where it came from."""

    image: Any
    mask: Any
    name: str | None
    batch: int | None  # the pipeline's batch, when it yields batches
    image_type: str
    mask_type: str


def type_name(value: object) -> str:
    """``torch.Tensor``, ``numpy.ndarray``, ``PIL.Image``: what the pipeline handed over."""
    cls = type(value)
    package = cls.__module__.partition(".")[0]
    return cls.__name__ if package == "builtins" else f"{package}.{cls.__name__}"


def as_array(value: Any) -> npt.NDArray[Any]:
    """Anything numpy.asarray accepts; a torch tensor is detached and moved to the CPU
    first (bfloat16, which numpy lacks, becomes float32)."""
    if isinstance(value, np.ndarray):
        return value
    detach, cpu = getattr(value, "detach", None), getattr(value, "cpu", None)
    if callable(detach) and callable(cpu):
        value = detach().cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()
    return np.asarray(value)


def _converted(value: Any) -> Any:
    """The numpy array, or the value as it was when it cannot be one (its record says why)."""
    try:
        return as_array(value)
    except Exception:
        return value


def _name(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        return path if isinstance(path, str) else os.fsdecode(path)
    return None


def _names_attribute(dataset: object, length: int | None) -> NameOf | None:
    """A dataset's ``filenames``/``files``: a list of paths, one per index."""
    for attr in NAME_ATTRIBUTES:
        names = getattr(dataset, attr, None)
        if isinstance(names, Sequence) and not isinstance(names, str | bytes):
            if length is not None and len(names) != length:
                continue
            listed = names
            return lambda i: _name(listed[i]) if 0 <= i < len(listed) else None
    return None


def _length(obj: object) -> int | None:
    try:
        return len(obj)  # type: ignore[arg-type]
    except Exception:
        return None


@dataclass(frozen=True, slots=True)
class Source:
    """How to make one pass over the samples object, and what it says of file names."""

    open: Callable[[], Iterator[Any]]
    names: NameOf | None
    reiterable: bool
    kind: str  # "a dict of 12 samples", "a dataset of 40 samples", "an iterable"


def source_of(obj: object) -> Source:
    """The passes a samples object offers: a dict by its values (named by its keys), a
    map-style dataset (``len`` and indexing, no ``__iter__``: torch's Dataset) or a list by
    index, an unshuffled DataLoader by its iterator with its dataset's names, any other
    iterable by its iterator (torch's IterableDataset inherits an indexing that raises),
    once when it is an iterator."""
    if isinstance(obj, str | bytes):
        raise SampleInputError(
            f"expected a dataset or an iterable of samples, got {type_name(obj)}"
        )
    if isinstance(obj, Mapping):
        keys = [str(_name(k) or k) for k in obj]
        mapping = obj
        return Source(
            lambda: iter(mapping.values()),
            lambda i: keys[i] if 0 <= i < len(keys) else None,
            True,
            f"a dict of {len(keys):,} samples",
        )
    cls = type(obj)
    length = _length(obj)
    iterable = hasattr(cls, "__iter__")
    indexable = hasattr(cls, "__getitem__") and not hasattr(obj, "sampler")
    if indexable and length is not None and (not iterable or isinstance(obj, Sequence)):
        indexed: Any = obj
        return Source(
            lambda: (indexed[i] for i in range(length)),
            _names_attribute(obj, length),
            True,
            f"a dataset of {length:,} samples",
        )
    if not iterable and not hasattr(cls, "__getitem__"):
        raise SampleInputError(
            f"{type_name(obj)} is not iterable: give a Dataset, a DataLoader or an iterable "
            "of (image, mask) pairs"
        )
    names = None
    sampler, dataset = getattr(obj, "sampler", None), getattr(obj, "dataset", None)
    if dataset is not None and type(sampler).__name__ == "SequentialSampler":
        names = _names_attribute(dataset, _length(dataset))  # an unshuffled DataLoader
    items: Any = obj
    once = hasattr(cls, "__next__")  # an iterator (a generator…) gives one pass
    kind = "an iterator" if once else "an iterable"
    if length is not None and not once:
        kind = f"an iterable of {length:,} items"
    return Source(lambda: iter(items), names, not once, kind)


# --------------------------------------------------------------------------- items


def _pick(item: Mapping[Any, Any], given: str | None, keys: Sequence[str], what: str) -> Any:
    if given is not None:
        if given not in item:
            raise SampleInputError(
                f"the samples have no {what} key {given!r} (keys: {_keys(item)})"
            )
        return item[given]
    for k in keys:
        if k in item:
            return item[k]
    raise SampleInputError(
        f"cannot tell the {what} in a dict sample with keys {_keys(item)}: name it with "
        f"--{what}-key (or {what}_key=)"
    )


def _keys(item: Mapping[Any, Any]) -> str:
    shown = [repr(k) for k in list(item)[:12]]
    return ", ".join(shown) + (", …" if len(item) > 12 else "")


def _item_names(value: Any) -> list[str | None] | str | None:
    """A name, or a batch's list of names, from a dict key or an extra tuple element."""
    single = _name(value)
    if single is not None:
        return single
    if isinstance(value, list | tuple) and value and all(_name(v) is not None for v in value):
        return [_name(v) for v in value]
    return None


def _is_sample_like(value: Any) -> bool:
    """A dict, or a tuple whose first element is an array: one sample of a list batch."""
    if isinstance(value, Mapping):
        return True
    return (
        isinstance(value, tuple | list)
        and len(value) >= 2
        and (hasattr(value[0], "shape") or hasattr(value[0], "getbands"))
    )


def _parts(item: Any, image_key: str | None, mask_key: str | None) -> tuple[Any, Any, Any]:
    """(image, mask, names) of an item that is one sample or one batch."""
    if isinstance(item, Mapping):
        image = _pick(item, image_key, IMAGE_KEYS, "image")
        mask = _pick(item, mask_key, MASK_KEYS, "mask")
        names = next((_item_names(item[k]) for k in NAME_KEYS if k in item), None)
    elif isinstance(item, tuple | list) and len(item) >= 2:
        image, mask = item[0], item[1]
        names = next((n for n in (_item_names(v) for v in item[2:]) if n is not None), None)
    else:
        raise SampleInputError(
            f"expected (image, mask) pairs or dicts with image and mask keys, got "
            f"{type_name(item)}" + (f" of {len(item)}" if isinstance(item, tuple | list) else "")
        )
    if image is None or mask is None:
        raise SampleInputError(f"a sample without {'an image' if image is None else 'a mask'}")
    return image, mask, names


def looks_batched(image: Any, mask: Any) -> bool:
    """A leading batch axis: a 4-D image or mask, or 3-D images and masks of the same length
    whose last axis is not a channel axis (a batch of gray images)."""
    ishape: tuple[int, ...] = tuple(getattr(image, "shape", ()))
    mshape: tuple[int, ...] = tuple(getattr(mask, "shape", ()))
    if len(ishape) == 4 or len(mshape) == 4:
        return True
    return (
        len(ishape) == 3
        and len(mshape) == 3
        and ishape[0] == mshape[0]
        and ishape[-1] > 4
        and mshape[-1] > 4
    )


@dataclass
class Drawer:
    """Draws samples until ``limit`` (whole batches, a batch larger than what is left of the
    limit cut at it), over as many passes as it takes."""

    samples: object
    limit: int
    image_key: str | None = None
    mask_key: str | None = None
    batched: bool | None = None  # None: detected per item
    passes: int = 0
    exhausted: bool = False
    failure: tuple[int, int | None, str] | None = None  # (sample, batch, "Type: message")
    batches: int = 0  # batches the pipeline yielded
    cut_batches: int = 0  # batches larger than what was left of the limit, cut at it
    cut_samples: int = 0  # the samples of those batches left undrawn
    source: Source = field(init=False)

    def __post_init__(self) -> None:
        self.source = source_of(self.samples)

    def __iter__(self) -> Iterator[Yielded]:
        drawn = 0
        while drawn < self.limit:
            try:
                items = self.source.open()
            except Exception as exc:
                self.failure = (drawn, None, describe(exc))
                return
            self.passes += 1
            position = 0
            try:
                while drawn < self.limit:
                    try:
                        item = next(items)
                    except StopIteration:
                        break
                    except Exception as exc:
                        self.failure = (drawn, self._next_batch(), describe(exc))
                        return
                    for y in self._split(item, position, self.limit - drawn):
                        yield y
                        drawn += 1
                        position += 1
            finally:
                close = getattr(items, "close", None)
                if callable(close):
                    close()
            if position == 0 or not self.source.reiterable:
                self.exhausted = drawn < self.limit
                return

    def _next_batch(self) -> int | None:
        return self.batches if self.batches else None

    def _split(self, item: Any, position: int, room: int) -> list[Yielded]:
        """The samples of one yielded item; of a batch, at most ``room`` (what is left of
        the limit): a batch of a million samples is cut, never split whole."""
        names_of = self.source.names
        if isinstance(item, list | tuple) and item and _is_sample_like(item[0]):
            if not all(_is_sample_like(v) for v in item):
                raise SampleInputError("a list batch mixes samples with other values")
            batch = self._new_batch()
            self._cut(len(item), room)
            out = []
            for k, sample in enumerate(item[:room]):
                image, mask, names = _parts(sample, self.image_key, self.mask_key)
                name = names if isinstance(names, str) else None
                if name is None and names_of is not None:
                    name = names_of(position + k)
                out.append(self._yielded(image, mask, name, batch))
            return out
        image, mask, names = _parts(item, self.image_key, self.mask_key)
        image_type, mask_type = type_name(image), type_name(mask)
        image, mask = _converted(image), _converted(mask)
        batched = self.batched if self.batched is not None else looks_batched(image, mask)
        if not batched:
            name = names if isinstance(names, str) else None
            if name is None and names_of is not None:
                name = names_of(position)
            return [Yielded(image, mask, name, None, image_type, mask_type)]
        n = len(image) if hasattr(image, "__len__") else 0
        if not hasattr(mask, "__len__") or len(mask) != n:
            got = len(mask) if hasattr(mask, "__len__") else "no"
            raise SampleInputError(f"a batch of {n} images comes with {got} masks")
        batch = self._new_batch()
        self._cut(n, room)
        listed = names if isinstance(names, list) and len(names) == n else None
        out = []
        for k in range(min(n, room)):
            name = listed[k] if listed is not None else None
            if name is None and names_of is not None:
                name = names_of(position + k)
            out.append(Yielded(image[k], mask[k], name, batch, image_type, mask_type))
        return out

    def _cut(self, size: int, room: int) -> None:
        if size > room:
            self.cut_batches += 1
            self.cut_samples += size - room

    def _new_batch(self) -> int:
        self.batches += 1
        return self.batches - 1

    def _yielded(self, image: Any, mask: Any, name: str | None, batch: int | None) -> Yielded:
        return Yielded(
            _converted(image), _converted(mask), name, batch, type_name(image), type_name(mask)
        )


def describe(exc: BaseException) -> str:
    """``ValueError: the message``, on one line."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
