"""Plan → records: one task per file, the cache, the executor, the label transform.

Every file of the plan (or of its shard, with ``--shard I/N``) is decoded once (or taken from
the cache) into a record, by this machine's process pool or a Dask cluster (``--executor``);
mask records then get the plan's label transform, which the cache never sees.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections import deque
from collections.abc import (
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Protocol

from .cache import RecordCache, Stamp, record_from_json
from .folding import Folded, FoldSpec, Members, SplitFolding
from .layouts import PairPaths, PlannedSplit
from .paths import display_path
from .plan import ActiveCheck, ScanPlan
from .pool import Progress, Task, Tasks, run_tasks
from .records import (
    VOLUME_SUFFIXES,
    CodecError,
    DecodeLimits,
    FileKind,
    FileRecord,
    Pair,
    Visual,
    channel_of,
    content_fingerprint,
    image_suffix,
)
from .rules import training_names
from .signatures import repeated
from .store import RecordStore, StoredPairs, spill_folder
from .visuals import VisualStore

VISUAL_BATCH = 1024  # thumbnails written to the store at a time

Records = MutableMapping[tuple[Path, FileKind], FileRecord]


class Executor(Protocol):
    """How records are made: ``pool.run_tasks`` or ``cluster.run_tasks``; records come back
    in the order of the tasks."""

    def __call__(
        self, tasks: Tasks, limits: DecodeLimits, jobs: int, progress: Progress | None
    ) -> Iterator[FileRecord]: ...


@dataclass(frozen=True, slots=True)
class CollectedSplit:
    planned: PlannedSplit
    pairs: Sequence[Pair]  # a tuple, or read from a spilled store (store.StoredPairs)


@dataclass(frozen=True, slots=True)
class Collected:
    splits: tuple[CollectedSplit, ...]
    notes: tuple[str, ...]  # what the cache had to say
    # the files' thumbnails (an HTML report was asked for), open until the report is built
    visuals: VisualStore | None = None
    # the records, when they were spilled to disk: open while the pairs are read
    store: RecordStore | None = None
    # each split's statistics, when the executor's workers folded them (Dask)
    stats: Folded | None = None


def shard_of(split: str, image: str | None, mask: str | None, count: int) -> int:
    """The shard (1..count) of a pair: a hash of its split and its files' paths relative to
    the root, so the same on every machine and for every listing order."""
    key = "\0".join((split, image or "", mask or "")).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % count + 1


def in_shard(plan: ScanPlan, split: PlannedSplit, pair: PairPaths) -> bool:
    """Whether this run audits ``pair``: every pair, or the pairs of its ``--shard``."""
    shard = plan.options.shard
    if shard is None:
        return True
    image = display_path(pair.image, plan.root) if pair.image is not None else None
    mask = display_path(pair.mask, plan.root) if pair.mask is not None else None
    return shard_of(split.name, image, mask, shard[1]) == shard[0]


def plan_tasks(plan: ScanPlan) -> dict[tuple[Path, FileKind], Task]:
    """One task per file of the run's pairs (its shard's), in the plan's order, in a dict
    by file (for the tests and small tools; a scan streams them: :class:`PlannedTasks`)."""
    return {(t.path, t.kind): t for t in PlannedTasks(plan)}


Slot = tuple[PlannedSplit, PairPaths, str, FileKind]


class PlannedTasks:
    """The run's tasks, one per file of its pairs (its shard's), in the plan's order, made
    each time they are iterated: a scan of a million files never holds a million tasks.

    A file's task is its first pair's (its split is the first that holds it in the whole
    plan, whatever the shard); with a shard, a file is audited when any pair that holds it
    is in the shard. A file held by several pairs is rare (overlapping splits, a split list
    naming a sample twice): such files are found once, by sorting a hash of every file
    (eight bytes a file, for a moment), and only they are remembered while iterating."""

    def __init__(self, plan: ScanPlan) -> None:
        self.plan = plan
        hashes = array("q", (hash((text, kind)) for _, _, text, kind in self._slots()))
        self._repeated = _repeated_hashes(hashes)
        del hashes
        self._wanted: set[tuple[str, FileKind]] = set()
        if self._repeated and plan.options.shard is not None:
            self._wanted = {
                (text, kind)
                for split, pair, text, kind in self._slots()
                if hash((text, kind)) in self._repeated and in_shard(plan, split, pair)
            }
        self._count = sum(1 for _ in self._kept())

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Task]:
        for split, pair, text, kind in self._kept():
            yield self._task(split, pair, text, kind)

    def find(self, keys: Collection[tuple[Path, FileKind]]) -> dict[tuple[Path, FileKind], Task]:
        """The tasks of ``keys`` (a few: the duplicate candidates read again)."""
        wanted = {(os.fspath(p), k) for p, k in keys}
        found: dict[tuple[Path, FileKind], Task] = {}
        if not wanted:
            return found
        for split, pair, text, kind in self._kept():
            if (text, kind) in wanted:
                t = self._task(split, pair, text, kind)
                found[(t.path, t.kind)] = t
        return found

    def _slots(self) -> Iterator[Slot]:
        for split in self.plan.layout.splits:
            for pair in split.pairs:
                image, mask = pair.texts
                if image is not None:
                    yield split, pair, image, FileKind.IMAGE
                if mask is not None:
                    yield split, pair, mask, FileKind.MASK

    def _kept(self) -> Iterator[Slot]:
        plan, repeated = self.plan, self._repeated
        sharded = plan.options.shard is not None
        seen: set[tuple[str, FileKind]] = set()
        last: PairPaths | None = None
        inside = True
        for slot in self._slots():
            split, pair, text, kind = slot
            if repeated and hash((text, kind)) in repeated:
                if (text, kind) in seen:
                    continue
                seen.add((text, kind))
                if sharded and (text, kind) not in self._wanted:
                    continue
            elif sharded:
                if pair is not last:  # once a pair, not once a file
                    last, inside = pair, in_shard(plan, split, pair)
                if not inside:
                    continue
            yield slot

    def _task(self, split: PlannedSplit, pair: PairPaths, text: str, kind: FileKind) -> Task:
        plan = self.plan
        path = Path(text)
        partner, ct = _partner(plan, split, pair, kind)
        return Task(
            path,
            display_path(path, plan.root),
            kind,
            split.name,
            storage=plan.storage,
            size=plan.storage.size(path),
            partner=partner,
            ct=ct,
        )


def _repeated_hashes(hashes: array[int]) -> frozenset[int]:
    """The hashes that occur more than once."""
    if len(hashes) < 2:
        return frozenset()
    import numpy as np

    ordered = np.sort(np.frombuffer(hashes, dtype=np.int64))
    same = ordered[1:] == ordered[:-1]
    return frozenset(int(h) for h in np.unique(ordered[1:][same]))


def _partner(
    plan: ScanPlan, split: PlannedSplit, pair: PairPaths, kind: FileKind
) -> tuple[Path | None, bool]:
    """An image volume's label volume, which its task reads too when the volume is CT-like
    (decode/foreground.py), and whether the dataset's catalogue declares its channel CT."""
    image, mask = pair.texts
    if kind is not FileKind.IMAGE or image is None or mask is None or not split.labeled:
        return None, False
    if not all(image_suffix(os.path.basename(f)) in VOLUME_SUFFIXES for f in (image, mask)):
        return None, False
    image = os.path.basename(image)
    named = channel_of(image)
    channel = int(named[1]) if named else 0
    return Path(mask), channel in plan.layout.ct_channels


