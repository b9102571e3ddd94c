"""How far the perceptual hash (NA307) moves when it is taken over the luminance grid.

    python benchmarks/phash_robustness.py --data /tmp/bench1000    # a bench.py dataset

For each of the first --images JPEGs: the hash nanaudit takes (over a grid of about 65,536
pixels) and the hash of the full-resolution luminance, of the picture and of its copies
re-encoded at JPEG quality 60 and resized to ½× and 1.76×; and the distance between
consecutive, unrelated pictures. NA307 calls two images near-duplicates within distance 5.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

from nanaudit.decode.reduce import _phash, reduce_image


def full_resolution(im: Image.Image) -> int:
    return _phash(im.convert("L"))


def grid(im: Image.Image) -> int:
    return reduce_image(im).phash


def distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def variants(im: Image.Image) -> list[Image.Image]:
    w, h = im.size
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=60)
    return [
        Image.open(io.BytesIO(buf.getvalue())).convert("RGB"),
        im.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
        im.resize((w * 176 // 100, h * 176 // 100), Image.Resampling.BICUBIC),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--images", type=int, default=150)
    args = parser.parse_args()
    files = sorted(args.data.rglob("images/*/*.jpg"))[: args.images]
    copies: dict[str, list[int]] = {"full resolution": [], "grid": []}
    unrelated: dict[str, list[int]] = {"full resolution": [], "grid": []}
    previous: dict[str, int] = {}
    for path in files:
        im = Image.open(path).convert("RGB")
        for name, hash_of in (("full resolution", full_resolution), ("grid", grid)):
            h = hash_of(im)
            copies[name] += [distance(h, hash_of(v)) for v in variants(im)]
            if name in previous:
                unrelated[name].append(distance(h, previous[name]))
            previous[name] = h
    print(f"{len(files)} pictures, 3 copies each (JPEG q60, ½×, 1.76×)")
    for name in copies:
        c, u = np.array(copies[name]), np.array(unrelated[name])
        print(
            f"{name:16} copies: mean {c.mean():.2f}, max {c.max()}, above 5: {(c > 5).sum()}   "
            f"unrelated: min {u.min()}, at most 5: {(u <= 5).sum()}"
        )


if __name__ == "__main__":
    main()
