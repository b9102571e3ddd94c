"""Reported causes of NaN losses and loader crashes that depend on how files are read.

Each test writes the dataset that was reported, shows the failure with a real torch
computation on what the user's loader reads (the real cv2, tifffile or Pillow call), then
scans it with the settings a user of that loader would give: the cause is caught at warning
or error, and the fix named by the finding makes both the torch computation and the scan
clean. Controls (correct data read the way it is meant to be read) draw no warning or error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import natural_image, save, scan
from PIL import Image

from nanaudit.report import Report
from nanaudit.severity import Severity

torch = pytest.importorskip("torch")
F = torch.nn.functional
cv2 = pytest.importorskip("cv2")
tifffile = pytest.importorskip("tifffile")

SIZE = (24, 32)
VOC = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0, 0, 0, 128, 128, 0, 128]


def labels(seed: int = 0, classes: int = 3) -> np.ndarray:
    m = np.zeros(SIZE, np.uint8)
    for c in range(1, classes):
        y, x = (seed * 3 + 5 * c) % 12, (seed * 5 + 7 * c) % 16
        m[y : y + 8, x : x + 10] = c
    return m


def dataset(root: Path, masks: list[Any], name: str = "m{}.png", **kw: Any) -> Path:
    for i, mask in enumerate(masks):
        save(root / "images" / f"m{i}.png", natural_image(i, SIZE))
        save(root / "masks" / name.format(i), mask, **kw)
    return root


def mask_paths(root: Path) -> list[Path]:
    return sorted((root / "masks").iterdir())


def loss_of(target: Any, classes: int = 3, **kw: Any) -> Any:
    """CrossEntropyLoss on uniform logits against one target, as a training step does."""
    t = torch.as_tensor(np.array(target)).long()[None]  # a batch of one
    logits = torch.zeros((1, classes, *SIZE), requires_grad=True)
    return F.cross_entropy(logits, t, **kw)


def at_least_warning(report: Report, check: str) -> bool:
    return any(f.check == check and f.severity >= Severity.WARNING for f in report.findings)


def serious(report: Report) -> list[tuple[str, str]]:
    return [(f.check, f.path) for f in report.findings if f.severity >= Severity.WARNING]


# --------------------------------------------------------------------------- channels


@pytest.mark.parametrize("mode", ["RGBA", "LA", "RGB"])
def test_a_mask_with_alpha_or_copied_channels_crashes_a_pillow_loader(
    tmp_path: Path, mode: str
) -> None:
    m = labels()
    stored = {
        "RGBA": np.dstack([m, m, m, np.full_like(m, 255)]),
        "LA": np.dstack([m, np.full_like(m, 255)]),
        "RGB": np.dstack([m, m, m]),
    }[mode]
    root = dataset(tmp_path / "d", [Image.fromarray(stored, mode)] * 2)
    target = np.asarray(Image.open(mask_paths(root)[0]))  # the user's loader
    with pytest.raises(RuntimeError):
        loss_of(target)
    report = scan(root, num_classes=3, mask_reader="pillow")
    assert at_least_warning(report, "NA212")
    assert not at_least_warning(scan(root, num_classes=3), "NA212")
    assert at_least_warning(scan(root, num_classes=3), "NA211")  # no reader stated
    # the fix: one channel of indices
    for p in mask_paths(root):
        Image.open(p).convert("L").save(p)
    assert np.isfinite(loss_of(np.asarray(Image.open(mask_paths(root)[0]))).item())
    assert serious(scan(root, num_classes=3, mask_reader="pillow")) == []


def test_multi_page_masks_stacked_by_tifffile(tmp_path: Path) -> None:
    pages = [Image.fromarray(labels(i)) for i in range(2)]
    root = tmp_path / "d"
    for i in range(2):
        save(root / "images" / f"m{i}.png", natural_image(i, SIZE))
        (root / "masks").mkdir(parents=True, exist_ok=True)
        pages[0].save(root / "masks" / f"m{i}.tif", save_all=True, append_images=pages[1:])
    target = tifffile.imread(mask_paths(root)[0])
    assert target.shape == (2, *SIZE)
    with pytest.raises((RuntimeError, ValueError)):
        loss_of(target)  # a batch of 2 targets for 1 prediction
    assert at_least_warning(scan(root, num_classes=3, mask_reader="tifffile"), "NA212")
    assert at_least_warning(scan(root, num_classes=3), "NA211")
    for p in mask_paths(root):  # the fix: one page per mask
        Image.open(p).save(p)
    assert serious(scan(root, num_classes=3, mask_reader="tifffile")) == []


# --------------------------------------------------------------------------- values


def test_one_bit_masks_train_with_pillow_and_fail_with_cv2(tmp_path: Path) -> None:
    root = dataset(tmp_path / "d", [Image.fromarray(labels(i, 2).astype(bool)) for i in range(3)])
    pillow = np.asarray(Image.open(mask_paths(root)[0]))
    assert np.isfinite(loss_of(pillow, classes=2, ignore_index=255).item())
    # the control: a Pillow loader on 1-bit masks is fine, and nanaudit says nothing
    assert serious(scan(root, num_classes=2, mask_reader="pillow")) == []
    assert serious(scan(root, num_classes=2, reader="torchvision")) == []
    # cv2 reads 0/255: with C = 2 and no ignore index, "Target 255 is out of bounds"
    read = cv2.imread(str(mask_paths(root)[0]), 0)
    assert set(np.unique(read)) == {0, 255}
    with pytest.raises(IndexError):
        loss_of(read, classes=2)
    report = scan(root, num_classes=2, ignore_index="none", mask_reader="cv2-gray")
    assert at_least_warning(report, "NA201") or at_least_warning(report, "NA208")
    # without a reader stated, the mask is flagged as reader-dependent
    assert at_least_warning(scan(root, num_classes=2), "NA211")
    # the fix the finding names: audit (and train on) what the loader makes of it
    fixed = scan(
        root, num_classes=2, ignore_index="none", mask_reader="cv2-gray", label_map=["255:1"]
    )
    assert serious(fixed) == []
    assert np.isfinite(loss_of(read // 255, classes=2).item())


def voc_palette_mask(seed: int = 0) -> Image.Image:
    im = Image.fromarray(labels(seed, 6), "P")
    im.putpalette(VOC)
    return im


def test_palette_masks_read_as_gray_are_out_of_range(tmp_path: Path) -> None:
    root = dataset(tmp_path / "d", [voc_palette_mask(i) for i in range(2)])
    # detectron2: read_image(sem_seg_file_name, "L"): gray levels of the palette colours
    gray = np.asarray(Image.open(mask_paths(root)[0]).convert("L"))
    assert gray.max() > 6
    with pytest.raises(IndexError):
        loss_of(gray, classes=6)
    report = scan(root, num_classes=6, reader="detectron2")
    assert at_least_warning(report, "NA213")
    # with no reader stated, a note names the gray levels
    notes = [f for f in scan(root, num_classes=6).findings if f.check == "NA211"]
    assert notes and all(f.severity is Severity.INFO for f in notes)
    assert "gray levels" in notes[0].message
    # the control and the fix: a loader that reads indices (torchvision's VOCSegmentation)
    assert serious(scan(root, num_classes=6, reader="torchvision")) == []
    assert np.isfinite(loss_of(np.asarray(Image.open(mask_paths(root)[0])), classes=6).item())


def test_samples_name_a_palette_read_as_gray(tmp_path: Path) -> None:
    """nanaudit samples audits what the pipeline yields; an out-of-range finding names the
    reader-level cause when the values are a palette's gray levels."""
    import nanaudit

    root = dataset(tmp_path / "d", [voc_palette_mask(i) for i in range(2)])
    pipeline = [
        (natural_image(i, SIZE), np.asarray(Image.open(p).convert("L")))  # detectron2's "L"
        for i, p in enumerate(mask_paths(root))
    ]
    report = nanaudit.audit_samples(pipeline, num_classes=6)
    (f, *_) = [f for f in report.findings if f.check == "NA201"]
    assert "gray levels" in f.message and "cv2.imread(p, 0)" in f.message


