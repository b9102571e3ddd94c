"""Generate the tiny sample segmentation dataset used to exercise ``nanaudit``.

The dataset uses the ``images/<split>/`` + ``masks/<split>/`` layout with
``train`` and ``val`` splits, 4 classes (labels 0..3, background 0) and ignore
index 255 (see ``nanaudit.toml`` next to this file).  It holds a handful of
clean image/mask pairs plus one file per planted defect that can make
training loss go NaN (NaN pixels, constant image, all-ignore mask, labels out
of range, 0/255 binary mask, lossy JPEG mask, colour-coded RGB mask, size
mismatch, EXIF rotation, un-normalised 16-bit input, missing/orphan files,
and junk files that must be skipped).  ``README.md`` lists which file carries
which defect.

Run from the repository root::

    python sample_data/generate.py

Output is deterministic (fixed seed, pure numpy + Pillow).  Regenerating
deletes and rewrites only the ``sample_data/images`` and ``sample_data/masks``
trees; nothing else is touched.
"""

from __future__ import annotations

import shutil
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

SEED = 20240611
ROOT = Path(__file__).resolve().parent
MANAGED_DIRS = ("images", "masks")
SIZE = 64  # height and width of the regular samples
IGNORE = 255
# Colour used for each class when a mask is (wrongly) stored as RGB.
PALETTE = np.array([[0, 0, 0], [220, 20, 60], [0, 160, 70], [30, 80, 230]], np.uint8)
# Tint used to render each class region in the synthetic photos.
TINTS = np.array([[0, 0, 0], [200, 90, 60], [70, 170, 90], [80, 110, 210]], float)

Array = np.ndarray


