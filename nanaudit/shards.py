"""Shards: one scan's files split over machines, and the merge of the parts.

Every shard run (``nanaudit scan PATH --shard I/N -o partial:part-I.json``) discovers the
whole layout, audits the pairs whose key hashes to I (``collect.shard_of``) and writes a
partial file: JSON (never a pickle) holding

- the plan as the shard settled it: the preset, the layout's splits (names, roles, labeled
  flags, folders, notes) and a digest of all their pairs and skipped files, the label and
  training rules, the decode limits, the active checks with their thresholds and the
  report's configuration: the same in every shard of one scan;
- the shard's own pairs and skipped files, each with its place in its split;
- the shard's per-file records, as stored (the records codec: exact, non-finite floats as
  strings), and its mergeable statistics per split (``SplitStats``).

The merge checks that the parts belong to one scan (same plan, same nanaudit, every shard
once, every pair once: the digest of the reassembled layout equals the one each shard
computed), puts the pairs back in their places and runs the stages after collection, as a
scan does. The split statistics are folded again from the records, in path order, rather
than merged from the shards' statistics: a sum of floating-point moments associated another
way can differ in its last bits, and the merged report must be a scan's, byte for byte. The
shards' statistics are compared with the refold instead, field by field (a part whose
records were cut or edited disagrees with its own statistics).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from array import array
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .aggregate import GroupStats, SplitStats, _fold, split_stats
from .checks.registry import get_check
from .collect import Collected, Records, in_shard, shard_of
from .kinds import ConfigError, Where
from .layouts import Layout, PairPaths, PlannedSplit
from .layouts.filelist import Indexed
from .layouts.presets import PRESETS
from .options import Options, table
from .paths import display_path
from .plan import ActiveCheck, ScanPlan, training_rules
from .records import CodecError, DecodeLimits, FileKind, FileRecord, decode, encode
from .rules import LabelRules, TrainingRules
from .severity import Severity
from .store import RecordStore, SortedRecords, spill_folder
from .version import __version__

FORMAT = "nanaudit-partial"
FORMAT_VERSION = 4  # 2: the plan carries the usage warnings; 3: signatures in columns;
# 4: the statistics' per-file floats in columns (stats.Floats)
# a partial file as nanaudit writes it is read a line at a time: its head (the plan, the
# pairs) whole, then one record a line; any other JSON document is read whole (some
# 300,000 records)
MAX_PARTIAL_BYTES = 256 << 20
MAX_RECORD_BYTES = 64 << 20  # a line of a partial file: one record
RECORDS_START = b',"records":[\n'
WRITTEN_START = b'{"format":"nanaudit-partial",'
MAX_NOTES = 10_000  # notes and warnings a plan may carry
MAX_CLASS_NAMES = 65536  # as the class_names option


PairRow = tuple[int, int, str | None, str | None]  # (split, place, image, mask)


class PartialError(Exception):
    """A partial file that cannot be read or does not belong with the others."""


@dataclass(frozen=True, slots=True)
class Partial:
    """One shard's part of a scan, as its partial file holds it."""

    shard: tuple[int, int]  # (I, N)
    root: str  # the scanned root as the shard's report would name it
    plan: Mapping[str, Any]  # the settled plan, JSON-ready: equal in every shard
    # (split, place, image, mask): a tuple, or PairRows (a partial file's, compact)
    pairs: Sequence[PairRow]
    skipped: tuple[tuple[int, int, str, str], ...]  # (split, place, path, reason)
    # as stored (no label transform), in path order: a tuple, or read as they are iterated
    # (a spilled store's, a partial file's)
    records: Collection[FileRecord]
    stats: tuple[SplitStats, ...]  # per split of the plan, of this shard's pairs
    notes: tuple[str, ...] = ()
    source: str = field(default="", compare=False)  # the file it was read from


# --------------------------------------------------------------------------- writing


