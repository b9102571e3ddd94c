"""The duplicate checks' columns (signatures.py) against the implementation they replace.

Until issue 25, every image's ImageSignature stayed in a sorted tuple per split and NA305,
NA306 and NA307 grouped them in dicts of objects. ``reference_*`` below is that code, kept
here (not in the package) as the oracle: the columns, fed one image at a time, merged in
any order and serialised, must give the same groups and the same findings.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from conftest import check_hits, natural_image, pair_of, record_of_array
from PIL import Image

from nanaudit.aggregate import SIGNATURES, content_key, split_stats
from nanaudit.checks.dataset import MAX_NAMED, SEARCHED_PAIRS, near_duplicate_candidates
from nanaudit.neardup import band_plan, group_near_duplicates, popcount64, same_picture
from nanaudit.records import CodecError, Pair, decode, encode
from nanaudit.rules import LabelRules
from nanaudit.signatures import (
    ImageSignature,
    Signatures,
    exact_groups,
    near_groups,
    repeated,
    signatures_of,
)

# --------------------------------------------------------------------------- the oracle


def reference_exact_groups(
    splits: Sequence[Sequence[ImageSignature]],
) -> list[list[ImageSignature]]:
    groups: dict[str, list[ImageSignature]] = defaultdict(list)
    for sigs in splits:
        for sig in sigs:
            if sig.content:
                groups[sig.content].append(sig)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0].path)


def reference_near_groups(
    splits: Sequence[Sequence[ImageSignature]], max_distance: int
) -> list[list[ImageSignature]]:
    """Every pair compared (no bands): the groups linked by distance ≤ max_distance."""
    images = [sig for sigs in splits for sig in sigs if not sig.flat]
    if len(images) < 2:
        return []
    h = np.array([s.phash for s in images], dtype=np.uint64)
    parent = list(range(len(images)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(images) - 1):
        close = np.flatnonzero(popcount64(h[i] ^ h[i + 1 :]) <= max_distance) + i + 1
        for j in close.tolist():
            a, b = root(i), root(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(images)):
        groups[root(i)].append(i)
    found = sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])
    return [[images[i] for i in g] for g in found]


def _names(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:MAX_NAMED])
    return shown + (f" and {len(paths) - MAX_NAMED} more" if len(paths) > MAX_NAMED else "")


def reference_findings(
    splits: Sequence[Sequence[ImageSignature]], max_distance: int = 5, min_similarity: float = 0.7
) -> Iterator[tuple[str, str, str, str | None]]:
    """(ID, message, path, split) of NA305, NA306 and NA307 as they were computed."""
    exact = reference_exact_groups(splits)
    for group in exact:
        by_split: dict[str, list[str]] = defaultdict(list)
        for r in group:
            by_split[r.split].append(r.path)
        for split, paths in sorted(by_split.items()):
            if len(paths) > 1:
                yield ("NA305", f"{len(paths)} identical images: {_names(paths)}", paths[0], split)
    for group in exact:
        names = sorted({r.split for r in group})
        if len(names) > 1:
            paths = [r.path for r in group]
            yield (
                "NA306",
                f"identical image in splits {', '.join(names)}: {_names(paths)}",
                paths[0],
                None,
            )
    images = [sig for sigs in splits for sig in sigs if not sig.flat]
    place = {id(sig): i for i, sig in enumerate(images)}
    budget = [SEARCHED_PAIRS]
    confirmed: list[list[int]] = []
    for candidate in reference_near_groups(splits, max_distance):
        idx = [place[id(sig)] for sig in candidate]
        parent = {i: i for i in idx}

        def root(i: int, parent: dict[int, int] = parent) -> int:
            while parent[i] != i:
                i = parent[i]
            return i

        for k, i in enumerate(idx):
            for j in idx[k + 1 :]:
                if root(i) == root(j):
                    continue
                search = budget[0] > 0
                a, b = images[i].detail, images[j].detail
                score = same_picture(a, b, search=search, enough=min_similarity)
                if score is not None and search and score < min_similarity:
                    budget[0] -= 1
                if score is None or score >= min_similarity:
                    parent[max(root(i), root(j))] = min(root(i), root(j))
        parts: dict[int, list[int]] = defaultdict(list)
        for i in idx:
            parts[root(i)].append(i)
        confirmed.extend(p for p in parts.values() if len(p) > 1)
    for idx in sorted(confirmed, key=lambda g: g[0]):
        group = [images[i] for i in idx]
        if len({r.content or r.path for r in group}) < 2:
            continue
        paths = [r.path for r in group]
        names = sorted({r.split for r in group})
        across = len(names) > 1
        yield (
            "NA307",
            f"{len(group)} near-identical images"
            + (f" across splits {', '.join(names)}" if across else "")
            + f": {_names(paths)}",
            paths[0],
            None if across else names[0],
        )


# --------------------------------------------------------------------------- synthetic rows


def flip(h: int, rng: random.Random, bits: int) -> int:
    for b in rng.sample(range(64), bits):
        h ^= 1 << b
    return h


def planted(seed: int, n: int = 1500) -> list[list[ImageSignature]]:
    """Three splits of rows: unique images, exact copies within and across splits (some
    with hashes a bit apart: another phash of the same pixels cannot happen, but the
    columns must not care), chains of near copies (distance ≤ 5, and 6: not linked),
    flat images sharing one hash, odd path characters, and details on some rows."""
    rng = random.Random(seed)
    names = ["train", "val", "test"]
    rows: list[ImageSignature] = []
    odd = ["", " ", "é", "\n", '"', "\\", "\udcff", "日本", "\t"]

    def path(i: int) -> str:
        return f"images/{rng.choice(['a', 'b', 'c'])}{rng.choice(odd)}/{i:05d}.png"

    i = 0
    while len(rows) < n:
        i += 1
        kind = rng.random()
        split = rng.choice(names)
        h = rng.getrandbits(64)
        detail = f"d{i}" if rng.random() < 0.2 else ""
        if kind < 0.6:
            content = f"c{i}" if rng.random() < 0.5 else ""
            rows.append(ImageSignature(path(i), split, content, h, False, detail))
        elif kind < 0.75:  # exact copies: 2-4 of one content
            for k in range(rng.randint(2, 4)):
                rows.append(
                    ImageSignature(path(i * 10 + k), rng.choice(names), f"dup{i}", h, False, "")
                )
        elif kind < 0.9:  # a chain of near copies
            for k in range(rng.randint(2, 5)):
                h = flip(h, rng, rng.randint(0, 6))
                content = f"n{i}.{k}" if rng.random() < 0.5 else ""
                rows.append(ImageSignature(path(i * 10 + k), split, content, h, False, detail))
        else:  # flat: one hash for every flat picture, never a near copy
            content = f"flat{rng.randint(0, 3)}"
            rows.append(ImageSignature(path(i), split, content, 0, True, ""))
    by_split: dict[str, dict[str, ImageSignature]] = {s: {} for s in names}
    for sig in rows:
        by_split[sig.split].setdefault(sig.path, sig)  # a split lists a file once
    return [sorted(by_split[s].values()) for s in names]


def columns(rows: Sequence[ImageSignature], seed: int, parts: int = 5) -> Signatures:
    """``rows`` cut into ``parts`` shuffled parts, each folded one row at a time, merged in
    a random order (as shards or workers would)."""
    rng = random.Random(seed)
    shuffled = list(rows)
    rng.shuffle(shuffled)
    cuts = sorted(rng.sample(range(1, len(shuffled)), parts - 1)) if len(shuffled) > parts else []
    pieces = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    frozen = [signatures_of(p) for p in pieces]
    rng.shuffle(frozen)
    acc = SIGNATURES.start()
    for f in frozen:
        SIGNATURES.add(acc, f)
    result: Signatures = SIGNATURES.freeze(acc)
    return result


def plain(groups: Sequence[Sequence[ImageSignature]]) -> list[list[tuple[str, str, int, bool]]]:
    return [[(s.path, s.split, s.phash, s.flat) for s in g] for g in groups]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_groups_equal_the_reference_in_any_merge_order(seed: int) -> None:
    splits = planted(seed)
    parts = [columns(rows, seed * 7 + k) for k, rows in enumerate(splits)]
    assert [p.count for p in parts] == [len(r) for r in splits]
    exact = exact_groups(parts)
    assert exact, "the corpus plants exact copies"
    assert plain(exact) == plain(reference_exact_groups(splits))
    for distance in (0, 3, 5, 8):
        near = [[sig for _, sig in g] for g in near_groups(parts, distance)]
        assert plain(near) == plain(reference_near_groups(splits, distance))


def test_many_blocks_and_small_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths in blocks of 7: parts below half a block are reopened, larger ones kept."""
    monkeypatch.setattr("nanaudit.signatures.BLOCK_ROWS", 7)
    splits = planted(5, 400)
    parts = [columns(rows, k, parts=40) for k, rows in enumerate(splits)]
    assert max(len(p.blocks) for p in parts) > 10
    assert [sorted(s.path for s in p.rows()) for p in parts] == [
        sorted(s.path for s in r) for r in splits
    ]
    assert plain(exact_groups(parts)) == plain(reference_exact_groups(splits))