def partner_key(plan: ScanPlan, task: Task) -> str:
    """What a record made with ``task``'s partner depends on: the label file's path and
    stamp and whether the dataset says CT (a cached record whose key differs is stale)."""
    if task.partner is None:
        return ""
    stamp = plan.storage.stamp(task.partner)
    text = repr((display_path(task.partner, plan.root), stamp, task.ct))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def executor(plan: ScanPlan, fold: SplitFolding | None = None) -> Executor:
    """The executor the options name: this machine's pool, or a Dask cluster (whose
    workers fold the split statistics into ``fold``, when given)."""
    if plan.options.executor == "dask":
        from .cluster import dask_executor

        return dask_executor(plan.options.scheduler, fold)
    return run_tasks


def split_folding(plan: ScanPlan, cached: bool = True) -> SplitFolding | None:
    """Where a Dask scan's workers fold the split statistics (folding.py): None for
    another executor, and for a shard (whose statistics the merge folds again). Unless
    the records are ``cached``, the workers send them without what only the statistics
    read."""
    if plan.options.executor != "dask" or plan.options.shard is not None:
        return None
    splits = plan.layout.splits
    train = training_names([(s.name, s.role) for s in splits])
    spec = FoldSpec(
        plan.labels,
        tuple((s.labeled, plan.training if s.name in train else None) for s in splits),
        slim=not cached,
    )
    # files of more than one split, rare: found by sorting a hash of every file (eight
    # bytes a file, for a moment), not by a dict of every file
    hashes = array("q")
    counts = []
    for split in splits:
        paired = samples = 0
        for p in split.pairs:
            image, mask = p.texts
            if image is not None:
                hashes.append(hash((image, FileKind.IMAGE)))
            if mask is not None:
                hashes.append(hash((mask, FileKind.MASK)))
            paired += image is not None and mask is not None
            samples += image is not None and (mask is not None or not split.labeled)
        counts.append((paired, samples))
    repeated = _repeated_hashes(hashes)
    del hashes
    first: dict[tuple[str, FileKind], int] = {}  # a repeated file's first split
    shared: dict[tuple[str, FileKind], Members] = {}  # files of more than one split
    for i, split in enumerate(splits if repeated else ()):
        for p in split.pairs:
            for text, kind in zip(p.texts, (FileKind.IMAGE, FileKind.MASK), strict=True):
                if text is None or hash((text, kind)) not in repeated:
                    continue
                key = (text, kind)  # the path as a string, as SplitFolding looks it up
                s = first.setdefault(key, i)
                held = shared.get(key, (s,))
                if held[-1] != i:
                    shared[key] = (*held, i)
    return SplitFolding(spec, [s.name for s in splits], shared, counts)