def test_sixteen_bit_masks_read_by_cv2_lose_their_ids(tmp_path: Path) -> None:
    root = dataset(tmp_path / "d", [labels(i, 5).astype(np.uint16) for i in range(3)])
    read = cv2.imread(str(mask_paths(root)[0]), 0)
    assert set(np.unique(read)) == {0}  # every id below 256 divided by 256
    # inverse-frequency class weights, normalised: classes with no pixel get inf / inf
    counts = torch.bincount(torch.as_tensor(np.array(read)).long().flatten(), minlength=5).float()
    weights = counts.sum() / counts
    weights = weights / weights.sum()
    logits = torch.zeros((1, 5, *SIZE))
    loss = F.cross_entropy(logits, torch.as_tensor(np.array(read)).long()[None], weight=weights)
    assert torch.isnan(loss)
    assert at_least_warning(scan(root, num_classes=5, mask_reader="cv2-gray"), "NA213")
    assert at_least_warning(scan(root, num_classes=5), "NA211")
    # the fix: read them unchanged (or with Pillow)
    kept = cv2.imread(str(mask_paths(root)[0]), cv2.IMREAD_UNCHANGED)
    assert set(np.unique(kept)) == {0, 1, 2, 3, 4}
    assert serious(scan(root, num_classes=5, mask_reader="cv2-unchanged")) == []


