"""Report + thumbnails → the pictures of an HTML report (:class:`Gallery`).

Runs after the checks, when an HTML report was asked for: the thumbnails were made during
the one decode (decode/thumbnails.py) and kept on disk (visuals.py); this stage reads back
only those of the files it shows: the worst ``max_pictures`` findings of each check and a
few samples without findings per split. It draws each mask in a fixed class palette, lays
it over its image, and highlights the pixels a finding is about where the check knows them:
NaN/Inf/float16-overflow/nodata positions (flags made at decode time), out-of-range labels,
ignore regions, 0/255 foreground and interpolated edge labels (labels of the reduced mask,
in which rare labels survive), the area where image and mask sizes disagree, and the region
where a near-duplicate differs from the first image of its group. It also folds the
per-channel histograms of each split's majority images, read from the store in batches.
"""

from __future__ import annotations

import colorsys
import io
from collections.abc import Iterable, Iterator, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFilter, ImageOps

from .aggregate import DatasetStats, colour_family
from .collect import Collected, CollectedSplit
from .decode.thumbnails import (
    FLAG_FP16,
    FLAG_INF,
    FLAG_NAN,
    FLAG_NODATA,
    INVALID_INDEX,
    OTHER_INDEX,
    THUMB_MAX,
)
from .records import FileKind, FileRecord, Visual
from .report import (
    Finding,
    Gallery,
    Histogram,
    LegendEntry,
    Panel,
    Picture,
    Report,
    ShownFinding,
    ShownGroup,
    SplitPictures,
    SplitReport,
    check_groups,
)
from .rules import LabelRules

# A fixed class palette (tab20 without its pinks, which the highlight owns): class k < 18
# gets PALETTE[k], the others a colour of their own (_more_colour); background is
# near-black, ignore white, as in most datasets' own renders.
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#bcbd22",
    "#17becf",
    "#7f7f7f",
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#dbdb8d",
    "#9edae5",
    "#c7c7c7",
)
BACKGROUND, IGNORE, OTHER, INVALID = "#202020", "#ffffff", "#808080", "#5a5a5a"
HIGHLIGHT = "#ff00ff"
CANVAS = (48, 48, 48)
CLEAN_EXAMPLES = 3  # samples without findings shown per split
# The page is capped whatever the data or its config asks (400 splits made a 98 MB page,
# max_pictures = 1000 a 43 MB one): pictured findings and examples in all, and the splits
# whose pictures (histograms, examples) are drawn; the page says what was left out.
PAGE_PICTURES = 200
PICTURED_SPLITS = 20
GROUP_FILES = 4  # files of a duplicate group shown
LEGEND_MAX = 40
MASK_ALPHA, IGNORE_ALPHA = 0.5, 0.35
DIFF_LEVEL = 40  # 8-bit luminance difference that marks a near-duplicate's region
VALID_BINS = 20
JPEG_QUALITY = 82

Key = tuple[Path, FileKind]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def class_colour(label: int, rules: LabelRules) -> str:
    if label == rules.ignore_index:
        return IGNORE
    if label == rules.background:
        return BACKGROUND
    if 0 <= label < len(PALETTE):
        return PALETTE[label]
    return _more_colour(label)