def test_merge_is_associative_and_equality_is_of_multisets() -> None:
    rows = planted(9, 600)[0]
    a, b, c = (signatures_of(rows[k::3]) for k in range(3))

    def merged(*parts: Signatures) -> Signatures:
        acc = SIGNATURES.start()
        for p in parts:
            SIGNATURES.add(acc, p)
        out: Signatures = SIGNATURES.freeze(acc)
        return out

    whole = signatures_of(rows)
    assert merged(merged(a, b), c) == merged(a, merged(b, c)) == merged(c, a, b) == whole
    assert merged(a, b) != whole
    changed = [*rows[:-1], ImageSignature(rows[-1].path, rows[-1].split, "x", 1, False)]
    assert signatures_of(changed) != whole
    assert merged(Signatures(), whole, Signatures()) == whole


def test_codec_round_trip_and_damage() -> None:
    rows = planted(4, 300)[1]
    sigs = signatures_of(rows)
    back = decode(Signatures, encode(sigs))
    assert back == sigs
    assert list(back.rows()) == list(sigs.rows())
    data = encode(sigs)
    for name, value in (
        ("count", sigs.count + 1),
        ("flags", encode(b"\x07" * sigs.count)),
        ("split", encode(b"\xff\xff" * sigs.count)),
        ("content", encode(sigs.content[:-1])),
        ("block_rows", encode(b"")),
        ("phash", "not base64!"),
    ):
        with pytest.raises(CodecError):
            decode(Signatures, {**data, name: value})
    bomb = {**data, "blocks": [encode(b"x\x9c" + b"\x00" * 10)] * len(sigs.blocks)}
    damaged = decode(Signatures, bomb)  # lengths agree: the block fails when opened
    with pytest.raises(ValueError, match="damaged"):
        damaged.block(0)


