"""NA7xx: geometry. Where an image's and its mask's voxels (or pixels) lie in the world:
NIfTI affines, GeoTIFF transforms and CRS (records.Geometry), and the channel files of a
case (nnU-Net's ``case_0000``, ``case_0001``…)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..findings import FindingData, Marks
from ..kinds import Float
from ..records import FileRecord, Geometry, Pair, channel_of
from ..severity import Severity
from .context import CheckContext
from .registry import Hit, NoOptions, check, threshold
from .scopes import PAIR, Scope, Target, Unit

Ctx = CheckContext[NoOptions]


def _geometries(pair: Pair) -> tuple[FileRecord, Geometry, FileRecord, Geometry] | None:
    img, mask = pair.image, pair.mask
    if img is None or mask is None or not img.ok or not mask.ok:
        return None
    if img.geometry is None or mask.geometry is None:
        return None
    if img.geometry.ndim != mask.geometry.ndim:
        return None
    return img, img.geometry, mask, mask.geometry


def _affine(g: Geometry) -> bool:
    return len(g.affine) == g.ndim * (g.ndim + 1)


def _crs_differ(a: Geometry, b: Geometry) -> bool:
    return bool(a.crs and b.crs and a.crs != b.crs)


def _fmt(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


def _units(g: Geometry) -> str:
    return f" in {g.crs}" if g.crs else " mm" if g.ndim == 3 else ""


# --------------------------------------------------------------------------- NA701


@dataclass(frozen=True, slots=True)
class GridData(FindingData):
    image_grid: tuple[int, ...]
    mask_grid: tuple[int, ...]

    def marks(self) -> Marks:
        return Marks("where image and mask do not overlap", overlap=True)


@check("NA701", "grid-mismatch", Severity.ERROR, PAIR)
def grid_mismatch(ctx: Ctx, pair: Pair) -> Iterator[Hit]:
    """An image volume and its label volume have the same slice size but a different
    number of slices (or of voxels along any axis NA006 does not compare).

    Why: the loader crops or pads one to the other without an error, or the 3-D patch
    sampler raises a shape error deep inside the training loop (nnU-Net: "Some images have
    errors").

    Fix: resample the label onto the image's grid (nearest neighbour, e.g. with the
    image as the reference in SimpleITK or nibabel's resample_from_to), or fix the pairing.
    """
    found = _geometries(pair)
    if found is None:
        return
    img, gi, mask, gm = found
    if gi.size == gm.size or (img.width, img.height) != (mask.width, mask.height):
        return  # the same grid, or NA006's (a different slice size)
    yield Hit(
        f"image grid is {'×'.join(map(str, gi.size))} but mask grid is "
        f"{'×'.join(map(str, gm.size))} voxels",
        GridData(gi.size, gm.size),
    )


# --------------------------------------------------------------------------- NA702


@dataclass(frozen=True, slots=True)
class SpacingOptions:
    rel_tol: float = threshold(
        1e-3, Float(0.0, 1.0), "relative difference of a voxel's side tolerated"
    )


@dataclass(frozen=True, slots=True)
class SpacingData(FindingData):
    image_spacing: tuple[float, ...]
    mask_spacing: tuple[float, ...]
    rel_diff: float

    def badness(self) -> float:
        return self.rel_diff


@check("NA702", "spacing-mismatch", Severity.ERROR, PAIR, SpacingOptions)
def spacing_mismatch(ctx: CheckContext[SpacingOptions], pair: Pair) -> Iterator[Hit]:
    """The voxel spacing (NIfTI pixdim/affine) or pixel size (GeoTIFF) of a mask differs
    from its image's by more than rel_tol (default 1e-3, relative, on any axis).

    Why: the label was made on another resampling of the scan (or another resolution of
    the raster): voxel for voxel it labels other anatomy or other ground, and resampling
    pipelines (MONAI Spacingd) give the image and label different shapes.

    Fix: resample the label onto the image's grid with nearest-neighbour interpolation,
    or write the image's affine into the label if only the header is wrong.
    """
    found = _geometries(pair)
    if found is None:
        return
    _, gi, _, gm = found
    if not (_affine(gi) and _affine(gm)) or _crs_differ(gi, gm):
        return
    si, sm = gi.spacing, gm.spacing
    diff = max(abs(a - b) / max(abs(a), abs(b), 1e-12) for a, b in zip(si, sm, strict=True))
    if diff > ctx.options.rel_tol:
        yield Hit(
            f"mask spacing {_fmt(sm)} differs from the image's {_fmt(si)}{_units(gi)} "
            f"({diff:.2%}, tolerance {ctx.options.rel_tol:g})",
            SpacingData(
                tuple(round(v, 9) for v in si), tuple(round(v, 9) for v in sm), round(diff, 9)
            ),
        )


# --------------------------------------------------------------------------- NA703


@dataclass(frozen=True, slots=True)
class OriginOptions:
    max_offset: float = threshold(
        0.5, Float(0.0, 1e6), "offset of the origins tolerated, in the image's voxels/pixels"
    )


@dataclass(frozen=True, slots=True)
class OriginData(FindingData):
    offset_voxels: tuple[float, ...]
    offset_world: tuple[float, ...]

    def badness(self) -> float:
        return max(abs(v) for v in self.offset_voxels)


def _voxel_offset(gi: Geometry, gm: Geometry) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mask's origin relative to the image's: in world units, and in the image's
    voxels (through the inverse of the image's matrix)."""
    n = gi.ndim
    linear = np.array([[gi.affine[r * (n + 1) + c] for c in range(n)] for r in range(n)])
    world = np.subtract(gm.origin, gi.origin)
    try:
        voxels = np.linalg.solve(linear, world)
    except np.linalg.LinAlgError:
        voxels = np.full(n, math.inf)
    return tuple(float(v) + 0.0 for v in voxels), tuple(float(v) + 0.0 for v in world)


@check("NA703", "origin-mismatch", Severity.ERROR, PAIR, OriginOptions)
def origin_mismatch(ctx: CheckContext[OriginOptions], pair: Pair) -> Iterator[Hit]:
    """A mask's origin (NIfTI affine translation, GeoTIFF tiepoint/transform) is offset
    from its image's by more than max_offset (default half a voxel or pixel) along any
    axis, measured in the image's voxels.

    Why: the arrays have the same shape, so nothing fails, but every label sits a few
    voxels or pixels off its structure (torchgeo and raster-vision report masks read from
    a window 10 px off): the model learns blurred boundaries, and Dice on the true
    boundaries drops.

    Fix: re-export the mask on the image's grid (in GIS: same extent, resolution and
    origin; gdalwarp -te/-tr, or rasterio's reproject onto the image's transform), or
    resample the label volume with the image as reference.
    """
    found = _geometries(pair)
    if found is None:
        return
    _, gi, _, gm = found
    if not (_affine(gi) and _affine(gm)) or _crs_differ(gi, gm):
        return
    voxels, world = _voxel_offset(gi, gm)
    worst = max(abs(v) for v in voxels)
    if worst > ctx.options.max_offset:
        unit = "voxels" if gi.ndim == 3 else "pixels"
        yield Hit(
            f"mask origin is offset by {_fmt(voxels)} {unit} ({_fmt(world)}{_units(gi)}) "
            f"from the image's (tolerance {ctx.options.max_offset:g})",
            OriginData(tuple(round(v, 6) for v in voxels), tuple(round(v, 6) for v in world)),
        )


# --------------------------------------------------------------------------- NA704


@dataclass(frozen=True, slots=True)
class DirectionOptions:
    tolerance: float = threshold(
        1e-3, Float(0.0, 2.0), "difference of the axes' direction cosines tolerated"
    )


@dataclass(frozen=True, slots=True)
class DirectionData(FindingData):
    image_direction: tuple[tuple[float, ...], ...]
    mask_direction: tuple[tuple[float, ...], ...]


@check("NA704", "direction-mismatch", Severity.ERROR, PAIR, DirectionOptions)
def direction_mismatch(ctx: CheckContext[DirectionOptions], pair: Pair) -> Iterator[Hit]:
    """An axis of the mask points another way than the image's (the direction cosines of
    the NIfTI affine or of the GeoTIFF transform differ by more than tolerance): a flip
    (LPS against RAS), a transposed or a rotated label.

    Why: loaders that read the arrays as stored (most do) pair each image voxel with the
    label of its mirror image; loaders that reorient (MONAI Orientationd) disagree with
    those that do not.

    Fix: reorient the label to the image's orientation (nibabel as_closest_canonical for
    both, or resample with the image as reference) and save it with the image's affine.
    """
    found = _geometries(pair)
    if found is None:
        return
    _, gi, _, gm = found
    if not (_affine(gi) and _affine(gm)) or _crs_differ(gi, gm):
        return
    di, dm = gi.direction, gm.direction
    worst = max(
        abs(a - b) for ai, bi in zip(di, dm, strict=True) for a, b in zip(ai, bi, strict=True)
    )
    if worst > ctx.options.tolerance:
        axes = [k for k, (a, b) in enumerate(zip(di, dm, strict=True)) if a != b]
        yield Hit(
            f"mask axes {', '.join(map(str, axes))} point "
            f"{', '.join(_fmt(dm[k]) for k in axes)} where the image's point "
            f"{', '.join(_fmt(di[k]) for k in axes)}",
            DirectionData(_rounded(di), _rounded(dm)),
        )


def _rounded(d: tuple[tuple[float, ...], ...]) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(round(v, 6) + 0.0 for v in axis) for axis in d)


