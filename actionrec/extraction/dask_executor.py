"""Extraction on a Dask cluster: whole clips as tasks, results through the per-clip cache.

The ``dask`` executor of :mod:`actionrec.extraction.executors`: :func:`run_dask` computes the
cache misses when ``executor.kind`` is ``dask``. The scheduler is ``$ACTIONREC_DASK_ADDRESS``, else
``executor.address``, else a throw-away :class:`~distributed.LocalCluster` of ``workers``
processes on 127.0.0.1 (one thread each).

* **one Holistic per worker process**, created on its first clip and kept for the worker's
  lifetime (a per-thread :class:`~actionrec.extraction.compute.ClipWorker` keyed by kind + params; run workers
  with ``--nthreads 1``: Holistic already uses ~1.3 cores). Every clip starts with
  ``reset()``, exactly as in the local pool, so results are bit-identical.
* **results**: a task returns the clip's ``.npz`` bytes (built by the same
  :func:`~actionrec.extraction.cache.npz_bytes`), and this process writes them into its cache
  atomically. Workers need read access to the clips (same absolute paths), not to the cache.
* **failures**: a clip whose task raises is retried ``executor.retries`` times; a worker that
  dies mid-clip (killed, out of memory) has its clip rescheduled on another worker by the
  scheduler (up to ``distributed.scheduler.allowed-failures`` times, default 3), after which
  the clip gets status ``error`` (uncached, computed again next run). Nothing of a lost task
  reaches the cache: entries are only ever written whole.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from actionrec.config.extraction import ExecutorParams, Params
from actionrec.core.io import write_bytes
from actionrec.extraction.cache import Kind, entry_path, npz_bytes
from actionrec.extraction.compute import ClipWorker, Failure, prepare_worker_process, unexpected_failure

__all__ = ["DASK_ADDRESS_ENV", "holistics_created", "run_dask", "scheduler_address"]

log = logging.getLogger(__name__)

DASK_ADDRESS_ENV = "ACTIONREC_DASK_ADDRESS"


def scheduler_address(executor: ExecutorParams) -> str | None:
    """``$ACTIONREC_DASK_ADDRESS`` when set, else ``executor.address`` (None: local cluster)."""
    return os.environ.get(DASK_ADDRESS_ENV) or executor.address


@contextmanager
def dask_client(address: str | None, n_workers: int) -> Iterator[Any]:
    """A client of the scheduler at ``address``, or of a local cluster of ``n_workers``
    single-threaded processes on 127.0.0.1 (closed on exit)."""
    from distributed import Client, LocalCluster

    if address:
        with Client(address, set_as_default=False) as client:
            yield client
        return
    quiet = logging.getLogger("distributed")  # its start/stop chatter would drown the stage's log
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=":0",  # a free port on 127.0.0.1 (default: a fixed :8787)
            ) as cluster,
            Client(cluster, set_as_default=False) as client,
        ):
            yield client
    finally:
        quiet.setLevel(level)


# ---------------------------------------------------------------- on the workers

_STATE = threading.local()
_PROCESS_LOCK = threading.Lock()
_PROCESS: dict[str, Any] = {"set_up": False, "holistics": 0}


def _worker(kind: Kind, params_json: str) -> ClipWorker:
    """This worker thread's :class:`ClipWorker`, made once per (kind, params)."""
    spec = (kind, params_json)
    if getattr(_STATE, "spec", None) == spec:
        return _STATE.worker
    with _PROCESS_LOCK:
        if not _PROCESS["set_up"]:
            prepare_worker_process()
            _PROCESS["set_up"] = True
    old = getattr(_STATE, "worker", None)
    if old is not None:
        old.close()
    _STATE.worker, _STATE.spec = ClipWorker.create(kind, params_json), spec
    if _STATE.worker.holistic is not None:
        with _PROCESS_LOCK:
            _PROCESS["holistics"] += 1
    return _STATE.worker


def holistics_created() -> int:
    """How many Holistic graphs this (worker) process has created (for tests)."""
    return int(_PROCESS["holistics"])


def compute_clip(path: str, shown: str, kind: Kind, params_json: str) -> tuple[bytes | None, Failure]:
    """Task body: ``(npz bytes, None)``, or ``(None, ("error", message))`` for an unexpected
    failure (``shown`` is the path as the index names it)."""
    worker = _worker(kind, params_json)
    try:
        return npz_bytes(worker.entry(Path(path))), None
    except Exception as exc:  # one bad clip must never abort the others
        return None, unexpected_failure(shown, exc)


# ---------------------------------------------------------------- on the client


def run_dask(
    tasks: list[tuple[str, str]], kind: Kind, params: Params, cache_dir: Path
) -> Iterator[tuple[str, Failure]]:
    """Compute ``tasks`` (``(cache key, clip path)``, longest first) on Dask into
    ``cache_dir``; yield ``(key, failure)`` in completion order."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    address = scheduler_address(params.executor)
    params_json = params.model_dump_json()
    with dask_client(address, min(params.workers, len(tasks))) as client:
        log.info("extract %s: %d clips on Dask %s", kind, len(tasks), address or "LocalCluster")
        by_future: dict[str, tuple[str, str]] = {}
        futures = []
        for key, path in tasks:  # submission order is priority order: longest clips first
            future = client.submit(
                compute_clip,
                str(Path(path).resolve()),
                path,
                kind,
                params_json,
                key=f"actionrec-extract-{kind}-{key}",
                retries=params.executor.retries,
            )
            by_future[future.key] = (key, path)
            futures.append(future)
        pending = as_completed(futures, loop=client.loop)
        del futures  # each result is dropped once written (as_completed forgets yielded ones)
        for future in pending:
            key, path = by_future.pop(future.key)
            try:
                data, failure = future.result()
            except KilledWorker as exc:
                data, failure = None, ("error", f"{path}: its worker died on every try ({exc})")
            future.release()  # drop the result from the cluster's memory
            if data is not None:
                write_bytes(entry_path(cache_dir, key), data)
            yield key, failure
