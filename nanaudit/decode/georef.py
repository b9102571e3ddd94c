"""GeoTIFF georeference: where a raster lies, read from its tags with no new dependency
(the multi-band TIFFs Pillow cannot open are geotiff.py's, with tifffile).

The tags are those of the GeoTIFF standard: ModelPixelScale (33550) with one ModelTiepoint
(33922), or ModelTransformation (34264), give the pixel → model affine; the GeoKeyDirectory
(34735) gives the coordinate reference system (an EPSG code, or a user-defined one) and
whether a pixel is an area or a point. Pillow and tifffile both hand them over as tuples;
every count in them is untrusted and bounded here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..records import Geometry

MODEL_PIXEL_SCALE = 33550
MODEL_TIEPOINT = 33922
MODEL_TRANSFORMATION = 34264
GEO_KEY_DIRECTORY = 34735
GDAL_NODATA = 42113
GEO_TAGS = (MODEL_PIXEL_SCALE, MODEL_TIEPOINT, MODEL_TRANSFORMATION, GEO_KEY_DIRECTORY)

MODEL_TYPE_KEY = 1024
RASTER_TYPE_KEY = 1025  # 1: PixelIsArea (the default), 2: PixelIsPoint
GEOGRAPHIC_TYPE_KEY = 2048
PROJECTED_TYPE_KEY = 3072
USER_DEFINED = 32767
MAX_GEO_KEYS = 256
TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")

Tags = Callable[[int], Any]  # a tag's value by its code, None when absent


def _floats(value: Any, most: int) -> tuple[float, ...]:
    if value is None:
        return ()
    seq = value if isinstance(value, tuple | list) else (value,)
    if len(seq) > most:
        return ()
    try:
        return tuple(float(v) for v in seq)
    except (TypeError, ValueError):
        return ()


def geometry_from_tags(tag: Tags, width: int, height: int) -> tuple[Geometry | None, str]:
    """The raster's geometry from its GeoTIFF tags (None without them) and a note on what
    could not be used. The affine maps (column, row) of a pixel's corner to model x, y:
    a PixelIsPoint raster's tiepoint (a pixel's centre) is moved by half a pixel."""
    crs, point = crs_of(tag(GEO_KEY_DIRECTORY))
    transform = _floats(tag(MODEL_TRANSFORMATION), 16)
    scale = _floats(tag(MODEL_PIXEL_SCALE), 3)
    ties = _floats(tag(MODEL_TIEPOINT), 6 * 4096)
    note = ""
    affine: tuple[float, ...] | None = None
    source = ""
    if len(transform) == 16:
        affine = (
            transform[0],
            transform[1],
            transform[3],
            transform[4],
            transform[5],
            transform[7],
        )
        source = "ModelTransformation"
    elif len(scale) >= 2 and len(ties) == 6:
        i, j, _, x, y, _ = ties
        sx, sy = scale[0], scale[1]
        affine = (sx, 0.0, x - i * sx, 0.0, -sy, y + j * sy)
        source = "ModelTiepoint+ModelPixelScale"
    elif len(ties) > 6:
        note = f"georeferenced by {len(ties) // 6} tie points (a warp, no affine): not compared"
    if affine is None or not all(math.isfinite(v) for v in affine):
        if crs:
            return Geometry((width, height), (), "GeoKeyDirectory", crs), note
        return None, note
    if point:  # the tiepoint is the centre of the pixel: the corner is half a pixel before
        a, b, c, d, e, f = affine
        affine = (a, b, c - (a + b) / 2, d, e, f - (d + e) / 2)
    return Geometry((width, height), affine, source, crs), note


def crs_of(keys: Any) -> tuple[str, bool]:
    """The coordinate reference system the GeoKeyDirectory names ("EPSG:n", or its keys
    when user-defined; "" without one) and whether pixels are points (PixelIsPoint)."""
    values = keys if isinstance(keys, tuple | list) else ()
    if len(values) < 4:
        return "", False
    try:
        count = min(int(values[3]), MAX_GEO_KEYS, (len(values) - 4) // 4)
        entries = [tuple(int(v) for v in values[4 + 4 * k : 8 + 4 * k]) for k in range(count)]
    except (TypeError, ValueError):
        return "", False
    shorts = {key: value for key, where, _, value in entries if where == 0}
    point = shorts.get(RASTER_TYPE_KEY) == 2
    for key in (PROJECTED_TYPE_KEY, GEOGRAPHIC_TYPE_KEY):
        code = shorts.get(key)
        if code is not None and 0 < code != USER_DEFINED:
            return f"EPSG:{code}", point
    defined = {
        k: v for k, v in shorts.items() if k not in (MODEL_TYPE_KEY, RASTER_TYPE_KEY)
    } or shorts
    if not defined:
        return "", point
    described = ",".join(f"{k}={v}" for k, v in sorted(defined.items()))
    return f"user-defined GeoKeys {described[:200]}", point


def pillow_tags(im: Any) -> Tags:
    tags = getattr(im, "tag_v2", None)
    return (lambda code: tags.get(code)) if tags is not None else (lambda code: None)


def nodata_of(raw: Any) -> float | None:
    if raw is None:
        return None
    try:
        return float(str(raw).strip("\x00 "))
    except ValueError:
        return math.nan


def is_tiff(head: bytes) -> bool:
    return head[:4] in TIFF_MAGIC