def _more_colour(label: int) -> str:
    """A colour for a class beyond the palette's 18: hues stepped by the golden angle
    (distinct neighbours, no two of the first hundreds alike), lightness in three levels,
    the highlight's magenta left out."""
    k = abs(label) - len(PALETTE)
    hue = (0.07 + k * 0.6180339887) % 1.0
    if 0.78 < hue < 0.92:  # magenta: the highlight's
        hue = (hue + 0.2) % 1.0
    light = (0.45, 0.6, 0.4)[(k // 7) % 3]  # never so dark that a highlight over it fades
    r, g, b = colorsys.hls_to_rgb(hue, light, 0.6)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


# --------------------------------------------------------------------------- where files are


@dataclass(frozen=True, slots=True)
class Sample:
    """A pair as the gallery sees it: each file's record and store key."""

    image: FileRecord | None
    mask: FileRecord | None
    image_key: Key | None
    mask_key: Key | None


def _samples(splits: Iterable[CollectedSplit]) -> Iterator[tuple[str, Sample]]:
    for split in splits:
        for paths, pair in zip(split.planned.pairs, split.pairs, strict=True):
            yield (
                split.planned.name,
                Sample(
                    pair.image,
                    pair.mask,
                    (paths.image, FileKind.IMAGE) if paths.image is not None else None,
                    (paths.mask, FileKind.MASK) if paths.mask is not None else None,
                ),
            )


# --------------------------------------------------------------------------- pictures


def _picture(data: bytes, media_type: str, size: tuple[int, int]) -> Picture:
    return Picture(media_type, data, size[0], size[1])


def _encode(im: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True)
    else:
        im.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _open(data: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


class Painter:
    """Masks in the class palette, overlays and highlights, for one plan's label rules."""

    def __init__(self, rules: LabelRules) -> None:
        self.rules = rules

    def labels_of(self, v: Visual) -> tuple[npt.NDArray[np.uint8], list[int]]:
        """The mask thumbnail's indices and the label (as the checks see it) of each."""
        return np.asarray(_open(v.thumb)), [self.rules.map(x) for x in v.values]

    def lut(self, labels: Sequence[int]) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64]]:
        """Colour and overlay opacity of every index."""
        colours = np.zeros((256, 3), dtype=np.uint8)
        alpha = np.full(256, MASK_ALPHA)
        for i, label in enumerate(labels):
            colours[i] = _rgb(class_colour(label, self.rules))
            if label == self.rules.background:
                alpha[i] = 0.0
            elif label == self.rules.ignore_index:
                alpha[i] = IGNORE_ALPHA
        colours[OTHER_INDEX] = _rgb(OTHER)
        colours[INVALID_INDEX] = _rgb(INVALID)
        return colours, alpha

    def mask_layer(self, v: Visual) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64]]:
        """RGB colours and per-pixel opacity of a mask thumbnail."""
        im = _open(v.thumb)
        if v.colour:
            rgb = np.asarray(im.convert("RGB"))
            return rgb, np.full(rgb.shape[:2], MASK_ALPHA)
        idx, labels = np.asarray(im), [self.rules.map(x) for x in v.values]
        colours, alpha = self.lut(labels)
        return colours[idx], alpha[idx]

    def mask_picture(self, v: Visual) -> Picture:
        if v.colour:
            return _picture(v.thumb, "image/png", (v.width, v.height))
        idx = _open(v.thumb)
        colours, _ = self.lut([self.rules.map(x) for x in v.values])
        pal = Image.frombytes("P", idx.size, idx.tobytes())
        pal.putpalette(colours.reshape(-1).tolist())
        return _picture(_encode(pal, "PNG"), "image/png", idx.size)


