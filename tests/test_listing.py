"""The plan's listing at scale: files kept compactly, pairs made as they are read, tasks
streamed, all in the order and with the pairing of the Path lists they replace."""

from __future__ import annotations

import random
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nanaudit.collect import PlannedTasks, plan_tasks
from nanaudit.layouts import PairPaths
from nanaudit.layouts.filelist import FileList
from nanaudit.layouts.pairing import (
    IMAGE_STEM_VARIANTS,
    MASK_STEM_VARIANTS,
    _strip,
    pair_files,
)
from nanaudit.layouts.walk import Walker
from nanaudit.plan import plan_for_api
from nanaudit.records import FileKind, image_stem
from nanaudit.regex import compile_key

NAMES = ["a", "a-b", "a.b", "a b", "A", "b", "z", "a_", "ä", "x", "é-1", "0", "a1"]


def _tree(root: Path, rng: random.Random, depth: int = 0) -> list[Path]:
    """Files and folders with names that sort differently as strings and as parts."""
    made: list[Path] = []
    for n in rng.sample(NAMES, rng.randint(0, 6)):
        if depth < 3 and rng.random() < 0.4:
            (root / n).mkdir()
            made += _tree(root / n, rng, depth + 1)
        else:
            f = root / f"{n}.png"
            f.write_bytes(b"")
            made.append(f)
    if depth == 0:
        (root / "shot.png").mkdir()  # a folder named like an image is listed as a file
        made.append(root / "shot.png")
        (root / ".hidden.png").write_bytes(b"")
        (root / "notes.txt").write_bytes(b"")
    return made


@pytest.mark.parametrize("seed", range(12))
def test_the_walk_lists_files_in_the_order_paths_sort_without_sorting_them(
    tmp_path: Path, seed: int
) -> None:
    root = tmp_path / "r"
    root.mkdir()
    made = _tree(root, random.Random(seed))
    walk = Walker().files(root)
    assert isinstance(walk.files, FileList)
    assert list(walk.files) == sorted(made)
    assert [str(walk.files[i]) for i in range(len(walk.files))] == [str(p) for p in sorted(made)]
    assert sorted(p.name for p, _ in walk.skipped) == [".hidden.png", "notes.txt"]


def test_a_file_list_keeps_any_name_and_answers_as_a_sequence(tmp_path: Path) -> None:
    odd = [tmp_path / "a" / "b.png", tmp_path / "x\udcff.png", Path("rel.png"), tmp_path / "é.png"]
    files = FileList(odd)
    assert list(files) == odd and len(files) == 4
    assert files[-1] == odd[-1] and files[1:3] == odd[1:3]
    assert odd[2] in files and files.index(odd[3]) == 3
    with pytest.raises(IndexError):
        files[4]
    assert files == odd and files != odd[:3]


def _reference_pairs(
    images: list[Path], image_root: Path, masks: list[Path], mask_root: Path, pair_key=None
) -> list[PairPaths]:
    """pair_files as it was before the compact listing (a dict of every mask's keys):
    the oracle the folder-at-a-time pairing must agree with."""

    def key_of(stem: str) -> str:
        if pair_key is not None:
            m = pair_key.search(stem)
            key = m.group(1) if m is not None and pair_key.groups else None
            if key is not None:
                return key
        return stem

    def mask_keys(p: Path) -> list[str]:
        keys = [key_of(image_stem(p.name))]
        if pair_key is None:
            stripped = _strip(image_stem(p.name), MASK_STEM_VARIANTS)
            if stripped is not None:
                keys.insert(0, stripped)
        return keys

    def image_keys(p: Path) -> list[str]:
        keys = [key_of(image_stem(p.name))]
        if pair_key is None:
            stripped = _strip(image_stem(p.name), IMAGE_STEM_VARIANTS)
            if stripped is not None:
                keys.append(stripped)
        return keys

    by_rel: dict[tuple[str, str], Path] = {}
    by_key: dict[str, list[Path]] = {}
    for m in masks:
        parent = m.parent.relative_to(mask_root).as_posix()
        for k in mask_keys(m):
            by_rel.setdefault((parent, k), m)
            by_key.setdefault(k, []).append(m)
    used: set[Path] = set()
    match: dict[Path, Path] = {}
    keys_of = {img: image_keys(img) for img in images}
    for img in images:
        parent = img.parent.relative_to(image_root).as_posix()
        for k in keys_of[img]:
            found = by_rel.get((parent, k))
            if found is not None and found not in used:
                match[img] = found
                used.add(found)
                break
    left = [img for img in images if img not in match]
    left_keys = Counter(k for img in left for k in dict.fromkeys(keys_of[img]))
    for img in left:
        for k in keys_of[img]:
            if left_keys[k] != 1:
                continue
            candidates = [c for c in dict.fromkeys(by_key.get(k, ())) if c not in used]
            if len(candidates) == 1:
                match[img] = candidates[0]
                used.add(candidates[0])
                break
    pairs = [PairPaths(img, match.get(img)) for img in images]
    return pairs + [PairPaths(None, m) for m in masks if m not in used]