# --------------------------------------------------------------------------- NA705


@dataclass(frozen=True, slots=True)
class CrsData(FindingData):
    image_crs: str
    mask_crs: str


@check("NA705", "crs-mismatch", Severity.ERROR, PAIR)
def crs_mismatch(ctx: Ctx, pair: Pair) -> Iterator[Hit]:
    """A GeoTIFF mask's coordinate reference system differs from its image's (the
    GeoKeyDirectory names another EPSG code or another user-defined system).

    Why: the pixel grids may still have the same shape, but they cover different ground
    (or the same ground differently warped): the labels do not lie over what they label.

    Fix: reproject the mask onto the image's CRS and grid (gdalwarp -t_srs with the
    image's extent and resolution, nearest neighbour), or re-export both from one source.
    """
    found = _geometries(pair)
    if found is None:
        return
    _, gi, _, gm = found
    if _crs_differ(gi, gm):
        yield Hit(f"mask CRS {gm.crs} differs from the image's {gi.crs}", CrsData(gi.crs, gm.crs))


# --------------------------------------------------------------------------- NA706


@dataclass(frozen=True, slots=True)
class GeoreferenceData(FindingData):
    georeferenced: str  # "image" or "mask"


@check("NA706", "georeference-missing", Severity.INFO, PAIR)
def georeference_missing(ctx: Ctx, pair: Pair) -> Iterator[Hit]:
    """One file of a pair is georeferenced (a GeoTIFF's transform or CRS, a NIfTI affine)
    and the other is not (a PNG mask beside a GeoTIFF tile): their alignment cannot be
    checked.

    Why: a mask without a georeference is aligned by its pixel grid alone; if it was cut
    from another window or resolution, nothing says so (NA703 cannot see it).

    Fix: write the mask as a GeoTIFF with the image's transform and CRS, so that the
    alignment can be verified, or ignore this note if the masks are cut from the images'
    own grids.
    """
    img, mask = pair.image, pair.mask
    if img is None or mask is None or not img.ok or not mask.ok:
        return
    if (img.geometry is None) == (mask.geometry is None):
        return
    which = "image" if img.geometry is not None else "mask"
    other = "mask" if which == "image" else "image"
    yield Hit(
        f"the {which} is georeferenced, the {other} is not: their alignment is unchecked",
        GeoreferenceData(which),
    )


