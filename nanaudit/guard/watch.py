"""Which dataset indices each batch holds, read from the loader's own sampler.

A DataLoader draws the indices of a batch from its ``batch_sampler`` (or ``sampler``) in
the main process, ahead of time when workers prefetch, and yields the batches in that
order (``in_order=True``, the default). Wrapping the index sampler for the creation of
the loader's iterator therefore gives, first in first out, the indices of every batch it
yields. The loader's own attribute is restored at once (a persistent-workers iterator
keeps the wrapper, which the next ``watch`` finds again). Nothing here imports torch: the
loader is recognised by what it offers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

MAX_PENDING = 4096  # index lists kept ahead of the batches (prefetching stays far below)


class IndexRecorder:
    """An index sampler that notes what it hands out; a new pass starts a new queue."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.pending: deque[list[int]] = deque(maxlen=MAX_PENDING)

    def __iter__(self) -> Iterator[Any]:
        self.pending.clear()
        for item in self.inner:
            self.pending.append(_as_indices(item))
            yield item

    def __len__(self) -> int:
        return len(self.inner)

    def __getattr__(self, name: str) -> Any:  # sampler attributes (batch_size, drop_last…)
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def take(self) -> list[int] | None:
        return self.pending.popleft() if self.pending else None


def _as_indices(item: Any) -> list[int]:
    if isinstance(item, Iterable) and not isinstance(item, str | bytes):
        out = []
        for v in item:
            try:
                out.append(int(v))
            except (TypeError, ValueError):
                return []
        return out
    try:
        return [int(item)]
    except (TypeError, ValueError):
        return []


def _is_loader(obj: object) -> bool:
    return hasattr(obj, "dataset") and (hasattr(obj, "batch_sampler") or hasattr(obj, "sampler"))


@dataclass
class LoaderTap:
    """One pass over a loader with the indices of its batches recorded."""

    loader: object
    recorder: IndexRecorder | None = None
    note: str | None = None
    attached: tuple[str, Any] | None = None  # (attribute, original) while attached

    def open(self) -> Iterator[Any]:
        loader = self.loader
        if not _is_loader(loader):
            self.note = "the batches come from an iterable without a sampler: no dataset indices"
            return iter(loader)  # type: ignore[call-overload,no-any-return]
        if getattr(loader, "in_order", True) is False:
            self.note = "the loader yields batches out of order (in_order=False): no indices"
            return iter(loader)  # type: ignore[call-overload,no-any-return]
        attr = "batch_sampler" if getattr(loader, "batch_sampler", None) is not None else "sampler"
        original = getattr(loader, attr, None)
        if original is None:  # an IterableDataset: its DataLoader has no index sampler
            self.note = "the dataset is iterable (no sampler): batches are numbered, not indexed"
            return iter(loader)  # type: ignore[call-overload,no-any-return]
        persistent = getattr(loader, "_iterator", None)
        held = getattr(persistent, "_index_sampler", None)
        recorder = held if isinstance(held, IndexRecorder) else None
        if recorder is None:
            recorder = original if isinstance(original, IndexRecorder) else IndexRecorder(original)
        self.recorder = recorder
        if persistent is not None and hasattr(persistent, "_index_sampler"):
            persistent._index_sampler = recorder  # the persistent iterator resets from it
        object.__setattr__(loader, attr, recorder)  # DataLoader refuses plain assignment
        try:
            return iter(loader)  # type: ignore[call-overload,no-any-return]
        finally:
            object.__setattr__(loader, attr, original)

    def take(self) -> list[int] | None:
        return self.recorder.take() if self.recorder is not None else None

    def peek(self) -> list[int] | None:
        """The indices of the batch the loader is drawing now (the one that failed)."""
        if self.recorder is None or not self.recorder.pending:
            return None
        return self.recorder.pending[0]

    @property
    def dataset(self) -> Any:
        return getattr(self.loader, "dataset", None)

    def names(self, indices: Sequence[int]) -> list[str | None]:
        """The file names the dataset gives for these indices (``filenames``/``files``)."""
        from ..samples.draw import _length, _names_attribute

        dataset = self.dataset
        if dataset is None:
            return [None] * len(indices)
        name_of = _names_attribute(dataset, _length(dataset))
        if name_of is None:
            return [None] * len(indices)
        return [name_of(i) for i in indices]


def attach(loader: object) -> LoaderTap | None:
    """Wrap a loader's index sampler for good, for integrations where the trainer makes the
    loader's iterators (``detach`` puts the original back). accelerate's DataLoaderShard
    (Hugging Face's Trainer) is recognised by the DataLoader it wraps."""
    base = getattr(loader, "base_dataloader", None) or loader
    if not _is_loader(base) or getattr(base, "in_order", True) is False:
        return None
    attr = "batch_sampler" if getattr(base, "batch_sampler", None) is not None else "sampler"
    original = getattr(base, attr, None)
    if original is None:
        return None
    recorder = original if isinstance(original, IndexRecorder) else IndexRecorder(original)
    object.__setattr__(base, attr, recorder)
    persistent = getattr(base, "_iterator", None)
    if persistent is not None and hasattr(persistent, "_index_sampler"):
        persistent._index_sampler = recorder
    tap = LoaderTap(base, recorder)
    tap.attached = (attr, original)
    return tap


def detach(tap: LoaderTap) -> None:
    if tap.attached is not None:
        attr, original = tap.attached
        object.__setattr__(tap.loader, attr, original)
        tap.attached = None
