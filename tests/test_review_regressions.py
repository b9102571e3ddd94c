"""Regressions for the problems a review of the whole tool found (one test each)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import clean_mask, hits, make_pairs, natural_image, save, scan

from nanaudit.cli import cli


def test_a_mask_is_never_given_to_two_images_across_folders(tmp_path: Path) -> None:
    root = tmp_path / "d"
    save(root / "images" / "a" / "001.png", natural_image(1))
    save(root / "images" / "b" / "001.png", natural_image(2))
    save(root / "masks" / "b" / "001.png", clean_mask(1))
    report = scan(root, num_classes=3)
    assert [f.path for f in hits(report, "NA003")] == ["images/a/001.png"]
    assert report.splits[0].pairs == 1


def test_max_pixels_survives_a_checks_table_in_the_config(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 3)
    cfg = tmp_path / "nanaudit.toml"
    cfg.write_text("max_pixels = 10\n[checks.NA104]\nmin_std_ratio = 0.01\n")
    result = CliRunner().invoke(cli, ["scan", str(root), "--format", "json", "--config", str(cfg)])
    doc = json.loads(result.stdout)
    assert doc["config"]["max_pixels"] == 10
    assert doc["config"]["checks"]["NA104"]["min_std_ratio"] == 0.01
    assert len([f for f in doc["findings"] if f["check"] == "NA002"]) == 6


def test_ade20k_binary_masks_are_not_called_0_255_masks(tmp_path: Path) -> None:
    base = tmp_path / "ADEChallengeData2016"
    for split, prefix in (("training", "ADE_train"), ("validation", "ADE_val")):
        for i in range(3):
            save(
                base / "images" / split / f"{prefix}_{i:08d}.jpg",
                natural_image(i + 10 * len(split)),
            )
            m = np.zeros((64, 64), np.uint8)  # 0 = "other", 1 = wall
            m[10:40, 5:50] = 1
            save(base / "annotations" / split / f"{prefix}_{i:08d}.png", m)
    report = scan(base)
    assert report.preset == "ade20k"
    assert hits(report, "NA208") == [] and hits(report, "NA204") == []


def _png16_rgb(path: Path, arr: np.ndarray) -> None:
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def test_a_16_bit_rgb_png_is_high_bit_depth_even_though_pillow_reads_8_bits(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 3)
    deep = (natural_image(7).astype(np.uint16) * 257).astype(np.uint16)
    _png16_rgb(root / "images" / "img_001.png", deep)
    report = scan(root, num_classes=3)
    (f,) = hits(report, "NA107")
    assert f.path == "images/img_001.png" and f.data.to_json()["bits"] == 16
    rec = next(r for r in report.files if r.path == "images/img_001.png")
    assert rec.bits == 16 and any("16 bits" in n for n in rec.notes)


def test_luminance_thresholds_span_minus_one_to_one_for_signed_float_data(tmp_path: Path) -> None:
    root = tmp_path / "d"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        np.save(root / "images" / f"s{i}.npy", rng.uniform(-1, 1, (32, 32)).astype(np.float32))
        save(root / "masks" / f"s{i}.png", clean_mask(i, (32, 32)))
    np.save(root / "images" / "u.npy", rng.uniform(0, 1, (32, 32)).astype(np.float32))
    save(root / "masks" / "u.png", clean_mask(5, (32, 32)))
    report = scan(root, num_classes=3)
    assert hits(report, "NA113") == [] and hits(report, "NA112") == []
    bright = np.full((32, 32), 0.97, np.float32)
    bright[0, 0] = -1.0  # not constant
    np.save(root / "images" / "u.npy", bright)
    assert [f.path for f in hits(scan(root, num_classes=3), "NA113")] == ["images/u.npy"]


def test_format_and_output_of_the_same_format_both_get_it(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 2)
    out = tmp_path / "r.json"
    result = CliRunner().invoke(cli, ["scan", str(root), "--format", "json", "-o", f"json:{out}"])
    assert json.loads(result.stdout) == json.loads(out.read_text())


def test_a_closed_pipe_is_not_reported_as_findings_or_an_error(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 200, size=(16, 16))  # a report well over a pipe's 64 KiB
    proc = subprocess.Popen(
        [sys.executable, "-m", "nanaudit", "scan", str(root), "--format", "json", "--no-cache"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "internal error" not in err


def test_an_all_ignore_mask_is_na202_only(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 3)
    save(root / "masks" / "img_001.png", np.full((64, 64), 255, np.uint8))
    report = scan(root, num_classes=3)
    assert hits(report, "NA208") == []
    (f,) = hits(report, "NA202")
    assert "binary mask saved as 0/255" in f.message


def test_explicit_layout_reason_is_said_once(tmp_path: Path) -> None:
    make_pairs(tmp_path / "d", 2)
    report = scan(
        tmp_path,
        splits={
            "train": {
                "images": str(tmp_path / "d" / "images"),
                "masks": str(tmp_path / "d" / "masks"),
            }
        },
    )
    assert report.layout == "explicit"
    assert report.layout_reason.count("splits given") == 1


def test_config_paths_are_shown_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_pairs(tmp_path / "d", 2)
    (tmp_path / "d" / "nanaudit.toml").write_text("num_classes = 3\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["scan", "d", "--format", "json"])
    doc = json.loads(result.stdout)
    assert doc["config"]["config_file"] == "d/nanaudit.toml"
    assert str(tmp_path) not in result.stdout