def test_ids_above_255_stored_in_uint8_wrap(tmp_path: Path) -> None:
    ids = [np.array(labels(i, 3), np.int64) * 150 for i in range(2)]  # 0, 150, 300
    wrapped = [a.astype(np.uint8) for a in ids]  # what saving as uint8 PNG did: 300 → 44
    root = dataset(tmp_path / "d", wrapped)
    read = np.asarray(Image.open(mask_paths(root)[0]))
    assert 300 not in np.unique(read) and 44 in np.unique(read)
    counts = torch.bincount(torch.as_tensor(np.array(read)).long().flatten(), minlength=301).float()
    assert counts[300] == 0  # class 300 never seen: its inverse-frequency weight is inf
    report = scan(root, num_classes=301, ignore_index="none")
    assert at_least_warning(report, "NA216")
    absent = [f.data.to_json()["class"] for f in report.findings if f.check == "NA301"]
    assert absent and max(absent) < 256  # classes no 8-bit mask can hold: NA216 alone
    root16 = dataset(tmp_path / "d16", [a.astype(np.uint16) for a in ids])
    assert not at_least_warning(scan(root16, num_classes=301, ignore_index="none"), "NA216")


def test_instance_ids_below_256_taken_for_classes(tmp_path: Path) -> None:
    masks = []
    for n in (16, 19, 23):
        m = np.zeros(SIZE, np.uint8)
        for i in range(n):
            y, x = divmod(i, 8)
            m[y * 8 + 1 : y * 8 + 6, x * 4 : x * 4 + 3] = i + 1
        masks.append(m)
    root = dataset(tmp_path / "d", masks)
    target = np.asarray(Image.open(mask_paths(root)[2]))
    with pytest.raises(IndexError):  # a 3-class model: "Target 23 is out of bounds"
        loss_of(target, classes=3)
    report = scan(root)
    assert at_least_warning(report, "NA217")
    # semantic masks of many classes are not instance numbering
    semantic = [labels(i, 3) for i in range(3)]
    assert not at_least_warning(scan(dataset(tmp_path / "s", semantic)), "NA217")


def test_a_smooth_resize_makes_in_between_labels_real_classes(tmp_path: Path) -> None:
    big = np.zeros((96, 128), np.uint8)
    big[20:70, 10:60] = 2  # label 2 next to 0: a smooth resize fills the edge with 1s
    big[40:90, 70:120] = 1
    size = (56, 72)
    nearest = np.asarray(Image.fromarray(big).resize(size[::-1], Image.Resampling.NEAREST))
    smooth = np.asarray(Image.fromarray(big).resize(size[::-1], Image.Resampling.BILINEAR))
    # torch, as a pipeline resizes: every value is a class in range, so no error...
    t = torch.as_tensor(big).float()[None, None]
    bilinear = F.interpolate(t, size=size, mode="bilinear").round().long()[0, 0]
    assert int(bilinear.max()) <= 2 and np.isfinite(loss_of_size(bilinear))
    # ... while pixels along the 0|2 edges became class 1
    exact = torch.as_tensor(np.array(nearest)).long()
    assert int(((bilinear == 1) & (exact != 1)).sum()) > 0

    def pairs(root: Path, mask: np.ndarray) -> Path:
        for i in range(2):
            save(root / "images" / f"m{i}.png", natural_image(i, size))
            save(root / "masks" / f"m{i}.png", mask)
        return root

    assert at_least_warning(scan(pairs(tmp_path / "d", smooth), num_classes=3), "NA218")
    # the fix: nearest
    assert serious(scan(pairs(tmp_path / "n", nearest), num_classes=3)) == []