def collect(
    plan: ScanPlan,
    *,
    jobs: int = 1,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> Collected:
    fold = split_folding(plan, cached=cache_dir is not None)
    records, notes, visuals = audit_files(
        plan, jobs=jobs, cache_dir=cache_dir, progress=progress, on_total=on_total, fold=fold
    )
    collected = assemble(plan, records, notes, visuals)
    return collected if fold is None else replace(collected, stats=fold.freeze(records))


def audit_files(
    plan: ScanPlan,
    *,
    jobs: int = 1,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    fold: SplitFolding | None = None,
) -> tuple[Records, tuple[str, ...], VisualStore | None]:
    """The record of every file of the run (as stored: no label transform), what the cache
    had to say, and the thumbnails' store when an HTML report was asked for. With
    ``fold``, the split statistics are folded into it as the records come.

    The tasks are made as the executor takes them and the records go to the record store
    as they come back (to disk past its budget): what this holds per file is the plan's
    listing, not a task or a record."""
    tasks = PlannedTasks(plan)
    if on_total is not None:
        on_total(len(tasks))
    notes: list[str] = []
    cache = _open_cache(cache_dir, plan, notes)
    records = record_store(plan, cache_dir)
    visuals: VisualStore | None = None
    if plan.visuals:
        folder = cache.directory if cache is not None else None
        bands = plan.options.bands
        visuals = VisualStore(folder, plan.limits, variant="" if bands is None else repr(bands))

    def prepared() -> Iterator[Task]:
        """The tasks as this run makes records with them."""
        bands = plan.options.bands
        for t in tasks:
            if cache is not None and t.partner:  # a cached record is checked against it
                t = replace(t, partner_key=partner_key(plan, t))
            if visuals is not None:
                t = replace(t, visual=True, bands=bands)
            yield t

    try:
        cached = 0
        if cache is not None:
            cached = _from_cache(cache, prepared(), records, visuals)
            if progress is not None and cached:
                progress(cached)
            if fold is not None and cached:  # the cache's records are folded here
                _fold_cached(fold, records)
        stamp_of = plan.storage.stamp
        shard = plan.options.shard is not None
        # the tasks handed to the executor and not yet back, with the stamps the cache
        # keeps (taken before the file is read): records come back in the tasks' order
        flight: deque[tuple[Task, Stamp | None]] = deque()

        def todo() -> Iterator[Task]:
            for t in prepared():
                if cached and (t.path, t.kind) in records:
                    continue
                if shard:  # see confirm_duplicates: a shard hashes them all
                    t = replace(t, content=t.kind is FileKind.IMAGE)
                flight.append((t, stamp_of(t.path) if cache is not None else None))
                yield t

        made: list[tuple[Path, FileKind, Stamp | None, Visual]] = []
        keep: list[tuple[Path, FileKind, Stamp, FileRecord]] = []
        run = executor(plan, fold)
        for rec in run(Counted(todo(), len(tasks) - cached), plan.limits, jobs, progress):
            t, stamp = flight.popleft()
            if visuals is not None and rec.visual is not None:
                # streamed to disk as they come: thumbnails are never all in memory
                made.append((t.path, t.kind, stamp, rec.visual))
                rec = replace(rec, visual=None)
                if len(made) >= VISUAL_BATCH:
                    visuals.put(made)
                    made.clear()
            records[(t.path, t.kind)] = rec
            if cache is not None and stamp is not None and rec.ok:
                keep.append((t.path, t.kind, stamp, rec))
                if len(keep) >= VISUAL_BATCH:
                    cache.store(iter(keep))
                    keep.clear()
        if flight:  # an executor that gave fewer records than it was given tasks
            raise RuntimeError(f"{len(flight):,} files were given no record")
        if visuals is not None:
            visuals.put(made)
            if visuals.problem:
                notes.append(visuals.problem)
        hashed = confirm_duplicates(plan, tasks, records, jobs, cache is not None)
        if fold is not None:
            fold.again.update((t.path, t.kind) for t, _ in hashed)
        if cache is not None:
            keep += [
                (t.path, t.kind, stamp, records[(t.path, t.kind)])
                for t, stamp in hashed
                if stamp is not None and records[(t.path, t.kind)].ok
            ]
            cache.store(iter(keep))
            if cache.problem:
                notes.append(cache.problem)
    except BaseException:
        if visuals is not None:
            visuals.close()
        records.close()
        raise
    finally:
        if cache is not None:
            cache.close()
    return records, tuple(notes), visuals


@dataclass(frozen=True, slots=True)
class Counted:
    """Tasks as they are made, with their number known beforehand (pool.Tasks)."""

    tasks: Iterator[Task]
    count: int

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Task]:
        return self.tasks