def make_partial(plan: ScanPlan, records: Records, collected: Collected, root: str) -> Partial:
    """The partial of a shard run: ``records`` and ``collected`` are of its pairs."""
    shard = plan.options.shard or (1, 1)
    rel = _rel(plan.root)
    pairs: list[PairRow] = []
    skipped: list[tuple[int, int, str, str]] = []
    for s, split in enumerate(plan.layout.splits):
        for i, p in enumerate(split.pairs):
            if in_shard(plan, split, p):
                pairs.append((s, i, rel(p.image), rel(p.mask)))
        for i, (path, reason) in enumerate(split.skipped):
            if shard_of(split.name, None, display_path(path, plan.root), shard[1]) == shard[0]:
                skipped.append((s, i, display_path(path, plan.root), reason))
    stats = tuple(split_stats(c.pairs, plan.labels, c.planned.labeled) for c in collected.splits)
    kept: Collection[FileRecord] = (
        SortedRecords(records)
        if isinstance(records, RecordStore)
        else tuple(sorted(records.values(), key=lambda r: (r.path, r.kind.value)))
    )
    return Partial(
        shard,
        root,
        plan_document(plan),
        tuple(pairs),
        tuple(skipped),
        kept,
        stats,
        collected.notes,
    )


def plan_document(plan: ScanPlan) -> dict[str, Any]:
    """What the stages after collection need of the plan, as JSON; the layout's pairs are
    summed up by their digest (each shard carries its own)."""
    rel = _rel(plan.root)
    layout = plan.layout
    return {
        "preset": plan.preset.name,
        "config_file": plan.config_file,
        "layout": {
            "name": layout.name,
            "reason": layout.reason,
            "notes": list(layout.notes),
            # folders with images no split audits: every shard finds the same
            "unaudited": [[rel(path), n] for path, n in layout.unaudited],
            "digest": layout_digest(
                (
                    ((rel(p.image), rel(p.mask)) for p in s.pairs),
                    ((rel(path), reason) for path, reason in s.skipped),
                )
                for s in layout.splits
            ),
            "splits": [
                {
                    "name": s.name,
                    "role": s.role,
                    "labeled": s.labeled,
                    "image_root": display_path(s.image_root, plan.root),
                    "mask_root": rel(s.mask_root),
                    "pairs": len(s.pairs),
                    "skipped": len(s.skipped),
                    # folders that could not be listed (NA008): every shard finds the same
                    "unreadable": [[rel(path), reason] for path, reason in s.unreadable],
                }
                for s in layout.splits
            ],
        },
        "labels": encode(plan.labels),
        "training": encode(plan.training),
        # what shapes records: the memory limits depend on the machine, not on the scan
        "limits": {k: v for k, v in encode(plan.limits).items() if k not in DecodeLimits.UNKEYED},
        "checks": [
            {
                "id": c.spec.id,
                "severity": c.severity.label if c.severity is not None else None,
                "options": encode(c.options),
            }
            for c in plan.checks
        ],
        "config": plan.config(),
        # the usage warnings (a found config deciding what fails among them): the merged
        # report says what the single scan's says
        "warnings": [str(w) for w in plan.warnings],
    }


DIGEST_CHUNK = 4096  # items hashed at a time


def layout_digest(splits: Iterable[tuple[Iterable[Any], Iterable[Any]]]) -> str:
    """A hash of every split's pairs and skipped files, in order: of the lines
    ``json.dumps([pairs, skipped], ensure_ascii=True)``, one a split, written a chunk of
    items at a time (a million pairs are never one list or one string)."""
    h = hashlib.sha256()
    for pairs, skipped in splits:
        h.update(b"[")
        _hash_list(h, pairs)
        h.update(b", ")
        _hash_list(h, skipped)
        h.update(b"]\n")
    return h.hexdigest()


def _hash_list(h: Any, items: Iterable[Any]) -> None:
    """What ``json.dumps(list(items), ensure_ascii=True)`` writes, into ``h``."""
    h.update(b"[")
    chunk: list[Any] = []
    sep = b""
    for item in items:
        chunk.append(item)
        if len(chunk) >= DIGEST_CHUNK:
            h.update(sep + json.dumps(chunk, ensure_ascii=True)[1:-1].encode())
            chunk.clear()
            sep = b", "
    if chunk:
        h.update(sep + json.dumps(chunk, ensure_ascii=True)[1:-1].encode())
    h.update(b"]")


