"""The one torch training loop for every neural model: seeds, loaders, precision, epochs, fit.

Datasets, batches and checkpoints live in :mod:`actionrec.models.torch_io` (the live bundle
needs them without the training side); :func:`fit` trains any model whose batches
:func:`~actionrec.models.torch_io.batch_to_inputs` understands.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from actionrec.config.training import TrainConfig
from actionrec.models.torch_io import Batch, batch_to_inputs, cpu_state
from actionrec.training import ddp

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    """What :func:`fit` returns; the model itself already holds ``best_state``."""

    history: list[dict[str, float]]
    best_epoch: int
    best_state: dict[str, torch.Tensor]
    device: str


# --------------------------------------------------------------------------- devices, seeds


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA device")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {name!r}")
    return torch.device(name)


def seed_everything(seed: int, *, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA generators).

    ``deterministic`` turns on torch's deterministic algorithms, which makes two CPU runs
    bit-identical (at the same thread count) at no measurable cost. :func:`fit` turns it off
    on CUDA, where it would forbid fast kernels; there cuDNN autotuning is enabled instead and
    runs are seeded but not bit-reproducible.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(deterministic)
    torch.backends.cudnn.benchmark = not deterministic


def dataset_size(ds: Dataset) -> int:
    """The item count of a map-style dataset (torch's ``Dataset`` type declares no ``__len__``)."""
    return len(ds)  # type: ignore[arg-type]


def make_loader(
    ds: Dataset,
    batch_size: int,
    device: torch.device,
    num_workers: int,
    seed: int | None = None,
    shard: bool = False,
) -> DataLoader:
    """A loader; with ``seed``, shuffled reproducibly: epoch ``e`` (``loader.sampler.set_epoch``)
    is the permutation ``randperm(n)`` seeded with ``seed + e``, and under torchrun rank ``r``
    takes its every ``world_size``-th item from ``r`` on (a :class:`DistributedSampler`, which
    pads the epoch to a multiple of the world size). So N processes with batch B see, step by
    step, the same samples as one process with batch N x B. ``shard`` (no seed): this rank's
    every ``world_size``-th item, unpadded, in order (evaluation)."""
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    sampler: Iterable[int] | None = None
    if seed is not None:
        sampler = DistributedSampler(ds, num_replicas=ddp.world_size(), rank=ddp.rank(), shuffle=True, seed=seed)
    elif shard and ddp.world_size() > 1:
        sampler = range(ddp.rank(), dataset_size(ds), ddp.world_size())
    return DataLoader(
        ds,
        batch_size=batch_size,
        sampler=sampler,
        generator=generator,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=num_workers > 0 and not hasattr(ds, "set_epoch"),  # workers see the epoch
    )


# --------------------------------------------------------------------------- the loop


class _Precision:
    """fp16 autocast + GradScaler on CUDA when asked, plain fp32 otherwise.

    fp16 rather than bf16: cuDNN's LSTM casts to fp16 under any autocast dtype, so the
    LSTM's gradients need loss scaling either way.
    """

    def __init__(self, device: torch.device, amp: bool) -> None:
        self.device_type = device.type
        self.enabled = amp and device.type == "cuda"
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.enabled)

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device_type, dtype=torch.float16, enabled=self.enabled)


def _progress(loader: DataLoader, desc: str) -> Iterable[Batch]:
    return tqdm(loader, desc=desc, leave=False, disable=not sys.stderr.isatty())


def _run_epoch(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    precision: _Precision,
    optimizer: torch.optim.Optimizer | None,
    desc: str,
) -> tuple[float, float]:
    """One pass over ``loader``; trains when an optimizer is given. -> (mean loss, accuracy)."""
    training = optimizer is not None
    model.train(training)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    with torch.set_grad_enabled(training):
        for batch in _progress(loader, desc):
            inputs, y = batch_to_inputs(batch, device)
            with precision.autocast():
                logits = model(*inputs)
                loss = F.cross_entropy(logits, y)
            if optimizer is not None:
                optimizer.zero_grad(set_to_none=True)
                precision.scaler.scale(loss).backward()
                precision.scaler.step(optimizer)
                precision.scaler.update()
            loss_sum += loss.detach().double() * len(y)
            correct += (logits.argmax(dim=1) == y).sum()
            seen += len(y)
    # Under torchrun: sums over every rank's shard (identical on all ranks).
    totals = torch.stack([loss_sum, correct.double(), loss_sum.new_tensor(float(seen))])
    loss_sum, correct, seen = ddp.all_reduce_sum(totals).tolist()
    return loss_sum / seen, correct / seen