LOOKUP_CHUNK = 2048  # tasks looked up in the cache at a time


def _from_cache(
    cache: RecordCache,
    tasks: Iterator[Task],
    records: Records,
    visuals: VisualStore | None,
) -> int:
    """Put every record the cache holds for ``tasks`` (unchanged files: cache.lookup) in
    ``records``, a chunk of tasks at a time; the number put."""
    put = 0
    while batch := {(t.path, t.kind): t for t in islice(tasks, LOOKUP_CHUNK)}:
        damaged = []
        found: list[tuple[Path, FileKind]] = []
        for key, text in cache.lookup(batch).items():
            t = batch[key]
            try:
                cached = record_from_json(text, t.rel, t.kind, t.split)
            except CodecError:
                damaged.append(key)
                continue
            if cached.partner_key == t.partner_key:  # else its label changed: stale
                records[key] = cached
                found.append(key)
        cache.drop(damaged)
        if visuals is not None:  # a record cached without its thumbnails is read again
            kept = visuals.available(found)
            for key in [key for key in found if key not in kept]:
                del records[key]
            found = [key for key in found if key in kept]
        put += len(found)
    return put


def _fold_cached(fold: SplitFolding, records: Records, batch: int = 256) -> None:
    keys: list[tuple[Path, FileKind]] = []
    recs: list[FileRecord] = []
    for key, rec in records.items():
        keys.append(key)
        recs.append(rec)
        if len(keys) >= batch:
            fold.add_records(keys, recs)
            keys, recs = [], []
    if keys:
        fold.add_records(keys, recs)


def record_store(plan: ScanPlan, cache_dir: Path | None = None) -> RecordStore:
    """An empty store for the records of a run: in memory while they are few, then on disk
    in a private folder that never lies in the scanned folder."""
    root = None if plan.storage.remote else plan.root
    return RecordStore(spill_folder(root, cache_dir))


def assemble(
    plan: ScanPlan,
    records: Mapping[tuple[Path, FileKind], FileRecord],
    notes: Sequence[str] = (),
    visuals: VisualStore | None = None,
) -> Collected:
    """The plan's pairs (its shard's) of records, with the label transform applied."""
    rules = plan.labels
    if isinstance(records, RecordStore) and records.spilled:
        return _assemble_stored(plan, records, notes, visuals)
    splits = []
    for split in plan.layout.splits:
        pairs = []
        for p in split.pairs:
            if not in_shard(plan, split, p):
                continue
            image = records[(p.image, FileKind.IMAGE)] if p.image is not None else None
            mask = records[(p.mask, FileKind.MASK)] if p.mask is not None else None
            pairs.append(
                Pair(split.name, image, rules.apply(mask) if mask else None, split.labeled)
            )
        splits.append(CollectedSplit(split, tuple(pairs)))
    return Collected(tuple(splits), tuple(notes), visuals)


