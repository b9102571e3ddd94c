"""The HTML report: thumbnails made at decode time, the thumbnail store and its cache, the
gallery's highlights, and the page (escaping, one card per check, every planted defect of
the sample data with its picture). The page in a real browser: test_html_browser.py."""

from __future__ import annotations

import io
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import SAMPLE_DEFECTS, make_pairs, natural_image, record_of_array, save
from miniatures import microscopy_16bit, nuclei_16bit
from PIL import Image

import nanaudit
import nanaudit.pool
from nanaudit.cache import record_to_json
from nanaudit.checks.masks import TooManyValuesData
from nanaudit.cli import cli
from nanaudit.decode import with_visual
from nanaudit.decode.readers import from_array
from nanaudit.decode.thumbnails import (
    FLAG_NAN,
    INVALID_INDEX,
    THUMB_MAX,
    reduce_labels,
)
from nanaudit.formats import Format, render
from nanaudit.gallery import fold_histograms

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def _visual(array: np.ndarray, kind: str = "image") -> Any:
    rec = record_of_array(array, kind)
    return with_visual(from_array(np.asarray(array), "NPY"), rec).visual


def _png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


# --------------------------------------------------------------------------- thumbnails


def test_a_rare_label_survives_the_reduction() -> None:
    m = np.ones((600, 500), np.uint8)
    m[301, 203] = 7  # one pixel: every 4th-pixel sample would miss it
    m[100:102, :] = 9  # a thin line
    grid, values = reduce_labels(m, ((1, 300_000 - 501), (7, 1), (9, 500)), 300_000, 4)
    assert grid.shape == (150, 125)
    assert values == (1, 7, 9)
    assert values[grid[301 // 4, 203 // 4]] == 7
    assert all(values[v] == 9 for v in grid[25, :])
    assert (grid == values.index(1)).sum() > 0.95 * grid.size


def test_a_mask_thumbnail_holds_its_labels_and_marks_non_integers() -> None:
    m = np.zeros((400, 400), np.float32)
    m[:, 200:] = 2
    m[10, 10] = np.nan
    m[300, 300] = 1.5
    v = _visual(m, "mask")
    grid = _png(v.thumb)
    assert max(grid.shape) <= THUMB_MAX
    assert set(v.values) == {0, 2}
    assert (grid == INVALID_INDEX).sum() == 2  # each bad pixel flags its block


def test_image_thumbnail_flags_nan_positions_and_says_how_it_was_stretched() -> None:
    a = np.random.default_rng(0).uniform(0, 1, (400, 600)).astype(np.float32)
    a[10, 500] = np.nan
    v = _visual(a)
    im = Image.open(io.BytesIO(v.thumb))
    assert im.format == "JPEG" and max(im.size) <= THUMB_MAX
    flags = _png(v.flags)
    f = 600 // THUMB_MAX + 1
    assert flags.shape == (im.size[1], im.size[0])
    assert flags[10 // f, 500 // f] & FLAG_NAN
    assert np.count_nonzero(flags) == 1
    assert "[0, 1]" in v.stretch
    assert v.hist_range == (0.0, 1.0) and sum(v.histogram[0]) == a.size - 1


def test_16_bit_thumbnail_is_stretched_over_percentiles_not_to_one_hot_pixel() -> None:
    """Issue 24: nuclei at about 2,000 of a 16-bit image with one saturated pixel were
    stretched min-max to 65535, nearly black; the 0.5-99.5 percentiles show them."""
    img, ids = nuclei_16bit(np.random.default_rng(7), (192, 192), 2_000.0, 12)
    img[5, 5] = 65535  # one hot pixel
    v = _visual(img)
    thumb = np.asarray(Image.open(io.BytesIO(v.thumb)).convert("L")).astype(float)
    assert thumb.shape == (192, 192)
    inside = ids > 0
    assert thumb[inside].mean() > 100 and thumb[~inside].mean() < 40
    assert "percentiles; the file holds" in v.stretch and "65535" in v.stretch
    # the histogram spans the data, not 0..65,536: the nuclei fill bins of their own
    assert v.hist_range == (float(img.min()), 65536.0)
    twelve = np.clip(img, 0, 4095)
    w = _visual(twelve)
    assert w.hist_range == (float(twelve.min()), 4096.0)
    assert sum(1 for n in w.histogram[0] if n) > 8


def test_a_mostly_flat_16_bit_image_falls_back_to_its_range() -> None:
    a = np.zeros((100, 100), np.uint16)
    a[:2, :2] = 1000  # 0.04% of the pixels: both percentiles are 0
    v = _visual(a)
    thumb = np.asarray(Image.open(io.BytesIO(v.thumb)).convert("L"))
    assert thumb[:2, :2].min() > 200 and thumb[50:, 50:].max() < 30
    assert "[0, 1000]" in v.stretch and "percentiles" not in v.stretch


def test_16_bit_split_histograms_span_the_data(tmp_path: Path) -> None:
    base = microscopy_16bit(tmp_path, twelve_bit=True)
    report = nanaudit.scan(base, num_classes=2, label_map={255: 1}, thumbnails=True)
    assert report.gallery is not None
    (pictures,) = report.gallery.splits
    (hist,) = pictures.channel_histograms
    assert hist.hi <= 4096 and hist.lo >= 0
    assert sum(1 for n in hist.counts if n) > 8


def test_no_flags_and_no_stretch_for_ordinary_8bit_images() -> None:
    v = _visual(natural_image(1, (300, 300)))
    assert v.flags == b"" and v.stretch == ""
    assert len(v.histogram) == 3 and sum(v.histogram[0]) == 300 * 300


def test_thumbnails_stay_out_of_the_cached_and_reported_record() -> None:
    rec = record_of_array(natural_image(2))
    full = with_visual(from_array(natural_image(2), "NPY"), rec)
    assert full.visual is not None
    assert "visual" not in record_to_json(full)
    assert record_to_json(full) == record_to_json(rec)


def test_histograms_of_different_ranges_fold_into_their_union() -> None:
    a = (0.0, 1.0, np.array([[4, 0, 0, 4]], dtype=np.uint64))
    b = (0.0, 2.0, np.array([[0, 0, 0, 6]], dtype=np.uint64))
    folded = fold_histograms([a, b])
    assert folded is not None
    lo, hi, counts = folded
    assert (lo, hi) == (0.0, 2.0) and counts.sum() == 14
    assert counts[0, 0] == 4 and counts[0, 3] == 6


# --------------------------------------------------------------------------- the page


class Cards(HTMLParser):
    """The cards of a report: check ID → shown file paths and the images in them."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, dict[str, Any]] = {}
        self.card: str | None = None
        self.in_shown = 0
        self.depth = 0
        self.grab = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "article" and a.get("data-check"):
            self.card = str(a["data-check"])
            self.cards[self.card] = {"paths": set(), "images": 0}
        if self.card and tag == "img":
            self.cards[self.card]["images"] += 1
            assert str(a.get("src", "")).startswith("data:image/")
        if self.card and tag == "code" and "path" in (a.get("class") or ""):
            self.grab, self.text = True, []

    def handle_data(self, data: str) -> None:
        if self.grab:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "code" and self.grab and self.card:
            self.cards[self.card]["paths"].add("".join(self.text))
            self.grab = False
        if tag == "article":
            self.card = None


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_sample_data_every_planted_defect_has_its_picture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = nanaudit.scan(SAMPLE)
    out = tmp_path / "report.html"
    calls: list[str] = []
    real = nanaudit.pool.audit

    def counted(task: Any, limits: Any) -> Any:
        calls.append(task.rel)
        return real(task, limits)

    monkeypatch.setattr(nanaudit.pool, "audit", counted)
    code, _, _ = invoke("scan", str(SAMPLE), "-o", f"html:{out}", "--no-progress", "-j", "1")
    assert code == 1
    page = out.read_text(encoding="utf-8")
    parser = Cards()
    parser.feed(page)
    assert set(parser.cards) == {f.check for f in report.findings}  # one card per check
    for check, path in SAMPLE_DEFECTS:
        assert path in parser.cards[check]["paths"], (check, path)
        assert parser.cards[check]["images"] >= 1, check
    assert "http://" not in page and "https://" not in page
    assert len(calls) == 46  # every file decoded once, thumbnails included
    # a warm re-run builds the same page without decoding anything
    calls.clear()
    again = tmp_path / "again.html"
    code, _, _ = invoke("scan", str(SAMPLE), "-o", f"html:{again}", "--no-progress", "-j", "1")
    assert code == 1 and calls == []
    assert again.read_bytes() == out.read_bytes()


def test_thumbnails_cost_nothing_without_an_html_report(
    dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = dataset(4)
    seen: list[bool] = []
    real = nanaudit.pool.audit

    def spy(task: Any, limits: Any) -> Any:
        seen.append(task.visual)
        return real(task, limits)

    monkeypatch.setattr(nanaudit.pool, "audit", spy)
    code, _, _ = invoke("scan", str(root), "--format", "json", "--no-progress", "-j", "1")
    assert code == 0 and seen == [False] * 8
    # the records are cached; their thumbnails are not: an HTML run decodes for them once
    seen.clear()
    code, out, _ = invoke("scan", str(root), "--format", "html", "--no-progress", "-j", "1")
    assert code == 0 and seen == [True] * 8
    assert out.startswith("<!DOCTYPE html>") and "No findings." in out
    assert out.count('<div class="panel">') == 3  # clean examples of the split


def first_shown(root: Path, check: str, num_classes: int) -> Any:
    """The first file the HTML gallery shows for ``check`` in a scan of ``root``."""
    report = nanaudit.scan(root, num_classes=num_classes, thumbnails=True)
    assert report.gallery is not None
    group = report.gallery.group(check)
    assert group is not None
    return group.shown[0]


def highlighted(png: bytes) -> np.ndarray:
    """Where an overlay picture is magenta: the highlight of the offending pixels."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return (rgb[..., 0] > 180) & (rgb[..., 1] < 110) & (rgb[..., 2] > 180)


def test_highlights_mark_the_offending_pixels(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 3)
    m = np.zeros((64, 64), np.uint8)
    m[40:44, 20:24] = 7  # out of range with C = 3
    save(root / "masks" / "img_001.png", m)
    save(root / "images" / "img_001.png", np.full((64, 64, 3), 128, np.uint8))
    panel = first_shown(root, "NA201", 3).panels[0]
    assert panel.overlay is not None and "out-of-range labels" in " ".join(panel.notes)
    magenta = highlighted(panel.overlay.data)
    assert magenta[41, 21] and magenta[42, 22]
    assert not magenta[:30].any() and not magenta[50:].any()


def test_interpolated_labels_are_marked_when_a_mask_holds_too_many_values(
    tmp_path: Path,
) -> None:
    """NA209 on more distinct values than C + 1 (no rare label named): the labels that lie
    only between two others are marked."""
    root = make_pairs(tmp_path / "d", 3)
    m = np.zeros((64, 64), np.uint8)
    m[:, 33:] = 1
    m[10:12, 32], m[40:42, 32] = 7, 9  # a resize's in-between values, on the edge
    save(root / "masks" / "img_001.png", m)
    shown = first_shown(root, "NA209", 2)
    assert isinstance(shown.finding.data, TooManyValuesData)
    panel = shown.panels[0]
    assert panel.overlay is not None and "interpolated edge labels" in " ".join(panel.notes)
    magenta = highlighted(panel.overlay.data)
    assert magenta[10:12, 32].all() and magenta[40:42, 32].all()
    assert not magenta[:7].any() and not magenta[15:37].any() and not magenta[45:].any()
    assert not magenta[:, :29].any() and not magenta[:, 36:].any()


def test_out_of_range_instance_ids_beyond_the_thumbnail_palette_are_marked(
    tmp_path: Path,
) -> None:
    """A mask of more values than a thumbnail indexes (instance ids given as classes): the
    values that share the "other" index are out of range too, and marked as such."""
    root = make_pairs(tmp_path / "d", 3)
    m = np.zeros((64, 64), np.uint16)
    m[:, 32:] = 1000 + np.arange(64 * 32, dtype=np.uint16).reshape(64, 32)  # 2,048 ids
    save(root / "masks" / "img_001.png", m)
    save(root / "images" / "img_001.png", np.full((64, 64, 3), 128, np.uint8))
    overlay = first_shown(root, "NA201", 3).panels[0].overlay
    assert overlay is not None
    magenta = highlighted(overlay.data)
    assert magenta[:, 33:].all()  # every id, not only the 253 with an index of their own
    assert not magenta[:, :29].any()  # (the outline grows the region by a pixel or two)


def test_hostile_file_names_are_text(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 3)
    name = "<img src=x onerror=alert(1)>\"'&<script>alert(2)<\\script>"
    save(root / "images" / f"{name}.png", np.full((64, 64, 3), 9, np.uint8))
    save(root / "masks" / f"{name}.png", np.zeros((64, 64), np.uint8))
    report = nanaudit.scan(root, thumbnails=True)
    page = render(report, Format.HTML)
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;&#34;&#39;&amp;&lt;script&gt;" in page
    assert len(re.findall(r"<script>", page)) == 1  # the page's own copy buttons


def test_without_jinja2_the_html_format_is_one_line_and_exit_2(
    dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = dataset(2)
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 now raises ImportError
    code, out, err = invoke("scan", str(root), "--format", "html")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "pip install 'nanaudit[html]'" in err


def test_a_report_without_pictures_still_renders(dataset: Any) -> None:
    """A report made without thumbnails (the API, a loader's samples) keeps its cards."""
    root = dataset(3)
    save(root / "masks" / "img_000.png", np.full((64, 64), 255, np.uint8))
    report = nanaudit.scan(root)
    assert report.gallery is None
    page = render(report, Format.HTML)
    assert 'data-check="NA202"' in page and "data:image" not in page
    assert "masks/img_000.png" in page


def test_the_usage_warnings_are_on_the_page(tmp_path: Path) -> None:
    root = tmp_path / "d"  # masks named by number only: a --pair-key would pair them
    for i in range(3):
        save(root / "images" / f"{i:02d}_scan.png", natural_image(i, (16, 16)))
        save(root / "masks" / f"{i:02d}_label.png", np.zeros((16, 16), np.uint8))
    page = render(nanaudit.scan(root, num_classes=4, ignore_index=2), Format.HTML)
    assert "<li>warning: the ignore index 2 lies inside the classes [0, 4)" in page
    assert "would pair 3 of 3</li>" in page and "--pair-key &#39;^(\\d+)&#39;" in page


def test_a_near_duplicate_shows_where_it_differs(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 3, size=(96, 96))
    a = natural_image(0, (96, 96))
    b = a.copy()
    b[60:72, 12:24] = (b[60:72, 12:24].astype(int) + 60).clip(0, 255)  # hashes 6 bits apart
    save(root / "images" / "img_000.png", a)
    save(root / "images" / "img_001.png", b)
    report = nanaudit.scan(root, thumbnails=True, checks={"NA307": {"max_distance": 8}})
    assert report.gallery is not None
    group = report.gallery.group("NA307")
    assert group is not None
    first, second = group.shown[0].panels
    assert first.overlay is None and second.overlay is not None  # the first is the reference
    assert "differs" in " ".join(second.notes)
    assert second.image is not None
    overlay = np.asarray(Image.open(io.BytesIO(second.overlay.data)).convert("RGB")).astype(int)
    image = np.asarray(Image.open(io.BytesIO(second.image.data)).convert("RGB")).astype(int)
    marked = np.abs(overlay - image).sum(axis=2) > 90  # painted over by the highlight
    assert marked[62:70, 14:22].mean() > 0.9
    assert not marked[:56].any() and not marked[76:].any() and not marked[:, 28:].any()


def test_without_a_cache_the_thumbnails_leave_nothing_behind(
    dataset: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    root = dataset(3)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "r.html"
    code, _, _ = invoke("scan", str(root), "--no-cache", "-o", f"html:{out}", "--no-progress")
    assert code == 0 and out.read_text(encoding="utf-8").count("data:image/") >= 9
    assert list(scratch.iterdir()) == []


# --------------------------------------------------------------------------- issue 24 details


def test_page_details_legend_colours_shares_settings_and_the_code_box(tmp_path: Path) -> None:
    """Issue 24: "0 (background) (background)" in the legend, class colours repeating
    after 18 classes, 8.17e-05 beside 0.02%, explicit splits as a Python dict, a code box
    that clips its long line."""
    from nanaudit.formats.html import _fmt_share, _setting_text
    from nanaudit.gallery import class_colour
    from nanaudit.rules import LabelRules

    root = make_pairs(tmp_path / "d", 3)
    report = nanaudit.scan(
        root,
        thumbnails=True,
        num_classes=3,
        class_names=["background", "road", "car"],
        splits=[f"train:{root / 'images'}:{root / 'masks'}"],
    )
    page = render(report, Format.HTML)
    assert "0 (background) (background)" not in page and "0 (background)" in page
    assert "{&#39;name&#39;" not in page and "{'name'" not in page
    assert f"train: {root / 'images'} + {root / 'masks'}" in page
    assert "white-space: pre-wrap" in page  # the class_weights box wraps, never clips
    rules = LabelRules(num_classes=200, ignore_index=255, background=0)
    colours = [class_colour(k, rules) for k in range(1, 200)]
    assert len(set(colours)) == len(colours)  # no two classes alike, past the palette's 18
    assert "#ff00ff" not in colours  # the highlight keeps its colour
    assert _fmt_share(8.17e-05) == "0.0082%" and _fmt_share(0.0002) == "0.02%"
    assert _setting_text([{"name": "a", "images": "x", "masks": None}]) == "a: x"


def test_a_check_on_every_sample_is_folded_on_the_page_as_elsewhere() -> None:
    """Issue 24 item 14: 32 identical NA207 items were listed one by one on a samples page,
    while the terminal and Markdown reports fold them into one line."""
    rng = np.random.default_rng(0)
    samples = [
        (
            rng.random((3, 16, 16), dtype=np.float32),
            (rng.integers(0, 3, (16, 16)) / 255).astype(np.float32),  # ToTensor on the mask
        )
        for _ in range(32)
    ]
    report = nanaudit.audit_samples(samples, num_classes=3, max_samples=32)
    page = render(report, Format.HTML)
    card = page[page.index('id="check-NA207"') :]
    card = card[: card.index("</article>")]
    assert '<span class="count">32 findings</span>' in card
    assert card.count('<li class="folded">') == 1 and card.count("<li") == 1
    assert "32 of 32 masks of split &#39;samples&#39;</b>, e.g." in card
    assert '(also <code class="path">sample 01</code>' in card
    # a check on a few samples only is still listed item by item
    few = [(x, m if i < 2 else np.zeros((16, 16), np.int64)) for i, (x, m) in enumerate(samples)]
    page = render(nanaudit.audit_samples(few, num_classes=3, max_samples=32), Format.HTML)
    card = page[page.index('id="check-NA207"') :]
    card = card[: card.index("</article>")]
    assert card.count('<li class="folded">') == 0 and card.count("<li>") == 2
