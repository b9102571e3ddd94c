"""Run the per-file audits: in this process, or in a pool of worker processes.

Work is submitted in chunks with a bounded number in flight, and records come back in
submission order, so the output is the same for every number of jobs and memory does not
grow with the dataset.  A worker that dies (killed by the OS, a decoder crash) does not hang
the scan: the chunks it may have held are re-run one file at a time, and the file that kills
a worker again becomes an NA001 record.  Workers ignore SIGINT; the parent stops them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from .model import DecodeError, DecodeSettings, FileRecord, Kind

# Below this many files a pool costs more than it saves.
MIN_FILES_FOR_POOL = 48


@dataclass(frozen=True, slots=True)
class Task:
    path: Path
    rel: str
    kind: Kind
    split: str


def usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_TUNED = False


def tune_allocator() -> None:
    """Keep image-sized buffers on the heap (glibc).

    Decoders allocate and free buffers of about a megabyte per file; glibc serves those
    with mmap/munmap, so every file pays fresh page faults for them. Raising the mmap and
    trim thresholds lets freed buffers be reused: on 512×512 JPEGs the scan runs about a
    third faster. Harmless where the call does not exist. Called by the command line and in
    worker processes; a library call (nanaudit.scan) leaves its host process alone.
    """
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass


def _audit(task: Task, settings: DecodeSettings) -> FileRecord:
    from .decode import audit_file  # Pillow is imported where files are decoded, not before

    return audit_file(task.path, task.rel, task.kind, task.split, settings)


def _audit_chunk(tasks: Sequence[Task], settings: DecodeSettings) -> list[FileRecord]:
    return [_audit(t, settings) for t in tasks]


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    tune_allocator()


def _crashed(task: Task, why: str) -> FileRecord:
    return FileRecord(
        path=task.rel, kind=task.kind, split=task.split, error=DecodeError("NA001", why)
    )


def _context() -> multiprocessing.context.BaseContext:
    # One BLAS/OpenMP thread per worker: the workers are the parallelism, and threads
    # multiplied by workers only oversubscribe the cores (read when a worker loads numpy).
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["nanaudit.decode"])
        return ctx
    return multiprocessing.get_context("spawn")


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_worker_init)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop a pool now: cancel what waits, terminate what runs, reap the processes."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join(timeout=5)


def run_tasks(
    tasks: Sequence[Task],
    settings: DecodeSettings,
    jobs: int,
    progress: Callable[[int], None] | None = None,
) -> Iterator[FileRecord]:
    """Audit every task; records are yielded in the order of ``tasks``."""
    if jobs <= 1 or len(tasks) < MIN_FILES_FOR_POOL:
        for t in tasks:
            rec = _audit(t, settings)
            if progress is not None:
                progress(1)
            yield rec
        return
    yield from _pooled(tasks, settings, jobs, progress)


def _pooled(
    tasks: Sequence[Task],
    settings: DecodeSettings,
    jobs: int,
    progress: Callable[[int], None] | None,
) -> Iterator[FileRecord]:
    size = max(1, min(32, len(tasks) // (jobs * 8)))
    chunks = [tasks[i : i + size] for i in range(0, len(tasks), size)]
    window = jobs * 4
    pool = _new_pool(jobs)
    pending: deque[tuple[Sequence[Task], Future[list[FileRecord]]]] = deque()
    next_chunk = 0
    try:
        while next_chunk < len(chunks) or pending:
            while next_chunk < len(chunks) and len(pending) < window:
                chunk = chunks[next_chunk]
                pending.append((chunk, pool.submit(_audit_chunk, chunk, settings)))
                next_chunk += 1
            chunk, future = pending.popleft()
            try:
                records = future.result()
            except BrokenProcessPool:
                # A worker died. Every chunk in flight may be lost: redo them one file at a
                # time, then go on with a fresh pool.
                _stop(pool)
                redo = [chunk, *(c for c, _ in pending)]
                pending.clear()
                for c in redo:
                    for rec in _isolated(c, settings):
                        if progress is not None:
                            progress(1)
                        yield rec
                pool = _new_pool(jobs)
                continue
            if progress is not None:
                progress(len(records))
            yield from records
    finally:
        _stop(pool)


def _isolated(tasks: Sequence[Task], settings: DecodeSettings) -> Iterator[FileRecord]:
    """Audit tasks one by one in a single worker, so that a crash names its file."""
    pool: ProcessPoolExecutor | None = None
    try:
        for t in tasks:
            if pool is None:
                pool = _new_pool(1)
            try:
                yield pool.submit(_audit, t, settings).result()
            except BrokenProcessPool:
                _stop(pool)
                pool = None
                yield _crashed(
                    t,
                    "decoding this file killed the worker process "
                    "(a decoder crash, or the OS ended it for its memory use)",
                )
    finally:
        if pool is not None:
            _stop(pool)
