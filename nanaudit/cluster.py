"""Run the per-file audits on a Dask cluster: ``--executor dask`` (extra ``nanaudit[dask]``).

The same shape as the local pool (pool.py): tasks in, records out in the order of the tasks,
so the statistics, findings and report are the same bytes whichever ran them. Files go to the
cluster in batches, one Dask task each, with a bounded number in flight; each batch's records
come back to this process compressed in one piece (a sixth of their pickled size), and this
process reduces them with the same aggregate code as a local scan.

Without ``--scheduler`` a ``LocalCluster`` of ``--jobs`` worker processes is started and
stopped here. With one, the workers must be able to import nanaudit (the same version) and
read the files under the same paths (a shared file system) or URL (remote storage).

A worker that dies is Dask's to handle: the scheduler runs its tasks again on another worker.
A batch that has killed workers past Dask's limit (``distributed.scheduler.allowed-failures``)
is run again file by file, and a file whose own task kills workers past the same limit
becomes an NA001 record, as in the local pool. Interrupting the scan (Ctrl-C) cancels every
task in flight.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import pickle
import uuid
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any

from .folding import (
    FoldSpec,
    Members,
    Partials,
    SplitFolding,
    check_partials,
    fold_batch,
    slim,
)
from .kinds import ConfigError
from .pool import WORKER_ENV, Progress, Task, Tasks, _crashed, audit, tune_allocator
from .records import DecodeLimits, FileRecord

# Files per Dask task: a task should run for a good fraction of a second (the scheduler
# spends about a millisecond on each), and there should be several per worker to balance.
MAX_BATCH = 256
BATCHES_PER_WORKER = 8
IN_FLIGHT_PER_WORKER = 4
# A batch's records decompressed at most (256 files: 1 MiB a record, thumbnails included)
MAX_UNPACKED = MAX_BATCH << 20


def dask_executor(
    scheduler: str | None, fold: SplitFolding | None = None
) -> Callable[..., Iterator[FileRecord]]:
    """``run_tasks`` bound to a scheduler address (None: a local cluster), and to the
    split statistics the workers fold their batches into (None: none)."""
    return functools.partial(run_tasks, scheduler=scheduler, fold=fold)


def batch_size(files: int, workers: int) -> int:
    per_batch = -(-files // max(1, workers * BATCHES_PER_WORKER))
    return max(1, min(MAX_BATCH, per_batch))


def audit_batch(
    tasks: Sequence[Task],
    limits: DecodeLimits,
    spec: FoldSpec | None = None,
    members: bytes = b"",
) -> bytes:
    """What a Dask worker runs: the records of a batch of files, pickled and compressed
    (zlib level 1) in one piece for the trip to the client; with ``spec``, the records
    and the batch's partial statistics per split (``members``: each file's splits, in
    one pickle that Dask does not walk through), so that the client folds no record
    itself (folding.py).

    Records repeat their field names and a mask's label histogram is mostly small
    integers: on 512² JPEG + PNG pairs a record pickles to 766 bytes and the batch
    compresses to 127 bytes a record (6×), for 4 µs of the worker's CPU a record and 1.6 µs
    of the client's; at ten million files, 1.3 GB reach the client instead of 7.7 GB."""
    tune_allocator()
    records = [audit(t, limits) for t in tasks]
    sent: object = records
    if spec is not None:
        partials = fold_batch(spec, records, pickle.loads(members))
        sent = ([slim(r) for r in records] if spec.slim else records, partials)
    return zlib.compress(pickle.dumps(sent, protocol=pickle.HIGHEST_PROTOCOL), 1)


def _inflate(blob: bytes, limit: int) -> object:
    inflate = zlib.decompressobj()
    data = inflate.decompress(blob, limit)
    if inflate.unconsumed_tail or not inflate.eof:
        raise ValueError("a worker's batch of records is larger than nanaudit allows")
    return pickle.loads(data)


def unpack_folded(
    blob: bytes, members: Sequence[Members], splits: int, limit: int = MAX_UNPACKED
) -> tuple[list[FileRecord], Partials]:
    """A batch's records and partial statistics as :func:`audit_batch` packed them with a
    FoldSpec of ``splits`` splits, checked as :func:`unpack_batch` checks records."""
    sent = _inflate(blob, limit)
    if not isinstance(sent, tuple) or len(sent) != 2:
        raise ValueError("a worker's batch holds no partial statistics")
    records = _checked(sent[0], len(members))
    return records, check_partials(sent[1], members, splits)


def unpack_batch(blob: bytes, size: int, limit: int = MAX_UNPACKED) -> list[FileRecord]:
    """A batch's records as :func:`audit_batch` packed them: at most ``limit`` bytes are
    decompressed (what a worker sends is bounded like anything else received), and the
    batch must hold one record per task. Dask's own messages are pickles of the same trust:
    nothing of the scanned data is unpickled, only what nanaudit's workers made."""
    return _checked(_inflate(blob, limit), size)


