"""The pipeline's shape: one merge, one options table, the stages' boundaries, the cache key,
and a scan that leaves its caller's process as it found it."""

from __future__ import annotations

import ast
import json
import math
import os
import re
from dataclasses import fields as dataclasses_fields
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_pairs, pair_of, save, scan
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import nanaudit
from nanaudit import options as options_mod
from nanaudit.aggregate import SplitStats, split_stats
from nanaudit.cli import cli
from nanaudit.records import FileKind, Pair
from nanaudit.rules import LabelRules
from nanaudit.schemagen import SCHEMA_FILE, dumps, report_schema

PACKAGE = Path(nanaudit.__file__).parent


# --------------------------------------------------------------------------- one merge


def _random_pair(seed: int, kind: int) -> Pair:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(4, 12)), int(rng.integers(4, 12)))
    if kind == 0:
        image: np.ndarray = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    elif kind == 1:
        image = rng.normal(0, 1, shape).astype(np.float32)
        image[0, 0] = np.nan
    else:
        image = rng.integers(0, 4000, shape, dtype=np.uint16)
    mask = rng.choice(np.array([0, 1, 2, 255], np.uint8), shape)
    return pair_of(image, mask if seed % 3 else None, f"f{seed:03d}")


def _same(a: SplitStats, b: SplitStats) -> None:
    for name in SplitStats.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        if name == "groups":
            assert [k for k, _ in x] == [k for k, _ in y]
            for (_, g), (_, h) in zip(x, y, strict=True):
                assert g.images == h.images
                for c, d in zip(g.channels, h.channels, strict=True):
                    assert (c.count, c.nan, c.inf, c.zeros, c.min, c.max) == (
                        d.count,
                        d.nan,
                        d.inf,
                        d.zeros,
                        d.min,
                        d.max,
                    )
                    assert math.isclose(c.mean, d.mean, rel_tol=1e-12, abs_tol=1e-12)
                    assert math.isclose(c.m2, d.m2, rel_tol=1e-9, abs_tol=1e-9)
        else:
            assert x == y, name


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 999), st.integers(0, 2)), min_size=1, max_size=8),
    st.data(),
)
def test_merge_of_any_partition_equals_the_whole(
    specs: list[tuple[int, int]], data: st.DataObject
) -> None:
    pairs = [_random_pair(seed, kind) for seed, kind in dict(specs).items()]
    rules = LabelRules(num_classes=3)
    whole = split_stats(pairs, rules, True)
    cut = data.draw(st.integers(0, len(pairs)))
    order = data.draw(st.permutations(range(len(pairs))))
    shuffled = [pairs[i] for i in order]
    left = split_stats(shuffled[:cut], rules, True)
    right = split_stats(shuffled[cut:], rules, True)
    _same(left.merge(right), whole)
    _same(SplitStats().merge(whole), whole)


# --------------------------------------------------------------------------- boundaries