def partial_chunks(part: Partial) -> Iterator[str]:
    """The partial file's JSON, in pieces: one record a line, never held whole."""
    head = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nanaudit": __version__,
        "shard": f"{part.shard[0]}/{part.shard[1]}",
        "root": part.root,
        "plan": part.plan,
        "notes": list(part.notes),
        "pairs": [list(p) for p in part.pairs],
        "skipped": [list(s) for s in part.skipped],
        "stats": [encode(s) for s in part.stats],
    }
    text = json.dumps(head, ensure_ascii=True, separators=(",", ":"))
    yield text[:-1] + ',"records":['
    for i, rec in enumerate(part.records):
        sep = "," if i else ""
        yield f"{sep}\n{json.dumps(encode(rec), ensure_ascii=True, separators=(',', ':'))}"
    yield "\n]}\n"


# --------------------------------------------------------------------------- reading


def read_partial(path: Path) -> Partial:
    """A partial file. Raises PartialError naming the file and what is wrong (its records
    are read when they are iterated: an error there raises PartialError too)."""
    from .configfile import read_bytes

    where = str(path)
    try:
        with _open_regular(path) as fh:
            # a line only of a file that begins as nanaudit writes partial files
            head = fh.read(len(WRITTEN_START))
            if head == WRITTEN_START:
                head += fh.readline(MAX_PARTIAL_BYTES + 1)
        if head.endswith(RECORDS_START):  # as nanaudit writes it: records a line each
            doc = json.loads(head[: -len(RECORDS_START)] + b"}")
            records: Collection[FileRecord] | None = PartialRecords(path, len(head))
        else:
            doc = json.loads(read_bytes(path, MAX_PARTIAL_BYTES))
            records = None
    except ConfigError as exc:
        raise PartialError(str(exc)) from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise PartialError(f"{where}: not a partial file (not JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PartialError(
            f"{where}: not a partial file (write one with nanaudit scan --shard I/N "
            "-o partial:FILE)"
        )
    if doc.get("format_version") != FORMAT_VERSION or doc.get("nanaudit") != __version__:
        raise PartialError(
            f"{where}: written by nanaudit {doc.get('nanaudit')} (partial format "
            f"{doc.get('format_version')}); this is nanaudit {__version__}: shards and "
            "merge must run the same version"
        )
    try:
        shard = _shard(doc["shard"])
        plan = doc["plan"]
        if not isinstance(plan, dict):
            raise TypeError("plan: expected an object")
        return Partial(
            shard=shard,
            root=_text(doc["root"]),
            plan=plan,
            pairs=PairRows.of(doc.pop("pairs")),
            skipped=tuple((int(s), int(i), _text(p), _text(r)) for s, i, p, r in doc["skipped"]),
            records=(
                records
                if records is not None
                else tuple(decode(FileRecord, r) for r in doc["records"])
            ),
            stats=tuple(decode(SplitStats, s) for s in doc["stats"]),
            notes=tuple(_text(n) for n in doc["notes"]),
            source=where,
        )
    except (KeyError, TypeError, ValueError, CodecError) as exc:
        raise PartialError(f"{where}: damaged partial file: {exc}") from None