def _outline(region: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """The region grown by a pixel, so that a single offending pixel shows."""
    im = Image.fromarray(region.astype(np.uint8) * 255, "L").filter(ImageFilter.MaxFilter(3))
    grown: npt.NDArray[np.bool_] = np.asarray(im) > 0
    return grown


@dataclass(frozen=True, slots=True)
class Highlight:
    """Offending pixels: on the mask's thumbnail grid, or on the image's."""

    on_mask: npt.NDArray[np.bool_] | None = None
    on_image: npt.NDArray[np.bool_] | None = None
    note: str = ""


def _resize_bool(a: npt.NDArray[np.bool_], size: tuple[int, int]) -> npt.NDArray[np.bool_]:
    if (a.shape[1], a.shape[0]) == size:
        return a
    im = Image.fromarray(a.astype(np.uint8) * 255, "L").resize(size, Image.Resampling.NEAREST)
    out: npt.NDArray[np.bool_] = np.asarray(im) > 0
    return out


def compose_overlay(
    painter: Painter,
    image: Visual | None,
    mask: Visual | None,
    image_rec: FileRecord | None,
    mask_rec: FileRecord | None,
    highlight: Highlight,
    rotate: bool = False,
) -> Image.Image | None:
    """The mask in the class palette over the image (at the image's scale, anchored at the
    top left, so a mask of another size shows as one), offending pixels in the highlight."""
    base: Image.Image | None = None
    scale = 1.0
    if image is not None:
        base = _open(image.thumb).convert("RGB")
        if rotate and image_rec is not None and image_rec.exif_orientation:
            base = _exif_turn(base, image_rec.exif_orientation)
        full_w = max(image_rec.width, 1) if image_rec is not None else image.width
        scale = image.width / full_w
    if mask is None and base is None:
        return None
    if mask is not None and mask_rec is not None and base is not None:
        mw = max(1, round(mask_rec.width * scale))
        mh = max(1, round(mask_rec.height * scale))
    elif mask is not None:
        mw, mh = mask.width, mask.height
    else:
        mw = mh = 0
    width = max(base.width if base else 0, mw)
    height = max(base.height if base else 0, mh)
    canvas = np.zeros((height, width, 3), dtype=np.float64)
    canvas[:] = CANVAS
    if base is not None:
        canvas[: base.height, : base.width] = np.asarray(base, dtype=np.float64)
    if mask is not None:
        rgb, alpha = painter.mask_layer(mask)
        if (mw, mh) != (mask.width, mask.height):
            rgb = np.asarray(Image.fromarray(rgb).resize((mw, mh), Image.Resampling.NEAREST))
            alpha_im = Image.fromarray((alpha * 255).astype(np.uint8), "L")
            alpha = np.asarray(alpha_im.resize((mw, mh), Image.Resampling.NEAREST)) / 255.0
        a = alpha[..., None] if base is not None else np.ones((mh, mw, 1))
        region = canvas[:mh, :mw]
        canvas[:mh, :mw] = region * (1 - a) + rgb.astype(np.float64) * a
    marked = np.zeros((height, width), dtype=bool)
    if highlight.on_mask is not None and mask is not None:
        marked[:mh, :mw] |= _resize_bool(highlight.on_mask, (mw, mh))
    if highlight.on_image is not None and base is not None:
        marked[: base.height, : base.width] |= _resize_bool(
            highlight.on_image, (base.width, base.height)
        )
    if marked.any():
        grown = _outline(marked)
        colour = np.asarray(_rgb(HIGHLIGHT), dtype=np.float64)
        canvas[marked] = canvas[marked] * 0.4 + colour * 0.6
        canvas[grown & ~marked] = colour
    return Image.fromarray(canvas.round().clip(0, 255).astype(np.uint8))


def _exif_turn(im: Image.Image, orientation: int) -> Image.Image:
    """The image as a loader that honours EXIF Orientation sees it."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    im.info["exif"] = exif.tobytes()
    turned = ImageOps.exif_transpose(im)
    return turned if turned is not None else im


# --------------------------------------------------------------------------- highlights


FLAGS = {"nan": FLAG_NAN, "inf": FLAG_INF, "fp16": FLAG_FP16, "nodata": FLAG_NODATA}
HIGHLIGHT_NAME = "magenta"


def highlight_for(
    finding: Finding,
    painter: Painter,
    image: Visual | None,
    mask: Visual | None,
    image_rec: FileRecord | None,
    mask_rec: FileRecord | None,
    reference: Visual | None = None,
) -> Highlight:
    """The pixels a finding is about, where its check's data marks them."""
    marks, rules = finding.data.marks(), painter.rules
    note = f"{marks.what} in {HIGHLIGHT_NAME}"
    if marks.image_flag and image is not None and image.flags:
        hit = (np.asarray(_open(image.flags)) & FLAGS[marks.image_flag]) > 0
        return Highlight(on_image=hit, note=note)
    if mask is not None and not mask.colour:
        idx, labels = painter.labels_of(mask)
        bad: set[int] | None = None
        if marks.labels:
            bad = set(marks.labels)
        elif marks.ignore and rules.ignore_index is not None:
            bad = {rules.ignore_index}
        elif marks.boundary_labels and mask_rec is not None and mask_rec.labels is not None:
            bad = set(mask_rec.labels.boundary_labels) or None
        if bad is not None:
            lut = np.zeros(256, dtype=bool)
            for i, label in enumerate(labels):
                lut[i] = label in bad
            # a mask of more values than the thumbnail indexes (instance ids) shares one
            # index among the rest: it is flagged when an offending label is among them
            lut[OTHER_INDEX] = not bad <= set(labels)
            return Highlight(on_mask=lut[idx], note=note)
        if marks.non_integer:
            return Highlight(on_mask=idx == INVALID_INDEX, note=note)
    if marks.overlap and image is not None and mask is not None and image_rec and mask_rec:
        scale = image.width / max(image_rec.width, 1)
        iw, ih = image.width, image.height
        mw, mh = round(mask_rec.width * scale), round(mask_rec.height * scale)
        w, h = max(iw, mw), max(ih, mh)
        a = np.zeros((h, w), dtype=bool)
        b = np.zeros((h, w), dtype=bool)
        a[:ih, :iw] = True
        b[:mh, :mw] = True
        return Highlight(
            on_image=(a ^ b)[:ih, :iw] if (w, h) == (iw, ih) else None,
            on_mask=(a ^ b)[:mh, :mw] if (w, h) != (iw, ih) else None,
            note=note,
        )
    if marks.differs_from_first and image is not None and reference is not None:
        here = np.asarray(_open(image.thumb).convert("L"), dtype=np.int16)
        there_im = _open(reference.thumb).convert("L").resize((image.width, image.height))
        there = np.asarray(there_im, dtype=np.int16)
        diff = np.abs(here - there) > DIFF_LEVEL
        return Highlight(on_image=diff, note=note)
    return Highlight()


# --------------------------------------------------------------------------- the stage


class _Builder:
    def __init__(self, labels: LabelRules, collected: Collected, wanted: Set[str]) -> None:
        assert collected.visuals is not None
        self.store = collected.visuals
        self.painter = Painter(labels)
        # the samples of the files the findings name, not of every file (a scan's records
        # may be millions, kept on disk)
        self.by_path: dict[str, tuple[str, Sample]] = {}
        for split, sample in _samples(collected.splits):
            for rec in (sample.image, sample.mask):
                if rec is not None and rec.path in wanted:
                    self.by_path.setdefault(rec.path, (split, sample))

    def panel(
        self,
        sample: Sample,
        visuals: dict[Key, Visual],
        finding: Finding | None = None,
        reference: Visual | None = None,
        with_mask: bool = True,
    ) -> Panel | None:
        image = visuals.get(sample.image_key) if sample.image_key else None
        mask = visuals.get(sample.mask_key) if sample.mask_key and with_mask else None
        if sample.image is None or not sample.image.ok:
            image = None
        if sample.mask is None or not sample.mask.ok:
            mask = None
        if image is None and mask is None:
            return None
        highlight = Highlight()
        if finding is not None:
            highlight = highlight_for(
                finding, self.painter, image, mask, sample.image, sample.mask, reference
            )
        rotate = finding is not None and finding.data.marks().exif_turn
        notes = []
        if image is not None and image.stretch:
            notes.append(image.stretch)
        if rotate:
            notes.append("overlay: the image turned by its EXIF orientation, as loaders read it")
        if highlight.note:
            notes.append(highlight.note)
        overlay = compose_overlay(
            self.painter, image, mask, sample.image, sample.mask, highlight, rotate
        )
        has_highlight = highlight.on_image is not None or highlight.on_mask is not None
        if (image is None or mask is None) and not has_highlight:
            overlay = None  # one file alone: its own column says it all
        return Panel(
            image_path=sample.image.path if sample.image is not None else None,
            mask_path=sample.mask.path if sample.mask is not None and with_mask else None,
            image=_picture(image.thumb, "image/jpeg", (image.width, image.height))
            if image is not None
            else None,
            mask=self.painter.mask_picture(mask) if mask is not None else None,
            overlay=_picture(_encode(overlay, "JPEG"), "image/jpeg", overlay.size)
            if overlay is not None
            else None,
            notes=tuple(notes),
            missing=tuple(
                what
                for what, rec in (("image", sample.image), ("mask", sample.mask))
                if rec is None and (what == "image" or with_mask)
            ),
        )

    def samples_of(self, finding: Finding) -> list[Sample]:
        files = finding.data.group()
        if files:
            return [self.by_path[p][1] for p in files[:GROUP_FILES] if p in self.by_path]
        for path in (finding.image, finding.mask, finding.path):
            if path is not None and path in self.by_path:
                return [self.by_path[path][1]]
        return []

    def shown(self, finding: Finding) -> ShownFinding | None:
        samples = self.samples_of(finding)
        if not samples:
            return None
        keys = [k for s in samples for k in (s.image_key, s.mask_key) if k is not None]
        visuals = self.store.get(keys)
        reference = visuals.get(samples[0].image_key) if samples[0].image_key else None
        panels = []
        group = bool(finding.data.group())  # a group's images, compared with the first
        for i, s in enumerate(samples):
            p = self.panel(
                s,
                visuals,
                finding,
                reference if i > 0 and group else None,
                with_mask=not group,
            )
            if p is not None:
                panels.append(p)
        return ShownFinding(finding, tuple(panels)) if panels else None

    def examples(self, split: str, clean: list[Sample]) -> tuple[Panel, ...]:
        keys = [k for s in clean for k in (s.image_key, s.mask_key) if k is not None]
        visuals = self.store.get(keys)
        panels = (self.panel(s, visuals) for s in clean)
        return tuple(p for p in panels if p is not None)


def build_gallery(
    labels: LabelRules,
    max_pictures: int,
    collected: Collected,
    dataset: DatasetStats,
    report: Report,
) -> Gallery:
    """The pictures of the report's findings and splits, from the stored thumbnails."""
    builder = _Builder(labels, collected, _mentioned(report.findings))
    cap = max_pictures
    budget = PAGE_PICTURES
    unpictured = 0  # findings the page's cap left without pictures
    groups = []
    for check, findings in check_groups(report.findings):
        shown: list[ShownFinding] = []
        for f in findings:
            if len(shown) >= cap:
                break
            if budget <= 0:
                unpictured += min(cap, len(findings)) - len(shown)
                break
            one = builder.shown(f)
            if one is not None:
                shown.append(one)
                budget -= 1
        if shown:
            groups.append(ShownGroup(check, tuple(shown)))
    mentioned = _mentioned(report.findings)
    splits = []
    left_out = []
    if unpictured:
        left_out.append(
            f"the pictures of {unpictured:,} more findings (a page shows at most "
            f"{PAGE_PICTURES:,} pictured findings and examples)"
        )
    if len(collected.splits) > PICTURED_SPLITS:
        left_out.append(
            f"the pictures (histograms, examples) of {len(collected.splits) - PICTURED_SPLITS:,}"
            f" of {len(collected.splits):,} splits (a page draws those of the first "
            f"{PICTURED_SPLITS})"
        )
    for split, view, split_report in zip(
        collected.splits[:PICTURED_SPLITS],
        dataset.splits[:PICTURED_SPLITS],
        report.splits[:PICTURED_SPLITS],
        strict=True,
    ):
        clean: list[Sample] = []
        for _, sample in _samples((split,)):
            if len(clean) >= min(CLEAN_EXAMPLES, budget):
                break
            recs = (sample.image, sample.mask)
            if all(r is not None and r.ok and r.path not in mentioned for r in recs):
                clean.append(sample)
        basis, hists = _channel_histograms(builder, split, split_report)
        splits.append(
            SplitPictures(
                split=split.planned.name,
                channel_basis=basis,
                channel_histograms=hists,
                valid_fractions=_valid_histogram(view.stats.valid_fractions),
                examples=builder.examples(split.planned.name, clean),
            )
        )
        budget -= len(clean)
    return Gallery(
        per_check=cap,
        thumbnail_max=THUMB_MAX,
        highlight=HIGHLIGHT,
        legend=_legend(report, labels),
        groups=tuple(groups),
        splits=tuple(splits),
        left_out=tuple(left_out),
    )


def _mentioned(findings: Iterable[Finding]) -> set[str]:
    out: set[str] = set()
    for f in findings:
        out.update(p for p in (f.path, f.image, f.mask) if p)
        out.update(f.data.group())
    return out


def _channel_histograms(
    builder: _Builder, split: CollectedSplit, split_report: SplitReport
) -> tuple[str, tuple[Histogram, ...]]:
    groups = split_report.image_groups
    if not groups:
        return "", ()
    top = groups[0]
    keys = [
        s.image_key
        for _, s in _samples((split,))
        if s.image is not None
        and s.image_key is not None
        and s.image.pixels is not None
        and colour_family(s.image) == top.family
        and (s.image.dtype or "?") == top.dtype
        and len(s.image.pixels.channels) == len(top.channels)
    ]
    folded = fold_histograms(builder.store.histograms(dict.fromkeys(keys)))
    if folded is None:
        return "", ()
    lo, hi, counts = folded
    basis = f"{top.family} {top.dtype} images ({top.images:,})"
    return basis, tuple(Histogram(lo, hi, tuple(int(x) for x in row)) for row in counts)


def fold_histograms(
    parts: Iterable[tuple[float, float, npt.NDArray[Any]]],
) -> tuple[float, float, npt.NDArray[np.float64]] | None:
    """Sum histograms; when their ranges differ (float data in ranges of their own), each
    is spread over the bins of the union range in proportion to the overlap."""
    total: npt.NDArray[np.float64] | None = None
    lo = hi = 0.0
    for a, b, counts in parts:
        c = counts.astype(np.float64)
        if total is None:
            total, lo, hi = c.copy(), a, b
            continue
        if c.shape != total.shape:
            continue
        if (a, b) != (lo, hi):
            new_lo, new_hi = min(lo, a), max(hi, b)
            if (new_lo, new_hi) != (lo, hi):
                total = _rebin(total, lo, hi, new_lo, new_hi)
                lo, hi = new_lo, new_hi
            c = _rebin(c, a, b, lo, hi)
        total += c
    if total is None:
        return None
    return lo, hi, total.round()


def _rebin(
    counts: npt.NDArray[np.float64], a: float, b: float, lo: float, hi: float
) -> npt.NDArray[np.float64]:
    bins = counts.shape[1]
    src = np.linspace(a, b, bins + 1)
    dst = np.linspace(lo, hi, bins + 1)
    out = np.zeros_like(counts)
    for i in range(bins):
        s0, s1 = src[i], src[i + 1]
        width = s1 - s0 or 1.0
        overlap = np.clip(np.minimum(dst[1:], s1) - np.maximum(dst[:-1], s0), 0, None)
        if s1 == s0:
            overlap = (dst[:-1] <= s0) & (s0 < dst[1:])
        out += counts[:, i : i + 1] * (overlap / width)[None, :]
    return out


def _valid_histogram(fractions: Sequence[float]) -> Histogram | None:
    if not fractions:
        return None
    idx = np.minimum((np.asarray(fractions) * VALID_BINS).astype(np.int64), VALID_BINS - 1)
    counts = np.bincount(idx, minlength=VALID_BINS)
    return Histogram(0.0, 1.0, tuple(int(x) for x in counts))


def _legend(report: Report, rules: LabelRules) -> tuple[LegendEntry, ...]:
    labels = set(report.label_values)
    if rules.num_classes is not None and rules.num_classes <= LEGEND_MAX:
        labels |= set(range(rules.num_classes))
    entries = []
    for label in sorted(labels)[:LEGEND_MAX]:
        name = report.labels.name(label)
        if label == rules.ignore_index:
            name += " (ignore)"
        elif label == rules.background and "(background)" not in name:
            name += " (background)"  # unless the class name says it already
        elif rules.num_classes is not None and not 0 <= label < rules.num_classes:
            name += " (out of range)"
        entries.append(LegendEntry(label, name, class_colour(label, rules)))
    if len(labels) > LEGEND_MAX:
        entries.append(LegendEntry(None, f"{len(labels) - LEGEND_MAX} more labels", OTHER))
    entries.append(LegendEntry(None, "not an integer", INVALID))
    return tuple(entries)


__all__ = ["build_gallery"]