def test_memory_per_image_is_tens_of_bytes() -> None:
    rng = random.Random(0)
    rows = [
        ImageSignature(f"train/images/{i:08d}.png", "train", "", rng.getrandbits(64), False)
        for i in range(20_000)
    ]
    sigs = signatures_of(rows)
    held = (
        len(sigs.phash)
        + len(sigs.flags)
        + len(sigs.split)
        + len(sigs.content)
        + sum(len(b) for b in sigs.blocks)
        + len(sigs.block_rows)
    )
    assert held / sigs.count < 20  # 8 + 1 + 2 + a compressed path


# --------------------------------------------------------------------------- real records


def _jpeg(a: np.ndarray, quality: int) -> np.ndarray:
    import io

    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf))


def _corpus() -> list[tuple[str, str, list[Pair]]]:
    """Splits of real records: copies within and across splits, re-encoded copies, flat
    images (equal and not), and pictures of their own."""
    pics = [natural_image(s, (48, 48)) for s in range(8)]
    flat = np.full((48, 48, 3), 7, np.uint8)

    def rec(a: np.ndarray, name: str, split: str) -> Pair:
        path = f"images/{split}/{name}.png"
        return pair_of(record_of_array(a, path=path, split=split, content=True), None, name, split)

    train = [
        rec(pics[0], "a0", "train"),
        rec(pics[0], "a1", "train"),  # NA305
        rec(pics[1], "b0", "train"),
        rec(_jpeg(pics[1], 60), "b1", "train"),  # NA307 within
        rec(flat, "f0", "train"),
        rec(flat, "f1", "train"),  # flat copies: NA305, never NA307
        rec(pics[2], "c0", "train"),
        rec(pics[5], "e0", "train"),
    ]
    val = [
        rec(pics[2], "c1", "val"),  # NA306
        rec(_jpeg(pics[3], 50), "d1", "val"),
        rec(np.full((48, 48, 3), 9, np.uint8), "f2", "val"),
        rec(pics[6], "g0", "val"),
    ]
    test = [rec(pics[3], "d0", "test"), rec(_jpeg(pics[5], 40), "e1", "test")]  # NA307 across
    return [("train", "train", train), ("val", "val", val), ("test", "test", test)]


def _signature_rows(pairs: Sequence[Pair]) -> list[ImageSignature]:
    """What the old aggregate.py kept per image, sorted."""
    out = []
    for p in pairs:
        rec = p.image
        assert rec is not None and rec.pixels is not None
        flat = all(c.min == c.max for c in rec.pixels.channels)
        sig = ImageSignature(
            rec.path, rec.split, content_key(rec), rec.pixels.phash, flat, rec.pixels.detail
        )
        out.append(sig)
    return sorted(out)


