"""Which reader a file goes to: NIfTI volumes (nifti.py), multi-band TIFFs Pillow cannot
open (geotiff.py), everything else readers.py. The optional libraries (nibabel, tifffile)
are imported only when a file needs them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from PIL import UnidentifiedImageError

from ..records import VOLUME_SUFFIXES, DecodeLimits, FileKind, image_suffix
from . import readers
from .georef import is_tiff


def read(path: Path, limits: DecodeLimits, kind: FileKind = FileKind.IMAGE) -> readers.Decoded:
    with readers.open_regular(path) as fh:
        return read_from(fh, path, os.fstat(fh.fileno()).st_size, limits, kind)


def read_from(
    fh: IO[bytes], path: Path, size: int, limits: DecodeLimits, kind: FileKind = FileKind.IMAGE
) -> readers.Decoded:
    """The pixels of an open, seekable file of ``size`` bytes (readers.read_from)."""
    if image_suffix(path.name) in VOLUME_SUFFIXES:
        from .nifti import read_nifti

        return read_nifti(fh, path.name, size, limits, kind)
    try:
        return readers.read_from(fh, path, size, limits, kind)
    except UnidentifiedImageError:
        fh.seek(0)
        if not is_tiff(fh.read(4)):
            raise
    from .geotiff import read_multiband

    return read_multiband(fh, size, limits, kind)  # bands Pillow cannot read: tifffile
