"""Run the per-file audits: in this process, or in a pool of worker processes.

Work is submitted in chunks with a bounded number in flight, and records come back in
submission order, so the output is the same for every number of jobs and memory does not
grow with the dataset.  A worker that dies (killed by the OS, a decoder crash) does not hang
the scan: the chunks that were in flight are run again in a fresh pool, and only if a pool
breaks again are those chunks' files run one at a time, so that the file that kills a
worker becomes an NA001 record.  Workers ignore SIGINT; the parent stops them.

With several jobs this process is one of them: it decodes chunks itself beside ``jobs - 1``
workers (``SHARE``), so that two jobs keep two cores busy without a third process that only
waits, and its share starts before the first worker is up. A small scan decodes in this
process alone. A file whose header says its decode needs much memory is never decoded in
this process: it goes to a worker of its own, so that the kernel's out-of-memory killer (or
a container's limit) can end that worker, not the whole scan and its report. A decoder
crash (a segfault) in this process's own share ends the scan, as with ``--jobs 1``; in a
worker it becomes an NA001 record.

The caller's process is left as it was found: no environment variable, Pillow limit or
allocator setting of the parent is changed by a scan through the API.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .records import DecodeError, DecodeLimits, FileKind, FileRecord
from .storage import LOCAL, Storage

if TYPE_CHECKING:  # multiprocessing is imported when a pool starts: not by a warm re-run
    import multiprocessing.context
    from concurrent.futures import Future, ProcessPoolExecutor

# Below this many files a pool costs more than it saves.
MIN_FILES_FOR_POOL = 48
# Files per submission to the pool at most (0.1 s of 512² JPEG pairs).
CHUNK = 32
# With several jobs, this process decodes too, beside jobs - 1 workers (_run_chunks).
SHARE = True
# Chunks given to each worker at a time while this process decodes one of its own (the one
# it runs and the next ones: it never waits for this process), and chunks this process may
# audit ahead of the oldest one still at the pool (held until that one is back).
AHEAD = 3
LOCAL_AHEAD = 32
# A decode estimated above this (or above an eighth of the memory budget) runs in a worker
# of its own even in a scan that otherwise decodes in this process.
ISOLATE_ABOVE = 256 << 20
# One BLAS/OpenMP thread per worker: the workers are the parallelism, and threads
# multiplied by workers only oversubscribe the cores.
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Task:
    path: Path
    rel: str
    kind: FileKind
    split: str
    visual: bool = False  # also make the file's thumbnails (an HTML report was asked for)
    storage: Storage = LOCAL  # where the file is read from
    size: int | None = None  # as the remote listing gave it: spares the worker a request
    content: bool = False  # also hash an image's pixels (a duplicate candidate's second read)
    # an image volume's label volume (read too for a CT-like volume: decode/foreground.py),
    # the digest of its path and stamp the record keeps, and whether the dataset says CT
    partner: Path | None = None
    partner_key: str = ""
    ct: bool = False
    bands: tuple[int, int, int] | None = None  # a multi-band raster's composite (visual)


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


def audit(task: Task, limits: DecodeLimits) -> FileRecord:
    from .decode import audit_file  # Pillow is imported where files are decoded, not before

    return audit_file(
        task.path,
        task.rel,
        task.kind,
        task.split,
        limits,
        task.visual,
        task.storage,
        task.size,
        content=task.content,
        partner=task.partner,
        partner_key=task.partner_key,
        ct=task.ct,
        bands=task.bands,
    )


def _audit_chunk(tasks: Sequence[Task], limits: DecodeLimits) -> list[FileRecord]:
    return [audit(t, limits) for t in tasks]


def _worker_init(environment: dict[str, str] | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    # a worker is forked from a server that may have started before the parent's
    # environment changed: take the parent's as it is now (remote storage's credentials
    # and endpoint), but for the thread counts
    if environment:
        os.environ.update({k: v for k, v in environment.items() if k not in WORKER_ENV})
    tune_allocator()


def _crashed(task: Task, exitcode: int | None = None) -> FileRecord:
    if exitcode == -signal.SIGKILL:
        why = (
            "the worker decoding this file was killed (SIGKILL: usually the kernel's "
            "out-of-memory killer, or a container's memory limit)"
        )
    else:
        why = (
            "decoding this file killed the worker process "
            "(a decoder crash, or the OS ended it for its memory use)"
        )
    return FileRecord(
        path=task.rel, kind=task.kind, split=task.split, error=DecodeError("NA001", why)
    )


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Variables set for a moment (while a server process starts), then restored."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if before[k] is None})
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)


def _context() -> multiprocessing.context.BaseContext:
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")  # pragma: no cover - not Linux
    ctx = multiprocessing.get_context("forkserver")
    from multiprocessing import forkserver

    # the server (and every worker forked from it) loads the decoders and numpy once, with
    # the workers' environment; the parent's own environment is restored right after
    ctx.set_forkserver_preload(["nanaudit.decode"])
    with _environment(WORKER_ENV):
        forkserver.ensure_running()
    ctx.set_forkserver_preload([])
    return ctx


def prestart() -> None:
    """Start the pool's server now, before the files are listed.

    The server is a fresh interpreter that imports numpy, Pillow and the decoders (about
    0.2 s of CPU, 0.3-0.6 s before its first worker can run); started when the command line
    knows that it will decode with several jobs, it loads on another core while this process
    lists and pairs the files, and the pool that ``run_tasks`` makes later forks its workers
    from a server that is ready. Harmless when nothing needs a pool after all (a warm cache,
    a small scan): the server ends with this process."""
    _context()


def _new_pool(workers: int) -> ProcessPoolExecutor:
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(),
        initializer=_worker_init,
        initargs=(dict(os.environ),),
    )


def _stop(pool: ProcessPoolExecutor) -> list[int | None]:
    """Stop a pool now: cancel what waits, terminate what runs, reap the processes; their
    exit codes (a negative signal number for one that was killed)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    if getattr(pool, "_broken", False) and manager is not None:
        # a broken pool's own thread terminates and reaps its workers: reading their exit
        # codes beside it races it (of two readers of a forkserver sentinel, one sees 255,
        # and an out-of-memory kill was then reported as a decoder crash)
        manager.join(timeout=5)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
            p.join(timeout=5)
    return [p.exitcode for p in processes]


