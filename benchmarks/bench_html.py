"""What an HTML report costs: its size, the time to write it, and the thumbnails.

    python benchmarks/bench_html.py                      # 5,000 pairs of 128×128 files
    python benchmarks/bench_html.py --pairs 50000 --rounds 1

One pair in 20 carries a planted defect (ten kinds in turn: NaN pixels, constant images,
all-ignore masks, out-of-range labels, 0/255 masks, size mismatches, missing masks, colour
masks, JPEG masks, 16-bit images), so every check's card fills up to its cap.

Two measurements, alternating rounds (best of ``--rounds``):

1. whole processes, ``--jobs 1`` (so that the CPU time of the process is the whole cost,
   a figure that shared machines do not blur as they do wall time): ``nanaudit scan
   --no-cache --format json`` (the floor) against the same scan with ``-o html:FILE``
   (thumbnails made at decode, stored, the page written), with peak resident memory;
2. in one process, the pipeline's stages timed apart: the scan (collect, aggregate, checks,
   the report) and the writing of the page (the gallery reading back the thumbnails it
   shows and every image's histogram, then the template): the page's share of the scan.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from bench import timed  # type: ignore[import-not-found]
from PIL import Image

DEFECTS = 10
EVERY = 20


def generate(root: Path, pairs: int, size: int) -> None:
    rng = np.random.default_rng(3)
    made: set[Path] = set()
    for i in range(pairs):
        split = "val" if i % 10 == 0 else "train"
        shard = f"{i // 1000:03d}"
        img_dir, mask_dir = root / "images" / split / shard, root / "masks" / split / shard
        if img_dir not in made:
            img_dir.mkdir(parents=True, exist_ok=True)
            mask_dir.mkdir(parents=True, exist_ok=True)
            made.add(img_dir)
        y, x = np.mgrid[0:size, 0:size]
        base = (x * (1 + i % 7) + y * (1 + i % 5)) % 256
        rgb = np.stack([base, base[::-1], base[:, ::-1]], -1).astype(np.int16)
        rgb = (rgb + rng.integers(-20, 20, rgb.shape)).clip(0, 255).astype(np.uint8)
        mask = np.zeros((size, size), np.uint8)
        y0, x0 = rng.integers(0, size // 2, 2)
        mask[y0 : y0 + size // 3, x0 : x0 + size // 3] = 1 + i % 4
        image: np.ndarray | None = rgb
        name, mask_name = f"{i:06d}.png", f"{i:06d}.png"
        kind = (i // EVERY) % DEFECTS if i % EVERY == EVERY - 1 else -1
        if kind == 0:
            image = rgb[..., 0].astype(np.float32) / 255
            image[y0, x0] = np.nan
            name = f"{i:06d}.tif"
        elif kind == 1:
            image = np.full_like(rgb, 117)
        elif kind == 2:
            mask[:] = 255
        elif kind == 3:
            mask[y0 : y0 + 4, x0 : x0 + 4] = 9
        elif kind == 4:
            mask = np.where(mask > 0, 255, 0).astype(np.uint8)
        elif kind == 5:
            mask = mask[: size * 3 // 4]
        elif kind == 6:
            mask_name = ""
        elif kind == 7:
            mask = np.stack([mask * 60, mask * 20, mask * 90], -1).astype(np.uint8)
        elif kind == 8:
            mask_name = f"{i:06d}.jpg"
        elif kind == 9:
            image = (rgb[..., 0].astype(np.uint16) * 257).astype(np.uint16)
        Image.fromarray(image).save(img_dir / name, compress_level=1)
        if mask_name:
            Image.fromarray(mask).save(mask_dir / mask_name)


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def in_process(root: Path, jobs: int) -> tuple[float, float, float, int, int]:
    """(scan s, gallery s, render s, html bytes, findings) of one run with thumbnails, in
    CPU seconds of this process (the scan's workers aside: --jobs 1 counts them all)."""
    from nanaudit.checks.run import run_checks
    from nanaudit.collect import collect
    from nanaudit.formats import Format, render
    from nanaudit.gallery import build_gallery
    from nanaudit.pipeline import aggregate
    from nanaudit.plan import plan_for_api
    from nanaudit.summarise import build_report

    plan = plan_for_api(root, None, {"num_classes": 5, "thumbnails": True})
    t0 = time.process_time()
    collected = collect(plan, jobs=jobs)
    try:
        dataset = aggregate(plan, collected)
        report = build_report(plan, collected, dataset, run_checks(plan, collected, dataset))
        t1 = time.process_time()
        report = replace(report, gallery=build_gallery(plan, collected, dataset, report))
        t2 = time.process_time()
    finally:
        if collected.visuals is not None:
            collected.visuals.close()
    page = render(report, Format.HTML)
    t3 = time.process_time()
    return t1 - t0, t2 - t1, t3 - t2, len(page.encode()), len(report.findings)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path)
    args = parser.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="nanaudit-html-"))
    out = Path(tempfile.mkdtemp(prefix="nanaudit-html-out-"))
    try:
        if not (root / "images").is_dir():
            t = time.perf_counter()
            generate(root, args.pairs, args.size)
            print(f"generated {args.pairs:,} pairs in {time.perf_counter() - t:.0f} s")
        files = sum(1 for _ in root.rglob("*.*"))
        base = [sys.executable, "-m", "nanaudit", "scan", str(root), "--no-cache"]
        base += ["--no-progress", "--jobs", str(args.jobs), "-C", "5", "--format", "json"]
        html = out / "report.html"
        runs: dict[str, list[tuple[float, float, float]]] = {"floor": [], "html": []}
        parts: list[tuple[float, float, float, int, int]] = []
        env = dict(os.environ)
        for _ in range(args.rounds):
            for name, cmd in (("floor", base), ("html", [*base, "-o", f"html:{html}"])):
                before = cpu_of_children()
                elapsed, peak_kib, _ = timed([*cmd], env)
                runs[name].append((cpu_of_children() - before, elapsed, peak_kib / 1024))
            parts.append(in_process(root, args.jobs))
        floor, with_html = min(runs["floor"]), min(runs["html"])
        scan, gallery, page, size, findings = min(parts)
        print(f"{files:,} files, {findings:,} findings, --jobs {args.jobs}, best of {args.rounds}")
        for label, (cpu, wall, peak) in (
            ("(a) scan, JSON only:       ", floor),
            ("(b) scan with -o html:FILE:", with_html),
        ):
            print(f"  {label} CPU {cpu:7.2f} s, wall {wall:7.2f} s, peak {peak:.0f} MiB")
        print(f"  thumbnails and page: (b) = {with_html[0] / floor[0]:.2f}× (a) in CPU time")
        print(f"  in one process (CPU): scan {scan:.2f} s (thumbnails made and stored included)")
        print(
            f"    page: gallery {gallery:.2f} s + template {page:.2f} s = {gallery + page:.2f} s "
            f"= {(gallery + page) / scan:.1%} of the scan"
        )
        print(f"    page size {size / 1e6:.2f} MB ({html.stat().st_size / 1e6:.2f} MB on disk)")
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if args.data is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
