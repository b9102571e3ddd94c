"""What auditing a NIfTI volume pair costs, against nibabel loading it.

    python benchmarks/bench_volume.py                  # 256×256×128 float32 pair, .nii.gz
    python benchmarks/bench_volume.py --uncompressed   # .nii
    python benchmarks/bench_volume.py --rounds 9 --label-dtype float32

The pair: a CT-like float32 image volume (Hounsfield-like values, a NaN-free body in air)
and its label volume (uint8 by default; nnU-Net label files are often float32: --label-
dtype), written with nibabel into a temporary folder. The floor loads both as training
code does, with nibabel: ``np.asanyarray(nib.load(p, mmap=False).dataobj)`` (the voxels
as stored, the cheapest way to them that reads them: by default nibabel memory-maps a
``.nii`` and reads nothing until the voxels are used; ``get_fdata()``, float64, is given for
reference). The audit is what a scan does per file: ``nanaudit.decode.audit_file`` of the
image and of the mask (read, header checks, every statistic of the record; the image's
task reads the label volume too, as it does for every CT-like volume); ``--scan``
also times the whole ``nanaudit.scan`` of the one-pair dataset (discovery, checks,
report). They alternate round by round in one process; the figure is the median of the
rounds' ratios, audit / floor (target ≤ 1.5). CPU seconds are given too: on a shared
machine they move far less than wall-clock seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

try:
    import nibabel as nib
except ImportError:  # pragma: no cover
    sys.exit("bench_volume needs nibabel: pip install 'nanaudit[medical]'")

import nanaudit
from nanaudit.decode import audit_file
from nanaudit.records import DecodeLimits, FileKind

SHAPE = (256, 256, 128)


def write_pair(root: Path, suffix: str, label_dtype: str) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    x, y, z = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    body = ((x - 128) ** 2 + (y - 128) ** 2) < 100**2
    image = np.broadcast_to(np.where(body, 40.0, -1000.0), SHAPE).astype(np.float32)
    image += rng.normal(0, 15, SHAPE).astype(np.float32)
    labels = np.zeros(SHAPE, np.uint8)
    labels[((x - 110) ** 2 + (y - 120) ** 2 + (z - 64) ** 2) < 30**2] = 1
    labels[((x - 150) ** 2 + (y - 140) ** 2 + (z - 70) ** 2) < 12**2] = 2
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    img_path = root / "images" / f"ct{suffix}"
    lab_path = root / "masks" / f"ct{suffix}"
    nib.save(nib.Nifti1Image(image, affine), str(img_path))
    nib.save(nib.Nifti1Image(labels.astype(label_dtype), affine), str(lab_path))
    return img_path, lab_path


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--uncompressed", action="store_true", help=".nii instead of .nii.gz")
    ap.add_argument("--label-dtype", default="uint8", choices=("uint8", "int16", "float32"))
    ap.add_argument("--scan", action="store_true", help="also time nanaudit.scan of the pair")
    args = ap.parse_args()
    suffix = ".nii" if args.uncompressed else ".nii.gz"
    limits = DecodeLimits()
    with tempfile.TemporaryDirectory(prefix="bench-volume-") as tmp:
        root = Path(tmp) / "data"
        img, lab = write_pair(root, suffix, args.label_dtype)

        def floor() -> None:
            np.asanyarray(nib.load(str(img), mmap=False).dataobj)
            np.asanyarray(nib.load(str(lab), mmap=False).dataobj)

        def fdata() -> None:
            nib.load(str(img)).get_fdata()
            nib.load(str(lab)).get_fdata()

        def audit() -> None:
            # as a scan audits a CT-like volume: it reads its label volume too, for the
            # intensities under the labels (nnU-Net's CT clipping range)
            a = audit_file(img, "images/ct", FileKind.IMAGE, "all", limits, partner=lab)
            assert a.foreground is not None
            b = audit_file(lab, "masks/ct", FileKind.MASK, "all", limits)
            assert a.error is None and b.error is None, (a.error, b.error)

        def scan() -> None:
            nanaudit.scan(root, num_classes=3)

        runs: dict[str, list[tuple[float, float]]] = {"floor": [], "audit": [], "fdata": []}
        if args.scan:
            runs["scan"] = []
        steps = {"floor": floor, "audit": audit, "fdata": fdata, "scan": scan}
        audit()  # warm: imports, first-touch of the pages
        for r in range(args.rounds):
            order = list(runs) if r % 2 == 0 else list(reversed(runs))
            for name in order:
                runs[name].append(timed(steps[name]))
        print(
            f"{'×'.join(map(str, SHAPE))} float32 image + {args.label_dtype} label, {suffix}, "
            f"{args.rounds} alternating rounds (median)"
        )
        floor_wall = [w for w, _ in runs["floor"]]
        for name, times in runs.items():
            wall = statistics.median(w for w, _ in times)
            cpu = statistics.median(c for _, c in times)
            ratios = [w / f for (w, _), f in zip(times, floor_wall, strict=True)]
            cpu_ratio = statistics.median(
                c / fc for (_, c), (_, fc) in zip(times, runs["floor"], strict=True)
            )
            print(
                f"  {name:6s} wall {wall:6.3f} s  cpu {cpu:6.3f} s   "
                f"ratio to nibabel: {statistics.median(ratios):.2f}× wall, {cpu_ratio:.2f}× cpu"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