def loss_of_size(target: Any) -> float:
    logits = torch.zeros((1, 3, *target.shape))
    return float(F.cross_entropy(logits, target[None]))


# --------------------------------------------------------------------------- palettes


def test_per_file_palettes_permute_the_classes(tmp_path: Path) -> None:
    masks = [voc_palette_mask(i) for i in range(3)]
    swapped = voc_palette_mask(3)
    palette = list(VOC)
    palette[3:6], palette[6:9] = VOC[6:9], VOC[3:6]  # index 1 and 2 swap their colours
    swapped.putpalette(palette)
    root = dataset(tmp_path / "d", [*masks, swapped])
    # the same colour is two different classes to a Pillow loader
    red = (128, 0, 0)
    classes = set()
    for p in mask_paths(root):
        im = Image.open(p)
        idx = torch.as_tensor(np.array(im)).long()
        rgb = torch.as_tensor(np.array(im.convert("RGB")))
        classes |= set(idx[(rgb == torch.tensor(red)).all(-1)].unique().tolist())
    assert classes == {1, 2}
    report = scan(root, num_classes=6, mask_reader="pillow")
    flagged = [f.path for f in report.findings if f.check == "NA214"]
    assert flagged == ["masks/m3.png"]
    assert all(f.severity is Severity.ERROR for f in report.findings if f.check == "NA214")
    swapped.putpalette(VOC)  # the fix: one palette
    swapped.save(mask_paths(root)[3])
    assert serious(scan(root, num_classes=6, mask_reader="pillow")) == []


def test_a_split_mixing_palette_and_rgb_masks(tmp_path: Path) -> None:
    colours = np.array(VOC, np.uint8).reshape(-1, 3)
    rgb = colours[labels(9, 3)]
    root = dataset(tmp_path / "d", [voc_palette_mask(0), voc_palette_mask(1), rgb])
    with pytest.raises(RuntimeError):  # the RGB file crashes the Pillow loader
        loss_of(np.asarray(Image.open(mask_paths(root)[2])))
    report = scan(root, num_classes=6, mask_reader="pillow")
    assert [f.path for f in report.findings if f.check == "NA215"] == ["masks/m2.png"]


# --------------------------------------------------------------------------- images


