"""The images the duplicate checks compare (NA305-NA307), in columns: tens of bytes each.

A :class:`Signatures` holds, per image, its 64-bit perceptual hash, two flags (flat; content
hashed), its split (an index into a small table of names), the 128-bit digest of its exact
content key when it has one, and its path, kept in zlib-compressed blocks of up to 4,096
paths that are opened only for the images a finding names. Detail thumbnails (NA307's
second read) are not kept: NA307 reads those of its candidates from the records. Rows keep
the order in which they were added; equality is of multisets (the row count and a sum of per-row
digests), so statistics merged in any order compare equal.

It is fed one image at a time (:meth:`SignatureBuilder.add`), merged
(:meth:`SignatureBuilder.merge`, associative) and queried once, at check time: exact copies
are found by sorting the content digests (:func:`exact_groups`), near copies by hash bands
(:func:`near_groups`, :func:`neardup.group_near_duplicates`), never by a dict of objects.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .neardup import group_near_duplicates

FLAT, HASHED = 1, 2  # the flags of a row
DIGEST = 16  # bytes of a content digest
BLOCK_ROWS = 4096  # paths per compressed block, at most
BLOCK_BYTES = 1 << 20  # a block is closed once its paths hold this much JSON
MAX_BLOCK_TEXT = 64 << 20  # what one block may decompress to (a partial file is untrusted)
MAX_SPLITS = 1 << 16
MASK64 = (1 << 64) - 1
CHUNK = 1 << 20  # rows searched at once


@dataclass(frozen=True, slots=True, order=True)
class ImageSignature:
    """What the duplicate checks compare of an image, taken from its record: the row
    :meth:`SignatureBuilder.add` takes (which keeps every field but ``detail``), and what
    the queries return for the images they name (``content`` is then the hex digest of the
    content key)."""

    path: str
    split: str
    content: str  # exact content: hash, size, dtype and moments ("" when not hashed)
    phash: int
    flat: bool  # no structure to hash (every channel constant)
    # a near-duplicate candidate's thumbnail (second read), else "": never kept in the
    # columns (5.5 KB; a merge of shards has one for every image), NA307 reads it from the
    # records of its candidates (aggregate.DetailLookup)
    detail: str = ""


@dataclass(frozen=True, slots=True, eq=False)
class Signatures:
    """The signatures of a part of a scan, in columns (little-endian bytes)."""

    count: int = 0
    splits: tuple[str, ...] = ()  # split names; ``split`` indexes them
    phash: bytes = b""  # uint64 per row
    flags: bytes = b""  # uint8 per row: FLAT | HASHED
    split: bytes = b""  # uint16 per row
    content: bytes = b""  # DIGEST bytes per hashed row, in row order
    blocks: tuple[bytes, ...] = ()  # zlib of the JSON list of a run of rows' paths
    block_rows: bytes = b""  # uint32 per block: its rows
    checksum: int = 0  # the sum of the rows' digests, modulo 2**64

    def __post_init__(self) -> None:
        # a partial file is untrusted: its columns must agree before anything reads them
        n = self.count
        if n < 0 or len(self.phash) != 8 * n or len(self.flags) != n:
            raise ValueError("signatures: columns of different lengths")
        if len(self.split) != 2 * n or len(self.splits) > MAX_SPLITS:
            raise ValueError("signatures: bad split column")
        if n and int(_u16(self.split).max()) >= len(self.splits):
            raise ValueError("signatures: a split index beyond the table")
        flags = _u8(self.flags)
        if n and int(flags.max()) > FLAT | HASHED:
            raise ValueError("signatures: unknown flags")
        if len(self.content) != DIGEST * int(np.count_nonzero(flags & HASHED)):
            raise ValueError("signatures: content digests do not match the hashed rows")
        rows = _u32(self.block_rows)
        if len(self.block_rows) != 4 * len(self.blocks) or int(rows.sum(dtype=np.int64)) != n:
            raise ValueError("signatures: path blocks do not hold every row")
        if not 0 <= self.checksum <= MASK64:
            raise ValueError("signatures: bad checksum")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Signatures):
            return NotImplemented
        return (self.count, self.checksum) == (other.count, other.checksum)

    def __hash__(self) -> int:
        return hash((self.count, self.checksum))

    def __len__(self) -> int:
        return self.count

    def __repr__(self) -> str:
        return f"Signatures({self.count} images, checksum {self.checksum:016x})"

    # reading ---------------------------------------------------------------------------

    def phashes(self) -> npt.NDArray[np.uint64]:
        return np.frombuffer(self.phash, "<u8").astype(np.uint64, copy=False)

    def flag_column(self) -> npt.NDArray[np.uint8]:
        return _u8(self.flags)

    def block(self, i: int) -> list[str]:
        """The paths of block ``i``."""
        inflate = zlib.decompressobj()
        try:
            text = inflate.decompress(self.blocks[i], MAX_BLOCK_TEXT)
            paths = json.loads(text) if not inflate.unconsumed_tail else None
        except (zlib.error, ValueError):
            paths = None
        rows = int(_u32(self.block_rows)[i])
        if not isinstance(paths, list) or len(paths) != rows:
            raise ValueError(f"signatures: path block {i} is damaged")
        if not all(isinstance(p, str) for p in paths):
            raise ValueError(f"signatures: path block {i} is damaged")
        return paths

    def paths_of(self, rows: npt.NDArray[np.int64]) -> list[str]:
        """The paths of ``rows`` (in that order), opening each block they fall in once."""
        starts = np.cumsum(_u32(self.block_rows), dtype=np.int64)
        out: list[str] = [""] * int(rows.size)
        which = np.searchsorted(starts, rows, side="right")
        for b in np.unique(which).tolist():
            paths = self.block(b)
            first = int(starts[b - 1]) if b else 0
            for k in np.flatnonzero(which == b).tolist():
                out[k] = paths[int(rows[k]) - first]
        return out

    def all_paths(self) -> list[str]:
        return [p for b in range(len(self.blocks)) for p in self.block(b)]

    def digests(self) -> npt.NDArray[np.uint64]:
        """The hashed rows' content digests as (hi, lo) pairs of uint64 (big-endian halves,
        so that they sort as the bytes do)."""
        return np.frombuffer(self.content, ">u8").astype(np.uint64).reshape(-1, 2)

    def rows(self) -> Iterable[ImageSignature]:
        """Every row, in row order (for tests and small parts: it opens every block)."""
        paths = self.all_paths()
        codes, flags, hashes = _u16(self.split), self.flag_column(), self.phashes()
        content = self.content
        at = 0
        for row in range(self.count):
            f = int(flags[row])
            key = ""
            if f & HASHED:
                key = content[at : at + DIGEST].hex()
                at += DIGEST
            yield ImageSignature(
                paths[row],
                self.splits[int(codes[row])],
                key,
                int(hashes[row]),
                bool(f & FLAT),
            )


def _u8(b: bytes) -> npt.NDArray[np.uint8]:
    return np.frombuffer(b, np.uint8)


def _u16(b: bytes) -> npt.NDArray[np.uint16]:
    return np.frombuffer(b, "<u2").astype(np.uint16, copy=False)


def _u32(b: bytes) -> npt.NDArray[np.uint32]:
    return np.frombuffer(b, "<u4").astype(np.uint32, copy=False)


def content_digest(content: str) -> bytes:
    """The 128-bit digest of a content key (equal keys, equal digests)."""
    return hashlib.blake2b(content.encode("utf-8", "surrogatepass"), digest_size=DIGEST).digest()


def row_digest(sig: ImageSignature) -> int:
    """A row's 64-bit digest, of every field kept: what the checksum sums."""
    text = repr((sig.path, sig.split, sig.content, sig.phash & MASK64, sig.flat))
    raw = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(raw, "little")


