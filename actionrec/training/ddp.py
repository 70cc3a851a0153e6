"""Multi-process training with ``torchrun``: ranks, the process group, metric reduction, relaunch.

A training stage runs unchanged under ``torchrun --nproc-per-node N``: ``torchrun`` sets
``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` (and the rendezvous variables), and
:func:`actionrec.training.loop.fit` then trains one DistributedDataParallel replica per process
(``nccl`` on CUDA, one GPU per process; ``gloo`` on the CPU). With ``train.nproc: N`` in
params.yaml a stage started plainly (``dvc repro``) re-launches itself that way
(:func:`relaunch_with_torchrun`). Only rank 0 logs to MLflow and writes files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

import torch
import torch.distributed as dist

__all__ = [
    "all_reduce_sum",
    "init",
    "is_main_process",
    "local_rank",
    "rank",
    "relaunch_with_torchrun",
    "shutdown",
    "under_torchrun",
    "world_size",
]


def world_size() -> int:
    """Processes in this training job (``WORLD_SIZE``; 1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main_process() -> bool:
    """True on rank 0 (and in a plain, single-process run): the one process that logs/writes."""
    return rank() == 0


def under_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def init(device: torch.device) -> tuple[torch.device, bool]:
    """Join the process group when ``WORLD_SIZE > 1``; returns this rank's device and whether
    this call created the group (so the caller knows to :func:`shutdown` it).

    CUDA: ``nccl``, one GPU per local rank (``cuda:LOCAL_RANK``); CPU: ``gloo``.
    """
    if world_size() <= 1:
        return device, False
    if device.type == "cuda":
        if local_rank() >= torch.cuda.device_count():
            raise RuntimeError(
                f"local rank {local_rank()} has no GPU: {torch.cuda.device_count()} visible; "
                "lower train.nproc (or --nproc-per-node) to the number of GPUs"
            )
        device = torch.device("cuda", local_rank())
        torch.cuda.set_device(device)
    if dist.is_initialized():
        return device, False
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return device, True


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum ``values`` over all ranks (returned unchanged in a single process).

    Rank 0's result is then broadcast, so every rank holds bit-identical numbers and takes
    identical decisions (best epoch, early stopping) from them.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return values
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    dist.broadcast(values, src=0)
    return values


def relaunch_with_torchrun(nproc: int, argv: Sequence[str] | None = None) -> None:
    """With ``nproc > 1`` and not already under torchrun: run this script again as
    ``python -m torch.distributed.run --standalone --nproc-per-node nproc <argv>`` and exit
    with its status. Otherwise return at once (the caller goes on training)."""
    if nproc <= 1 or under_torchrun():
        return
    if argv is None:  # `python -m stages.x` relaunches as a module, so the repo's code is imported
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        argv = ["--module", spec.name, *sys.argv[1:]] if spec and spec.name else list(sys.argv)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", *argv]
    print(f"[torchrun] {nproc} processes: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    raise SystemExit(subprocess.call(cmd))