def test_every_image_cmyk(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(2):
        save(root / "images" / f"m{i}.jpg", Image.fromarray(natural_image(i, SIZE)).convert("CMYK"))
        save(root / "masks" / f"m{i}.png", labels(i))
    x = torch.as_tensor(np.array(Image.open(root / "images" / "m0.jpg"))).float()
    conv = torch.nn.Conv2d(3, 4, 3)  # a 3-channel model
    with pytest.raises(RuntimeError):
        conv(x.permute(2, 0, 1)[None])
    assert at_least_warning(scan(root, num_classes=3), "NA011")
    assert not at_least_warning(scan(root, num_classes=3, image_reader="pillow-RGB"), "NA011")


def test_exif_rotated_images_read_by_cv2(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(2):
        im = Image.fromarray(natural_image(i, SIZE))
        exif = im.getexif()
        exif[0x0112] = 6
        save(root / "images" / f"m{i}.jpg", im, exif=exif, quality=95)
        save(root / "masks" / f"m{i}.png", labels(i))
    image = cv2.imread(str(root / "images" / "m0.jpg"))  # turned: 32×24
    target = np.asarray(Image.open(root / "masks" / "m0.png"))  # 24×32
    logits = torch.zeros((1, 3, *image.shape[:2]))
    with pytest.raises((RuntimeError, ValueError)):
        F.cross_entropy(logits, torch.as_tensor(np.array(target)).long()[None])
    report = scan(root, num_classes=3, image_reader="cv2", mask_reader="cv2-gray")
    assert any(f.check == "NA007" and f.severity is Severity.ERROR for f in report.findings)
    # a Pillow loader does not turn it: image and mask agree
    control = scan(root, num_classes=3, reader="torchvision")
    assert serious(control) == []


def test_one_dead_band_under_per_channel_normalisation(tmp_path: Path) -> None:
    img = natural_image(0, SIZE).copy()
    img[..., 2] = 17  # a dead band
    root = tmp_path / "d"
    save(root / "images" / "m0.png", img)
    save(root / "masks" / "m0.png", labels(0))
    x = torch.as_tensor(img).float().permute(2, 0, 1)
    mean, std = x.mean((1, 2), keepdim=True), x.std((1, 2), keepdim=True)
    assert not torch.isfinite((x - mean) / std).all()
    assert at_least_warning(scan(root, num_classes=3), "NA114")
    rgba = np.dstack([natural_image(1, SIZE), np.full(SIZE, 255, np.uint8)])  # opaque alpha
    save(root / "images" / "m0.png", rgba)
    assert not at_least_warning(scan(root, num_classes=3), "NA114")


def test_appledouble_files_crash_a_loader_that_lists_the_folder(tmp_path: Path) -> None:
    root = dataset(tmp_path / "d", [labels(i) for i in range(2)])
    appledouble = b"\x00\x05\x16\x07\x00\x02\x00\x00" + b"Mac OS X        " + bytes(60)
    (root / "images" / "._m0.png").write_bytes(appledouble)
    files = sorted((root / "images").glob("*.png"))  # the user's loader lists the folder
    assert any(p.name.startswith("._") for p in files)
    with pytest.raises(OSError):  # PIL.UnidentifiedImageError
        [torch.as_tensor(np.array(Image.open(p))) for p in files]
    report = scan(root, num_classes=3)
    assert [f.path for f in report.findings if f.check == "NA012"] == ["images/._m0.png"]
    assert at_least_warning(report, "NA012")
    (root / "images" / "._m0.png").unlink()  # the fix
    assert not at_least_warning(scan(root, num_classes=3), "NA012")


# --------------------------------------------------------------------------- training


def test_batch_size_alone_on_images_of_several_sizes(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i, size in enumerate([(24, 32), (24, 32), (32, 32), (32, 32)]):
        save(root / "images" / f"m{i}.png", natural_image(i, size))
        save(root / "masks" / f"m{i}.png", np.zeros(size, np.uint8) + (i % 2))
    batch = [torch.as_tensor(np.array(Image.open(p))) for p in sorted((root / "images").iterdir())]
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        torch.utils.data.default_collate(batch)
    assert at_least_warning(scan(root, num_classes=2, batch_size=4), "NA404")
    assert not at_least_warning(
        scan(root, num_classes=2, batch_size=4, crop_size=[16, 16]), "NA404"
    )


def test_a_class_of_many_specks_vanishes_at_training_scale(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(3):
        m = np.zeros((128, 128), np.uint8)
        m[64:, :] = 1
        m[2:64:4, 2::4] = 2  # 512 specks of one pixel: 512 px, 16 px at a quarter's size
        save(root / "images" / f"m{i}.png", natural_image(i, (128, 128)))
        save(root / "masks" / f"m{i}.png", m)
    mask = torch.as_tensor(np.array(Image.open(root / "masks" / "m0.png")))
    small = F.interpolate(mask[None, None].float(), size=(32, 32), mode="nearest")
    assert int((mask == 2).sum()) * (32 * 32) / (128 * 128) >= 1  # its pixel total looks fine
    assert int((small == 2).sum()) == 0  # ... and the class is gone at training scale
    report = scan(root, num_classes=3, resize=[32, 32], keep_ratio=False, crop_size=[32, 32])
    vanishing = [f for f in report.findings if f.check == "NA406"]
    assert vanishing and vanishing[0].data.to_json()["class"] == 2
    assert vanishing[0].severity >= Severity.WARNING
    kept = scan(root, num_classes=3, resize=[128, 128], keep_ratio=False, crop_size=[32, 32])
    assert not at_least_warning(kept, "NA406")


def test_dice_on_empty_masks(tmp_path: Path) -> None:
    root = dataset(tmp_path / "d", [np.zeros(SIZE, np.uint8), labels(1, 2)])
    target = torch.as_tensor(np.array(Image.open(mask_paths(root)[0]))).float()
    pred = torch.zeros_like(target)  # a model that predicts no foreground
    dice = 2 * (pred * target).sum() / (pred.sum() + target.sum())  # no smoothing term
    assert torch.isnan(dice)
    report = scan(root, num_classes=2, loss=["dice"], ignore_index="none")
    assert [f.path for f in report.findings if f.check == "NA204"] == ["masks/m0.png"]
    assert at_least_warning(report, "NA204")
    assert not at_least_warning(scan(root, num_classes=2, ignore_index="none"), "NA204")
