"""Where cache misses are computed: one interface, a local process pool or a Dask cluster.

An :class:`Executor` takes ``(cache key, clip path)`` tasks (longest clips first), writes each
clip's entry into the cache and yields ``(key, failure)`` as each clip completes. ``local``
(the default) runs a ``spawn`` pool of ``params.workers`` processes, each with ONE
:class:`~actionrec.extraction.compute.ClipWorker` made in the pool initializer, or runs in this
process for one worker or task; ``dask``: :mod:`actionrec.extraction.dask_executor`.
"""

from __future__ import annotations

from collections.abc import Iterator
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from actionrec.config.extraction import Params
from actionrec.extraction.cache import Kind, entry_path, save_npz
from actionrec.extraction.compute import ClipWorker, Failure, prepare_worker_process, unexpected_failure
from actionrec.extraction.dask_executor import run_dask

__all__ = ["EXECUTORS", "Executor", "Task", "run_local", "run_tasks"]

Task = tuple[str, str]
"""``(cache key, clip path)``."""


class Executor(Protocol):
    def __call__(self, tasks: list[Task], kind: Kind, params: Params, cache_dir: Path) -> Iterator[tuple[str, Failure]]:
        """Compute ``tasks`` into ``cache_dir``; yield ``(key, failure)`` in completion order."""


_WORKER: dict[str, Any] = {}


def _init_worker(kind: Kind, params_json: str, cache_dir: str, in_pool: bool = True) -> None:
    """Pool initializer: parse params once and create this process's one Holistic."""
    if in_pool:
        prepare_worker_process()
    _WORKER.update(worker=ClipWorker.create(kind, params_json), cache_dir=Path(cache_dir))


def _compute(task: Task) -> tuple[str, Failure]:
    """Compute one clip into the cache; an unexpected exception becomes its failure."""
    key, path = task
    try:
        save_npz(entry_path(_WORKER["cache_dir"], key), _WORKER["worker"].entry(Path(path)))
    except Exception as exc:  # one bad clip must never abort the others
        return key, unexpected_failure(path, exc)
    return key, None


def run_local(tasks: list[Task], kind: Kind, params: Params, cache_dir: Path) -> Iterator[tuple[str, Failure]]:
    """The local executor: in this process for one worker (or task), else in a ``spawn`` pool."""
    init = (kind, params.model_dump_json(), str(cache_dir))
    n_proc = min(params.workers, len(tasks))
    if n_proc == 1:
        _init_worker(*init, in_pool=False)
        try:
            yield from map(_compute, tasks)
        finally:
            _WORKER.pop("worker").close()
            _WORKER.clear()
        return
    if n_proc == 0:
        return
    with get_context("spawn").Pool(n_proc, initializer=_init_worker, initargs=init) as pool:
        yield from pool.imap_unordered(_compute, tasks)


EXECUTORS: dict[str, Executor] = {"local": run_local, "dask": run_dask}


def run_tasks(tasks: list[Task], kind: Kind, params: Params, cache_dir: Path) -> Iterator[tuple[str, Failure]]:
    """Compute ``tasks`` with the executor ``params.executor.kind`` names (no tasks: no cluster)."""
    return EXECUTORS[params.executor.kind if tasks else "local"](tasks, kind, params, cache_dir)
