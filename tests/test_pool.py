"""The process pool (pool.py): with several jobs this process decodes a share of the files
beside ``jobs - 1`` workers, the records come back in the order of the tasks whoever made
them, and a worker that dies mid-run loses no record."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import make_pairs

import nanaudit.pool as pool
from nanaudit.pool import Task, run_tasks
from nanaudit.records import DecodeLimits, FileKind, FileRecord

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the pool's processes from /proc"
)


def tasks_of(root: Path) -> list[Task]:
    out = []
    for side, kind in (("images", FileKind.IMAGE), ("masks", FileKind.MASK)):
        for p in sorted((root / side).iterdir()):
            out.append(Task(p, f"{side}/{p.name}", kind, "train"))
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Task]:
    """300 files: enough chunks that the pool still holds some when its first are back."""
    return tasks_of(make_pairs(tmp_path_factory.mktemp("pool") / "d", 150, size=(128, 128)))


def in_process(tasks: list[Task]) -> list[FileRecord]:
    return list(run_tasks(tasks, DecodeLimits(), 1))


def test_this_process_decodes_a_share_and_the_records_keep_their_order(
    files: list[Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = in_process(files)
    real = pool.audit
    here: list[str] = []

    def counted(task: Task, limits: DecodeLimits) -> FileRecord:
        if not here:  # its first file: let the worker start (see below), however slowly
            assert wait_for(lambda: not starting(), 60)
        here.append(task.rel)  # this process only: the workers run the module unpatched
        return real(task, limits)

    monkeypatch.setattr(pool, "audit", counted)
    for jobs in (2, 3):
        here.clear()
        assert list(run_tasks(files, DecodeLimits(), jobs)) == expected
        # both sides decoded: this process begins while its workers are forked, and the
        # pool gets chunks once they are (unless this process has decoded them all by then,
        # which a slow start on a loaded machine may allow: the wait above rules it out)
        assert 0 < len(here) < len(files), (jobs, len(here))
        assert len(set(here)) == len(here)  # no file twice


def starting() -> bool:
    """Whether the pool's workers are being forked (pool._start_workers's thread)."""
    return any(t.name == "nanaudit-pool-start" for t in threading.enumerate())


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _workers() -> set[int]:
    """The pool's worker processes: the children of this process's forkserver."""
    from multiprocessing import forkserver

    server = forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    found: set[int] = set()
    for tid in os.listdir(f"/proc/{server}/task"):
        with open(f"/proc/{server}/task/{tid}/children") as fh:
            found.update(int(x) for x in fh.read().split())
    return found


def test_a_worker_killed_mid_run_loses_no_record(
    files: list[Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks this process decoded ahead are kept, the ones the dead worker held are
    decoded again: the same records in the same order, none an NA001."""
    expected = in_process(files)
    real_audit, real_recover = pool.audit, pool._recover
    here: set[str] = set()
    recoveries: list[int] = []

    def counted(task: Task, limits: DecodeLimits) -> FileRecord:
        if not here:
            assert wait_for(lambda: not starting(), 60)
        here.add(task.rel)
        return real_audit(task, limits)

    def recover(lost: list[pool._Slot], *rest: object) -> object:
        recoveries.append(len(lost))
        return real_recover(lost, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(pool, "audit", counted)
    monkeypatch.setattr(pool, "_recover", recover)
    records = run_tasks(files, DecodeLimits(), 2)
    got = []
    for rec in records:  # up to the first record a worker made: it holds the next chunks
        got.append(rec)
        if rec.path not in here:
            break
    victims = _workers()
    assert len(victims) == 1  # --jobs 2: one worker beside this process
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    assert [*got, *records] == expected
    assert recoveries and recoveries[0] >= 1
    assert not _workers()  # every pool stopped and reaped
