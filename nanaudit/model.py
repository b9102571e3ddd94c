"""The data model: per-file records, findings and severities. Frozen, picklable data."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .stats import ChannelStats

PILLOW_BOMB_LIMIT = 178_956_970  # Pillow's own default MAX_IMAGE_PIXELS
FP16_MAX = 65504.0
FLOAT32_LOWEST = -3.4028234663852886e38  # np.finfo(np.float32).min
DEFAULT_SENTINELS = (-9999.0, -32768.0, FLOAT32_LOWEST)
IMAGE_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".bmp",
        ".gif",
        ".webp",
        ".tif",
        ".tiff",
        ".npy",
        ".npz",
        ".ppm",
        ".pgm",
        ".pbm",
    }
)


@dataclass(frozen=True, slots=True)
class DecodeSettings:
    """The options that change what a file's record holds (and so key a cache)."""

    max_pixels: int = PILLOW_BOMB_LIMIT
    rare_label_fraction: float = 0.0001  # NA209: labels rarer than this get a boundary test
    sentinels: tuple[float, ...] = DEFAULT_SENTINELS
    hashes: bool = True  # content and perceptual hashes (NA305–NA307); off when none runs


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown severity {text!r} (expected error, warning or info)"
            ) from None


class Kind(enum.StrEnum):
    IMAGE = "image"
    MASK = "mask"


@dataclass(frozen=True, slots=True)
class DecodeError:
    """Why a file could not be audited: NA001 (unreadable) or NA002 (oversized)."""

    check: str
    reason: str


@dataclass(frozen=True, slots=True)
class PixelStats:
    """What the image checks need of an image's pixels."""

    channels: tuple[ChannelStats, ...]
    luma_p5: float
    luma_p99: float
    fp16_overflow: int = 0  # finite values with |x| >= 65504
    sentinels: tuple[tuple[float, int], ...] = ()  # (value, count) of nodata sentinels found
    content_hash: str = ""  # CRC-32 of the decoded pixels (with mode and size)
    phash: int = 0  # 64-bit perceptual (DCT) hash of the luminance, for near-duplicates


@dataclass(frozen=True, slots=True)
class LabelStats:
    """What the mask checks need of a mask's labels."""

    histogram: tuple[tuple[int, int], ...]  # sorted (label, pixel count); integral labels only
    pixels: int
    non_integer: int = 0  # finite fractional values (float masks)
    nan: int = 0
    inf: int = 0
    boundary_labels: tuple[int, ...] = ()  # rare labels that only occur between two others

    @property
    def distinct(self) -> int:
        return len(self.histogram)

    def count(self, label: int | None) -> int:
        if label is None:
            return 0
        return dict(self.histogram).get(label, 0)


@dataclass(frozen=True, slots=True)
class FileRecord:
    """Everything nanaudit keeps of one file after its single decode."""

    path: str  # relative to the scan root, POSIX form
    kind: Kind
    split: str
    size_bytes: int = 0
    format: str | None = None
    mode: str | None = None
    dtype: str | None = None
    width: int = 0
    height: int = 0
    channels: int = 0
    frames: int = 1
    exif_orientation: int | None = None
    nodata: float | None = None  # GDAL_NODATA TIFF tag
    bits: int = 0  # bits per sample as stored, when the decoder reduced them (16-bit RGB PNG)
    lossy: str | None = None  # why the encoding is lossy, when it is
    channels_differ: bool = False  # a multi-channel mask whose channels are not all equal
    colours: int = 0  # distinct colours of a colour-coded mask
    notes: tuple[str, ...] = ()
    pixels: PixelStats | None = None
    labels: LabelStats | None = None
    error: DecodeError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    name: str
    severity: Severity
    path: str
    split: str | None
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)
    image: str | None = None
    mask: str | None = None

    def sort_key(self) -> tuple[str, str]:
        # ties keep the checks' own (deterministic) order: class 5 before class 10
        return (self.path, self.check)
