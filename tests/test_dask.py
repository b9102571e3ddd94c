"""--executor dask on a real distributed.LocalCluster (2 worker processes on loopback,
started and stopped here): the same report as --jobs 1, a killed worker's tasks run again,
an interrupted scan leaves no task on the cluster. The test that kills a worker runs last:
the module's cluster is not waited for to restart it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import make_pairs, need_module, reports_of, sample_with_leaks

from nanaudit import cluster as cluster_mod
from nanaudit import pipeline, store
from nanaudit.cli import cli
from nanaudit.collect import plan_tasks, split_folding
from nanaudit.folding import slim
from nanaudit.plan import plan_for_api
from nanaudit.pool import run_tasks
from nanaudit.records import encode


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[tuple[str, Any]]:
    """A LocalCluster of 2 worker processes on loopback, and a client of it for the tests'
    own questions (the scans make their own)."""
    distributed = need_module("distributed")
    dask = need_module("dask")
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        client.wait_for_workers(2, timeout=60)
        client.get_task_stream()  # the scheduler records which task ran where from now on
        yield cluster.scheduler_address, client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_with_leaks(tmp_path_factory.mktemp("dask") / "data")


def _audit_keys(client: Any, since: float) -> Counter[str]:
    """How often each of nanaudit's Dask tasks ran since ``since``, by key."""
    return Counter(
        str(t["key"])
        for t in client.get_task_stream(start=since)
        if "nanaudit-audit" in str(t["key"])
    )


def test_the_cluster_gives_the_report_of_one_process(
    dask_cluster: tuple[str, Any], data: Path, tmp_path: Path
) -> None:
    address, client = dask_cluster
    one, two = tmp_path / "local.json", tmp_path / "dask.json"
    since = time.time()
    runner = CliRunner()
    local = runner.invoke(cli, ["scan", str(data), "-j", "1", "--no-cache", f"-o{one}"])
    remote = runner.invoke(
        cli,
        ["scan", str(data), "--executor", "dask", "--scheduler", address, "--no-cache", f"-o{two}"],
    )
    assert (local.exit_code, remote.exit_code) == (1, 1), remote.stderr
    assert one.read_bytes() == two.read_bytes()
    assert local.stdout == remote.stdout
    # the files were decoded on the cluster's two workers, in batches
    stream = [t for t in client.get_task_stream(start=since) if "nanaudit" in str(t["key"])]
    assert {t["worker"] for t in stream} == set(client.scheduler_info()["workers"])
    files = len(json.loads(one.read_text())["files"])
    assert 1 < len(stream) < files


