"""Split statistics from partial statistics: what a Dask worker folds of its batch.

A local scan folds each split's statistics from the records after they are all collected
(aggregate.split_stats). With ``--executor dask`` each worker folds the files of its batch
into partial statistics per split (:func:`fold_batch`, the same ``file_fields`` a local
scan folds, the masks with the plan's label transform) and sends them back with the
records; the client adds the partial statistics as the batches arrive
(:class:`SplitFolding`), so it never folds a record itself. The sums of moments are exact
(moments.py) and every other field merges in any order, so the result is the same bytes
as a local scan's.

Once the statistics are folded, some of what a record holds is read by nothing else: a
mask's cell grid (NA402's crops) and label perimeters (NA406's thin labels), a CT volume's
foreground histogram. Not in the JSON report either, they are most of a mask's bytes (a
1,024-character grid): a worker leaves them out of the records it sends (:func:`slim`)
unless the client caches the records, which must keep them whole for the next scan.

Two things a batch cannot know are settled by the client: which images are hashed for the
duplicate checks (only those whose fingerprints collide anywhere in the scan: they are
read again after every batch is in, collect.confirm_duplicates), and the records the cache
gave. The row of an image read again (its content not hashed yet) is replaced in the
duplicate signatures by the row of its final record, a block of paths at a time. The
cached records are folded by the client with the same function, as batches of their own.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .aggregate import Folder, GroupMoments, SplitStats, file_fields, partial_stats
from .records import FileKind, FileRecord
from .rules import LabelRules, TrainingRules
from .signatures import (
    FLAT,
    HASHED,
    MASK64,
    ImageSignature,
    SignatureBuilder,
    Signatures,
    path_block,
    row_digest,
)

Folded = tuple[SplitStats, ...]  # every split's statistics, in the plan's order
Partials = dict[int, dict[str, Any]]  # split number → the fields of its partial statistics
Members = tuple[int, ...]  # the splits (numbers) whose pairs hold a file


@dataclass(frozen=True, slots=True)
class FoldSpec:
    """What a worker needs to fold a batch: the label rules, and per split whether it is
    labeled and the training settings its crops follow (None: not a training split);
    ``slim``: the records are sent without what only the statistics read."""

    rules: LabelRules
    splits: tuple[tuple[bool, TrainingRules | None], ...]
    slim: bool = False


def slim(rec: FileRecord) -> FileRecord:
    """A record without what only the split statistics read (and the JSON report leaves
    out): a mask's cell grid and perimeters, a volume's foreground histogram."""
    if rec.labels is not None and (rec.labels.grid is not None or rec.labels.perimeters):
        rec = replace(rec, labels=replace(rec.labels, grid=None, perimeters=()))
    if rec.foreground is not None and rec.foreground.shares:
        rec = replace(rec, foreground=replace(rec.foreground, shares=()))
    return rec


def fold_batch(
    spec: FoldSpec, records: Sequence[FileRecord], members: Sequence[Members]
) -> Partials:
    """The partial statistics of a batch, per split its files belong to."""
    parts: dict[int, list[dict[str, Any]]] = {}
    for rec, splits in zip(records, members, strict=True):
        if not splits:
            continue
        seen = spec.rules.apply(rec) if rec.kind is FileKind.MASK else rec
        for s in splits:
            labeled, training = spec.splits[s]
            parts.setdefault(s, []).append(file_fields(seen, spec.rules, labeled, training))
    return {s: partial_stats(p) for s, p in sorted(parts.items())}


_FIELDS = frozenset(f for f in SplitStats.__dataclass_fields__)


def check_partials(partials: object, members: Sequence[Members], splits: int) -> Partials:
    """A worker's partial statistics, refused unless they are the shape :func:`fold_batch`
    gives for these files (Dask's messages are pickles of nanaudit's own workers; still,
    nothing is used before its shape is checked)."""
    wanted = {s for m in members for s in m}
    if not isinstance(partials, dict) or set(partials) != wanted:
        raise ValueError("a worker's partial statistics are not those of its batch's splits")
    for s, part in partials.items():
        if not (isinstance(s, int) and 0 <= s < splits and isinstance(part, dict)):
            raise ValueError("a worker's partial statistics name a split not planned")
        if not set(part) <= _FIELDS or not isinstance(part.get("signatures"), Signatures | None):
            raise ValueError("a worker's partial statistics hold an unknown field")
        groups = part.get("groups", ())
        if not isinstance(groups, tuple) or not all(
            isinstance(g, tuple) and len(g) == 2 and isinstance(g[1], GroupMoments) for g in groups
        ):
            raise ValueError("a worker's partial statistics hold damaged moments")
    return partials


class SplitFolding:
    """The statistics of every split of a scan, added a batch at a time (the client's
    side). A file belongs to the split its task names (the first that holds it) and, when
    other splits' pairs hold it too, to those ``shared`` gives by its (path as a string,
    kind); ``counts`` gives each split's (pairs of an image and a mask,
    samples a loader yields). Nothing is kept per file but the statistics themselves."""

    def __init__(
        self,
        spec: FoldSpec,
        names: Sequence[str],
        shared: Mapping[Any, Members],
        counts: Sequence[tuple[int, int]],
    ) -> None:
        self.spec, self.shared, self.counts = spec, shared, counts
        self.index = {name: i for i, name in enumerate(names)}
        self.folders = [Folder() for _ in spec.splits]
        self.again: set[tuple[Any, FileKind]] = set()  # files read again (collect notes them)

    def members_of(
        self, splits: Sequence[str], keys: Sequence[tuple[Any, FileKind]] = ()
    ) -> list[Members]:
        """The splits of files: each one's task's split (by name), and when files are
        shared by splits, those ``shared`` gives by their keys ((path, kind))."""
        index, shared = self.index, self.shared
        if not shared:
            return [(index[split],) for split in splits]
        return [
            shared.get((os.fspath(path), kind)) or (index[split],)
            for split, (path, kind) in zip(splits, keys, strict=True)
        ]

    def add_batch(self, partials: Partials) -> None:
        """A batch's partial statistics (a worker's, or :meth:`add_records`')."""
        for s, part in partials.items():
            self.folders[s].add(part)

    def add_records(
        self, keys: Sequence[tuple[Any, FileKind]], records: Sequence[FileRecord]
    ) -> None:
        """Records folded here (the cache's, or a batch whose worker sent none)."""
        members = self.members_of([r.split for r in records], keys)
        self.add_batch(fold_batch(self.spec, records, members))

    def freeze(self, records: Mapping[Any, FileRecord]) -> Folded:
        """Every split's statistics. The images read again since their batch (hashed for
        the duplicate checks: :attr:`again`, a few) have their signature rows replaced by
        those of their final records in ``records``."""
        fresh: list[list[ImageSignature]] = [[] for _ in self.folders]
        for key in sorted(self.again, key=repr):
            rec = records[key]
            if rec.kind is FileKind.IMAGE and rec.pixels is not None:
                sig = file_fields(rec, self.spec.rules, False)["signatures"][0]
                for s in self.members_of([rec.split], [key])[0]:
                    fresh[s].append(sig)
        out = []
        for s, folder in enumerate(self.folders):
            stats = folder.freeze()
            if fresh[s]:
                builder = SignatureBuilder()
                kept, dropped = without(stats.signatures, {sig.path for sig in fresh[s]})
                builder.merge(kept)
                for sig in fresh[s]:
                    if sig.path in dropped:
                        builder.add(sig)
                stats = replace(stats, signatures=builder.freeze())
            pairs, samples = self.counts[s]
            out.append(replace(stats, pairs=stats.pairs + pairs, samples=stats.samples + samples))
        return tuple(out)