def _open_regular(path: Path) -> BinaryIO:
    """A file nanaudit did not make, opened as configfile.read_bytes opens one: without
    blocking, and only a regular file (never a FIFO or a device)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        fh = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            fh.close()
            raise ConfigError(f"{path}: not a regular file")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return fh


class PartialRecords(Collection[FileRecord]):
    """The records of a partial file, read a line at a time from ``offset`` each time they
    are iterated (a merge never holds a part's records whole). A line that is not a record,
    one longer than MAX_RECORD_BYTES, or an end that is not the document's raises
    PartialError."""

    def __init__(self, path: Path, offset: int) -> None:
        self.path, self.offset = path, offset

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, rec: object) -> bool:
        return any(r == rec for r in self)

    def __iter__(self) -> Iterator[FileRecord]:
        where = str(self.path)
        try:
            with _open_regular(self.path) as fh:
                fh.seek(self.offset)
                more = True  # a record must come (after "[" or a ",")
                first = True
                while True:
                    line = fh.readline(MAX_RECORD_BYTES + 1)
                    if len(line) > MAX_RECORD_BYTES:
                        raise ValueError(f"a line longer than {MAX_RECORD_BYTES:,} bytes")
                    text = line.rstrip(b"\n")
                    if text == b"]}" and (first or not more):
                        if fh.read(16).strip():
                            raise ValueError("data after the end of the document")
                        return
                    if not text.startswith(b"{") or not more:
                        raise ValueError("the records end early" if not line else "not a record")
                    more = text.endswith(b",")
                    first = False
                    yield decode(FileRecord, json.loads(text[:-1] if more else text))
        except ConfigError as exc:
            raise PartialError(str(exc)) from None
        except OSError as exc:
            raise PartialError(f"{where}: cannot read: {exc.strerror or exc}") from None
        except (ValueError, CodecError, RecursionError) as exc:
            raise PartialError(f"{where}: damaged partial file: {exc}") from None


class PairRows(Indexed[PairRow]):
    """A partial file's pairs, (split, place, image path, mask path), in columns: the
    numbers in arrays, the paths' UTF-8 in one buffer (some 70 bytes a pair, where tuples of
    strings took 250: a merge holds every part's pairs until the plan is rebuilt)."""

    __slots__ = ("_ends", "_none", "_place", "_split", "_text")

    def __init__(self) -> None:
        self._split = array("q")
        self._place = array("q")
        self._ends = array("q")  # per path (two a pair): where it ends in _text
        self._none = bytearray()  # per path: 1 when there is none
        self._text = bytearray()

    @classmethod
    def of(cls, rows: Any) -> PairRows:
        """From a partial file's JSON (a list of [split, place, image, mask]); raises
        ValueError or TypeError on anything else."""
        if not isinstance(rows, list):
            raise TypeError("pairs: expected a list")
        out = cls()
        for s, i, image, mask in rows:
            split, place = int(s), int(i)
            if not (0 <= split < 1 << 62 and 0 <= place < 1 << 62):
                raise ValueError(f"a pair out of place (split {split}, place {place})")
            out._split.append(split)
            out._place.append(place)
            out._add(_opt_text(image))
            out._add(_opt_text(mask))
        return out

    def _add(self, text: str | None) -> None:
        if text is not None:
            self._text += text.encode("utf-8", "surrogatepass")
        self._none.append(text is None)
        self._ends.append(len(self._text))

    def path(self, k: int) -> str | None:
        """Path number ``k``: the image of pair k // 2 (k even), or its mask."""
        if self._none[k]:
            return None
        start = self._ends[k - 1] if k else 0
        return self._text[start : self._ends[k]].decode("utf-8", "surrogatepass")

    def splits(self) -> array[int]:
        return self._split

    def places(self) -> array[int]:
        return self._place

    def __len__(self) -> int:
        return len(self._split)

    def _at(self, i: int) -> PairRow:
        return self._split[i], self._place[i], self.path(2 * i), self.path(2 * i + 1)


def _shard(value: Any) -> tuple[int, int]:
    index, _, count = _text(value).partition("/")
    i, n = int(index), int(count)
    if not 1 <= i <= n:
        raise ValueError(f"shard {value!r}")
    return i, n


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _opt_text(value: Any) -> str | None:
    return None if value is None else _text(value)


# --------------------------------------------------------------------------- merging


@dataclass(frozen=True, slots=True)
class MergedPlan(ScanPlan):
    """The plan the shards settled, rebuilt from their partial files. Paths are relative to
    the root (``.``); the configuration is the one the shards stated."""

    stated_config: Mapping[str, Any] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(self.stated_config))
        return copy


@dataclass(frozen=True, slots=True)
class Merged:
    plan: MergedPlan
    records: Records
    notes: tuple[str, ...]
    root: str


def with_fail_on(plan: MergedPlan, fail_on: Severity | None) -> MergedPlan:
    """The merged plan failing on ``fail_on`` (merge's --fail-on or NANAUDIT_FAIL_ON), which
    decides over the shards' setting as it would over a config's in a scan."""
    stated = dict(plan.stated_config)
    stated["fail_on"] = next(o for o in table() if o.key == "fail_on").kind.dump(fail_on)
    options = plan.options.replace(fail_on=fail_on)
    return dataclasses.replace(plan, options=options, stated_config=stated)