def test_a_batch_travels_compressed_and_is_unpacked_within_bounds(data: Path) -> None:
    """What a worker sends back: the batch's records pickled and compressed in one piece,
    a third of their pickled size or less here (a sixth on the JPEG benchmark); unpacked
    into the same records, and refused when it inflates past its bound or does not hold
    one record per file."""
    import pickle
    import zlib

    plan = plan_for_api(data, None, {})
    tasks = list(plan_tasks(plan).values())
    blob = cluster_mod.audit_batch(tasks, plan.limits)
    records = cluster_mod.unpack_batch(blob, len(tasks))
    assert [encode(r) for r in records] == [encode(r) for r in run_tasks(tasks, plan.limits, 1)]
    assert len(blob) * 3 <= len(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
    with pytest.raises(ValueError, match="larger"):
        cluster_mod.unpack_batch(blob, len(tasks), limit=len(blob))
    with pytest.raises(ValueError, match="one record per file"):
        cluster_mod.unpack_batch(blob, len(tasks) + 1)
    with pytest.raises(ValueError, match="other than records"):
        cluster_mod.unpack_batch(zlib.compress(pickle.dumps([1] * len(tasks))), len(tasks))


def test_an_interrupted_scan_leaves_no_task_on_the_cluster(
    dask_cluster: tuple[str, Any], data: Path
) -> None:
    address, client = dask_cluster
    plan = plan_for_api(data, None, {})
    tasks = list(plan_tasks(plan).values()) * 4

    def ours(dask_scheduler: Any) -> int:
        return sum("nanaudit-audit" in str(k) for k in dask_scheduler.tasks)

    records = cluster_mod.run_tasks(tasks, plan.limits, 2, scheduler=address)
    next(records)
    assert client.run_on_scheduler(ours) > 0
    records.close()  # what Ctrl-C (KeyboardInterrupt) does to the scan's loop
    deadline = time.time() + 10
    while client.run_on_scheduler(ours) and time.time() < deadline:
        time.sleep(0.05)
    assert client.run_on_scheduler(ours) == 0


def test_an_unreachable_scheduler_is_one_line_and_exit_2(data: Path) -> None:
    dask = need_module("dask")
    # distributed's defaults join dask's config when it is imported: imported inside the
    # set() below, they would leave with it, and a LocalCluster made later in this process
    # would fail (KeyError: 'comm')
    need_module("distributed")
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    with dask.config.set({"distributed.comm.timeouts.connect": "0.3s"}):
        result = CliRunner().invoke(
            cli,
            ["scan", str(data), "--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"],
        )
    assert result.exit_code == 2
    assert "cannot reach the Dask scheduler" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_scheduler_without_the_dask_executor_is_said_to_be_unused(tmp_path: Path) -> None:
    root = make_pairs(tmp_path / "d", 2)
    args = ["scan", str(root), "--scheduler", "tcp://127.0.0.1:8786", "--no-cache", "-q"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.stderr
    assert "--scheduler names a Dask scheduler, used only with --executor dask" in result.stderr


FORMATS = ("json", "sarif", "markdown", "junit")


def _reports(out: Path, *args: str) -> dict[str, bytes]:
    return reports_of(out, FORMATS, *args)


@pytest.mark.parametrize("spilled", [False, True], ids=["in-memory", "spilled"])
def test_workers_fold_the_statistics_and_every_executor_reports_the_same_bytes(
    dask_cluster: tuple[str, Any],
    data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spilled: bool,
) -> None:
    """--jobs 2, a merge of 3 shards and Dask (whose workers fold each batch's statistics,
    the client folding none) give the reports of --jobs 1 with the records in memory, byte
    for byte, with their own records in memory or spilled to the store; so do a Dask scan
    whose records all come from the cache (folded by the client) and --report-files
    findings."""
    address, _ = dask_cluster
    scan = ("scan", str(data), "--no-cache")
    dask = ("--executor", "dask", "--scheduler", address)
    local = _reports(tmp_path / "one", *scan, "-j", "1")  # the records in memory
    if spilled:  # every scan below spills its records (the merge its parts') to disk
        monkeypatch.setattr(store, "MEMORY_BUDGET", 0)
        monkeypatch.setattr(store, "CHUNK", 3)
    assert _reports(tmp_path / "two", *scan, "-j", "2") == local
    parts = []
    for i in range(1, 4):
        parts.append(str(tmp_path / f"part-{i}.json"))
        result = CliRunner().invoke(cli, [*scan, "--shard", f"{i}/3", f"-opartial:{parts[-1]}"])
        assert result.exit_code == 0, result.output
    assert _reports(tmp_path / "merged", "merge", *parts) == local

    folded = []  # the splits a scan folded from its records in this process
    whole = pipeline.split_stats

    def counted(*args: Any, **kwargs: Any) -> Any:
        folded.append(args[0])
        return whole(*args, **kwargs)

    monkeypatch.setattr(pipeline, "split_stats", counted)
    assert _reports(tmp_path / "dask", *scan, *dask) == local
    assert folded == []  # the workers folded every split's statistics
    cache = ("scan", str(data), "--cache-dir", str(tmp_path / "cache"), *dask)
    assert _reports(tmp_path / "cold", *cache) == local
    assert _reports(tmp_path / "cached", *cache) == local
    assert folded == []
    findings = ("--report-files", "findings")
    monkeypatch.setattr(pipeline, "split_stats", whole)
    expected = _reports(tmp_path / "findings-local", *scan, *findings)
    assert _reports(tmp_path / "findings-dask", *scan, *dask, *findings) == expected
    assert expected["json"] != local["json"]


def test_the_workers_fold_the_training_scale_statistics_of_a_scan_with_a_label_transform(
    dask_cluster: tuple[str, Any], data: Path, tmp_path: Path
) -> None:
    """Crops, resizes and reduce_zero_label: the statistics that read a mask's cell grid and
    perimeters (which the records then travel without) and the label transform are the
    workers'; the reports are --jobs 1's."""
    address, _ = dask_cluster
    scan = ("scan", str(data), "--no-cache", "--reduce-zero-label")
    training = ("--crop-size", "24x24", "--resize", "16x16")
    local = _reports(tmp_path / "one", *scan, *training)
    remote = _reports(
        tmp_path / "dask", *scan, *training, "--executor", "dask", "--scheduler", address
    )
    assert remote == local
    doc = json.loads(local["json"])
    assert doc["splits"]["train"]["summary"]["at_training_scale"] is not None


def test_files_that_two_splits_hold_are_folded_into_both(
    dask_cluster: tuple[str, Any], data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Splits that overlap (a file audited once, counted in each split that holds it): the
    workers fold its statistics into every one of them, as a local scan does."""
    address, _ = dask_cluster
    monkeypatch.chdir(data)
    splits = []
    for name, folder in (("train", "train"), ("trainval", "train"), ("val", "val")):
        splits += ["--split", f"{name}:images/{folder}:masks/{folder}"]
    scan = ("scan", ".", "--no-cache", *splits)
    local = _reports(tmp_path / "one", *scan)
    doc = json.loads(local["json"])
    assert doc["splits"]["trainval"]["images"] == doc["splits"]["train"]["images"] > 0
    assert _reports(tmp_path / "dask", *scan, "--executor", "dask", "--scheduler", address) == local


def test_a_workers_partial_statistics_are_checked(data: Path) -> None:
    """What a worker sends with a FoldSpec: its records and its batch's statistics per
    split; refused when they name another split or hold something else."""
    import pickle
    import zlib

    plan = plan_for_api(data, None, {"executor": "dask"})
    fold = split_folding(plan)
    assert fold is not None
    tasks = list(plan_tasks(plan).values())
    members = fold.members_of([t.split for t in tasks])
    blob = cluster_mod.audit_batch(tasks, plan.limits, fold.spec, pickle.dumps(members))
    records, partials = cluster_mod.unpack_folded(blob, members, len(fold.spec.splits))
    local = list(run_tasks(tasks, plan.limits, 1))
    assert [encode(r) for r in records] == [encode(r) for r in local]
    # records the client does not cache come without what only the statistics read
    thin = cluster_mod.audit_batch(
        tasks, plan.limits, replace(fold.spec, slim=True), pickle.dumps(members)
    )
    slimmed, same = cluster_mod.unpack_folded(thin, members, len(fold.spec.splits))
    assert same.keys() == partials.keys()
    assert [encode(r) for r in slimmed] == [encode(slim(r)) for r in local]
    assert [encode(r, report=True) for r in slimmed] == [encode(r, report=True) for r in local]
    grids = [r.labels.grid for r in local if r.labels is not None]
    assert any(grids) and not any(r.labels.grid for r in slimmed if r.labels is not None)
    assert len(thin) < len(blob)
    assert set(partials) == {s for m in members for s in m}
    image = next(i for i, t in enumerate(tasks) if t.kind.value == "image")
    images = sum(1 for t in tasks if t.kind.value == "image")
    assert sum(len(p["signatures"]) for p in partials.values()) == images
    assert sum(p.get("images", 0) for p in partials.values()) == sum(
        1 for r in records if r.pixels is not None
    )

    def packed(sent: object) -> bytes:
        return zlib.compress(pickle.dumps(sent))

    with pytest.raises(ValueError, match="no partial statistics"):
        cluster_mod.unpack_folded(packed(records), members, len(fold.spec.splits))
    other = {s + 1: p for s, p in partials.items()}
    with pytest.raises(ValueError, match="not those of its batch"):
        cluster_mod.unpack_folded(packed((records, other)), members, len(fold.spec.splits))
    s = members[image][0]
    for bad in ({"files": 1}, {"groups": ((("RGB", "uint8", 3), (1, 2.0)),)}):
        damaged = {**partials, s: {**partials[s], **bad}}
        with pytest.raises(ValueError, match=r"unknown field|damaged moments"):
            cluster_mod.unpack_folded(packed((records, damaged)), members, len(fold.spec.splits))


def test_a_killed_workers_tasks_run_again(dask_cluster: tuple[str, Any], data: Path) -> None:
    address, client = dask_cluster
    plan = plan_for_api(data, None, {})
    tasks = list(plan_tasks(plan).values())
    expected = [encode(r) for r in run_tasks(tasks, plan.limits, 1)]
    since = time.time()
    records = cluster_mod.run_tasks(tasks, plan.limits, 2, scheduler=address)
    got = [encode(next(records))]
    # the worker holding the most finished batches the scan has yet to take dies with
    # them: Dask computes them again
    first = next(k for k in _audit_keys(client, since) if k.endswith("-0"))

    def held() -> dict[str, list[str]]:
        return {
            w: [k for k in keys if "nanaudit-audit" in str(k) and k != first]
            for w, keys in client.has_what().items()
        }

    deadline = time.time() + 10
    while not any(held().values()) and time.time() < deadline:
        time.sleep(0.05)
    holding = held()
    victim = max(holding, key=lambda w: len(holding[w]))
    assert holding[victim], "no batch was held by a worker: nothing to lose"
    os.kill(client.run(os.getpid, workers=[victim])[victim], signal.SIGKILL)
    got += [encode(r) for r in records]
    assert got == expected
    assert max(_audit_keys(client, since).values()) >= 2  # a lost batch ran twice


def test_a_config_beside_the_data_may_not_choose_a_cluster(tmp_path: Path) -> None:
    """A scheduler's answers are unpickled: only the user may name one."""
    make_pairs(tmp_path / "d", 2)
    for line in ('executor = "dask"', 'scheduler = "tcp://127.0.0.1:9"'):
        (tmp_path / "d" / "nanaudit.toml").write_text(line + "\n")
        result = CliRunner().invoke(cli, ["scan", str(tmp_path / "d"), "--format", "json"])
        assert result.exit_code == 2
        assert "a config found beside the data may not set this" in result.stderr


def test_files_two_splits_hold_are_folded_into_both_on_the_workers(
    dask_cluster: tuple[str, Any], data: Path, tmp_path: Path
) -> None:
    """Two splits over the same folders: every file is in both (the workers are told which
    splits a file belongs to; found by sorting hashes, not a dict of every file), and the
    Dask report is the local one, byte for byte."""
    address, _ = dask_cluster
    images, masks = data / "images" / "train", data / "masks" / "train"
    scan = (
        "scan",
        str(data),
        "--no-cache",
        "--split",
        f"a:{images}:{masks}",
        "--split",
        f"b:{images}:{masks}",
    )
    local = _reports(tmp_path / "one", *scan, "-j", "1")
    doc = json.loads(local["json"])
    assert doc["splits"]["a"]["pairs"] == doc["splits"]["b"]["pairs"] > 0
    dask = ("--executor", "dask", "--scheduler", address)
    assert _reports(tmp_path / "dask", *scan, *dask) == local
