"""Shared fixture builders: real files written with numpy and Pillow in tmp_path."""

from __future__ import annotations

import importlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from PIL import Image

import nanaudit
from nanaudit.aggregate import SplitView, dataset_stats, details_from, split_stats
from nanaudit.checks.context import CheckContext
from nanaudit.checks.registry import Hit, get_check
from nanaudit.decode import record_of
from nanaudit.decode.readers import from_array
from nanaudit.formats import Format, render
from nanaudit.records import FileKind, FileRecord, Pair
from nanaudit.report import Finding, Report
from nanaudit.rules import LabelRules, TrainingRules, training_names


def save(path: Path, array: np.ndarray | Image.Image, mode: str | None = None, **kw: Any) -> Path:
    """Write an array (or a Pillow image) with Pillow, or with numpy for .npy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npy":
        assert isinstance(array, np.ndarray)
        np.save(path, array)
        return path
    im = (
        array
        if isinstance(array, Image.Image)
        else Image.fromarray(array, mode=mode)
        if mode
        else Image.fromarray(array)
    )
    im.save(path, **kw)
    return path


def natural_image(seed: int = 0, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    """An RGB uint8 image with a broad value range and a structure of its own per seed
    (a gradient in a seed-dependent direction and a few bright and dark blocks), so that
    different seeds are not near-duplicates of each other."""
    rng = np.random.default_rng(seed)
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * x / max(w - 1, 1) + np.sin(angle) * y / max(h - 1, 1)
    base = 30 + 190 * (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
    for _ in range(4):
        y0, x0 = rng.integers(0, h * 3 // 4), rng.integers(0, w * 3 // 4)
        base[y0 : y0 + h // 4, x0 : x0 + w // 4] = rng.choice([25.0, 230.0])
    rgb = np.stack([base, base[::-1], base[:, ::-1]], axis=-1)
    rgb += rng.normal(0, 12, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def clean_mask(seed: int = 0, size: tuple[int, int] = (64, 64), classes: int = 3) -> np.ndarray:
    """A uint8 label mask with blocky regions of labels 0..classes-1."""
    h, w = size
    m = np.zeros((h, w), dtype=np.uint8)
    for c in range(1, classes):
        y0 = (seed * 7 + c * 13) % (h // 2)
        x0 = (seed * 5 + c * 11) % (w // 2)
        m[y0 : y0 + h // 3, x0 : x0 + w // 3] = c
    return m


def make_pairs(
    root: Path,
    n: int = 6,
    split: str | None = None,
    classes: int = 3,
    size: tuple[int, int] = (64, 64),
) -> Path:
    """root/images[/split]/img_i.png + root/masks[/split]/img_i.png, all clean."""
    img_dir = root / "images" / split if split else root / "images"
    mask_dir = root / "masks" / split if split else root / "masks"
    offset = 1000 * sum(ord(ch) for ch in split) if split else 0  # no leakage across splits
    for i in range(n):
        save(img_dir / f"img_{i:03d}.png", natural_image(offset + i, size))
        save(mask_dir / f"img_{i:03d}.png", clean_mask(i, size, classes))
    return root


SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


def sample_with_leaks(root: Path) -> Path:
    """The sample dataset (every kind of defect, a skipped file, a config beside it) with a
    training image leaked into val, a near-copy of another and a folder of images outside
    the layout: findings that need files from different shards, workers or pages of a
    listing together."""
    shutil.copytree(SAMPLE_DATA, root)
    shutil.copy(root / "images/train/train_001.png", root / "images/val/val_leak.png")
    shutil.copy(root / "masks/train/train_001.png", root / "masks/val/val_leak.png")
    near = np.asarray(Image.open(root / "images/train/train_004.png")).astype(np.int16) + 3
    save(root / "images/val/val_near.png", np.clip(near, 0, 255).astype(np.uint8))
    shutil.copy(root / "masks/train/train_004.png", root / "masks/val/val_near.png")
    save(root / "extra" / "photo_000.png", natural_image(7))  # a folder no split audits
    return root


SCHEMA = json.loads(
    (Path(nanaudit.__file__).parent / "schema" / "report.schema.json").read_text(encoding="utf-8")
)


# compiled once per session: building a validator costs more than the scans it checks
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def reports_of(
    out: Path, formats: Sequence[str], *args: str, exit_code: int = 1
) -> dict[str, bytes]:
    """A scan or merge (the command line's ``args``) writing each of ``formats`` to a file
    under ``out``, and what it wrote, the terminal's report too (key "rich")."""
    from click.testing import CliRunner

    from nanaudit.cli import cli

    out.mkdir(parents=True, exist_ok=True)
    targets = [f"-o{fmt}:{out / fmt}" for fmt in formats]
    result = CliRunner().invoke(cli, [*args, *targets, "--format", "rich", "--no-color"])
    assert result.exit_code == exit_code, result.output
    files = {fmt: (out / fmt).read_bytes() for fmt in formats}
    files["rich"] = result.stdout.encode()
    return files


def validate_report_json(text: str) -> dict[str, Any]:
    """Parse a JSON report and validate it against the schema shipped in the package."""
    doc = json.loads(text)
    VALIDATOR.validate(doc)
    return doc  # type: ignore[no-any-return]


def scan(root: Path, **options: Any) -> Report:
    """nanaudit.scan, with the report's JSON rendering validated against the schema."""
    report = nanaudit.scan(root, **options)
    validate_report_json(render(report, Format.JSON))
    return report


def hits(report: Report, check_id: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check_id]


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Command-line scans cache by default: keep the tests' cache out of the home folder."""
    monkeypatch.setenv("NANAUDIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def dataset(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a clean dataset under tmp_path/'data' (6 pairs, 3 classes by default)."""

    def build(
        n: int = 6, split: str | None = None, classes: int = 3, size: tuple[int, int] = (64, 64)
    ) -> Path:
        return make_pairs(tmp_path / "data", n, split, classes, size)

    return build


# --------------------------------------------------------------------------- unit helpers
# Checks are functions of records and merged statistics: most tests need no file at all.


def record_of_array(
    array: np.ndarray,
    kind: str = "image",
    path: str | None = None,
    split: str = "train",
    content: bool = False,
) -> FileRecord:
    """The record a file holding ``array`` would get (the real reductions, no file);
    ``content``: with its content hash, as collect.py leaves a duplicate candidate's."""
    file_kind = FileKind(kind)
    base = FileRecord(path=path or f"{kind}s/x.npy", kind=file_kind, split=split)
    return record_of(from_array(np.asarray(array), "NPY"), base, content=content)


def pair_of(
    image: np.ndarray | FileRecord | None,
    mask: np.ndarray | FileRecord | None,
    name: str = "x",
    split: str = "train",
    labeled: bool = True,
) -> Pair:
    def rec(value: np.ndarray | FileRecord | None, kind: str) -> FileRecord | None:
        if value is None or isinstance(value, FileRecord):
            return value
        return record_of_array(value, kind, f"{kind}s/{split}/{name}.npy", split)

    return Pair(split, rec(image, "image"), rec(mask, "mask"), labeled)


def check_hits(
    check_id: str,
    subject: Any = None,
    *,
    pairs: Sequence[Pair] = (),
    splits: Sequence[tuple[str, str, Sequence[Pair]]] = (),
    rules: LabelRules | None = None,
    training: TrainingRules | None = None,
    **options: Any,
) -> list[Hit]:
    """Run one check on ``subject`` (a record, a pair; a split or the dataset when None)
    with the statistics of ``pairs`` (one split 'train') or of ``splits`` (name, role,
    pairs), and thresholds ``options``."""
    spec = get_check(check_id)
    assert spec is not None
    rules = rules or LabelRules()
    layout = list(splits) or [("train", "train", pairs)]
    train = training_names([(name, role) for name, role, _ in layout])
    views = [
        SplitView(
            name,
            role,
            True,
            split_stats(list(ps), rules, True, training if name in train else None),
        )
        for name, role, ps in layout
    ]
    dataset = dataset_stats(views, details_from([ps for _, _, ps in layout]))
    ctx = CheckContext(
        spec.make_options(options),
        rules,
        dataset,
        None if spec.scope.name == "dataset" else views[0],
        None,
        training or TrainingRules(),
    )
    if subject is None:
        subject = dataset if spec.scope.name == "dataset" else views[0]
    return list(spec.func(ctx, subject))


# --------------------------------------------------------------------------- real parts
# Tests that need a real part users have (torch, Chromium, an S3 server, a Dask cluster)
# skip where it is absent on a developer's machine; under NANAUDIT_REQUIRE_REAL_PARTS=1
# (set by .ci/run) a missing part fails the test instead, so CI cannot skip them silently.

REQUIRE_REAL_PARTS = os.environ.get("NANAUDIT_REQUIRE_REAL_PARTS") == "1"


def need_module(name: str) -> Any:
    """The imported module, or a skip (a failure in CI) naming what is missing."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        if REQUIRE_REAL_PARTS:
            pytest.fail(f"{name} is required in CI but cannot be imported: {exc}")
        pytest.skip(f"{name} is not installed")


def need_executable(name: str) -> str:
    """The path of a program on PATH, or a skip (a failure in CI)."""
    found = shutil.which(name)
    if found is None:
        if REQUIRE_REAL_PARTS:
            pytest.fail(f"{name} is required in CI but is not on PATH")
        pytest.skip(f"{name} is not on PATH")
    return found


# Every planted defect of sample_data (see sample_data/README.md): its check and its file.
SAMPLE_DEFECTS = (
    ("NA101", "images/train/train_nan_float.tif"),
    ("NA103", "images/train/train_constant.png"),
    ("NA202", "masks/train/train_all_ignore.png"),
    ("NA201", "masks/train/train_label_out_of_range.png"),
    ("NA208", "masks/train/train_binary_255.png"),
    ("NA206", "masks/val/val_lossy_label.jpg"),
    ("NA205", "masks/val/val_rgb_label.png"),
    ("NA006", "images/val/val_size_mismatch.png"),
    ("NA003", "images/train/train_no_label.png"),
    ("NA004", "masks/train/train_orphan.png"),
    ("NA007", "images/val/val_exif_rotated.jpg"),
    ("NA107", "images/train/train_uint16.png"),
)