def merge_parts(parts: Sequence[Partial]) -> Merged:
    """The plan and records of the whole scan from its parts. Raises PartialError when the
    parts do not make one scan."""
    if not parts:
        raise PartialError("no partial files given")
    ordered = sorted(parts, key=lambda p: p.shard)
    first = ordered[0]
    count = first.shard[1]
    seen: dict[int, str] = {}
    for part in ordered:
        if part.shard[1] != count:
            raise PartialError(
                f"{part.source}: shard {part.shard[0]}/{part.shard[1]} does not belong with "
                f"{first.source}'s {first.shard[0]}/{count}"
            )
        if part.shard[0] in seen:
            raise PartialError(
                f"shard {part.shard[0]}/{count} given twice: {seen[part.shard[0]]} and "
                f"{part.source}"
            )
        seen[part.shard[0]] = part.source
        if part.plan != first.plan:
            differ = sorted(
                k for k in {*part.plan, *first.plan} if part.plan.get(k) != first.plan.get(k)
            )
            raise PartialError(
                f"{part.source} and {first.source} were not planned alike (they differ in "
                f"{', '.join(differ)}): scan the same data with the same options for every "
                "shard"
            )
    if len(seen) < count:  # N comes from the file: name a few, never list them all
        shown = []
        for i in range(1, count + 1):
            if i not in seen:
                shown.append(str(i))
                if len(shown) == 10:
                    break
        more = count - len(seen) - len(shown)
        raise PartialError(
            f"missing shard{'s' if count - len(seen) > 1 else ''} {', '.join(shown)}"
            f"{f' and {more:,} more' if more else ''} of {count}"
        )
    try:
        _check_counts(first.plan, ordered)
        plan = _plan(first.plan)
        digest = _text(first.plan["layout"]["digest"])
    except (KeyError, TypeError, ValueError, CodecError, ConfigError) as exc:
        raise PartialError(f"{first.source}: damaged plan: {exc}") from None
    for part in ordered:
        if len(part.stats) != len(plan.layout.splits):
            raise PartialError(
                f"{part.source}: damaged partial file: statistics for another number of splits"
            )
    plan = _with_pairs(plan, ordered, digest)
    records = RecordStore(spill_folder(_local(first.root)))
    for part in ordered:
        records.put_first(((Path(rec.path), rec.kind), rec) for rec in part.records)
    for split in plan.layout.splits:
        for p in split.pairs:
            for path, kind in ((p.image, FileKind.IMAGE), (p.mask, FileKind.MASK)):
                if path is not None and (path, kind) not in records:
                    raise PartialError(
                        f"no record of the {kind.value} {path.as_posix()} in the partial files"
                    )
    notes = tuple(dict.fromkeys(n for part in ordered for n in part.notes))
    return Merged(plan, records, notes, first.root)


def check_statistics(parts: Sequence[Partial], rebuilt: Sequence[SplitStats]) -> None:
    """The shards' statistics, merged, against those folded again from their records: a
    split's files are divided among its shards, so every count agrees exactly (moments are
    compared by their counts: their last bits depend on the order of merging)."""
    for s, whole in enumerate(rebuilt):
        merged = _fold(part.stats[s] for part in parts)
        for f in dataclasses.fields(SplitStats):
            a, b = getattr(merged, f.name), getattr(whole, f.name)
            if f.name == "groups":
                a, b = _group_counts(a), _group_counts(b)
            if a != b:
                sources = ", ".join(p.source for p in parts)
                raise PartialError(
                    f"the statistics of the partial files ({sources}) disagree with their "
                    f"records ({f.name}): a file was cut short or edited"
                )


def _group_counts(
    groups: tuple[tuple[tuple[str, str, int], GroupStats], ...],
) -> list[tuple[Any, int, list[int]]]:
    return [(k, g.images, [c.count for c in g.channels]) for k, g in groups]