def _imports(path: Path) -> set[str]:
    """The modules ``path`` imports, as absolute names below ``nanaudit``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                out.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("nanaudit")}


def test_formats_import_only_the_report_model() -> None:
    model = {"nanaudit.report", "nanaudit.records", "nanaudit.stats", "nanaudit.findings"}
    model |= {"nanaudit.severity", "nanaudit.paths", "nanaudit.rules"}  # leaves of the model
    for path in (PACKAGE / "formats").glob("*.py"):
        inside = {m for m in _imports(path) if not m.startswith("nanaudit.formats")}
        assert inside <= model, (path.name, inside - model)


# The decoder says which of its two failures a file met (NA001 unreadable, NA002
# oversized): the record's DecodeError names the check. Nothing else outside checks/ does.
NAMES_DECODE_FAILURES = {
    *("decode/__init__.py", "decode/readers.py", "decode/reduce.py", "pool.py"),
    *("decode/nifti.py", "decode/geotiff.py"),  # the volume and multi-band readers
    "samples/audit.py",  # a value that cannot be read as an array is an unreadable file
}


def test_only_the_checks_know_the_checks() -> None:
    """What the gallery highlights, the order of the worst first, whether a check applies
    to drawn samples and how its data reads are declared with the check: no module outside
    checks/ names a check ID in its code (messages and comments may), nor reads a finding's
    data by key."""
    check_id = re.compile(r"NA\d{3}")
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("checks/") or rel in NAMES_DECODE_FAILURES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not check_id.fullmatch(node.value), (rel, node.lineno, node.value)
            if isinstance(node, ast.Subscript | ast.Call):
                target = node.value if isinstance(node, ast.Subscript) else node.func
                if isinstance(target, ast.Attribute) and target.attr == "get":
                    target = target.value
                assert not (isinstance(target, ast.Attribute) and target.attr == "data"), (
                    rel,
                    node.lineno,
                )


def test_nothing_below_the_cli_prints_or_exits() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.name in ("cli.py", "entry.py", "__main__.py", "schemagen.py", "docsgen.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("print", "exit", "quit"), path
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) != ("sys", "exit"), path
            if isinstance(node, ast.Raise) and node.exc is not None:
                name = getattr(node.exc, "func", node.exc)
                assert getattr(name, "id", "") != "SystemExit", path


def test_the_stages_import_downstream_only() -> None:
    """Data flows one way: a stage never imports one that runs after it."""
    order = [
        "nanaudit.options",
        "nanaudit.plan",
        "nanaudit.collect",
        "nanaudit.aggregate",
        "nanaudit.checks.run",
        "nanaudit.summarise",
        "nanaudit.pipeline",
        "nanaudit.cli",
    ]
    for i, stage in enumerate(order):
        path = PACKAGE / (stage.removeprefix("nanaudit.").replace(".", "/") + ".py")
        later = set(order[i + 1 :])
        assert not (_imports(path) & later), (stage, _imports(path) & later)


def _module_graph() -> dict[str, set[str]]:
    """Every module of the package and the modules it imports (a name imported from a
    package counts as its submodule when it is one), function-level imports included.
    The package itself is left out: its __init__ is the API, and its modules import only
    __version__ from it, which is set before any import."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        out: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or node.module):
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
                if not node.level:
                    source = node.module or ""
                subs = {f"{source}.{a.name}" for a in node.names} & modules.keys()
                out |= subs or ({source} & modules.keys())
            elif isinstance(node, ast.Import):
                out |= {a.name for a in node.names} & modules.keys()
        graph[name] = out - {name, "nanaudit"}
    return graph


def test_no_import_cycle_outside_the_check_registry() -> None:
    graph = _module_graph()
    assert "nanaudit.layouts.pairing" in graph["nanaudit.layouts.survey"]

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph[todo.pop()] - seen:
                seen.add(nxt)
                todo.append(nxt)
        return seen

    # the registry imports its check modules to register them; they import the registry
    allowed = {m for m in graph if m.startswith("nanaudit.checks.") and m != "nanaudit.checks.run"}
    cycles = sorted(m for m in graph if m not in allowed and m in reach(m))
    assert not cycles, cycles


def test_the_shipped_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == dumps(report_schema())


# --------------------------------------------------------------------------- one options table


def test_every_option_is_a_flag_a_variable_a_config_key_and_a_schema_entry(
    tmp_path: Path,
) -> None:
    helps = {
        command: CliRunner().invoke(cli, [command, "--help"], terminal_width=200).output
        for command in ("scan", "samples")
    }
    schema = report_schema()["properties"]["config"]["properties"]
    root = make_pairs(tmp_path / "d", 2)
    doc = json.loads(
        CliRunner().invoke(cli, ["scan", str(root), "--format", "json", "--no-cache"]).stdout
    )
    for option in options_mod.table():
        for command in option.commands:  # the commands that take it as a flag
            if option.flag is not None:
                assert option.flag.split("/")[0] in helps[command], (option.key, command)
            if option.env_name is not None:
                assert option.env_name in helps[command], (option.key, command)
        if option.reported:  # the scan's report states the options a scan reads
            assert option.key in schema, option.key
            assert (option.key in doc["config"]) == ("scan" in option.commands), option.key
    for group in options_mod.GROUPS.values():
        assert any(group in help_text for help_text in helps.values()), group


@pytest.mark.parametrize(
    "source",
    ["flag", "variable", "config", "api"],
)
def test_one_option_from_every_source(tmp_path: Path, source: str) -> None:
    root = make_pairs(tmp_path / "d", 2)
    cfg = tmp_path / "nanaudit.toml"
    env = {"NANAUDIT_NUM_CLASSES": ""}
    args = ["scan", str(root), "--format", "json", "--no-cache"]
    if source == "flag":
        args += ["--num-classes", "7"]
    elif source == "variable":
        env["NANAUDIT_NUM_CLASSES"] = "7"
    elif source == "config":
        cfg.write_text("num_classes = 7\n")
        args += ["--config", str(cfg)]
    if source == "api":
        assert nanaudit.scan(root, num_classes=7).labels.num_classes == 7
        return
    doc = json.loads(CliRunner().invoke(cli, args, env=env).stdout)
    assert doc["config"]["num_classes"] == 7


