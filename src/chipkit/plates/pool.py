"""Running a batch's chunks: in this process, or on a pool of worker processes.

Chunks come back in order. ``before_dispatch(job)`` runs before a chunk is handed to a
worker (the batch writes the chunk's ``intent`` records there). At most two chunks per
worker are in flight, so memory stays flat whatever the batch size.

Workers are started from a forkserver (a small clean process, not a copy of the batch,
which holds the whole register) with secrets scrubbed from the environment they
inherit, and are bound to the batch process (:mod:`chipkit.plates.lifeline`).
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from chipkit.keyfile import PASSPHRASE_ENV
from chipkit.keys import Issuer
from chipkit.plates.records import ChunkResult, Job, WorkerConfig
from chipkit.plates.worker import init_worker, render_chunk

SECRET_ENV = (PASSPHRASE_ENV,)
IN_FLIGHT_PER_WORKER = 2


@contextlib.contextmanager
def scrubbed_environ() -> Iterator[None]:
    """Secrets out of ``os.environ`` while child processes are started (restored after)."""
    saved = {k: os.environ.pop(k) for k in SECRET_ENV if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def run_jobs(
    jobs: list[Job],
    issuer: Issuer,
    cfg: WorkerConfig,
    n_workers: int | None,
    before_dispatch: Callable[[Job], None],
) -> Iterator[tuple[Job, ChunkResult]]:
    """Render ``jobs`` (in order), yielding each job with its result."""
    workers = n_workers or os.cpu_count() or 1
    if workers <= 1 or len(jobs) <= 1:
        init_worker(issuer, cfg)
        for job in jobs:
            before_dispatch(job)
            yield job, render_chunk(job.wire())
        return
    with scrubbed_environ():
        yield from _run_pool(jobs, issuer, cfg, min(workers, len(jobs)), before_dispatch)


def _make_pool(issuer: Issuer, cfg: WorkerConfig, workers: int) -> ProcessPoolExecutor:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
    if "forkserver" in methods:
        ctx.set_forkserver_preload(["chipkit.plates.worker"])
    pool_cfg = WorkerConfig(**{**cfg.__dict__, "batch_pid": os.getpid()})
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=init_worker, initargs=(issuer, pool_cfg)
    )


def _run_pool(
    jobs: list[Job],
    issuer: Issuer,
    cfg: WorkerConfig,
    workers: int,
    before_dispatch: Callable[[Job], None],
) -> Iterator[tuple[Job, ChunkResult]]:
    pool = _make_pool(issuer, cfg, workers)
    pending: deque[tuple[Job, Future[ChunkResult]]] = deque()
    todo = iter(jobs)

    def dispatch(job: Job) -> None:
        before_dispatch(job)
        pending.append((job, pool.submit(render_chunk, job.wire())))

    try:
        for job in todo:
            dispatch(job)
            if len(pending) >= IN_FLIGHT_PER_WORKER * workers:
                break
        while pending:
            job, fut = pending.popleft()
            res = fut.result()
            nxt = next(todo, None)
            if nxt is not None:
                dispatch(nxt)
            yield job, res
    except BaseException:
        # interrupted or failed: stop the workers now (a file they renamed into place
        # without its ledger record is adopted or revoked by the next run's recovery)
        for _, fut in pending:
            fut.cancel()
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


__all__ = ["SECRET_ENV", "run_jobs", "scrubbed_environ"]