def test_findings_equal_the_reference_on_real_records() -> None:
    corpus = _corpus()
    expected = list(
        reference_findings([_signature_rows(pairs) for _, _, pairs in corpus], max_distance=5)
    )
    got = [
        (h_id, h.message, h.path, h.split)
        for h_id in ("NA305", "NA306", "NA307")
        for h in check_hits(h_id, splits=corpus)
    ]
    assert sorted({g[0] for g in got}) == ["NA305", "NA306", "NA307"]
    assert got == expected
    assert any(g[0] == "NA307" and g[3] is None for g in got)  # across splits too


def test_the_statistics_fold_gives_the_same_columns_as_the_rows() -> None:
    (_, _, pairs), *_ = _corpus()
    stats = split_stats(pairs, LabelRules(), True)
    assert stats.signatures == signatures_of(_signature_rows(pairs))
    assert sorted(stats.signatures.rows()) != []


def test_near_duplicate_candidates_reads_records_once() -> None:
    corpus = _corpus()
    records = [p.image for _, _, pairs in corpus for p in pairs if p.image is not None]
    from nanaudit.checks.dataset import NearDuplicateOptions

    got = sorted(near_duplicate_candidates(NearDuplicateOptions(), iter(records)))
    rows = [
        ImageSignature(r.path, r.split, "", r.pixels.phash, False)  # type: ignore[union-attr]
        for r in records
        if r.pixels is not None and not all(c.min == c.max for c in r.pixels.channels)
    ]
    wanted = {s.path for g in reference_near_groups([rows], 5) for s in g}
    assert {records[i].path for i in got} == wanted
    assert len(got) == len(wanted)


# --------------------------------------------------------------------------- hash bands


def brute_force(hashes: np.ndarray, max_distance: int) -> list[list[int]]:
    rows = [ImageSignature(str(i), "s", "", int(h), False) for i, h in enumerate(hashes)]
    return [[int(s.path) for s in g] for g in reference_near_groups([rows], max_distance)]