def path_block(paths: Sequence[str]) -> bytes:
    """A block of paths as :class:`Signatures` keeps it: zlib of their JSON list."""
    return zlib.compress(json.dumps(list(paths), separators=(",", ":")).encode(), 6)


class SignatureBuilder:
    """Rows and parts added one at a time; :meth:`freeze` makes the :class:`Signatures`."""

    __slots__ = (
        "block_rows",
        "blocks",
        "checksum",
        "codes",
        "content",
        "count",
        "flags",
        "pending",
        "pending_bytes",
        "phash",
        "split",
    )

    def __init__(self) -> None:
        self.count = 0
        self.codes: dict[str, int] = {}
        self.phash = bytearray()
        self.flags = bytearray()
        self.split = bytearray()
        self.content = bytearray()
        self.blocks: list[bytes] = []
        self.block_rows = bytearray()
        self.pending: list[str] = []
        self.pending_bytes = 0
        self.checksum = 0

    def _code(self, split: str) -> int:
        code = self.codes.get(split)
        if code is None:
            if len(self.codes) >= MAX_SPLITS:
                raise ValueError(f"more than {MAX_SPLITS} splits")
            code = self.codes[split] = len(self.codes)
        return code

    def _flush(self) -> None:
        if self.pending:
            self.blocks.append(path_block(self.pending))
            self.block_rows += len(self.pending).to_bytes(4, "little")
            self.pending, self.pending_bytes = [], 0

    def _path(self, path: str) -> None:
        self.pending.append(path)
        self.pending_bytes += len(path) + 3
        if len(self.pending) >= BLOCK_ROWS or self.pending_bytes >= BLOCK_BYTES:
            self._flush()

    def add(self, sig: ImageSignature) -> None:
        """One image."""
        flags = FLAT if sig.flat else 0
        if sig.content:
            flags |= HASHED
            self.content += content_digest(sig.content)
        self.phash += (sig.phash & MASK64).to_bytes(8, "little")
        self.flags.append(flags)
        self.split += self._code(sig.split).to_bytes(2, "little")
        self._path(sig.path)
        self.checksum = (self.checksum + row_digest(sig)) & MASK64
        self.count += 1

    def merge(self, part: Signatures) -> None:
        """Every row of ``part``, after those added so far."""
        if not part.count:
            return
        remap = np.array([self._code(name) for name in part.splits], dtype="<u2")
        self.split += remap[_u16(part.split)].tobytes()
        self.phash += part.phash
        self.flags += part.flags
        self.content += part.content
        if part.count >= BLOCK_ROWS // 2:  # its blocks are full enough to keep as they are
            self._flush()
            self.blocks.extend(part.blocks)
            self.block_rows += part.block_rows
        else:
            for path in part.all_paths():
                self._path(path)
        self.checksum = (self.checksum + part.checksum) & MASK64
        self.count += part.count

    def freeze(self) -> Signatures:
        self._flush()
        return Signatures(
            self.count,
            tuple(self.codes),
            bytes(self.phash),
            bytes(self.flags),
            bytes(self.split),
            bytes(self.content),
            tuple(self.blocks),
            bytes(self.block_rows),
            self.checksum,
        )