def test_flags_beat_variables_beat_the_config_file(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 2)
    cfg = tmp_path / "nanaudit.toml"
    cfg.write_text("num_classes = 5\nbatch_size = 3\nfail_on = 'info'\n")
    env = {"NANAUDIT_NUM_CLASSES": "6", "NANAUDIT_BATCH_SIZE": "4"}
    args = ["scan", str(root), "--format", "json", "--no-cache", "--config", str(cfg)]
    doc = json.loads(CliRunner().invoke(cli, [*args, "-C", "7"], env=env).stdout)
    assert (doc["config"]["num_classes"], doc["config"]["batch_size"]) == (7, 4)
    assert doc["config"]["fail_on"] == "info"


def test_bad_values_name_the_flag_the_variable_or_the_key(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 1)
    runner = CliRunner()
    r = runner.invoke(cli, ["scan", str(root), "--num-classes", "0"])
    assert r.exit_code == 2 and "--num-classes" in r.stderr
    r = runner.invoke(cli, ["scan", str(root)], env={"NANAUDIT_BATCH_SIZE": "x"})
    assert r.exit_code == 2 and "NANAUDIT_BATCH_SIZE" in r.stderr
    cfg = tmp_path / "c.toml"
    cfg.write_text("[checks.NA203]\nmin_valid_fraction = 5\n")
    r = runner.invoke(cli, ["scan", str(root), "--config", str(cfg)])
    assert r.exit_code == 2 and "min_valid_fraction" in r.stderr
    cfg.write_text("[checks.NA104]\nmin_std_ratio = nan\n")
    r = runner.invoke(cli, ["scan", str(root), "--config", str(cfg)])
    assert r.exit_code == 2 and "finite" in r.stderr


def test_api_checks_override_keeps_the_config_files_thresholds(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 2)
    cfg = tmp_path / "nanaudit.toml"
    cfg.write_text("[checks.NA104]\nmin_std_ratio = 0.02\n")
    report = nanaudit.scan(root, config=cfg, checks={"NA104": {"severity": "error"}})
    entry = report.config["checks"]["NA104"]
    assert entry["min_std_ratio"] == 0.02 and entry["severity"] == "error"


# --------------------------------------------------------------------------- cache and process


def test_a_warm_run_imports_neither_pillow_nor_the_pool(tmp_path: Path) -> None:
    """What docs/guides/speed.md says: a run served from the cache imports neither
    Pillow (nor the decoders) nor the process pool's modules."""
    import subprocess
    import sys

    root = make_pairs(tmp_path / "d", 3)
    code = (
        "import sys; from nanaudit.cli import main; code = main(sys.argv[1:]); "
        "print(*(m in sys.modules for m in ('PIL', 'nanaudit.decode', 'multiprocessing')), "
        "file=sys.stderr)"
    )
    args = [sys.executable, "-c", code, "scan", str(root), "--cache-dir", str(tmp_path / "c")]
    args += ["--format", "json", "-j", "2"]
    cold = subprocess.run(args, capture_output=True, text=True, check=True)
    warm = subprocess.run(args, capture_output=True, text=True, check=True)
    assert cold.stderr.split()[-3:-1] == ["True", "True"]  # the test can tell
    assert warm.stderr.split()[-3:] == ["False", "False", "False"]
    assert warm.stdout == cold.stdout


def test_a_cold_run_with_jobs_starts_the_pools_server_before_the_listing(
    tmp_path: Path,
) -> None:
    """The pool's server loads while the files are listed (pool.prestart), when the run
    cannot be served from a cache; a run with one job, or beside an existing cache, starts
    none (three pairs decode in this process, so only the early start can have started it)."""
    import subprocess
    import sys

    root = make_pairs(tmp_path / "d", 3)
    code = (
        "import sys; from nanaudit.cli import main; main(sys.argv[1:]); "
        "from multiprocessing import forkserver; "
        "print(forkserver._forkserver._forkserver_pid is not None, file=sys.stderr)"
    )
    base = [sys.executable, "-c", code, "scan", str(root), "--format", "json"]

    def started(*extra: str) -> str:
        run = subprocess.run([*base, *extra], capture_output=True, text=True, check=True)
        return run.stderr.split()[-1]

    assert started("-j", "2", "--no-cache") == "True"
    assert started("-j", "1", "--no-cache") == "False"
    assert started("-j", "2", "--cache-dir", str(tmp_path / "c")) == "True"  # a new cache
    assert started("-j", "2", "--cache-dir", str(tmp_path / "c")) == "False"  # it exists


