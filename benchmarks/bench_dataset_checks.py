"""What the dataset-level checks (NA3xx) cost: the scan with them against `--ignore NA3`.

    python benchmarks/bench_dataset_checks.py --data /tmp/bench1000   # after bench.py made it

Both run as `nanaudit scan --jobs 1 --no-cache --format json`, alternated round by round.
The records are the same either way (the selection of checks never reaches the decoder):
the difference is what the NA3xx checks themselves cost, and the second reads that
confirm duplicate candidates (none in this generated set).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench import generate, timed  # type: ignore[import-not-found]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    root = args.data or Path(tempfile.mkdtemp(prefix="nanaudit-bench-"))
    if not (root / "images").is_dir():
        generate(root, args.pairs, 512, "jpeg")
    base = [
        sys.executable,
        "-m",
        "nanaudit",
        "scan",
        str(root),
        "--jobs",
        "1",
        "--no-cache",
        "--format",
        "json",
        "--no-progress",
        "-C",
        "5",
    ]
    with_checks, without = [], []
    for r in range(args.rounds):
        with_checks.append(timed(base, dict(os.environ))[0])
        without.append(timed([*base, "--ignore", "NA3"], dict(os.environ))[0])
        print(f"round {r + 1}: with NA3xx {with_checks[-1]:.2f} s, without {without[-1]:.2f} s")
    a, b = min(with_checks), min(without)
    print(
        f"best: with {a:.2f} s, without {b:.2f} s: the NA3xx checks cost {100 * (a / b - 1):+.1f}%"
        " (target ≤ +10%)"
    )


if __name__ == "__main__":
    main()
