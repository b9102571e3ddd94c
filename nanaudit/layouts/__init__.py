"""Layouts: where a dataset keeps its images and masks, and how they pair.

Discovery lists folders and reads split-list files; it opens no image, except the first
few files of each folder that could hold the masks when several could (survey.py).  The
result is a :class:`Layout` of planned splits, each a list of image/mask path pairs, and
the folders holding images that no split audits.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..regex import KeyPattern
from .walk import Walker


class DiscoveryError(Exception):
    """No usable layout: the message says what was looked for and how to be explicit."""


class NoLayoutFound(DiscoveryError):
    """No layout in a folder at all (not an ambiguous one): discovery may look below it.
    The message, which lists what the folder holds, is written only when it is read."""

    def __init__(self, describe: Callable[[], str]) -> None:
        super().__init__()
        self._describe = describe
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = self._describe()
        return self._text


@dataclass(frozen=True, slots=True)
class ExplicitSplit:
    """A split given explicitly: --images/--masks, --split NAME:IMAGES[:MASKS] or config."""

    name: str
    images: Path
    masks: Path | None
    given_as: str = ""  # the flag or config key that named it, for messages


class PairPaths:
    """An image and its mask as discovery paired them (either may be missing). The paths
    are kept as strings and made Paths when read: a plan holds a pair per image until the
    report is written, and a Path with the parts it caches costs some 300 bytes more than
    its string (a million-file scan: 600 MB)."""

    __slots__ = ("_image", "_mask")
    _image: str | None
    _mask: str | None

    def __init__(self, image: Path | None, mask: Path | None) -> None:
        object.__setattr__(self, "_image", None if image is None else os.fspath(image))
        object.__setattr__(self, "_mask", None if mask is None else os.fspath(mask))

    @property
    def image(self) -> Path | None:
        return None if self._image is None else Path(self._image)

    @property
    def mask(self) -> Path | None:
        return None if self._mask is None else Path(self._mask)

    @classmethod
    def of(cls, image: str | None, mask: str | None) -> PairPaths:
        """A pair of paths given as strings (no Path is made)."""
        pair = cls.__new__(cls)
        object.__setattr__(pair, "_image", image)
        object.__setattr__(pair, "_mask", mask)
        return pair

    @property
    def texts(self) -> tuple[str | None, str | None]:
        """The image's and the mask's paths as strings."""
        return self._image, self._mask

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"PairPaths is frozen: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PairPaths):
            return NotImplemented
        return (self._image, self._mask) == (other._image, other._mask)

    def __hash__(self) -> int:
        return hash((self._image, self._mask))

    def __repr__(self) -> str:
        return f"PairPaths(image={self.image!r}, mask={self.mask!r})"


@dataclass(frozen=True, slots=True)
class PlannedSplit:
    """A split as discovery found it: its folders and its pairs of paths."""

    name: str
    role: str  # train / val / test / all / other
    image_root: Path
    mask_root: Path | None
    labeled: bool
    # a tuple, or pairing.PairTable: a large split's pairs kept compactly
    pairs: Sequence[PairPaths]
    skipped: tuple[tuple[Path, str], ...] = ()
    unreadable: tuple[tuple[Path, str], ...] = ()  # folders that could not be listed (NA008)
    # the folders its pairs come from when they are more than image_root and mask_root
    # (group folders audited as one split: Tile 1/images, Tile 2/images, …)
    folders: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    reason: str
    splits: tuple[PlannedSplit, ...]
    notes: tuple[str, ...] = ()
    # folders holding images of which no split audits one, with their number of images
    unaudited: tuple[tuple[Path, int], ...] = ()
    # the channels (0000 → 0) a catalogue declares CT (Decathlon's dataset.json "modality",
    # nnU-Net v2's "channel_names"): their volumes get nnU-Net's CT clipping range
    ct_channels: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class DiscoverRequest:
    """What discovery needs of the options."""

    explicit: tuple[ExplicitSplit, ...] = ()
    pair_key: KeyPattern | None = None  # RE2 (regex.py): linear-time matching
    unlabeled: frozenset[str] = field(default_factory=frozenset)  # lower-case split names
    label_encoding: str | None = None
    label_offset: int = 0
    reduce_zero_label: bool = False
    # lists the folders (within the scanned root unless links are followed) and remembers
    # the folders it could not list and the links it did not follow
    walker: Walker = field(default_factory=Walker)
    mask_folder: str | None = None  # the mask folder's name, when several could hold them

    def labeled(self, split: str) -> bool:
        """Split names are matched case-insensitively, as split folders are."""
        return split.lower() not in self.unlabeled