def clustered(seed: int, n: int, max_distance: int) -> np.ndarray:
    """Random hashes, copies, near copies at distances around max_distance, chains, and a
    long run of hashes sharing their low 24 bits (a bucket of every band layout)."""
    rng = random.Random(seed)
    values = [rng.getrandbits(64) for _ in range(n)]
    for i in range(0, n // 2, 3):
        values.append(flip(values[i], rng, rng.randint(0, max_distance + 1)))
    chain = values[1]
    for _ in range(6):
        chain = flip(chain, rng, max(1, max_distance // 2))
        values.append(chain)
    low = values[2] & 0xFFFFFF
    values += [(rng.getrandbits(64) & ~0xFFFFFF) | low for _ in range(70)]
    values += [flip(values[-k], rng, min(max_distance, 2)) for k in range(1, 20)]
    rng.shuffle(values)
    return np.array(values, dtype=np.uint64)


@pytest.mark.parametrize("max_distance", [0, 1, 2, 5, 7])
def test_every_band_layout_gives_the_brute_force_groups(max_distance: int) -> None:
    """Each number of bands (1 to d + 1, looked up by table or by binary search) finds
    the same groups as comparing every pair."""
    hashes = clustered(max_distance, 300, max_distance)
    expected = brute_force(hashes, max_distance)
    assert expected
    for bands in range(1, max_distance + 2):
        if bands == 1 and max_distance > 2:
            continue  # one band of 64 bits: millions of flips, nothing new
        assert group_near_duplicates(hashes, max_distance, bands) == expected, bands
    assert group_near_duplicates(hashes, max_distance) == expected


def test_band_plans_cover_the_distance() -> None:
    """Any two hashes within d differ by at most r_i bits in some band i: the radii sum to
    at least d - B + 1, and the bands cover the 64 bits once."""
    for m in (2, 1000, 100_000, 10_000_000):
        for d in range(17):
            plan = band_plan(m, d)
            assert sum(w for _, w, _ in plan) == 64
            assert [lo for lo, _, _ in plan] == list(np.cumsum([0, *(w for _, w, _ in plan[:-1])]))
            assert sum(r for _, _, r in plan) >= d - len(plan) + 1
    assert [(w, r) for _, w, r in band_plan(10_000_000, 5)] == [(21, 1), (22, 1), (21, 1)]


def test_candidates_are_compared_a_bounded_number_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks of 5 pairs and 7 queries: long runs and lookups are cut across chunks."""
    hashes = clustered(11, 200, 3)
    expected = brute_force(hashes, 3)
    monkeypatch.setattr("nanaudit.neardup.PAIRS_PER_CHUNK", 5)
    monkeypatch.setattr("nanaudit.neardup.QUERIES_PER_CHUNK", 7)
    for bands in (2, 3, 4):
        assert group_near_duplicates(hashes, 3, bands) == expected


# --------------------------------------------------------------------------- end to end


def _framed(seed: int, radius: float = 0.25, size: int = 96) -> np.ndarray:
    """A picture in a black circular frame: pictures of one frame share their hashes."""
    y, x = np.mgrid[0:size, 0:size]
    inside = (y - size / 2) ** 2 + (x - size / 2) ** 2 <= (radius * size) ** 2
    a = natural_image(seed, (size, size)).astype(np.float64)
    a = 120 + 0.5 * (a - a.mean())
    a[~inside] = 0
    return np.clip(a, 0, 255).astype(np.uint8)


def _textured(seed: int) -> np.ndarray:
    """One smooth layout under fine noise of its own: the hashes (low frequencies) of two
    seeds lie within NA307's distance, their details do not correlate."""
    small = Image.fromarray(natural_image(4, (96, 96))).resize((12, 12))
    base = np.asarray(small.resize((96, 96), Image.Resampling.BICUBIC)).astype(np.float64)
    noise = np.random.default_rng(seed).normal(0, 8, (96, 96, 1))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _near_findings(out: str) -> list[tuple[str, tuple[str, ...]]]:
    import json

    doc = json.loads(out)
    return sorted(
        (f["check"], tuple(f["data"]["files"]))
        for f in doc["findings"]
        if f["check"] in ("NA305", "NA306", "NA307")
    )


def test_scans_read_the_candidates_details_from_their_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two noisy pictures of one layout share their hashes; only the details (read from
    the records, in memory, spilled to the record store, or merged from shards) tell them
    from a real re-encode. Every route reports the same groups."""
    from click.testing import CliRunner

    from nanaudit import store
    from nanaudit.cli import cli

    data = tmp_path / "data"
    for split in ("train", "val"):
        (data / "images" / split).mkdir(parents=True)
        (data / "masks" / split).mkdir(parents=True)
    pic = _framed(9, radius=0.4)
    pictures = {
        "train/orig": pic,
        "val/copy": _jpeg(pic, 70),
        "train/noise1": _textured(1),  # hashes 4 bits apart, details unalike
        "val/noise2": _textured(2),
        "train/other3": _framed(3),
        "val/other3": _framed(3),  # NA306
    }
    mask = np.zeros((96, 96), np.uint8)
    mask[20:60, 30:70] = 1
    for name, a in pictures.items():
        Image.fromarray(a).save(data / f"images/{name}.png")
        Image.fromarray(mask).save(data / f"masks/{name}.png")
    base = ["scan", str(data), "--no-cache", "-j", "1", "--format", "json"]

    def scan(*extra: str) -> list[tuple[str, tuple[str, ...]]]:
        result = CliRunner().invoke(cli, [*base, *extra])
        assert result.exit_code in (0, 1), result.stderr
        return _near_findings(result.stdout)

    kept = scan()
    assert kept == [
        ("NA306", ("images/train/other3.png", "images/val/other3.png")),
        ("NA307", ("images/train/orig.png", "images/val/copy.png")),
    ]
    parts = []
    for i in (1, 2):
        part = tmp_path / f"part-{i}.json"
        result = CliRunner().invoke(
            cli, ["scan", str(data), "-j", "1", "--shard", f"{i}/2", f"-opartial:{part}"]
        )
        assert result.exit_code == 0, result.stderr
        parts.append(str(part))
    merged = CliRunner().invoke(cli, ["merge", *parts, "--format", "json"])
    assert _near_findings(merged.stdout) == kept
    monkeypatch.setattr(store, "MEMORY_BUDGET", 0)
    assert scan() == kept


def test_repeated_keys_by_sorted_digests() -> None:
    """collect.py's first pass: the images whose fingerprints collide, as a dict of the
    fingerprints found them."""
    rng = random.Random(3)
    keys: list[str | None] = []
    for i in range(3000):
        r = rng.random()
        keys.append(None if r < 0.1 else f"fp{rng.randint(0, 2500)}|{'x' * (i % 7)}")
    seen: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        if k is not None:
            seen[k].append(i)
    expected = sorted(i for group in seen.values() if len(group) > 1 for i in group)
    assert expected and repeated(iter(keys)) == expected
    assert repeated([]) == [] and repeated(["a", None, "b"]) == []
    assert repeated(["a", None, "a"]) == [0, 2]