# --------------------------------------------------------------------------- NA707


@dataclass(frozen=True, slots=True)
class Cases:
    """The cases of a split whose images are channel files (``case_0000``, nnU-Net):
    per case, the channels found and the path of its first file."""

    cases: tuple[tuple[str, tuple[str, ...], str], ...]


class _CasesScope(Scope[Cases]):
    """One subject per split: its cases, when its images are named by channel."""

    name = "split"

    def targets(self, unit: Unit) -> Iterator[Target[Cases]]:
        found: dict[str, dict[str, str]] = {}
        for pair in unit.pairs:
            if pair.image is None:
                continue
            path = pair.image.path
            named = channel_of(path.rsplit("/", 1)[-1])
            if named is None:
                return  # not a split of channel files
            folder = path.rsplit("/", 1)[0] if "/" in path else ""
            key = f"{folder}/{named[0]}"
            found.setdefault(key, {}).setdefault(named[1], path)
        if len(found) < 2:
            return
        cases = tuple(
            (key, tuple(sorted(chans)), min(chans.values())) for key, chans in sorted(found.items())
        )
        yield Target(Cases(cases), unit.where)


CASES: Scope[Cases] = _CasesScope()


@dataclass(frozen=True, slots=True)
class ChannelsData(FindingData):
    channels: tuple[str, ...]
    expected: tuple[str, ...]
    missing: tuple[str, ...]


@check("NA707", "channels-per-case", Severity.ERROR, CASES)
def channels_per_case(ctx: Ctx, cases: Cases) -> Iterator[Hit]:
    """A case's channel files (nnU-Net's ``case_0000``, ``case_0001``… in imagesTr) are
    not those the split's other cases have: a modality missing, or one too many.

    Why: nnU-Net and MONAI stack a case's channel files into one input; a case with a
    channel missing crashes the loader (a shape mismatch in the batch) or, worse, shifts
    the modalities: T2 fed where FLAIR is expected.

    Fix: add the missing channel file (or remove the stray one); every case needs the
    channels dataset.json's channel_names (modality) lists, named _0000 to _000N.
    """
    sets = Counter(chans for _, chans, _ in cases.cases)
    expected, n = sets.most_common(1)[0]
    total = len(cases.cases)
    for key, chans, first in cases.cases:
        if chans == expected:
            continue
        missing = tuple(c for c in expected if c not in chans)
        extra = tuple(c for c in chans if c not in expected)
        parts = []
        if missing:
            parts.append(f"missing channel{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        if extra:
            parts.append(f"channel{'s' if len(extra) > 1 else ''} {', '.join(extra)} too many")
        yield Hit(
            f"case {key.rsplit('/', 1)[-1]!r} has channels {', '.join(chans)} "
            f"({'; '.join(parts)}) while {n} of {total} cases have {', '.join(expected)}",
            ChannelsData(chans, expected, missing),
            path=first,
        )