def _checked(records: object, size: int) -> list[FileRecord]:
    if not isinstance(records, list) or len(records) != size:
        raise ValueError("a worker's batch of records does not hold one record per file")
    if not all(isinstance(r, FileRecord) for r in records):
        raise ValueError("a worker's batch holds something other than records")
    return records


def run_tasks(
    tasks: Tasks,
    limits: DecodeLimits,
    jobs: int,
    progress: Progress | None = None,
    *,
    scheduler: str | None = None,
    fold: SplitFolding | None = None,
) -> Iterator[FileRecord]:
    """Audit every task on the cluster; records are yielded in the order of ``tasks``.
    With ``fold``, the workers fold each batch's statistics too, and ``fold`` gets them."""
    if not tasks:
        return
    distributed = _distributed()
    with _client(distributed, scheduler, jobs) as client:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        size = batch_size(len(tasks), workers)
        source = iter(tasks)  # batches taken as they are sent: tasks are made as they go
        window = workers * IN_FLIGHT_PER_WORKER
        run = uuid.uuid4().hex[:8]
        pending: deque[tuple[Sequence[Task], list[Members], Any]] = deque()
        following = 0
        more = True
        spec = fold.spec if fold is not None else None
        try:
            while more or pending:
                while more and len(pending) < window:
                    batch: Sequence[Task] = list(islice(source, size))
                    if not batch:
                        more = False
                        break
                    key = f"nanaudit-audit-{run}-{following}"
                    members = _members(fold, batch) if fold is not None else []
                    packed = pickle.dumps(members, protocol=pickle.HIGHEST_PROTOCOL)
                    future = client.submit(audit_batch, batch, limits, spec, packed, key=key)
                    pending.append((batch, members, future))
                    following += 1
                if not pending:
                    break
                batch, members, future = pending.popleft()
                try:
                    if fold is None:
                        records = unpack_batch(future.result(), len(batch))
                    else:
                        records, partials = unpack_folded(
                            future.result(), members, len(fold.spec.splits)
                        )
                        fold.add_batch(partials)
                except distributed.KilledWorker:
                    records = list(_isolated(client, distributed, batch, limits, run))
                    if fold is not None:
                        fold.add_records([(t.path, t.kind) for t in batch], records)
                future.release()
                if progress is not None:
                    progress(len(records))
                yield from records
        finally:
            # an interrupted scan (Ctrl-C, an error, the caller stopping): nothing keeps
            # running on the cluster for it
            with contextlib.suppress(Exception):
                client.cancel([f for _, _, f in pending], force=True)


def _members(fold: SplitFolding, batch: Sequence[Task]) -> list[Members]:
    keys = [(t.path, t.kind) for t in batch] if fold.shared else []
    return fold.members_of([t.split for t in batch], keys)


def _isolated(
    client: Any, distributed: Any, batch: Sequence[Task], limits: DecodeLimits, run: str
) -> Iterator[FileRecord]:
    """A batch that killed its workers again and again, file by file: a file whose task
    kills workers past Dask's limit (its own ``allowed-failures``) is an NA001 record."""
    futures = [
        client.submit(audit, t, limits, key=f"nanaudit-file-{run}-{uuid.uuid4().hex[:8]}")
        for t in batch
    ]
    for t, future in zip(batch, futures, strict=True):
        try:
            yield future.result()
        except distributed.KilledWorker:
            yield _crashed(t)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "--executor dask needs Dask's distributed scheduler: pip install 'nanaudit[dask]'"
        ) from None
    return distributed


@contextlib.contextmanager
def _client(distributed: Any, scheduler: str | None, jobs: int) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler``, or of a local cluster started for this
    scan (and stopped after it)."""
    cluster = None
    try:
        if scheduler is None:
            import dask

            # workers forked from a server process, as the local pool's: seconds faster to
            # start than Dask's default (spawn), and safe in a process with threads
            with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
                cluster = distributed.LocalCluster(
                    n_workers=max(1, jobs),
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",
                    dashboard_address=":0",
                    silence_logs=logging.ERROR,
                    env=WORKER_ENV,
                )
            client = distributed.Client(cluster, set_as_default=False)
        else:
            # waits up to Dask's distributed.comm.timeouts.connect (30 s unless configured)
            client = distributed.Client(scheduler, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        if cluster is not None:
            cluster.close()
        where = scheduler or "a local cluster"
        raise ConfigError(
            f"--scheduler: cannot reach the Dask scheduler at {where}: {exc}"
        ) from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