def test_chunks_cover_the_tasks_in_order_and_shrink_towards_the_end() -> None:
    from nanaudit.pool import CHUNK, Task, chunks_of

    tasks = [Task(Path(f"{i}.png"), f"{i}.png", FileKind.IMAGE, "train") for i in range(2000)]
    chunks = list(chunks_of(iter(tasks), 2, len(tasks)))  # an iterator: taken as it goes
    assert [t for c in chunks for t in c] == tasks
    sizes = [len(c) for c in chunks]
    assert max(sizes) == CHUNK and sizes[0] == CHUNK
    assert sizes == sorted(sizes, reverse=True)  # never larger than the one before
    assert sizes[-8:] == [1] * 8  # the workers run out of work a file apart
    assert list(chunks_of(tasks[:5], 4, 5)) == [tasks[i : i + 1] for i in range(5)]
    assert list(chunks_of(tasks[:5], 4, 9)) == [tasks[i : i + 1] for i in range(5)]  # fewer


def test_selection_and_thresholds_are_served_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nanaudit.decode as decode

    root = make_pairs(tmp_path / "d", 4)
    cache = tmp_path / "cache"
    calls: list[str] = []
    real = decode.read

    def counting(path: Path, limits: object, *kind: object) -> object:
        calls.append(path.name)
        return real(path, limits, *kind)  # type: ignore[arg-type]

    monkeypatch.setattr(decode, "read", counting)
    first = nanaudit.scan(root, cache_dir=cache)
    assert len(calls) == 8
    nanaudit.scan(root, cache_dir=cache, select=["NA1"], ignore=["NA104"])
    nanaudit.scan(root, cache_dir=cache, checks={"NA209": {"max_fraction": 0.0005}})
    again = nanaudit.scan(root, cache_dir=cache)
    assert len(calls) == 8, "a changed selection or threshold decoded files again"
    assert again.findings == first.findings
    nanaudit.scan(root, cache_dir=cache, max_pixels=10_000)  # a decode limit shapes records
    assert len(calls) == 16


def test_the_cache_key_follows_the_record_types_and_the_reduction_code(
    tmp_path: Path,
) -> None:
    """No number to bump by hand: a new field in a record type (a new statistic), a field
    the JSON report leaves out but the cache stores, or an edit of the code that reduces a
    file to its record each give the records another key."""
    from dataclasses import dataclass, field

    from nanaudit.cache import REDUCTION_MODULES, record_key, source_hash
    from nanaudit.records import DecodeLimits, FileRecord

    limits = DecodeLimits()
    base = record_key(limits)
    assert base == record_key(limits, FileRecord)

    @dataclass(frozen=True, slots=True)
    class WithStatistic(FileRecord):
        saturated: int = 0

    @dataclass(frozen=True, slots=True)
    class WithCachedOnly(FileRecord):
        grid: str = field(default="", metadata={"report": False})

    @dataclass(frozen=True, slots=True)
    class WithRetypedField(FileRecord):
        width: float = 0.0  # an int in FileRecord

    keys = {base, *(record_key(limits, t) for t in (WithStatistic, WithCachedOnly))}
    keys.add(record_key(limits, WithRetypedField))
    assert len(keys) == 4
    assert record_key(limits, reduction="another") != base

    assert {"decode/reduce.py", "records.py"} <= set(REDUCTION_MODULES)
    assert all((PACKAGE / name).is_file() for name in REDUCTION_MODULES)
    module = tmp_path / "reduce.py"
    module.write_text("LIMIT = 1\n")
    before = source_hash(["reduce.py"], tmp_path)
    module.write_text("LIMIT = 2\n")
    assert source_hash(["reduce.py"], tmp_path) != before


