"""Memory at scale: peak resident memory of a scan (and of a merge) as the file count grows.

    python benchmarks/scale_memory.py --files 20000 100000          # scan, --jobs 2
    python benchmarks/scale_memory.py --files 100000 1000000 --merge  # and merge of 10 shards
    python benchmarks/scale_memory.py --files 100000 --data /tmp/sm   # keep the data
    python benchmarks/scale_memory.py --files 100000 1000000 --merge --no-scan \
        --data /tmp/sm --parts /tmp/sm-parts    # the merge only, its shards' files kept

Each size is a dataset of tiny distinct pairs (16×16 RGB PNG images, 16×16 PNG masks of 5
classes), written once under --data (or a temporary folder) with a PNG encoder of a few
lines (zlib), so that a million files take a minute or two, not the hour Pillow's
encoder and its imports would. Every image is different (its pixels hold its index), so
the duplicate checks see what they see in a real dataset, not one file copied.

For each size, one ``nanaudit scan --no-cache --format json`` (and with --merge,
10 shard runs and one ``nanaudit merge`` of their partial files) is run; the figures are the
peak resident memory of the whole process tree (the scan and its workers, sampled every
10 ms from /proc), the wall and CPU time, and per file. Ratios are against the first size
given: the issue's targets are a peak at 1,000,000 files at most 1.25× that at 100,000
(and under 600 MB), and time per file within 1.15×.

With --parts, the shards' partial files are kept in that folder (one subfolder per size)
and reused by the next run, so that the merge can be measured again without the ten shard
scans (at a million files each of them lists every file); --no-scan leaves out the scan
of the whole dataset. A partial file holds the version of nanaudit that wrote it: a merge
by another version refuses it (delete the folder).
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
from bench import timed  # type: ignore[import-not-found]

SIZE = 16
PER_DIR = 1000  # files per folder, as datasets of this size are usually sharded


def png(pixels: np.ndarray) -> bytes:
    """A PNG of an 8-bit gray (h, w) or RGB (h, w, 3) array: no filter, zlib level 1."""
    h, w = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    rows = pixels.reshape(h, -1)
    raw = b"".join(b"\0" + rows[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    head = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


def generate(root: Path, files: int) -> None:
    """``files`` // 2 pairs: a tenth in val, the rest in train, 1,000 files a folder."""
    pairs = files // 2
    rng = np.random.default_rng(1)
    block = 4096
    made: set[Path] = set()
    for start in range(0, pairs, block):
        n = min(block, pairs - start)
        rgb = rng.integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8)
        for j in range(n):
            i = start + j
            split = "val" if i % 10 == 0 else "train"
            sub = f"{i // PER_DIR:04d}"
            img_dir = root / "images" / split / sub
            mask_dir = root / "masks" / split / sub
            if img_dir not in made:
                made.add(img_dir)
                img_dir.mkdir(parents=True, exist_ok=True)
                mask_dir.mkdir(parents=True, exist_ok=True)
            rgb[j, 0, :4, 0] = np.frombuffer(struct.pack("<I", i), np.uint8)  # distinct
            mask = np.zeros((SIZE, SIZE), np.uint8)
            y, x = (i * 7) % 8, (i * 3) % 8
            mask[y : y + 6, x : x + 6] = 1 + i % 4
            (img_dir / f"{i:07d}.png").write_bytes(png(rgb[j]))
            (mask_dir / f"{i:07d}.png").write_bytes(png(mask))


def dataset(base: Path, files: int) -> Path:
    root = base / f"files-{files}"
    done = root / ".complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        generate(root, files)
        done.write_text("")
        print(f"generated {files:,} files in {time.perf_counter() - t:.0f} s", flush=True)
    return root