def without(sigs: Signatures, paths: set[str]) -> tuple[Signatures, set[str]]:
    """``sigs`` without the rows of ``paths`` whose content was not hashed, a block of
    paths at a time (a block without such a row is kept as it is), and the paths of the
    rows left out. A row whose content was hashed stays: read again, the same file gives
    the same row."""
    flags = sigs.flag_column()
    phash = np.frombuffer(sigs.phash, "<u8")
    codes = np.frombuffer(sigs.split, "<u2")
    keep = np.ones(sigs.count, dtype=bool)
    blocks: list[bytes] = []
    rows: list[int] = []
    checksum = sigs.checksum
    gone: set[str] = set()
    start = 0
    for b, n in enumerate(np.frombuffer(sigs.block_rows, "<u4").tolist()):
        names = sigs.block(b)
        drop = [i for i, p in enumerate(names) if p in paths and not flags[start + i] & HASHED]
        if not drop:
            blocks.append(sigs.blocks[b])
            rows.append(n)
            start += n
            continue
        for i in drop:
            row = start + i
            old = ImageSignature(
                names[i],
                sigs.splits[int(codes[row])],
                "",
                int(phash[row]),
                bool(flags[row] & FLAT),
            )
            checksum = (checksum - row_digest(old)) & MASK64
            keep[row] = False
            gone.add(names[i])
        dropped = set(drop)
        kept = [p for i, p in enumerate(names) if i not in dropped]
        if kept:
            blocks.append(path_block(kept))
            rows.append(len(kept))
        start += n
    if keep.all():
        return sigs, gone
    out = Signatures(
        int(np.count_nonzero(keep)),
        sigs.splits,
        phash[keep].tobytes(),
        flags[keep].tobytes(),
        codes[keep].tobytes(),
        sigs.content,  # only unhashed rows were dropped: every digest stays
        tuple(blocks),
        np.asarray(rows, dtype="<u4").tobytes(),
        checksum,
    )
    return out, gone