def rng_for(name: str) -> np.random.Generator:
    """Per-file generator, so adding a file never changes the others."""
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def make_mask(rng: np.random.Generator, h: int = SIZE, w: int = SIZE) -> Array:
    """Labels 0..3: one object of each class 1..3 in its own quadrant."""
    mask = np.zeros((h, w), np.uint8)
    quadrants = rng.permutation(4)[:3]
    yy, xx = np.mgrid[0:h, 0:w]
    for label, q in zip((1, 2, 3), quadrants, strict=True):
        y0, x0 = (q // 2) * h // 2, (q % 2) * w // 2
        qh, qw = h // 2, w // 2
        oh, ow = rng.integers(qh // 2, qh - 2), rng.integers(qw // 2, qw - 2)
        top, left = y0 + rng.integers(1, qh - oh), x0 + rng.integers(1, qw - ow)
        if label == 2:  # ellipse
            cy, cx = top + oh / 2, left + ow / 2
            inside = ((yy - cy) / (oh / 2)) ** 2 + ((xx - cx) / (ow / 2)) ** 2 <= 1
            mask[inside] = label
        else:  # rectangle
            mask[top : top + oh, left : left + ow] = label
    return mask


def add_ignore_border(rng: np.random.Generator, mask: Array, frac: float) -> Array:
    """Mark a random fraction of object-border pixels as ignore (255)."""
    edge = np.zeros(mask.shape, bool)
    edge[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    edge[:-1, :] |= mask[:-1, :] != mask[1:, :]
    out = mask.copy()
    out[edge & (rng.random(mask.shape) < frac)] = IGNORE
    return out


def render_image(rng: np.random.Generator, mask: Array) -> Array:
    """RGB uint8 photo-like image: gradient + tinted objects + noise."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)

    def ramp() -> Array:
        angle = rng.uniform(0, 2 * np.pi)
        r: Array = np.cos(angle) * xx + np.sin(angle) * yy
        r = (r - r.min()) / (np.ptp(r) + 1e-9)
        return r

    # Shared brightness ramp spanning ~20..235 plus a mild per-channel cast.
    img: Array = np.repeat((20 + 215 * ramp())[..., None], 3, axis=2)
    img += (ramp() - 0.5)[..., None] * rng.uniform(-40, 40, 3)
    labels = np.where(mask == IGNORE, 0, mask)
    for label in (1, 2, 3):
        region = labels == label
        img[region] = 0.5 * img[region] + 0.5 * TINTS[label]
    img += rng.normal(0, 8, img.shape)
    out: Array = np.clip(img, 10, 245).astype(np.uint8)
    return out


def luminance(rgb: Array) -> Array:
    lum: Array = rgb.astype(float) @ np.array([0.299, 0.587, 0.114])
    return lum


def save(arr: Array, path: Path, **kwargs: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kwargs)


def clean_pair(split: str, stem: str, h: int = SIZE, w: int = SIZE) -> tuple[Array, Array]:
    rng = rng_for(f"{split}/{stem}")
    mask = make_mask(rng, h, w)
    return render_image(rng, mask), mask


def write_clean(split: str, count: int) -> None:
    for i in range(count):
        stem = f"{split}_{i:03d}"
        rng = rng_for(f"{split}/{stem}/extra")
        image, mask = clean_pair(split, stem)
        if i % 2 == 1:  # realistic: a few ignore pixels at object borders
            mask = add_ignore_border(rng, mask, frac=0.15)
        if i % 4 == 2:  # some clean images are JPEG q90
            save(image, ROOT / "images" / split / f"{stem}.jpg", quality=90)
        else:
            save(image, ROOT / "images" / split / f"{stem}.png")
        mask_stem = f"{stem}_mask" if i % 3 == 0 else stem  # exercise suffixes
        save(mask, ROOT / "masks" / split / f"{mask_stem}.png")


def write_train_defects() -> None:
    img_dir, mask_dir = ROOT / "images" / "train", ROOT / "masks" / "train"

    # 1. float32 TIFF (mode "F") in [0, 1] with a few NaN pixels.
    image, mask = clean_pair("train", "train_nan_float")
    gray = (luminance(image) / 255.0).astype(np.float32)
    rng = rng_for("train/train_nan_float/nan")
    idx = rng.choice(gray.size, size=5, replace=False)
    gray.flat[idx] = np.nan
    save(gray, img_dir / "train_nan_float.tif")
    save(mask, mask_dir / "train_nan_float.png")

    # 2. Constant image: every pixel the same RGB value.
    _, mask = clean_pair("train", "train_constant")
    save(np.full((SIZE, SIZE, 3), (117, 96, 140), np.uint8), img_dir / "train_constant.png")
    save(mask, mask_dir / "train_constant.png")

    # 3. Mask that is entirely the ignore index.
    image, _ = clean_pair("train", "train_all_ignore")
    save(image, img_dir / "train_all_ignore.png")
    save(np.full((SIZE, SIZE), IGNORE, np.uint8), mask_dir / "train_all_ignore.png")

    # 4. Mask with a block of label 7 (>= num_classes).
    image, mask = clean_pair("train", "train_label_out_of_range")
    mask[40:52, 8:24] = 7
    save(image, img_dir / "train_label_out_of_range.png")
    save(mask, mask_dir / "train_label_out_of_range.png")

    # 5. Binary mask with foreground stored as 255 instead of 1.
    image, mask = clean_pair("train", "train_binary_255")
    save(image, img_dir / "train_binary_255.png")
    save(np.where(mask > 0, 255, 0).astype(np.uint8), mask_dir / "train_binary_255.png")

    # 9. Image without a mask.
    image, _ = clean_pair("train", "train_no_label")
    save(image, img_dir / "train_no_label.png")

    # 10. Mask without an image.
    _, mask = clean_pair("train", "train_orphan")
    save(mask, mask_dir / "train_orphan.png")

    # 12. Un-normalised 16-bit grayscale PNG (mode "I;16", up to ~60000).
    image, mask = clean_pair("train", "train_uint16")
    save(np.round(luminance(image) * 235).astype(np.uint16), img_dir / "train_uint16.png")
    save(mask, mask_dir / "train_uint16.png")

    # Junk that the tool must skip.
    (img_dir / "notes.txt").write_text("sample notes, not an image\n")
    (img_dir / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1\x00\x00")


def write_val_defects() -> None:
    img_dir, mask_dir = ROOT / "images" / "val", ROOT / "masks" / "val"

    # 6. Mask stored as lossy JPEG (q75): artefacts create new label values.
    image, mask = clean_pair("val", "val_lossy_label")
    save(image, img_dir / "val_lossy_label.png")
    save(mask, mask_dir / "val_lossy_label.jpg", quality=75)

    # 7. Colour-coded RGB mask instead of class indices.
    image, mask = clean_pair("val", "val_rgb_label")
    save(image, img_dir / "val_rgb_label.png")
    save(PALETTE[mask], mask_dir / "val_rgb_label.png")

    # 8. Image 64x64 but mask 48 rows x 64 columns.
    image, mask = clean_pair("val", "val_size_mismatch")
    save(image, img_dir / "val_size_mismatch.png")
    save(mask[:48], mask_dir / "val_size_mismatch.png")

    # 11. JPEG stored 96x64 (W x H) with EXIF Orientation=6; mask matches the
    # stored size, so after applying the rotation (-> 64x96) they mismatch.
    image, mask = clean_pair("val", "val_exif_rotated", h=64, w=96)
    exif = Image.Exif()
    exif[0x0112] = 6
    save(image, img_dir / "val_exif_rotated.jpg", quality=90, exif=exif)
    save(mask, mask_dir / "val_exif_rotated.png")


def reset_managed_dirs() -> None:
    """Delete only the images/ and masks/ trees inside sample_data."""
    for name in MANAGED_DIRS:
        target = ROOT / name
        if target.is_symlink():
            raise SystemExit(f"refusing to delete symlink {target}")
        if target.exists():
            assert target.resolve().parent == ROOT
            shutil.rmtree(target)


def main() -> None:
    reset_managed_dirs()
    write_clean("train", 8)
    write_clean("val", 4)
    write_train_defects()
    write_val_defects()
    files = sorted(p for d in MANAGED_DIRS for p in (ROOT / d).rglob("*") if p.is_file())
    for path in files:
        print(f"{path.stat().st_size:7d}  {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