def test_the_command_line_serves_everything_but_decode_limits_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache key is what shapes a record (cache.limits_key: the decode limits, the record
    types, the reduction code): selection,
    thresholds, label conventions, formats and severities, by flag, variable or config
    file, are all answered from the cached records, and the findings follow the options."""
    import nanaudit.decode as decode
    from nanaudit.cache import limits_key
    from nanaudit.records import DecodeLimits

    keyed = [f.name for f in dataclasses_fields(DecodeLimits) if f.name not in DecodeLimits.UNKEYED]
    assert keyed == ["max_pixels", "image_reader", "mask_reader"]
    assert limits_key(DecodeLimits()) != limits_key(DecodeLimits(max_pixels=10))
    assert limits_key(DecodeLimits()) != limits_key(DecodeLimits(mask_reader="cv2-gray"))
    assert limits_key(DecodeLimits()) == limits_key(DecodeLimits(max_memory=1 << 30))
    root = make_pairs(tmp_path / "d", 3)
    reads: list[str] = []
    real = decode.read

    def counting(path: Path, limits: object, *kind: object) -> object:
        reads.append(path.name)
        return real(path, limits, *kind)  # type: ignore[arg-type]

    monkeypatch.setattr(decode, "read", counting)
    cfg = tmp_path / "elsewhere" / "nanaudit.toml"  # not found upward from the data
    cfg.parent.mkdir()
    cfg.write_text('[checks.NA104]\nmin_std_ratio = 0.9\nseverity = "error"\n')
    base = ["scan", str(root), "--cache-dir", str(tmp_path / "cache"), "--format", "json"]

    def findings(*extra: str, env: dict[str, str] | None = None) -> list[str]:
        result = CliRunner().invoke(cli, [*base, *extra], env=env)
        assert result.exit_code in (0, 1), result.output
        return sorted(f["check"] for f in json.loads(result.stdout)["findings"])

    assert findings() == []
    assert len(reads) == 6
    assert findings("--config", str(cfg)) == ["NA104"] * 3  # a threshold and a severity
    assert findings("--config", str(cfg), "--ignore", "NA104") == []
    assert findings("-C", "2", "--select", "NA201") == ["NA201"] * 3  # label 2 is out of C
    assert findings("--label-offset", "5", "-C", "3", "--ignore-index", "none") != []
    assert findings("--fail-on", "info", "--jobs", "2", env={"NANAUDIT_NUM_CLASSES": "2"}) != []
    assert len(reads) == 6, "an option that does not shape records decoded files again"
    findings("--max-pixels", "100")  # a decode limit shapes records: decoded again
    assert len(reads) == 12
    findings("--mask-reader", "cv2-gray")  # so does a reader: what it yields is the record
    assert len(reads) == 18
    findings("--mask-reader", "cv2-gray")
    assert len(reads) == 18


def test_a_scan_leaves_the_callers_process_as_it_found_it(tmp_path: Path) -> None:
    root = tmp_path / "d"
    for i in range(30):  # 60 files: the pool runs
        save(root / "images" / f"{i}.png", np.full((8, 8), i, np.uint8))
        save(root / "masks" / f"{i}.png", np.zeros((8, 8), np.uint8))
    pixels_before = Image.MAX_IMAGE_PIXELS
    env_before = dict(os.environ)
    report = nanaudit.scan(root, jobs=2, max_pixels=10_000)
    assert report.splits[0].pairs == 30
    assert pixels_before == Image.MAX_IMAGE_PIXELS
    assert dict(os.environ) == env_before


# --------------------------------------------------------------------------- defects fixed


def _pets(root: Path) -> Path:
    for name in ("Abyssinian_1", "Bengal_2", "Birman_3", "Bombay_4"):
        save(root / "images" / f"{name}.jpg", np.full((16, 16, 3), 90, np.uint8))
        save(root / "annotations" / "trimaps" / f"{name}.png", np.full((16, 16), 1, np.uint8))
    (root / "annotations" / "trainval.txt").write_text("Abyssinian_1 1 1 1\nBengal_2 2 1 1\n")
    (root / "annotations" / "test.txt").write_text("Birman_3 3 1 1\nBombay_4 4 1 1\n")
    return root


def test_unlabeled_split_names_match_case_insensitively_in_presets(tmp_path: Path) -> None:
    report = scan(_pets(tmp_path / "pets"), unlabeled_splits=["TEST"])
    test = next(s for s in report.splits if s.name == "test")
    assert not test.labeled
    assert {f.severity.label for f in report.findings if f.check == "NA003"} == {"info"}


def test_the_one_split_of_a_list_less_preset_honours_unlabeled(tmp_path: Path) -> None:
    root = _pets(tmp_path / "pets")
    for name in ("trainval.txt", "test.txt"):
        (root / "annotations" / name).unlink()
    report = scan(root, unlabeled_splits=["all"])
    assert [s.labeled for s in report.splits] == [False]