def fit(
    model: nn.Module,
    train_ds: Dataset,
    val_ds: Dataset,
    cfg: TrainConfig,
    on_epoch: Callable[[dict[str, float]], None] | None = None,
) -> FitResult:
    """Train with AdamW and cross-entropy, early-stopping on validation loss.

    Seeds everything from ``cfg.seed`` first (dropout, shuffling); seed before building the
    model too (:func:`seed_everything`) for reproducible initial weights. Each epoch appends
    ``epoch, train_loss, train_acc, val_loss, val_acc, seconds`` (whole epoch) and
    ``samples_per_s`` (training phase) to the history and passes that row to ``on_epoch``.
    On return the model is on the training device and holds the best epoch's weights. A training
    set with ``set_epoch`` (:class:`~actionrec.training.augment.AugmentedWindows`) is told each
    epoch's number (from 0) before the epoch, so its random transforms differ between epochs
    but not between runs.

    Under ``torchrun`` (``WORLD_SIZE > 1``) each process trains a DistributedDataParallel
    replica on its shard of every epoch (``cfg.batch_size`` per process; see :func:`make_loader`),
    validates on its shard of the validation set, and the sums behind every metric are
    reduced over the ranks, so all ranks hold the same history and stop at the same epoch.
    ``on_epoch`` and the log lines run on rank 0 only. Each rank's dropout is seeded with
    ``cfg.seed + rank``.
    """
    n_train, n_val = dataset_size(train_ds), dataset_size(val_ds)
    if not n_train or not n_val:
        raise ValueError(
            f"empty dataset: {n_train} train, {n_val} val items; both need clips: add data, or "
            "change the split (val fraction) or the window so that each side keeps some"
        )
    device, own_group = ddp.init(resolve_device(cfg.device))
    try:
        return _fit(model, train_ds, val_ds, cfg, on_epoch, device)
    finally:
        if own_group:
            ddp.shutdown()


def _fit(
    model: nn.Module,
    train_ds: Dataset,
    val_ds: Dataset,
    cfg: TrainConfig,
    on_epoch: Callable[[dict[str, float]], None] | None,
    device: torch.device,
) -> FitResult:
    seed_everything(cfg.seed, deterministic=device.type == "cpu")
    main = ddp.is_main_process()
    model.to(device)
    net: nn.Module = model
    if ddp.world_size() > 1:
        torch.manual_seed(cfg.seed + ddp.rank())  # each replica draws its own dropout masks
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    precision = _Precision(device, cfg.amp)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_loader = make_loader(train_ds, cfg.batch_size, device, cfg.num_workers, seed=cfg.seed)
    epoch_sampler = train_loader.sampler
    assert isinstance(epoch_sampler, DistributedSampler)  # make_loader's, with a seed
    val_loader = make_loader(val_ds, cfg.batch_size, device, cfg.num_workers, shard=True)
    if main:
        log.info(
            "training %s on %s (amp=%s, %d process(es)): %d train, %d val items",
            type(model).__name__,
            device,
            precision.enabled,
            ddp.world_size(),
            dataset_size(train_ds),
            dataset_size(val_ds),
        )

    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state = math.inf, 0, cpu_state(model)
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        desc = f"epoch {epoch}/{cfg.epochs}"
        epoch_sampler.set_epoch(epoch - 1)
        if hasattr(train_ds, "set_epoch"):  # augmented datasets draw each epoch's transforms afresh
            train_ds.set_epoch(epoch - 1)
        train_loss, train_acc = _run_epoch(net, train_loader, device, precision, optimizer, desc)
        train_s = time.perf_counter() - start
        if not math.isfinite(train_loss):
            raise FloatingPointError(f"training loss is {train_loss} at epoch {epoch}; lower lr")
        val_loss, val_acc = _run_epoch(model, val_loader, device, precision, None, "validate")
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "seconds": time.perf_counter() - start,
            "samples_per_s": dataset_size(train_ds) / train_s,
        }
        history.append(row)
        if main:
            log.info(
                "epoch %d: train loss %.4f acc %.3f | val loss %.4f acc %.3f | %.1f samples/s",
                epoch,
                train_loss,
                train_acc,
                val_loss,
                val_acc,
                row["samples_per_s"],
            )
        if on_epoch is not None and main:
            on_epoch(dict(row))
        if val_loss < best_loss:
            best_loss, best_epoch, best_state = val_loss, epoch, cpu_state(model)
        elif epoch - best_epoch >= cfg.patience:
            if main:
                log.info("early stop after epoch %d (best %d)", epoch, best_epoch)
            break
    model.load_state_dict(best_state)
    return FitResult(history, best_epoch, best_state, str(device))