class Tasks(Protocol):
    """Tasks as an executor takes them: a list, or a stream of a known length (a scan's
    tasks are made as the pool takes them: a million of them are never all in memory)."""

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Task]: ...


def run_tasks(
    tasks: Tasks, limits: DecodeLimits, jobs: int, progress: Progress | None = None
) -> Iterator[FileRecord]:
    """Audit every task; records are yielded in the order of ``tasks``."""
    if not tasks:  # a run served from the cache: Pillow and the decoders are not imported
        return
    if jobs <= 1 or len(tasks) < MIN_FILES_FOR_POOL:
        here = _in_process(limits)
        for t in tasks:
            rec = _audit_here([t], limits, here)[0]
            if progress is not None:
                progress(1)
            yield rec
        return
    chunks = chunks_of(tasks, jobs, len(tasks))
    for records in _run_chunks(chunks, limits, jobs, retry=True, share=SHARE):
        if progress is not None:
            progress(len(records))
        yield from records


def chunks_of(tasks: Iterable[Task], jobs: int, count: int) -> Iterator[list[Task]]:
    """The ``count`` tasks in chunks of at most ``CHUNK`` files (a submission's costs paid
    once per chunk), smaller as the end nears (a chunk is at most an eighth of what remains
    per job), so that the workers and this process run out of work together rather than one
    waiting on another's last full chunk. Made as they are taken, one at a time."""
    source = iter(tasks)
    left = count
    while left > 0:
        chunk = list(itertools.islice(source, max(1, min(CHUNK, left // (jobs * 4)))))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def _in_process(limits: DecodeLimits) -> DecodeLimits:
    """The limits of a decode in this process: a file whose header says that its decode
    needs much memory (``ISOLATE_ABOVE``, or an eighth of ``max_memory``) is left to a
    worker of its own."""
    cap = ISOLATE_ABOVE if not limits.max_memory else min(ISOLATE_ABOVE, limits.max_memory // 8)
    return replace(limits, in_process_max=cap)


def _audit_here(
    tasks: Sequence[Task], limits: DecodeLimits, here: DecodeLimits
) -> list[FileRecord]:
    """Audit tasks in this process (``here``: its limits from ``_in_process``)."""
    from .decode import NeedsWorker

    records = []
    for t in tasks:
        try:
            records.append(audit(t, here))
        except NeedsWorker:  # its header says: too large to risk in this process
            records.append(next(_isolated([t], limits)))
    return records


@dataclass(slots=True)
class _Slot:
    """A chunk on its way: at the pool (``future``) or audited here (``records``)."""

    tasks: Sequence[Task]
    future: Future[list[FileRecord]] | None = None
    records: list[FileRecord] | None = None

    def at_pool(self) -> bool:
        return self.future is not None and not self.future.done()

    def made(self) -> bool:
        """Whether its records are here or came back (without waiting)."""
        if self.future is None:
            return True
        f = self.future
        return f.done() and not f.cancelled() and f.exception() is None

    def result(self) -> list[FileRecord]:
        if self.records is not None:
            return self.records
        assert self.future is not None
        return self.future.result()


def _run_chunks(
    chunks: Iterable[Sequence[Task]],
    limits: DecodeLimits,
    jobs: int,
    retry: bool,
    share: bool = False,
) -> Generator[list[FileRecord], None, None]:
    """Each chunk's records, in order.

    With ``share``, this process is one of the ``jobs``: a pool of ``jobs - 1`` workers
    holds ``AHEAD`` chunks each (the one it runs, the next ones queued, so that it never
    waits on this process), and this process audits the next chunk itself meanwhile; at the
    end it takes back the chunks still queued at the pool, so that nobody waits on another's
    queue. Two jobs are then two busy processes, not two workers and a third process that
    waits, starts them and unpickles all their records. Chunks audited ahead of the oldest
    one at the pool are held (``LOCAL_AHEAD`` at most) until that one is back.

    When a worker dies, the chunks at the pool are lost: they run again in a fresh pool
    without this process's share (``retry``; a file that kills its decoder must not end
    this process), or, on a second death, file by file."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    workers = max(1, jobs - 1) if share else jobs
    here = _in_process(limits) if share else None
    queued = workers * (AHEAD if share else 4)
    slots: deque[_Slot] = deque()
    source = iter(chunks)
    more = True
    pool = _new_pool(workers)
    starter = _start_workers(pool, workers) if here is not None else None
    try:
        while True:
            at_pool = sum(s.at_pool() for s in slots)
            broken = False
            starting = starter is not None and starter.is_alive()
            while more and at_pool < queued and not broken and not starting:
                chunk = next(source, None)
                if chunk is None:
                    more = False
                    break
                future: Future[list[FileRecord]] = Future()
                try:
                    future = pool.submit(_audit_chunk, chunk, limits)
                except BrokenProcessPool as e:  # a worker died since the last look
                    future.set_exception(e)
                    broken = True
                slots.append(_Slot(chunk, future))
                at_pool += 1
            head = slots[0] if slots else None
            if head is not None and head.future is not None and head.future.done():
                broken = broken or isinstance(head.future.exception(), BrokenProcessPool)
            if broken:
                _stop(pool)
                lost = list(slots)
                slots.clear()
                yield from _recover(lost, limits, jobs, retry)
                pool = _new_pool(workers)
                starter = _start_workers(pool, workers) if here is not None else None
                continue
            if head is not None and (head.future is None or head.future.done()):
                yield slots.popleft().result()
                continue
            if here is not None:
                if more and len(slots) < queued + LOCAL_AHEAD:
                    chunk = next(source, None)
                    if chunk is not None:
                        slots.append(_Slot(chunk, records=_audit_here(chunk, limits, here)))
                        continue
                    more = False
                if not more and _take_back(slots, limits, here):
                    continue
            if head is None:
                return
            assert head.future is not None
            head.future.exception()  # waits for it
    finally:
        if starter is not None:
            starter.join()  # its workers are forked: stopped with the others
        _stop(pool)


def _start_workers(pool: ProcessPoolExecutor, workers: int) -> threading.Thread:
    """Fork the pool's workers from a thread of their own. A fork waits until the pool's
    server has loaded the decoders (0.3-0.6 s after it starts, which may not have passed
    when the files are listed), and a submission to the pool waits for the fork: this
    process decodes meanwhile, and hands the pool chunks once the thread is done."""

    def start() -> None:
        with contextlib.suppress(Exception):  # a pool that fails says so at its next use
            for _ in range(workers):
                pool.submit(os.getpid)

    thread = threading.Thread(target=start, name="nanaudit-pool-start", daemon=True)
    thread.start()
    return thread


def _take_back(slots: Sequence[_Slot], limits: DecodeLimits, here: DecodeLimits) -> bool:
    """Audit here the last chunk that waits in the pool's queue (no worker took it yet),
    if there is one: at the end, so that this process does not wait on a worker's queue."""
    for s in reversed(slots):
        if s.future is not None and s.future.cancel():
            s.future, s.records = None, _audit_here(s.tasks, limits, here)
            return True
    return False


def _recover(
    lost: Sequence[_Slot], limits: DecodeLimits, jobs: int, retry: bool
) -> Iterator[list[FileRecord]]:
    """The records of ``lost``'s chunks in order after a worker died: those already made
    as they are, the others again in a fresh pool (``retry``), or file by file."""
    again = [s.tasks for s in lost if not s.made()]
    rerun: Generator[list[FileRecord], None, None]
    if retry:
        rerun = _run_chunks(again, limits, jobs, retry=False)
    else:
        rerun = (list(_isolated(c, limits)) for c in again)
    with contextlib.closing(rerun):
        for s in lost:
            yield s.result() if s.made() else next(rerun)


def _isolated(tasks: Sequence[Task], limits: DecodeLimits) -> Iterator[FileRecord]:
    """Audit tasks one by one in a single worker, so that a crash names its file."""
    from concurrent.futures.process import BrokenProcessPool

    pool: ProcessPoolExecutor | None = None
    try:
        for t in tasks:
            if pool is None:
                pool = _new_pool(1)
            try:
                yield pool.submit(audit, t, limits).result()
            except BrokenProcessPool:
                codes = _stop(pool)
                pool = None
                yield _crashed(t, next((c for c in codes if c is not None and c < 0), None))
    finally:
        if pool is not None:
            _stop(pool)