def signatures_of(rows: Iterable[ImageSignature]) -> Signatures:
    builder = SignatureBuilder()
    for sig in rows:
        builder.add(sig)
    return builder.freeze()


def repeated(keys: Iterable[str | None]) -> list[int]:
    """The positions, in order, of the keys (None: no key) that occur twice or more: by
    sorting 128-bit digests (16 bytes a key), not by a dict of the keys."""
    digests = bytearray()
    positions = array("q")
    for i, key in enumerate(keys):
        if key is not None:
            digests += content_digest(key)
            positions.append(i)
    if len(positions) < 2:
        return []
    d = np.frombuffer(bytes(digests), ">u8").astype(np.uint64).reshape(-1, 2)
    del digests
    order = np.lexsort((d[:, 1], d[:, 0]))
    hi, lo = d[order, 0], d[order, 1]
    same = (hi[1:] == hi[:-1]) & (lo[1:] == lo[:-1])
    twice = np.zeros(order.size, dtype=bool)
    twice[1:] |= same
    twice[:-1] |= same
    index = np.frombuffer(positions, np.int64)
    return sorted(index[order[twice]].tolist())


# --------------------------------------------------------------------------- queries
# The parts are the splits in the report's order; an image's place is (part, path), the
# order in which the findings name images.


def _located(
    parts: Sequence[Signatures],
    members: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
) -> list[tuple[tuple[int, str, str], ImageSignature]]:
    """The images at global rows ``members`` (offsets: where each part starts), each with
    its place."""
    out: list[tuple[tuple[int, str, str], ImageSignature] | None] = [None] * int(members.size)
    which = np.searchsorted(offsets, members, side="right") - 1
    for k in np.unique(which).tolist():
        part = parts[k]
        at = np.flatnonzero(which == k)
        rows = members[at] - offsets[k]
        paths = part.paths_of(rows)
        codes, flags, hashes = _u16(part.split), part.flag_column(), part.phashes()
        hashed_before = np.cumsum(flags & HASHED, dtype=np.int64) // HASHED  # hashed rows ≤ row
        for i, row, path in zip(at.tolist(), rows.tolist(), paths, strict=True):
            f = int(flags[row])
            key = ""
            if f & HASHED:
                d = int(hashed_before[row]) - 1
                key = part.content[d * DIGEST : (d + 1) * DIGEST].hex()
            split = part.splits[int(codes[row])]
            sig = ImageSignature(path, split, key, int(hashes[row]), bool(f & FLAT))
            out[i] = ((k, path, split), sig)
    return [x for x in out if x is not None]