@pytest.mark.parametrize("seed", range(40))
def test_pairing_a_folder_at_a_time_agrees_with_pairing_the_whole_tree(seed: int) -> None:
    rng = random.Random(seed)
    iroot, mroot = Path("/d/images"), Path("/d/masks")
    folders = ["", "a", "a/b", "c"]
    stems = ["x", "y", "z", "img_1", "img_2", "0001"]
    images, masks = set(), set()
    for _ in range(rng.randint(0, 25)):
        f, s = rng.choice(folders), rng.choice(stems)
        suffix = rng.choice(["", "_img", "_rgb"])
        images.add(iroot / f / f"{s}{suffix}.{rng.choice(['png', 'jpg'])}")
    for _ in range(rng.randint(0, 25)):
        f, s = rng.choice(folders), rng.choice(stems)
        masks.add(mroot / f / f"{s}{rng.choice(['', '_mask', '-gt', '_labels'])}.png")
    key = compile_key(r"(\d+)") if seed % 4 == 0 else None
    image_list, mask_list = sorted(images), sorted(masks)
    got = pair_files(image_list, iroot, mask_list, mroot, key)
    expected = _reference_pairs(image_list, iroot, mask_list, mroot, key)
    assert list(got) == expected
    assert len(got) == len(expected) and [got[i] for i in range(len(got))] == expected
    assert got == tuple(expected)


def _png(path: Path, value: int, mask: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mask:
        Image.fromarray(np.full((8, 8), value % 3, np.uint8)).save(path)
    else:
        rng = np.random.default_rng(value)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)


def test_a_file_two_splits_hold_is_one_task_of_the_first_split_in_every_shard(
    tmp_path: Path,
) -> None:
    root = tmp_path / "d"
    for i in range(6):
        _png(root / "images" / f"{i}.png", i)
        _png(root / "masks" / f"{i}.png", i, mask=True)
    images, masks = root / "images", root / "masks"
    splits = [f"train:{images}:{masks}", f"val:{images}:{masks}"]
    plan = plan_for_api(root, None, {"splits": splits, "num_classes": 3})
    tasks = PlannedTasks(plan)
    listed = list(tasks)
    assert len(tasks) == len(listed) == 12
    assert {t.split for t in listed} == {"train"}
    assert [(t.rel, t.kind) for t in listed] == [
        (f"{folder}/{i}.png", kind)
        for i in range(6)
        for folder, kind in (("images", FileKind.IMAGE), ("masks", FileKind.MASK))
    ]
    assert list(plan_tasks(plan).values()) == listed
    # each shard audits the files of its pairs; every file is audited by some shard
    seen: Counter[tuple[str, FileKind]] = Counter()
    for i in (1, 2, 3):
        shard = plan_for_api(root, None, {"splits": splits, "num_classes": 3, "shard": (i, 3)})
        part = PlannedTasks(shard)
        assert len(part) == len(list(part))
        seen.update((t.rel, t.kind) for t in part)
        assert all(t.split == "train" for t in part)
    assert set(seen) == {(t.rel, t.kind) for t in listed}


def test_the_listing_of_a_tree_costs_tens_of_bytes_a_file(tmp_path: Path) -> None:
    """Bytes, not time: the walk and the pairing of 4,000 files hold under 80 bytes a file
    once done and peak under 400 while pairing (Paths and a dict of every mask: about
    1,000 and 670)."""
    root = tmp_path / "d"
    for split in ("train", "val"):
        for d in range(4):
            for folder in ("images", "masks"):
                (root / folder / split / f"{d:02d}").mkdir(parents=True)
    for i in range(2000):
        split, d = ("val" if i % 10 == 0 else "train"), i % 4
        (root / "images" / split / f"{d:02d}" / f"{i:07d}.png").write_bytes(b"")
        (root / "masks" / split / f"{d:02d}" / f"{i:07d}.png").write_bytes(b"")
    plan_for_api(root, None, {"num_classes": 3})  # the imports, before counting
    tracemalloc.start()
    try:
        plan = plan_for_api(root, None, {"num_classes": 3})
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(len(s.pairs) for s in plan.layout.splits) == 2000
    assert held / 4000 < 80, held / 4000
    assert peak / 4000 < 400, peak / 4000
