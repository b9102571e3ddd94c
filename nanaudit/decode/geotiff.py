"""Multi-band TIFFs Pillow cannot open (2, 4 to 13 bands of 16-bit or float samples:
Sentinel-2, aerial RGBN), read with tifffile (``nanaudit[geo]``) after the first page's
declared shape, dtype and strips have been held to the pixel limit, to the file's size and
to the memory budget; its georeference as for every TIFF (georef.py)."""

from __future__ import annotations

from typing import IO, Any

import numpy as np
import numpy.typing as npt

from ..records import DecodeLimits, FileKind, Header
from .georef import GDAL_NODATA, geometry_from_tags, nodata_of
from .readers import Decoded, DecodeFailure, array_peak_bytes, check_budget

EXTRA = "nanaudit[geo]"
MAX_BANDS = 64


def read_multiband(fh: IO[bytes], size: int, limits: DecodeLimits, kind: FileKind) -> Decoded:
    """A TIFF Pillow cannot open (more bands, or bands of 16 bits or floats), its first
    page read with tifffile, bounded by its declared shape and strips before a byte of
    pixels is read."""
    try:
        import tifffile
    except ImportError:
        raise DecodeFailure(
            "NA001",
            f"a multi-band TIFF Pillow cannot read: tifffile is not installed (pip install "
            f"'{EXTRA}')",
        ) from None
    fh.seek(0)
    try:
        with tifffile.TiffFile(fh) as tif:
            return _read_page(tif, size, limits, kind)
    except DecodeFailure:
        raise
    except Exception as exc:  # tifffile's errors on hostile bytes are findings
        raise DecodeFailure("NA001", f"not a readable TIFF: {type(exc).__name__}: {exc}") from None


def _read_page(tif: Any, size: int, limits: DecodeLimits, kind: FileKind) -> Decoded:
    pages = tif.pages
    page = pages.first if hasattr(pages, "first") else pages[0]
    shape = tuple(int(d) for d in page.shape)
    axes = str(page.axes)
    dtype = np.dtype(page.dtype) if page.dtype is not None else None
    if dtype is None or dtype.kind not in "biuf" or dtype.fields is not None:
        raise DecodeFailure("NA001", f"unsupported TIFF samples {page.dtype}")
    if not set(axes) <= set("YXS") or "Y" not in axes or "X" not in axes:
        raise DecodeFailure("NA001", f"a TIFF page of axes {axes} {shape}")
    height, width = shape[axes.index("Y")], shape[axes.index("X")]
    bands = shape[axes.index("S")] if "S" in axes else 1
    if width * height > limits.max_pixels:
        raise DecodeFailure(
            "NA002",
            f"header declares {width}×{height} = {width * height:,} pixels, over the limit "
            f"of {limits.max_pixels:,}",
        )
    if bands > MAX_BANDS:
        raise DecodeFailure("NA001", f"a TIFF of {bands:,} bands (at most {MAX_BANDS} are read)")
    for offset, count in zip(page.dataoffsets, page.databytecounts, strict=False):
        if offset + count > size:
            raise DecodeFailure(
                "NA001",
                f"the TIFF's strips/tiles reach byte {offset + count:,} of a {size:,}-byte "
                "file (truncated)",
            )
    if not page.is_tiled and sum(page.databytecounts) == 0:
        raise DecodeFailure("NA001", "the TIFF's strips hold no bytes")
    check_budget(
        array_peak_bytes(width * height, bands, dtype, kind, from_pillow=True),
        f"{width}×{height} pixels of {bands} {dtype} bands",
        limits,
    )
    arr: npt.NDArray[Any] = page.asarray(maxworkers=1)
    if axes.startswith("S") and arr.ndim == 3:
        arr = np.moveaxis(arr, 0, -1)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]

    def tag(code: int) -> Any:
        found = page.tags.get(code)
        return None if found is None else found.value

    geometry, note = geometry_from_tags(tag, width, height)
    notes = ["read with tifffile: a TIFF of bands Pillow cannot read"]
    if len(pages) > 1:
        notes.append("several frames/pages: the first was audited")
    if note:
        notes.append(note)
    header = Header(
        format="TIFF",
        mode=f"array{bands}",
        dtype=str(arr.dtype),
        width=width,
        height=height,
        channels=bands,
        frames=2 if len(pages) > 1 else 1,
        nodata=nodata_of(tag(GDAL_NODATA)),
        notes=tuple(notes),
        geometry=geometry,
    )
    return Decoded(arr, header)