def exact_groups(parts: Sequence[Signatures]) -> list[list[ImageSignature]]:
    """Groups of two or more images whose content keys are equal, each in place order, the
    groups by their first image's path (then part)."""
    offsets = np.cumsum([0, *(p.count for p in parts)], dtype=np.int64)
    # the first 64 bits of every digest, sorted: the values that occur twice or more
    his = [np.frombuffer(p.content, ">u8")[0::2].astype(np.uint64) for p in parts]
    hi = np.sort(np.concatenate(his)) if his else np.zeros(0, np.uint64)
    repeated = np.unique(hi[1:][hi[1:] == hi[:-1]])
    del hi
    if not repeated.size:
        return []
    # the hashed rows holding those values (a few: found a chunk at a time), then all 128
    # bits of their digests
    keys_hi, keys_lo, members = [], [], []
    for k, (part, part_hi) in enumerate(zip(parts, his, strict=True)):
        if not part_hi.size:
            continue
        hashed = np.flatnonzero(part.flag_column() & HASHED)
        for c in range(0, part_hi.size, CHUNK):
            chunk = part_hi[c : c + CHUNK]
            at = np.minimum(np.searchsorted(repeated, chunk), repeated.size - 1)
            hit = np.flatnonzero(repeated[at] == chunk) + c
            if hit.size:
                lo = np.frombuffer(part.content, ">u8")[1::2][hit].astype(np.uint64)
                keys_hi.append(part_hi[hit])
                keys_lo.append(lo)
                members.append(hashed[hit].astype(np.int64) + offsets[k])
    del his
    key_hi, key_lo, rows = (np.concatenate(x) for x in (keys_hi, keys_lo, members))
    by = np.lexsort((key_lo, key_hi))
    key_hi, key_lo, rows = key_hi[by], key_lo[by], rows[by]
    starts = np.flatnonzero(np.r_[True, (key_hi[1:] != key_hi[:-1]) | (key_lo[1:] != key_lo[:-1])])
    lengths = np.diff(np.r_[starts, key_hi.size])
    keep = lengths > 1
    grouped = np.concatenate(
        [rows[s : s + n] for s, n in zip(starts[keep], lengths[keep], strict=True)]
    )
    located = dict(zip(grouped.tolist(), _located(parts, grouped, offsets), strict=True))
    groups = []
    for s, n in zip(starts[keep].tolist(), lengths[keep].tolist(), strict=True):
        groups.append(sorted((located[g] for g in rows[s : s + n].tolist()), key=_place))
    groups.sort(key=lambda g: (g[0][0][1], g[0][0][0]))
    return [[sig for _, sig in g] for g in groups]


def _place(item: tuple[tuple[int, str, str], ImageSignature]) -> tuple[int, str, str]:
    return item[0]


def near_groups(
    parts: Sequence[Signatures], max_distance: int
) -> list[list[tuple[tuple[int, str, str], ImageSignature]]]:
    """NA307's candidates: groups of images that are not flat whose perceptual hashes are
    linked by distances of at most ``max_distance``, each image with its place (part,
    path, split), each group in place order, the groups by their first place."""
    if not parts:
        return []
    offsets = np.cumsum([0, *(p.count for p in parts)], dtype=np.int64)
    flat = [(p.flag_column() & FLAT) != 0 for p in parts]
    h = np.concatenate([p.phashes()[~f] for p, f in zip(parts, flat, strict=True)])
    groups = group_near_duplicates(h, max_distance)
    del h
    if not groups:
        return []
    # a member's index counts the images that are not flat: back to its part and row
    at = np.concatenate([np.asarray(g, dtype=np.int64) for g in groups])
    starts = np.cumsum([0, *(int(np.count_nonzero(~f)) for f in flat)], dtype=np.int64)
    which = np.searchsorted(starts, at, side="right") - 1
    rows = np.empty_like(at)
    for k in np.unique(which).tolist():
        sel = which == k
        rows[sel] = np.flatnonzero(~flat[k])[at[sel] - starts[k]] + offsets[k]
    index = dict(zip(at.tolist(), rows.tolist(), strict=True))
    located = dict(zip(rows.tolist(), _located(parts, rows, offsets), strict=True))
    out = [sorted((located[index[i]] for i in g), key=_place) for g in groups]
    out.sort(key=lambda g: g[0][0])
    return out
