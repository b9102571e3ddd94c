"""NIfTI volumes (``.nii``, ``.nii.gz``): header first, then the voxels, bounded.

nibabel (``nanaudit[medical]``) parses the header block and computes the affine (sform,
else qform, else pixdim), as the medical tools that read these files do; nanaudit reads the
voxels itself, after the header's shape × dtype has been held to the pixel limit, to the
file's size and to the memory budget, straight into one preallocated array. Extensions are
skipped unread (bounded), a ``.nii.gz`` is decompressed only as far as the voxels it
declares (a truncated stream is NA001, never a traceback), and nothing is unpickled.

A volume is reduced as one tall image: its Z slices of Y rows × X columns stacked (the
array nibabel gives, transposed: a view, no copy); a 4-D file's fourth axis (a Decathlon
file's modalities) is its channels. The record's width and height are a slice's (X, Y), its
``shape`` the file's, its ``geometry`` the affine.
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from typing import IO, Any, cast

import numpy as np
import numpy.typing as npt

from ..records import DecodeLimits, FileKind, Geometry, Header
from .readers import Decoded, DecodeFailure, array_peak_bytes, check_budget

EXTRA = "nanaudit[medical]"
MAX_EXTENSION_BYTES = 16 << 20  # between the header and the voxels (vox_offset)
MAX_CHANNELS = 64  # a 4-D file's fourth axis: modalities, not a time series of hundreds
AFFINE_AGREE = 1e-3  # sform and qform within this (world units) are the same geometry
HEADER_SIZES = {348: "NIfTI-1", 540: "NIfTI-2"}


def nibabel_missing() -> str:
    return f"a NIfTI volume: nibabel is not installed (pip install '{EXTRA}')"


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError:
        raise DecodeFailure("NA001", nibabel_missing()) from None
    return nibabel


def read_nifti(
    fh: IO[bytes], name: str, size: int, limits: DecodeLimits, kind: FileKind
) -> Decoded:
    """The voxels of a NIfTI-1/2 file (gzipped when ``name`` ends in .gz) of ``size``
    bytes, as a tall image, with its header and geometry."""
    nib = _nibabel()
    compressed = name.lower().endswith(".gz")
    stream = cast(IO[bytes], Inflate(fh)) if compressed else fh
    try:
        return _read(nib, stream, compressed, size, limits, kind)
    except (EOFError, zlib.error) as exc:
        what = "gzip stream" if compressed else "file"
        raise DecodeFailure("NA001", f"truncated or corrupt {what}: {exc}") from None


class Inflate:
    """A gzip stream read forward, never past what is asked: ``readinto(buffer)`` inflates
    at most the buffer's size (zlib's max_length), so a small file cannot expand beyond
    the voxels its header declares. Compressed input is read in 1 MiB chunks (GzipFile's
    small reads and its CRC took a third of a volume's decode); a stream that ends early
    returns short, and the caller names the file truncated. Concatenated members are
    followed; anything else after a member ends the stream."""

    CHUNK = 1 << 20
    WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around a deflate stream

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.z = zlib.decompressobj(self.WBITS)
        self.tail = b""  # compressed input zlib has not consumed yet
        self.ended = False

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        got = 0
        while got < len(view) and not self.ended:
            if self.z.eof:
                rest = self.z.unused_data + self.tail
                if rest and not rest.startswith(b"\x1f\x8b"):
                    self.ended = True  # padding after the last member
                    break
                self.z, self.tail = zlib.decompressobj(self.WBITS), rest
            if not self.tail:
                self.tail = self.fh.read(self.CHUNK)
                if not self.tail:
                    break
            out = self.z.decompress(self.tail, len(view) - got)
            self.tail = self.z.unconsumed_tail
            view[got : got + len(out)] = out
            got += len(out)
        return got

    def read(self, n: int) -> bytes:
        out = bytearray(n)
        return bytes(out[: self.readinto(out)])


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise DecodeFailure("NA001", f"truncated NIfTI header: {len(data)} of {n} bytes")
    return data


def _header(nib: Any, stream: IO[bytes]) -> tuple[Any, str, int]:
    """The parsed header (extensions not read), its format name and its size in bytes."""
    head = _read_exact(stream, 348)
    sizes = {struct.unpack(f"{e}i", head[:4])[0]: e for e in "<>"}
    found = [(n, e) for n, e in sizes.items() if n in HEADER_SIZES]
    if not found:
        raise DecodeFailure("NA001", "not a NIfTI file (its first field is not 348 or 540)")
    n, _ = found[0]
    if n == 540:
        head += _read_exact(stream, 540 - 348)
    cls = nib.Nifti1Header if n == 348 else nib.Nifti2Header
    try:
        # the block alone: nibabel reads no extension (their sizes are untrusted)
        hdr = cls.from_fileobj(io.BytesIO(head + b"\0\0\0\0"), check=False)
    except Exception as exc:
        raise DecodeFailure("NA001", f"not a valid NIfTI header: {exc}") from None
    magic = bytes(hdr["magic"]).rstrip(b"\0")
    if magic not in (b"n+1", b"n+2"):
        what = "the header of a .hdr/.img pair" if magic in (b"ni1", b"ni2") else "no NIfTI magic"
        raise DecodeFailure("NA001", f"not a single-file NIfTI ({what}: {magic!r})")
    return hdr, HEADER_SIZES[n], n


def _read(
    nib: Any, stream: IO[bytes], compressed: bool, size: int, limits: DecodeLimits, kind: FileKind
) -> Decoded:
    hdr, fmt, header_bytes = _header(nib, stream)
    try:
        shape = tuple(int(d) for d in hdr.get_data_shape())
        dtype = np.dtype(hdr.get_data_dtype())
    except Exception as exc:
        raise DecodeFailure("NA001", f"unsupported NIfTI header: {exc}") from None
    if dtype.fields is not None or dtype.kind not in "biuf":
        raise DecodeFailure("NA001", f"unsupported NIfTI voxel type {dtype}")
    spatial, channels = _axes(shape)
    if any(d <= 0 for d in shape):
        raise DecodeFailure("NA001", f"NIfTI header declares an empty volume {shape}")
    voxels = math.prod(spatial)
    count = voxels * channels
    if voxels > limits.max_pixels or count > 8 * limits.max_pixels:
        raise DecodeFailure(
            "NA002",
            f"header declares a volume of {'×'.join(map(str, shape))} = {count:,} voxels, "
            f"over the limit of {limits.max_pixels:,}",
        )
    offset = _vox_offset(hdr, header_bytes)
    need = count * dtype.itemsize
    if not compressed and offset + need > size:
        raise DecodeFailure(
            "NA001",
            f"truncated NIfTI file: its header declares {need:,} bytes of voxels from byte "
            f"{offset:,}, the file holds {size:,} bytes",
        )
    slope, inter = _scaling(hdr)
    scaled = np.dtype(np.float32 if dtype.itemsize <= 2 else np.float64)
    out_dtype = scaled if slope is not None else dtype.newbyteorder("=")
    estimate = array_peak_bytes(voxels, channels, out_dtype, kind)
    if slope is not None:
        estimate += need  # the stored values beside their scaled copy
    check_budget(estimate, f"a volume of shape {shape} ({dtype})", limits)
    _skip(stream, offset - header_bytes)
    flat = _voxels(stream, count, dtype)
    notes: list[str] = []
    arr: npt.NDArray[Any] = flat.reshape(spatial + ((channels,) if channels > 1 else ()), order="F")
    if slope is not None:
        arr = arr.astype(scaled) * scaled.type(slope) + scaled.type(inter)
        notes.append(f"scl_slope {slope:g} and scl_inter {inter:g} applied, as readers do")
    geometry, note = _geometry(hdr, spatial)
    if note:
        notes.append(note)
    header = Header(
        format=fmt,
        mode=f"array{channels}",
        dtype=str(arr.dtype),
        width=spatial[0],
        height=spatial[1] if len(spatial) > 1 else 1,
        channels=channels,
        notes=tuple(notes),
        shape=shape,
        geometry=geometry,
    )
    return Decoded(tall(arr, channels), header)


def _axes(shape: tuple[int, ...]) -> tuple[tuple[int, ...], int]:
    """The spatial axes (1 to 3) and the channel count of a NIfTI shape: a 4th axis is
    the channels (Decathlon modalities), as is the 5th of a vector file (X, Y, Z, 1, C)."""
    if not shape:
        raise DecodeFailure("NA001", "NIfTI header declares no dimensions")
    if len(shape) <= 3:
        return shape, 1
    extra = shape[3:]
    if len(shape) == 5 and shape[3] == 1:
        extra = shape[4:]
    if len(extra) != 1:
        raise DecodeFailure("NA001", f"a NIfTI volume of {len(shape)} dimensions {shape}")
    if extra[0] > MAX_CHANNELS:
        raise DecodeFailure(
            "NA001",
            f"a series of {extra[0]:,} volumes (shape {shape}): nanaudit audits volumes of at "
            f"most {MAX_CHANNELS} channels",
        )
    return shape[:3], extra[0]


def _vox_offset(hdr: Any, header_bytes: int) -> int:
    raw = float(hdr["vox_offset"])
    if not math.isfinite(raw) or raw < 0:
        raise DecodeFailure("NA001", f"NIfTI vox_offset {raw!r} is not a byte offset")
    offset = max(int(raw), header_bytes)
    if offset - header_bytes > MAX_EXTENSION_BYTES:
        raise DecodeFailure(
            "NA001",
            f"NIfTI vox_offset {offset:,} leaves {offset - header_bytes:,} bytes of extensions "
            f"(at most {MAX_EXTENSION_BYTES:,} are skipped)",
        )
    return offset


def _scaling(hdr: Any) -> tuple[float | None, float]:
    """scl_slope and scl_inter when they change the values (a slope of 0 or NaN: none)."""
    slope, inter = float(hdr["scl_slope"]), float(hdr["scl_inter"])
    if not math.isfinite(slope) or slope == 0:
        return None, 0.0
    inter = inter if math.isfinite(inter) else 0.0
    if slope == 1 and inter == 0:
        return None, 0.0
    return slope, inter


def _skip(stream: IO[bytes], n: int) -> None:
    while n > 0:
        got = stream.read(min(n, 1 << 20))
        if not got:
            raise DecodeFailure("NA001", "truncated NIfTI file: it ends before its voxels")
        n -= len(got)


def _voxels(stream: IO[bytes], count: int, dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """``count`` voxels read straight into one array (no bytes object of the payload)."""
    flat = np.empty(count, dtype=dtype)
    view = memoryview(flat.view(np.uint8))  # type: ignore[arg-type]  # ndarray is a buffer
    need, got = view.nbytes, 0
    while got < need:
        n = stream.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    if got != need:
        raise DecodeFailure("NA001", f"truncated NIfTI voxels: {got:,} of {need:,} bytes")
    if not dtype.isnative:
        flat = flat.astype(dtype.newbyteorder("="))
    return flat


def _geometry(hdr: Any, spatial: tuple[int, ...]) -> tuple[Geometry, str]:
    """The affine readers use (sform when coded, else qform, else pixdim), and a note
    when sform and qform are both coded and disagree (readers differ on which wins)."""
    sform_code, qform_code = int(hdr["sform_code"]), int(hdr["qform_code"])
    note = ""
    try:
        affine = np.asarray(hdr.get_best_affine(), dtype=np.float64)
        if sform_code > 0 and qform_code > 0:
            qform = np.asarray(hdr.get_qform(), dtype=np.float64)
            if not np.allclose(qform, affine, rtol=0, atol=AFFINE_AGREE):
                note = (
                    "sform and qform disagree: nibabel and MONAI use the sform, ITK-based "
                    "readers (SimpleITK, nnU-Net) may use the qform"
                )
    except Exception:
        affine = np.diag([*(float(v) for v in hdr["pixdim"][1:4]), 1.0])
    if not np.isfinite(affine).all():
        affine = np.eye(4)
        note = "the header's affine is not finite"
    source = "sform" if sform_code > 0 else "qform" if qform_code > 0 else "pixdim"
    size = (*spatial, *(1,) * (3 - len(spatial)))
    values = tuple(float(v) for v in affine[:3].reshape(-1))
    return Geometry(tuple(int(s) for s in size), values, source), note


def tall(arr: npt.NDArray[Any], channels: int) -> npt.NDArray[Any]:
    """A volume of shape (X, Y, Z[, C]) in Fortran order as one tall image: Z slices of
    Y rows × X columns stacked, channels last. A view when the array is Fortran-ordered
    (nibabel's and the file's order), as it is here."""
    if channels > 1:
        t = arr.T  # (C, Z, Y, X)
        return np.moveaxis(t.reshape(channels, -1, t.shape[-1]), 0, -1)
    t = arr.T  # (Z, Y, X) or (Y, X)
    return t.reshape(-1, t.shape[-1]) if t.ndim > 1 else t.reshape(1, -1)
