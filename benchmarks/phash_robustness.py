"""How NA307 tells copies from different pictures: the perceptual hash alone (before) and
the hash confirmed by the details of the candidates (after, neardup.same_picture).

    python benchmarks/phash_robustness.py                          # generated pictures
    python benchmarks/phash_robustness.py --data /tmp/bench1000    # a bench.py dataset's JPEGs

Copies: each picture re-encoded at JPEG quality 60, resized to ½× and 1.76×, cropped by 2%
and 5% of each side, and by 10% off one side. A copy is found when its hash lies within
distance 5 of the original's (before), and also its details correlate at 0.7 or more
(after). Same-layout distinct pictures (tests/miniatures.py: fundus photographs, CT slices,
histology slides; every pair of different subjects) must not be found. The hash of each
picture is also compared at a loose distance of 16, where the hash lets nearly every pair
of one layout through: what the confirmation alone decides. Also: the hash nanaudit takes
(over a grid of about 65,536 pixels) against the full-resolution luminance's.
"""

from __future__ import annotations

import argparse
import io
import itertools
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import miniatures

from nanaudit.decode.reduce import _phash, reduce_image
from nanaudit.neardup import same_picture

DISTANCE, LOOSE, SIMILARITY = 5, 16, 0.7


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))


def jpeg(im: Image.Image) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, "JPEG", quality=60)
    return Image.open(io.BytesIO(buf.getvalue())).convert(im.mode)


VARIANTS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "JPEG q60": jpeg,
    "½×": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "1.76×": lambda im: im.resize(
        (im.width * 176 // 100, im.height * 176 // 100), Image.Resampling.BICUBIC
    ),
    "crop 2%": lambda im: crop(im, 0.02, 0.02, 0.02, 0.02),
    "crop 5%": lambda im: crop(im, 0.05, 0.05, 0.05, 0.05),
    "crop 10% left": lambda im: crop(im, 0.10, 0, 0, 0),
}


def signature(im: Image.Image) -> tuple[int, str]:
    p = reduce_image(im, content=True)
    return p.phash, p.detail


def generated(n: int) -> list[Image.Image]:
    """Distinct pictures as benchmarks/bench.py makes them (blocks over a gradient)."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        h = w = 256
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        a, b = rng.uniform(-1, 1, 2)
        base = 40 + 80 * (1 + (a * x + b * y) / max(w, h))
        for _ in range(6):
            y0, x0 = rng.integers(0, h * 3 // 4), rng.integers(0, w * 3 // 4)
            bh, bw = rng.integers(h // 10, h // 3), rng.integers(w // 10, w // 3)
            base[y0 : y0 + bh, x0 : x0 + bw] = rng.uniform(20, 235)
        rgb = np.clip(base[..., None] + rng.normal(0, 6, (h, w, 3)), 0, 255)
        out.append(Image.fromarray(rgb.astype(np.uint8)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, help="a bench.py dataset (else: generated)")
    parser.add_argument("--images", type=int, default=40, help="pictures to copy")
    parser.add_argument("--subjects", type=int, default=12, help="subjects per layout")
    args = parser.parse_args()
    if args.data is not None:
        files = sorted(args.data.rglob("images/*/*.jpg"))[: args.images]
        pictures = [Image.open(p).convert("RGB") for p in files]
    else:
        pictures = generated(args.images)
    started = time.perf_counter()
    print(f"copies of {len(pictures)} pictures: found before (hash) / after (hash + details)")
    grid_moves, full_moves = [], []
    for name, make in VARIANTS.items():
        before = after = 0
        for im in pictures:
            (ha, da), (hb, db) = signature(im), signature(make(im))
            if name == "JPEG q60":
                grid_moves.append(distance(ha, hb))
                copy = make(im)
                full_moves.append(distance(_phash(im.convert("L")), _phash(copy.convert("L"))))
            near = distance(ha, hb) <= DISTANCE
            before += near
            after += near and (same_picture(da, db) or -1.0) >= SIMILARITY
        n = len(pictures)
        print(f"  {name:14} before {before}/{n} ({before / n:.0%}), after {after}/{n}")
    print(
        f"  hash moved by JPEG q60: grid mean {np.mean(grid_moves):.2f}, "
        f"full resolution mean {np.mean(full_moves):.2f}"
    )
    print(f"same-layout distinct pairs reported: before / after (and at hash distance {LOOSE})")
    for kind, make_subject in miniatures.SAME_LAYOUT.items():
        rng = np.random.default_rng(7)
        sigs = [
            signature(Image.fromarray(make_subject(rng, (256, 256)))) for _ in range(args.subjects)
        ]
        pairs = list(itertools.combinations(sigs, 2))
        before = sum(distance(a[0], b[0]) <= DISTANCE for a, b in pairs)
        scores = [same_picture(a[1], b[1]) or -1.0 for a, b in pairs]
        after = sum(
            distance(a[0], b[0]) <= DISTANCE and s >= SIMILARITY
            for (a, b), s in zip(pairs, scores, strict=True)
        )
        loose = sum(distance(a[0], b[0]) <= LOOSE for a, b in pairs)
        loose_after = sum(
            distance(a[0], b[0]) <= LOOSE and s >= SIMILARITY
            for (a, b), s in zip(pairs, scores, strict=True)
        )
        print(
            f"  {kind:18} {len(pairs)} pairs: before {before}, after {after}   "
            f"at {LOOSE}: before {loose}, after {loose_after}   "
            f"details: max {max(scores):.2f}, mean {np.mean(scores):.2f}"
        )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