def _assemble_stored(
    plan: ScanPlan,
    records: RecordStore,
    notes: Sequence[str],
    visuals: VisualStore | None,
) -> Collected:
    """The pairs of a spilled store, read back when the stages iterate them."""
    splits = []
    for s, split in enumerate(plan.layout.splits):
        records.add_pairs(
            s,
            (
                (
                    (p.image, FileKind.IMAGE) if p.image is not None else None,
                    (p.mask, FileKind.MASK) if p.mask is not None else None,
                )
                for p in split.pairs
                if in_shard(plan, split, p)
            ),
        )
        pairs = StoredPairs(records, s, split.name, split.labeled, plan.labels.apply)
        splits.append(CollectedSplit(split, pairs))
    return Collected(tuple(splits), tuple(notes), visuals, records)


def confirm_duplicates(
    plan: ScanPlan,
    tasks: PlannedTasks,
    records: Records,
    jobs: int,
    stamped: bool,
) -> list[tuple[Task, Stamp | None]]:
    """Hash the content of the images whose fingerprints collide, and only of those (and
    take the detail thumbnail of NA307's candidates on the same second read).

    Identical pixels always share their fingerprint (size, dtype, exact moments:
    records.content_fingerprint), so an image whose fingerprint is unique has no copy and
    is never hashed; the candidates, few in any real dataset, are read a second time (by
    the same executor as the first reads) for a hash of their whole content, which NA305 and
    NA306 compare. A shard cannot see the other shards' images, so a shard run hashes every
    image (as it decodes it) and the merge compares them. Updates ``records`` and returns
    the tasks read again, with the stamps the cache keeps when ``stamped``."""
    wanted: Iterable[tuple[Path, FileKind]]
    if plan.options.shard is not None:
        wanted = (key for key, rec in records.items() if rec.pixels is not None)
    else:
        keys, listed = _positional(records)
        prints = (content_fingerprint(r) if r.pixels is not None else None for r in listed)
        wanted = [keys[i] for i in repeated(prints)]  # sorted digests, not a dict of prints
        wanted = list(dict.fromkeys([*wanted, *reread_candidates(plan.checks, records)]))
    reread = [
        key
        for key in wanted
        if not (pixels := records[key].pixels) or not pixels.content_hash or not pixels.detail
    ]
    if not reread:  # no executor (no pool, no cluster) for nothing to do
        return []
    found = tasks.find(reread)
    again = sorted(
        (replace(found[key], content=True, visual=False) for key in reread),
        key=lambda t: (t.rel, t.kind.value),
    )
    stamp_of = plan.storage.stamp
    stamps = [stamp_of(t.path) if stamped else None for t in again]
    for t, rec in zip(again, executor(plan)(again, plan.limits, jobs, None), strict=True):
        if rec.ok:  # a file that changed since, or went away, is not called a duplicate
            records[(t.path, t.kind)] = rec
    return list(zip(again, stamps, strict=True))


def _positional(
    records: Records,
) -> tuple[Sequence[tuple[Path, FileKind]], Sequence[FileRecord]]:
    if isinstance(records, RecordStore):
        return records.positional()
    return list(records), list(records.values())


def reread_candidates(
    checks: Sequence[ActiveCheck], records: Records
) -> list[tuple[Path, FileKind]]:
    """The files an active check wants read a second time (its ``rereads``: NA307's
    near-duplicate candidates take their detail thumbnail)."""
    keys, listed = _positional(records)
    wanted: set[int] = set()
    for active in checks:
        if active.spec.rereads is not None:
            wanted.update(active.spec.rereads(active.options, listed))
    return [keys[i] for i in sorted(wanted)]


def _open_cache(cache_dir: Path | None, plan: ScanPlan, notes: list[str]) -> RecordCache | None:
    if cache_dir is None:
        return None
    try:
        inside = not plan.storage.remote and cache_dir.resolve().is_relative_to(plan.root.resolve())
    except OSError:
        inside = True
    if inside:
        notes.append("the cache folder lies inside the scanned folder: cache not used")
        return None
    cache = RecordCache(cache_dir, plan.limits, plan.storage.stamp)
    if not cache.usable:
        notes.append(cache.problem or "cache not usable")
        return None
    return cache
