"""Peak memory of one file's audit, as a multiple of its decoded size.

    python benchmarks/bench_memory.py                    # a 13000×13000 float32 TIFF
    python benchmarks/bench_memory.py --size 6000 --variant rgb-float
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_memory.py   # compare builds

Each file is audited (decode + statistics, as a scan does) in a fresh process; the figure
is that process's peak resident memory (VmHWM) above its peak after the imports,
divided by the decoded size (width × height × channels × bytes per sample). The floor,
measured in the same run, is a process that only reads the pixels into one numpy array
(np.fromfile of the raw data): the least any reader can hold.

Variants: ``float`` (one float32 channel, the default), ``rgb-float`` (three float32
channels), ``gray8`` (8-bit gray PNG), ``rgb8`` (8-bit RGB PNG).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image

CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from nanaudit.decode import audit_file
    from nanaudit.records import DecodeLimits, FileKind
    def status(key):  # kB; VmHWM is this process's own peak (ru_maxrss survives exec)
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    path, what = Path(sys.argv[1]), sys.argv[2]
    before = status("VmHWM")
    if what == "floor":
        a = np.fromfile(path, dtype=np.uint8)
        ok = a.size > 0
    else:
        rec = audit_file(path, path.name, FileKind.IMAGE, "all", DecodeLimits(max_pixels=1 << 40))
        ok = rec.error is None
        if not ok:
            print(rec.error, file=sys.stderr)
    after = status("VmHWM")
    print((after - before) * 1024, int(ok))
    """
)


def write(path: Path, size: int, variant: str) -> int:
    """Write the file; returns its decoded size in bytes."""
    rng = np.random.default_rng(0)
    if variant in ("float", "rgb-float"):
        channels = 1 if variant == "float" else 3
        # written with tifffile-free raw strips: Pillow saves mode F (one channel) only, so
        # an RGB float image is written as a .npy of the same decoded size
        if channels == 1:
            a = np.empty((size, size), np.float32)
            for y in range(0, size, 512):
                rows = rng.random((min(512, size - y), size), dtype=np.float32)
                a[y : y + rows.shape[0]] = rows
            Image.fromarray(a, "F").save(path.with_suffix(".tif"))
            path.with_suffix(".tif").rename(path)
            return a.nbytes
        a = rng.random((size, size, 3), dtype=np.float32)
        np.save(path, a)
        return a.nbytes
    channels = 1 if variant == "gray8" else 3
    shape = (size, size) if channels == 1 else (size, size, 3)
    a = rng.integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(a).save(path, compress_level=1)
    return a.nbytes


def measure(path: Path, what: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), what],
        capture_output=True,
        text=True,
        check=True,
    )
    peak, ok = proc.stdout.split()
    if ok != "1":
        raise SystemExit(f"audit failed: {proc.stderr}")
    return int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=13000)
    parser.add_argument(
        "--variant", choices=["float", "rgb-float", "gray8", "rgb8"], default="float"
    )
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    suffix = {"float": ".tif", "rgb-float": ".npy", "gray8": ".png", "rgb8": ".png"}
    with tempfile.TemporaryDirectory(prefix="nanaudit-mem-") as tmp:
        path = Path(tmp) / f"big{suffix[args.variant]}"
        decoded = write(path, args.size, args.variant)
        mib, file_mib = decoded / (1 << 20), path.stat().st_size / (1 << 20)
        size = f"{args.size}×{args.size}"
        print(f"{args.variant} {size}: decoded {mib:,.0f} MiB, file {file_mib:,.0f} MiB")
        floors, peaks = [], []
        for _ in range(args.rounds):  # alternating rounds
            floors.append(measure(path, "floor"))
            peaks.append(measure(path, "audit"))
        floor, peak = min(floors), min(peaks)
        f_mib, p_mib = floor / (1 << 20), peak / (1 << 20)
        print(f"floor (read the raw bytes): {f_mib:,.0f} MiB ({floor / decoded:.2f}× decoded)")
        print(
            f"audit_file peak:            {p_mib:,.0f} MiB ({peak / decoded:.2f}× decoded, "
            f"{peak / floor:.2f}× floor)"
        )
        print(f"nanaudit from {os.path.dirname(__import__('nanaudit').__file__)}")


if __name__ == "__main__":
    main()
