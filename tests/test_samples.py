"""Auditing what a training pipeline yields: the NA5xx checks on records, the drawing of
samples from datasets, loaders and iterables, a plain numpy pipeline with each classic bug
(and its fix), and the ``nanaudit samples`` command.

albumentations and torch pipelines are in test_samples_libraries.py.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import clean_mask, natural_image, validate_report_json
from PIL import Image

import nanaudit
from nanaudit.checks.context import CheckContext
from nanaudit.checks.registry import get_check
from nanaudit.cli import cli
from nanaudit.drawn import Draw, Sample
from nanaudit.formats import Format, render
from nanaudit.report import Report
from nanaudit.rules import LabelRules
from nanaudit.samples.audit import finish_draw, reduce_sample
from nanaudit.samples.draw import Drawer, Yielded

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def audit(samples: object, **options: Any) -> Report:
    """nanaudit.audit_samples, with the JSON rendering validated against the schema."""
    report = nanaudit.audit_samples(samples, **options)
    validate_report_json(render(report, Format.JSON))
    return report


def found(report: Report) -> set[str]:
    return {f.check for f in report.findings}


# --------------------------------------------------------------------------- NA5xx on records


def draw_of(*pairs: tuple[Any, Any], batch_size: int | None = None) -> Draw:
    """The draw of these (image, mask) arrays, through the real reductions (no pipeline)."""
    drawer = Drawer(list(pairs), len(pairs))
    samples = [
        reduce_sample(Yielded(np.asarray(i), np.asarray(m), None, None, "x", "x"), k)
        for k, (i, m) in enumerate(pairs)
    ]
    return finish_draw(drawer, samples, "test", batch_size)


def hits(check_id: str, subject: Any, num_classes: int | None = 3, **options: Any) -> list[Any]:
    """One NA5xx check on a sample, a batch or a draw, with thresholds ``options``."""
    from nanaudit.aggregate import SplitView, dataset_stats, split_stats

    spec = get_check(check_id)
    assert spec is not None
    rules = LabelRules(num_classes=num_classes)
    samples: tuple[Sample, ...] = subject.samples if not isinstance(subject, Sample) else (subject,)
    view = SplitView("samples", "train", True, split_stats([s.pair for s in samples], rules, True))
    ctx = CheckContext(spec.make_options(options), rules, dataset_stats([view]), view)
    return list(spec.func(ctx, subject))


def rgb(seed: int = 0) -> np.ndarray:
    return natural_image(seed, (16, 16))


def test_na501_float_mask_and_the_divided_by_255_wording() -> None:
    labels = clean_mask(0, (16, 16))
    (divided,) = draw_of((rgb(), labels.astype(np.float32) / 255)).samples
    (hit,) = hits("NA501", divided)
    assert hit.data.to_json()["dtype"] == "float32" and "divided by 255" in hit.message
    (whole,) = draw_of((rgb(), labels.astype(np.float32))).samples
    (hit,) = hits("NA501", whole)
    assert "divided" not in hit.message
    (fine,) = draw_of((rgb(), labels.astype(np.int64))).samples
    assert hits("NA501", fine) == []


def test_na501_leaves_a_binary_float_target_alone() -> None:
    # BCEWithLogitsLoss and sigmoid losses take a float mask of 0.0 and 1.0 (ToTensor on a
    # 0/255 mask gives exactly that): right for C = 2 or C unknown, wrong for C = 3
    binary = (clean_mask(0, (16, 16)) > 0).astype(np.float32)[None]
    assert set(np.unique(binary)) == {0.0, 1.0}
    (sample,) = draw_of((rgb(), binary)).samples
    assert hits("NA501", sample, num_classes=2) == []
    assert hits("NA501", sample, num_classes=None) == []
    assert len(hits("NA501", sample, num_classes=3)) == 1
    (divided,) = draw_of((rgb(), binary / 255)).samples  # 0/1 labels divided once more
    assert len(hits("NA501", divided, num_classes=2)) == 1


def test_na502_every_mask_in_unit_range_while_c_above_2() -> None:
    labels = [clean_mask(k, (16, 16)) for k in range(3)]
    for m in labels:
        m[0] = 255  # an ignore border
    # /255 then .long(): every label 0, the ignore index 1
    cast_back = draw_of(*((rgb(k), (m // 255).astype(np.int64)) for k, m in enumerate(labels)))
    (hit,) = hits("NA502", cast_back)
    assert hit.data.to_json()["fractional"] == 0 and hit.data.to_json()["max"] == 1.0
    divided = draw_of(*((rgb(k), m.astype(np.float32) / 255) for k, m in enumerate(labels)))
    (hit,) = hits("NA502", divided)
    assert hit.data.to_json()["fractional"] == 3
    assert hits("NA502", divided, num_classes=2) == []  # binary masks live in [0, 1]
    assert hits("NA502", draw_of(*((rgb(k), m) for k, m in enumerate(labels)))) == []


def test_na503_normalised_values_beyond_the_band() -> None:
    image = rgb().astype(np.float32)
    (on_255,) = draw_of(((image / 1 - MEAN) / STD, clean_mask(0, (16, 16)))).samples
    (hit,) = hits("NA503", on_255)
    assert hit.data.to_json()["max"] > 900
    (once,) = draw_of(((image / 255 - MEAN) / STD, clean_mask(0, (16, 16)))).samples
    assert hits("NA503", once) == []
    (raw,) = draw_of((image, clean_mask(0, (16, 16)))).samples  # 0–255 floats, no Normalize
    assert hits("NA503", raw) == []
    assert hits("NA503", on_255, max_abs=2000.0) == []


def test_na504_and_na505_judge_whole_batches() -> None:
    ignore = np.full((16, 16), 255, np.uint8)
    valid = clean_mask(0, (16, 16))
    draw = draw_of(
        (rgb(0), ignore), (rgb(1), ignore), (rgb(2), ignore), (rgb(3), valid), batch_size=2
    )
    first, second = draw.batches
    (hit,) = hits("NA504", first)
    assert hit.data.to_json()["samples"] == [0, 1]
    assert hits("NA504", second) == []
    wide = (natural_image(1, (16, 24)), np.zeros((16, 24), np.uint8))
    mixed = draw_of((rgb(0), valid), wide, batch_size=2)
    kinds = {h.data.to_json()["kind"] for h in hits("NA505", mixed.batches[0])}
    assert kinds == {"image", "mask"}
    assert hits("NA505", draw.batches[0]) == []


def test_na507_spread_of_a_double_normalize() -> None:
    images = [rgb(k).astype(np.float32) / 255 for k in range(4)]
    once = draw_of(*(((i - MEAN) / STD, clean_mask(k, (16, 16))) for k, i in enumerate(images)))
    assert hits("NA507", once) == []
    twice = draw_of(
        *((((i - MEAN) / STD - MEAN) / STD, clean_mask(k, (16, 16))) for k, i in enumerate(images))
    )
    (hit,) = hits("NA507", twice)
    assert min(hit.data.to_json()["std"]) > 3


def test_wide_integer_masks_are_counted_like_sorted_ones() -> None:
    from nanaudit.decode.reduce import label_stats

    rng = np.random.default_rng(0)
    for dtype in (np.int8, np.int32, np.int64, np.uint32, np.uint64):
        for high in (3, 300, 70000):
            m = rng.integers(0, high, (23, 29)).astype(dtype)
            if np.dtype(dtype).kind == "i" and high == 300:
                m[0, 0] = -1  # a negative label takes the sorting route
            values, counts = np.unique(m, return_counts=True)
            expected = tuple((int(v), int(c)) for v, c in zip(values, counts, strict=True))
            assert label_stats(m).histogram == expected, (dtype, high)


def test_a_sample_mask_keeps_no_crop_grid_and_the_same_labels_as_a_file() -> None:
    """The cell grid serves the training checks on files (NA402's crops); a drawn sample is
    already cropped, so its reduction leaves the grid out and nothing else."""
    from nanaudit.decode import record_of
    from nanaudit.decode.readers import from_array
    from nanaudit.records import FileKind, FileRecord

    image, mask = pair(3, 64)
    (sample,) = draw_of((image, mask)).samples
    base = FileRecord(path="m.png", kind=FileKind.MASK, split="train")
    as_file = record_of(from_array(mask, "mask"), base)
    assert sample.mask.labels is not None and as_file.labels is not None
    assert sample.mask.labels.grid is None and as_file.labels.grid is not None
    assert sample.mask.labels.histogram == as_file.labels.histogram


# --------------------------------------------------------------------------- drawing


def pair(seed: int = 0, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    return natural_image(seed, (size, size)), clean_mask(seed, (size, size))


def test_tuples_dicts_custom_keys_and_channels_first() -> None:
    image, mask = pair()
    chw = np.ascontiguousarray(image.transpose(2, 0, 1))
    for samples, options in [
        ([(image, mask)], {}),
        ([{"image": chw, "mask": mask[None]}], {}),
        ([{"img": image, "lbl": mask}], {"image_key": "img", "mask_key": "lbl"}),
        ([(Image.fromarray(image), Image.fromarray(mask, "L"))], {}),
    ]:
        report = audit(samples, max_samples=1, num_classes=3, **options)
        assert report.findings == ()
        (rec,) = [r for r in report.files if r.kind.value == "image"]
        assert (rec.width, rec.height, rec.channels) == (16, 16, 3)
    with pytest.raises(nanaudit.SampleInputError, match="lbl"):
        nanaudit.audit_samples([{"img": image, "lbl": mask}], image_key="img")


def test_batches_are_split_and_named_from_the_dataset() -> None:
    images = np.stack([pair(k)[0] for k in range(4)])  # 4×H×W×3
    masks = np.stack([pair(k)[1] for k in range(4)])
    masks[2] = 255
    batches = [
        (images[:2], masks[:2], ["a.png", "b.png"]),
        (images[2:], masks[2:], ["c.png", "d.png"]),
    ]
    report = audit(batches, max_samples=4, num_classes=3)
    (f,) = [f for f in report.findings if f.check == "NA202"]
    assert f.path == "sample 2 (batch 1, c.png)" and f.image == "c.png"
    assert (f.sample, f.batch) == (2, 1)
    assert report.splits[0].images == 4


def test_passes_over_a_dataset_a_dict_and_a_one_shot_generator() -> None:
    class Dataset:
        files = ("x.png", "y.png", "z.png")

        def __len__(self) -> int:
            return 3

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            return pair(i)

    report = audit(Dataset(), max_samples=7)
    assert report.splits[0].images == 7 and "3 passes" in report.layout_reason
    assert "not a proof" in report.layout_reason
    names = {r.path for r in report.files}
    assert "sample 6 (x.png)" in names and "sample 2 (z.png)" in names
    report = audit({"one.png": pair(0), "two\x1b[2J.png": pair(1)}, max_samples=4)
    assert "sample 3 (two\\x1b[2J.png)" in {r.path for r in report.files}  # names are data

    def once() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield from (pair(k) for k in range(3))

    report = audit(once(), max_samples=10)
    assert report.splits[0].images == 3 and "ended before --samples" in report.layout_reason

    class Streaming:  # like torch's IterableDataset: an inherited __getitem__ that raises
        def __len__(self) -> int:
            return 2

        def __getitem__(self, i: int) -> None:
            raise NotImplementedError

        def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
            return iter([pair(0), pair(1)])

    report = audit(Streaming(), max_samples=5)
    assert report.findings == () and report.splits[0].images == 5


def test_a_pipeline_that_raises_is_a_finding_and_bad_items_are_errors() -> None:
    def flaky() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield pair(0)
        yield pair(1)
        raise FileNotFoundError("images/img_002.png")

    report = audit(flaky(), max_samples=10)
    (f,) = [f for f in report.findings if f.check == "NA506"]
    assert f.path == "sample 2" and "FileNotFoundError: images/img_002.png" in f.message
    assert report.splits[0].images == 2 and report.exit_code == 1
    for bad, needle in [
        ([pair(0)[0]], "expected (image, mask) pairs"),
        ([(pair(0)[0], None)], "without a mask"),
        ([{"pixels": 1, "labels": 2}], "cannot tell the image"),
        (42, "not iterable"),
    ]:
        with pytest.raises(nanaudit.SampleInputError, match=re.escape(needle)):
            nanaudit.audit_samples(bad)
    odd = audit([(np.array(["a", "b"]), pair(0)[1]), ([[object()]], pair(0)[1])], max_samples=2)
    assert [f.check for f in odd.findings] == ["NA001", "NA001"]


def test_empty_pipeline_and_nothing_imported() -> None:
    report = audit([], max_samples=5)
    assert [f.check for f in report.findings] == ["NA005"]
    code = "import nanaudit, sys; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# --------------------------------------------------------------------------- a numpy pipeline


def labelled(seed: int, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """A photo-like image with black and white pixels and its mask: classes 0–2 in blocks
    (class 2 absent from every fourth image) and an ignore border (as VOC has)."""
    image = natural_image(seed, (size, size))
    image[0, 0], image[0, 1] = 0, 255
    mask = clean_mask(seed, (size, size), 3 if seed % 4 else 2)
    mask[:2] = 255
    return image, mask


class NumpyPipeline:
    """A segmentation Dataset in plain numpy (Pillow for resizing), as training scripts
    write it: random crop, flip, resize, Normalize, the mask as int64. ``bug`` plants one of
    the classic defects."""

    def __init__(self, bug: str | None = None, n: int = 8, crop: int = 32) -> None:
        self.bug, self.crop = bug, crop
        self.rng = np.random.default_rng(0)
        self.items = [labelled(i) for i in range(n)]
        self.files = [f"img_{i:02d}.png" for i in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        image, mask = self.items[i]
        bug, c = self.bug, self.crop
        if bug == "pad-crop":  # pad far beyond the crop with the ignore value
            image = np.pad(image, ((48, 48), (48, 48), (0, 0)))
            mask = np.pad(mask, 48, constant_values=255)
        y, x = self.rng.integers(0, image.shape[0] - c + 1, 2)
        image_crop = image[y : y + c, x : x + c]
        mask = mask[y : y + c, x : x + c] if bug != "image-only-crop" else mask
        image = image_crop
        if self.rng.random() < 0.5:
            image, mask = image[:, ::-1], mask[:, ::-1]
        if bug in ("resize-bicubic", "resize-nearest"):  # Pillow's default for "L" is bicubic
            size = (40, 40)
            image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(size))
            lab = Image.fromarray(np.ascontiguousarray(mask))
            resample = Image.Resampling.NEAREST if bug == "resize-nearest" else None
            mask = np.asarray(lab.resize(size) if resample is None else lab.resize(size, resample))
        if bug == "classes-filter":  # keep class 2 only: the rest becomes ignore
            mask = np.where(mask == 2, 2, 255)
        if bug == "classes-filter-fixed":  # keep classes 0 and 2 as 0 and 1: the rest background
            mask = np.where(mask == 2, 1, np.where(mask == 255, 255, 0))
        scaled = image.astype(np.float32) / (1 if bug == "normalize-255" else 255)
        with np.errstate(all="ignore"):
            std = np.array([0.229, 0.224, 0.0], np.float32) if bug == "std-zero" else STD
            image = (scaled - MEAN) / std
            if bug == "normalize-twice":
                image = (image - MEAN) / STD
        image = np.ascontiguousarray(image.transpose(2, 0, 1))  # CHW, as torch wants it
        if bug == "to-tensor":
            return image, mask.astype(np.float32)[None] / 255
        if bug == "to-tensor-long":
            return image, (mask.astype(np.float32) / 255).astype(np.int64)
        return image, mask.astype(np.int64)


BUGS = {
    # the bug: (the checks that must name it, C, batch_size)
    "to-tensor": ({"NA501", "NA502", "NA207"}, 3, None),
    "to-tensor-long": ({"NA502"}, 3, None),
    "resize-bicubic": ({"NA201", "NA209"}, 3, None),
    "pad-crop": ({"NA202", "NA504"}, 3, 2),
    "classes-filter": ({"NA202"}, 3, None),
    "std-zero": ({"NA102"}, 3, None),  # x / 0: inf (NaN only where x equals the mean)
    "normalize-255": ({"NA503"}, 3, None),
    "normalize-twice": ({"NA503", "NA507"}, 3, None),
    "image-only-crop": ({"NA006"}, 3, None),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_bug_of_a_numpy_pipeline_is_caught_by_name(bug: str) -> None:
    expected, c, batch_size = BUGS[bug]
    report = audit(NumpyPipeline(bug), num_classes=c, batch_size=batch_size, max_samples=32)
    assert expected <= found(report), (bug, found(report))
    assert report.exit_code == 1 or expected <= {"NA503", "NA507"}


class Regions:
    """Masks of four regions, classes 0, 1, 3 and 4 (no ignore), resized by Pillow as a
    transform does: with its default filter for 8-bit images (bicubic), or NEAREST."""

    def __init__(self, resample: Image.Resampling | None) -> None:
        self.resample = resample

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        m = np.zeros((40, 48), np.uint8)
        m[6:24, 5 + i : 30] = 3
        m[20:38, 24:44] = 1
        m[2:10, 36:46] = 4
        lab = Image.fromarray(m)
        kw = {} if self.resample is None else {"resample": self.resample}
        return natural_image(i, (50, 60)), np.asarray(lab.resize((60, 50), **kw))


def test_na508_in_between_labels_that_are_classes() -> None:
    report = audit(Regions(None), num_classes=5, max_samples=16)
    assert "NA201" not in found(report) and "NA209" not in found(report)  # 2 is a class
    (hit,) = [f for f in report.findings if f.check == "NA508"]
    assert hit.data.to_json() == {"label": 2, "samples": 16, "tested": 16}
    nearest = audit(Regions(Image.Resampling.NEAREST), num_classes=5, max_samples=16)
    assert "NA508" not in found(nearest), found(nearest)


@pytest.mark.parametrize(
    "fixed, c", [(None, 3), ("resize-nearest", 3), ("classes-filter-fixed", 2)]
)
def test_the_fixed_numpy_pipeline_reports_nothing(fixed: str | None, c: int) -> None:
    report = audit(NumpyPipeline(fixed), num_classes=c, batch_size=2, max_samples=32)
    assert report.findings == (), [(f.check, f.message) for f in report.findings]
    assert report.exit_code == 0 and report.splits[0].images == 32


# --------------------------------------------------------------------------- the command


PIPELINE_MODULE = """
import numpy as np

print("building the pipeline")  # the report alone goes to stdout


def make(bug=False):
    rng = np.random.default_rng(0)
    out = []
    for i in range(6):
        image = rng.integers(0, 256, (3, 16, 16)).astype(np.float32) / 255
        mask = np.zeros((16, 16), np.int64)
        mask[:8] = 1
        mask[8:, :8] = 2
        out.append({"image": image, "mask": mask / 255 if bug else mask, "filename": f"f{i}.png"})
    return out


def buggy():
    return make(bug=True)


def broken():
    raise RuntimeError("no data folder")


number = 3
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def pipeline_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pipeline14.py").write_text(PIPELINE_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "pipeline14", raising=False)
    return tmp_path


def test_samples_command_formats_and_exit_codes(pipeline_dir: Path) -> None:
    args = ("samples", "pipeline14:make", "-C", "3", "--samples", "20", "--format", "json")
    code, out, err = invoke(*args)
    doc = validate_report_json(out)
    assert code == 0 and doc["summary"]["images"] == 20 and doc["findings"] == []
    assert doc["root"] == "pipeline14:make" and "building the pipeline" in err
    assert doc["layout"]["name"] == "samples" and doc["config"]["max_samples"] == 20
    code, out, _ = invoke(
        "samples", "pipeline14:buggy", "-C", "3", "--samples", "12", "-o", "sarif:r.sarif"
    )
    assert code == 1 and "NA501 float-mask" in out and "sample 00 (f0.png)" in out
    assert "12 of 12 samples of split 'samples'" in out  # a pipeline bug hits every sample
    assert "12 samples drawn in 2 passes" in out
    assert json.loads((pipeline_dir / "r.sarif").read_text())["runs"][0]["results"]
    code, out, _ = invoke("samples", "pipeline14.py:buggy", "-C", "3", "--select", "NA2")
    assert code == 1 and "NA501" not in out and "NA207" in out


def test_github_annotations_of_samples_name_no_repository_file(pipeline_dir: Path) -> None:
    code, out, _ = invoke(
        "samples", "pipeline14:buggy", "-C", "3", "--samples", "6", "--format", "github"
    )
    annotations = [line for line in out.splitlines() if line.startswith("::error")]
    assert code == 1 and annotations
    assert any("::sample 0" in line for line in annotations)  # NA501, per sample
    assert any("::every value of the 6 masks" in line for line in annotations)  # NA502
    assert not any(" file=" in line for line in annotations)


def test_samples_command_reads_the_config_and_takes_no_scan_flags(pipeline_dir: Path) -> None:
    (pipeline_dir / "nanaudit.toml").write_text(
        'num_classes = 3\nmax_samples = 9\nlayout = "voc"\n[checks.NA501]\nseverity = "off"\n'
    )
    code, out, _ = invoke("samples", "pipeline14:buggy", "--format", "json", "--fail-on", "never")
    doc = validate_report_json(out)
    assert code == 0 and doc["summary"]["images"] == 9 and doc["config"]["num_classes"] == 3
    assert "NA501" not in {f["check"] for f in doc["findings"]}
    assert {"NA207", "NA502"} <= {f["check"] for f in doc["findings"]}
    code, _, err = invoke("samples", "pipeline14:make", "--layout", "voc")
    assert code == 2 and "No such option '--layout'" in err


@pytest.mark.parametrize(
    "target, needle",
    [
        ("nosuchmodule14:make", "cannot find module 'nosuchmodule14'"),
        ("pipeline14:broken", "calling pipeline14:broken() raised RuntimeError: no data folder"),
        ("pipeline14:missing", "pipeline14 has no attribute 'missing'"),
        ("pipeline14:number", "int is not iterable"),
        ("pipeline14", "expected MODULE:CALLABLE"),
        ("nowhere/x.py:make", "no such Python file"),
    ],
)
def test_samples_command_bad_input_is_one_line_and_exit_2(
    pipeline_dir: Path, target: str, needle: str
) -> None:
    code, out, err = invoke("samples", target, "--format", "json")
    assert code == 2 and out == ""
    lines = [line for line in err.splitlines() if line != "building the pipeline"]
    assert len(lines) == 1 and needle in lines[0], err


def test_ignore_index_none_means_no_ignore_label_in_scan_as_in_audit_samples(
    tmp_path: Path,
) -> None:
    """Issue 24: scan(ignore_index=None) kept 255 while audit_samples(ignore_index=None)
    meant no ignore label. Both mean none, and the report says so."""
    from conftest import make_pairs

    import nanaudit

    root = make_pairs(tmp_path / "d", 3)
    m = np.zeros((64, 64), np.uint8)
    m[:, :8] = 255
    Image.fromarray(m).save(root / "masks" / "img_000.png")
    scanned = nanaudit.scan(root, ignore_index=None, num_classes=3)
    assert scanned.labels.ignore_index is None
    assert any(f.check == "NA201" for f in scanned.findings)  # 255 is now out of range
    assert nanaudit.scan(root, num_classes=3).labels.ignore_index == 255  # not given: 255
    samples = [(np.zeros((3, 8, 8), np.float32), m[:8, :8].astype(np.int64))]
    audited = nanaudit.audit_samples(samples, num_classes=3, ignore_index=None)
    assert audited.labels.ignore_index is None


def test_normalised_samples_get_no_normalize_constants_raw_ones_do() -> None:
    """Issue 24 item 12: on samples already normalised, the summary proposed Normalize
    constants again, inviting a second Normalize."""
    import nanaudit

    rng = np.random.default_rng(0)
    mask = np.zeros((16, 16), np.int64)
    raw = [(rng.uniform(0, 1, (3, 16, 16)).astype(np.float32), mask) for _ in range(4)]
    normed = [((x - 0.5) / 0.29, m) for x, m in raw]
    assert nanaudit.audit_samples(raw, num_classes=2).splits[0].training.normalize is not None
    done = nanaudit.audit_samples(normed, num_classes=2)
    assert done.splits[0].training.normalize is None


class FilesPipeline:
    """A Dataset over image files on disk, as training code writes it: read with Pillow,
    a random crop, to [0, 1], Normalize with ``constants`` (the dataset's own, computed
    from its files, or ImageNet's) ``times`` times, CHW. ``bgr``: channels reversed, as
    cv2.imread gives them (and the constants taken in that order)."""

    def __init__(
        self, files: list[Path], constants: str = "own", times: int = 1, bgr: bool = False
    ) -> None:
        self.filenames = [str(f) for f in files]
        self.times, self.bgr = times, bgr
        self.rng = np.random.default_rng(0)
        if constants == "own":
            pixels = np.concatenate([self._read(i).reshape(-1, 3) for i in range(len(files))])
            self.mean, self.std = pixels.mean(axis=0), pixels.std(axis=0)
        else:
            self.mean = np.array([0.485, 0.456, 0.406], np.float32)
            self.std = np.array([0.229, 0.224, 0.225], np.float32)

    def _read(self, i: int) -> np.ndarray:
        image = np.asarray(Image.open(self.filenames[i]).convert("RGB"), np.float32) / 255
        return image[..., ::-1] if self.bgr else image

    def __len__(self) -> int:
        return len(self.filenames)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        image = self._read(i)
        y, x = self.rng.integers(0, 9, 2)
        image = image[y : y + 40, x : x + 40]
        for _ in range(self.times):
            image = (image - self.mean) / self.std
        mask = np.zeros((40, 40), np.int64)
        mask[10:20] = 1
        return np.ascontiguousarray(image.transpose(2, 0, 1)).astype(np.float32), mask


def _photos(root: Path, n: int = 8) -> list[Path]:
    files = []
    for i in range(n):
        path = root / f"photo_{i:02d}.png"
        Image.fromarray(natural_image(100 + i, (48, 48))).save(path)
        files.append(path)
    return files


@pytest.mark.parametrize(("constants", "bgr"), [("own", False), ("imagenet", False), ("own", True)])
def test_normalize_applied_twice_is_found_against_the_files(
    tmp_path: Path, constants: str, bgr: bool
) -> None:
    """Issue 24 item 12: Normalize applied twice with the dataset's own constants (means
    about -3, stds about 2-4 on the samples) exited 0, and the summary proposed constants
    again. The files the dataset names say what one Normalize gives."""
    files = _photos(tmp_path)
    twice = nanaudit.audit_samples(
        FilesPipeline(files, constants, 2, bgr), num_classes=2, max_samples=48
    )
    (hit,) = [f for f in twice.findings if f.check == "NA509"]
    assert hit.severity.label == "error" and twice.exit_code == 1
    assert hit.data.constants == ("ImageNet" if constants == "imagenet" else "the dataset's own")
    assert hit.data.sources == 8 and hit.data.scale == 255
    assert "normalised twice" in hit.message
    if constants == "own":  # -mean/std of each channel: well below 0
        assert all(m < -1 for m in hit.data.mean) and all(d > 2 for d in hit.data.std)
    assert twice.splits[0].training.normalize is None  # no constants to apply a third time
    once = nanaudit.audit_samples(
        FilesPipeline(files, constants, 1, bgr), num_classes=2, max_samples=48
    )
    assert not [f for f in once.findings if f.check == "NA509"]
    assert once.splits[0].training.normalize is None  # normalised once: none proposed either


def test_normalize_twice_needs_the_files_and_raw_samples_are_not_flagged(tmp_path: Path) -> None:
    files = _photos(tmp_path)
    raw = FilesPipeline(files, "own", 0)
    report = nanaudit.audit_samples(raw, num_classes=2, max_samples=48)
    assert not [f for f in report.findings if f.check == "NA509"]
    assert report.splits[0].training.normalize is not None  # raw 0..1 floats: proposed
    nameless = FilesPipeline(files, "own", 2)
    for f in files:
        f.unlink()  # the names lead nowhere: nothing to compare with, nothing said
    report = nanaudit.audit_samples(nameless, num_classes=2, max_samples=48)
    assert not [f for f in report.findings if f.check == "NA509"]