def _check_counts(doc: Mapping[str, Any], parts: Sequence[Partial]) -> None:
    """The counts the plan declares, against what the parts hold, before anything is
    allocated from them: a split's pairs and skipped files are the parts' own."""
    splits = doc["layout"]["splits"]
    if not isinstance(splits, list):
        raise TypeError("layout.splits: expected a list")
    held: list[list[int]] = [[0, 0] for _ in splits]
    for part in parts:
        for which, column in ((0, _split_column(part.pairs)), (1, (x[0] for x in part.skipped))):
            for s in column:
                if not 0 <= s < len(held):
                    raise PartialError(f"{part.source}: a pair of split {s}, not planned")
                held[s][which] += 1
    for s, (pairs, skipped) in zip(splits, held, strict=True):
        if s["pairs"] != pairs or s["skipped"] != skipped:
            raise ValueError(
                f"split {s.get('name')!r} declares {s['pairs']!r} pairs and {s['skipped']!r} "
                f"skipped files; the parts hold {pairs} and {skipped}"
            )
    for key in ("notes", "unaudited", "warnings"):
        if len(doc["layout"].get(key, ()) if key != "warnings" else doc.get(key, ())) > MAX_NOTES:
            raise ValueError(f"more than {MAX_NOTES:,} {key}")


def _check_rules(plan: MergedPlan) -> None:
    """The label and training rules the plan states must be the ones its options make: a
    value outside the options' bounds (C = 10⁶, a crop of 1e300) is refused by the option's
    own parser, as in a scan."""
    o = plan.options
    expected = LabelRules(
        num_classes=o.num_classes,
        ignore_index=o.ignore_index,
        background=o.background,
        unused_ids=plan.preset.unused_ids,
        label_offset=o.label_offset,
        reduce_zero_label=o.reduce_zero_label,
        class_names=plan.labels.class_names,
        label_map=o.label_map,
    )
    if plan.labels != expected:
        raise ValueError("labels: not the rules its options make")
    if len(plan.labels.class_names) > MAX_CLASS_NAMES:
        raise ValueError(f"labels: more than {MAX_CLASS_NAMES:,} class names")
    made = training_rules(o)
    if dataclasses.replace(plan.training, described=made.described) != made:
        raise ValueError("training: not the rules its options make")
    if plan.limits.max_pixels != o.max_pixels:
        raise ValueError("limits: not the ones its options make")


def _plan(doc: Mapping[str, Any]) -> MergedPlan:
    plan = _plan_of(doc)
    _check_rules(plan)
    return plan


def _plan_of(doc: Mapping[str, Any]) -> MergedPlan:
    preset = PRESETS.get(doc["preset"])
    if preset is None:
        raise ValueError(f"unknown layout preset {doc['preset']!r}")
    layout = doc["layout"]
    splits = tuple(
        PlannedSplit(
            name=_text(s["name"]),
            role=_text(s["role"]),
            image_root=Path(_text(s["image_root"])),
            mask_root=Path(_text(s["mask_root"])) if s["mask_root"] is not None else None,
            labeled=bool(s["labeled"]),
            pairs=(PairPaths(None, None),) * int(s["pairs"]),  # placeholders: _with_pairs
            skipped=((Path("."), ""),) * int(s["skipped"]),
            unreadable=tuple((Path(_text(p)), _text(r)) for p, r in s["unreadable"]),
        )
        for s in layout["splits"]
    )
    config = doc["config"]
    if not isinstance(config, dict):
        raise TypeError("config: expected an object")
    return MergedPlan(
        root=Path("."),
        options=_options(config),
        preset=preset,
        layout=Layout(
            _text(layout["name"]),
            _text(layout["reason"]),
            splits,
            tuple(_text(n) for n in layout["notes"]),
            unaudited=tuple((Path(_text(p)), int(n)) for p, n in layout["unaudited"]),
        ),
        labels=decode(LabelRules, doc["labels"]),
        training=decode(TrainingRules, doc["training"]),
        limits=decode(DecodeLimits, doc["limits"]),
        checks=tuple(_active(c) for c in doc["checks"]),
        config_file=doc["config_file"],
        warnings=tuple(_text(w) for w in doc["warnings"]),
        stated_config=config,
    )