def scan_cmd(root: Path, jobs: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "nanaudit",
        "scan",
        str(root),
        "--no-cache",
        "--no-progress",
        "--jobs",
        str(jobs),
        "-C",
        "5",
        "--fail-on",
        "never",
        "--format",
        "json",
        *extra,
    ]


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s of the tree, peak MiB of the tree) of a command, by bench.timed;
    exits with its stderr when it fails."""
    with tempfile.TemporaryFile() as err:
        elapsed, peak, code, cpu, _own = timed(cmd, dict(os.environ), stderr=err)
        if code != 0:
            err.seek(0)
            sys.exit(f"exit code {code}: {' '.join(cmd)}\n{err.read().decode()[-4000:]}")
    return elapsed, cpu, peak / 1024


def shard_parts(root: Path, out: Path, shards: int, jobs: int) -> list[str]:
    """The partial files of ``shards`` shard scans of ``root`` in ``out``: those a run
    before finished (a ``.complete`` marker beside each) are reused."""
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for i in range(1, shards + 1):
        part = out / f"part-{i}.json"
        done = out / f"part-{i}.complete"
        if not done.exists():
            t = time.perf_counter()
            shard = ["--shard", f"{i}/{shards}", "-o", f"partial:{part}"]
            subprocess.run(
                scan_cmd(root, jobs, *shard),
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            done.write_text("")
            print(f"shard {i}/{shards}: {time.perf_counter() - t:.0f} s", flush=True)
        parts.append(str(part))
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--jobs", type=int, default=min(2, len(os.sched_getaffinity(0))))
    parser.add_argument("--merge", action="store_true", help="also 10 shards and their merge")
    parser.add_argument("--shards", type=int, default=10)
    parser.add_argument("--data", type=Path, help="where the datasets are kept (reused)")
    parser.add_argument("--parts", type=Path, help="where the shards' partial files are kept")
    parser.add_argument("--no-scan", action="store_true", help="no scan of the whole dataset")
    args = parser.parse_args()
    base = args.data or Path(tempfile.mkdtemp(prefix="nanaudit-scale-memory-"))
    rows: list[tuple[str, int, float, float, float]] = []
    try:
        for files in args.files:
            root = dataset(base, files)
            kept = args.parts / f"files-{files}" if args.parts else None
            out = kept or Path(tempfile.mkdtemp(prefix="nanaudit-sm-out-"))
            try:
                if not args.no_scan:
                    wall, cpu, peak = measure(scan_cmd(root, args.jobs))
                    rows.append(("scan", files, wall, cpu, peak))
                    print(
                        f"scan  {files:>9,} files: {wall:7.1f} s wall, {cpu:7.1f} s CPU, "
                        f"peak {peak:6.0f} MiB",
                        flush=True,
                    )
                if args.merge:
                    parts = shard_parts(root, out, args.shards, args.jobs)
                    merge = [
                        sys.executable,
                        "-m",
                        "nanaudit",
                        "merge",
                        *parts,
                        "--fail-on",
                        "never",
                        "--format",
                        "json",
                    ]
                    wall, cpu, peak = measure(merge)
                    rows.append(("merge", files, wall, cpu, peak))
                    print(
                        f"merge {files:>9,} files: {wall:7.1f} s wall, {cpu:7.1f} s CPU, "
                        f"peak {peak:6.0f} MiB",
                        flush=True,
                    )
            finally:
                if kept is None:
                    shutil.rmtree(out, ignore_errors=True)
    finally:
        if args.data is None:
            shutil.rmtree(base, ignore_errors=True)
    print()
    print("| run | files | wall s | CPU s | CPU ms/file | peak MiB | peak × | CPU/file × |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    first: dict[str, tuple[float, float]] = {}
    for what, files, wall, cpu, peak in rows:
        per = cpu / files * 1000
        base_per, base_peak = first.setdefault(what, (per, peak))
        print(
            f"| {what} | {files:,} | {wall:.1f} | {cpu:.1f} | {per:.3f} | {peak:.0f} | "
            f"{peak / base_peak:.2f} | {per / base_per:.2f} |"
        )


if __name__ == "__main__":
    main()