def _options(config: Mapping[str, Any]) -> Options:
    """The settled options from the stated configuration (a scan's: the options scan reads).
    The input options are left out: discovery consumed them, and its result (the layout) is
    in the partial file."""
    values = {}
    for option in table():
        scan_reads = option.reported and "scan" in option.commands
        if scan_reads and option.group != "input" and option.key != "checks":
            where = Where("partial file", option.key)
            values[option.key] = option.kind.parse(config[option.key], where)
    return Options(values)


def _active(doc: Mapping[str, Any]) -> ActiveCheck:
    spec = get_check(_text(doc["id"]))
    if spec is None:
        raise ValueError(f"unknown check {doc['id']!r}")
    where = Where("partial file", f"checks.{spec.id}")
    options = {k: spec.parse_option(k, v, where) for k, v in doc["options"].items()}
    severity = Severity.parse(doc["severity"]) if doc["severity"] is not None else None
    return ActiveCheck(spec, severity, spec.make_options(options))


def _with_pairs(plan: MergedPlan, parts: Sequence[Partial], digest: str) -> MergedPlan:
    """The plan with every shard's pairs and skipped files back in their places. A pair
    is placed by its part and row (8 bytes a pair); its paths stay in the part's rows
    until the plan's pairs are made."""
    splits = plan.layout.splits
    places = [array("q", [-1]) * len(s.pairs) for s in splits]  # part << 40 | row
    skipped: list[list[Any]] = [[None] * len(s.skipped) for s in splits]
    for k, part in enumerate(parts):
        where = places
        rows = part.pairs
        if isinstance(rows, PairRows):
            numbered: Iterable[tuple[int, int]] = zip(rows.splits(), rows.places(), strict=True)
        else:
            numbered = ((x[0], x[1]) for x in rows)
        for row, (s, i) in enumerate(numbered):
            if not (0 <= s < len(where) and 0 <= i < len(where[s])) or where[s][i] >= 0:
                raise PartialError(f"{part.source}: a pair out of place (split {s}, place {i})")
            where[s][i] = k << _ROW_BITS | row
        for s, i, path, reason in part.skipped:
            _place(skipped, s, i, (path, reason), part.source, "skipped file")

    def texts(s: int) -> Iterator[tuple[str | None, str | None]]:
        for code in places[s]:
            rows = parts[code >> _ROW_BITS].pairs
            row = code & _ROW_MASK
            if isinstance(rows, PairRows):
                yield rows.path(2 * row), rows.path(2 * row + 1)
            else:
                yield rows[row][2], rows[row][3]

    holes = any(-1 in p for p in places) or any(x is None for sk in skipped for x in sk)
    if holes or layout_digest((texts(s), skipped[s]) for s in range(len(splits))) != digest:
        raise PartialError(
            "the partial files do not hold every pair of the scan once (a shard's file is "
            "missing, cut short or from another listing of the data)"
        )
    new_splits = tuple(
        dataclasses.replace(
            split,
            pairs=tuple(PairPaths(_path(a), _path(b)) for a, b in texts(s)),
            skipped=tuple((Path(path), reason) for path, reason in skipped[s]),
        )
        for s, split in enumerate(splits)
    )
    return dataclasses.replace(plan, layout=dataclasses.replace(plan.layout, splits=new_splits))


_ROW_BITS = 40  # a pair's place holds its part's number above its row in the part
_ROW_MASK = (1 << _ROW_BITS) - 1


def _split_column(rows: Sequence[PairRow]) -> Iterable[int]:
    return rows.splits() if isinstance(rows, PairRows) else (x[0] for x in rows)


def _place(slots: list[list[Any]], s: int, i: int, value: Any, source: str, what: str) -> None:
    if not (0 <= s < len(slots) and 0 <= i < len(slots[s])) or slots[s][i] is not None:
        raise PartialError(f"{source}: a {what} out of place (split {s}, place {i})")
    slots[s][i] = value


def _local(root: str) -> Path | None:
    """The shards' root, when it names a folder here (a merge's store never lies in it)."""
    try:
        return Path(root) if Path(root).is_dir() else None
    except (OSError, ValueError):
        return None


def _path(rel: str | None) -> Path | None:
    return Path(rel) if rel is not None else None


def _rel(root: Path) -> Any:
    def rel(path: Path | None) -> str | None:
        return display_path(path, root) if path is not None else None

    return rel
