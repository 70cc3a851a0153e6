"""The one torch training loop for every neural model: datasets, fit, predict, checkpoints, plots.

Dataset items are tuples of tensors, told apart by their length:

* sequences (:class:`SequenceDataset`): ``(x (T, F) float32, length int, y int)``;
* clips (:class:`ClipDataset`): ``(x (T, C, H, W) float32 in [0, 1], y int)``.

:func:`batch_to_inputs` turns a collated batch into ``model(*inputs)`` arguments, so one loop
trains :class:`~actionrec.models.lstm.LandmarkLSTM` and
:class:`~actionrec.models.convlstm.ConvLSTMClassifier` alike.
"""
from __future__ import annotations

import json
import logging
import math
import mmap
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, Field
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler
from tqdm import tqdm

from actionrec.config.training import TrainConfig
from actionrec.core.io import atomic_open
from actionrec.training import ddp
from actionrec.models.convlstm import ConvLSTMClassifier
from actionrec.models.lstm import LandmarkLSTM

log = logging.getLogger(__name__)

Batch = Sequence[torch.Tensor]


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


# --------------------------------------------------------------------------- datasets


def _fit_window(seq: np.ndarray, window: int) -> np.ndarray:
    """Centre crop ``seq`` to at most ``window`` frames."""
    start = max(0, (len(seq) - window) // 2)
    return seq[start : start + window]


class SequenceDataset(Dataset):
    """Landmark feature sequences padded or centre-cropped to ``window`` frames.

    Items are ``(x (window, F) float32, length, label)``; rows past ``length`` are zeros,
    which :class:`~actionrec.models.lstm.LandmarkLSTM` masks out.
    """

    def __init__(self, sequences: Sequence[np.ndarray], labels: Sequence[int], window: int):
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if len(sequences) != len(labels):
            raise ValueError(f"{len(sequences)} sequences but {len(labels)} labels")
        if not len(sequences):
            raise ValueError("no sequences given")
        widths = {s.shape[1] if s.ndim == 2 else None for s in sequences}
        if len(widths) != 1 or None in widths:
            raise ValueError(f"sequences must all be 2-D (T, F) with one F, got F in {widths}")
        self.x = np.zeros((len(sequences), window, widths.pop()), dtype=np.float32)
        self.lengths = np.zeros(len(sequences), dtype=np.int64)
        for i, seq in enumerate(sequences):
            if not len(seq):
                raise ValueError(f"sequence {i} has no frames")
            if not np.isfinite(seq).all():
                raise ValueError(f"sequence {i} holds NaN/inf; fill missing landmarks first")
            crop = _fit_window(seq, window)
            self.x[i, : len(crop)] = crop
            self.lengths[i] = len(crop)
        self.y = np.asarray(labels, dtype=np.int64)

    @property
    def n_features(self) -> int:
        return int(self.x.shape[2])

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        return torch.from_numpy(self.x[i]), int(self.lengths[i]), int(self.y[i])


class ClipDataset(Dataset):
    """uint8 frame clips ``(N, T, H, W, C)`` from an array, a memmap or a ``.npy`` path.

    Clips stay uint8 in memory (a ``.npy`` path is memory-mapped); an item is converted to
    float32 ``(T, C, H, W)`` in [0, 1] only when it is loaded. A memory-mapped item's pages are
    released from the process after it is copied out (``MADV_DONTNEED``; the kernel's page
    cache still holds them), so the resident set does not grow with the data set over an epoch.
    """

    def __init__(self, clips: str | os.PathLike[str] | np.ndarray, labels: Sequence[int]):
        self._path = None if isinstance(clips, np.ndarray) else Path(clips)
        self._clips = clips if self._path is None else self._open()
        if self._clips.dtype != np.uint8 or self._clips.ndim != 5:
            raise ValueError(
                f"clips must be uint8 (N, T, H, W, C), got {self._clips.dtype} "
                f"{self._clips.shape}"
            )
        if len(self._clips) != len(labels):
            raise ValueError(f"{len(self._clips)} clips but {len(labels)} labels")
        self.y = np.asarray(labels, dtype=np.int64)

    def _open(self) -> np.ndarray:
        return np.load(self._path, mmap_mode="r")

    def __getstate__(self) -> dict[str, Any]:
        # A memmap would be pickled as a full in-memory copy: workers reopen the file instead.
        state = self.__dict__.copy()
        if self._path is not None:
            state["_clips"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._path is not None:
            self._clips = self._open()

    def __len__(self) -> int:
        return len(self.y)

    def _release(self, i: int) -> None:
        """Drop clip ``i``'s mapped pages from this process's resident set (only for a ``.npy``
        path, which this class maps read-only itself; never for an array it was handed)."""
        mm = getattr(self._clips, "_mmap", None) if self._path is not None else None
        if mm is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        size = self._clips.strides[0]
        start = self._clips.offset % mmap.ALLOCATIONGRANULARITY + i * size  # numpy maps from a
        lo = start - start % mmap.PAGESIZE  # granularity-aligned offset before the array
        mm.madvise(mmap.MADV_DONTNEED, lo, min(len(mm), start + size) - lo)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        i = range(len(self.y))[i]  # negative indices too; IndexError past the end
        clip = torch.from_numpy(np.array(self._clips[i]))
        self._release(i)
        x = clip.permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format)
        return x.div_(255.0), int(self.y[i])


def batch_to_inputs(
    batch: Batch, device: torch.device
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    """Split a collated batch into ``model(*inputs)`` arguments and labels on ``device``.

    Sequence batches give ``(x, lengths)``; lengths stay on the CPU, where packing needs them.
    Clip batches give ``(x,)``.
    """
    *inputs, y = batch
    if len(inputs) == 2:
        x, lengths = inputs
        return (x.to(device, non_blocking=True), lengths), y.to(device, non_blocking=True)
    if len(inputs) == 1:
        return (inputs[0].to(device, non_blocking=True),), y.to(device, non_blocking=True)
    raise TypeError(f"batches must be (x, lengths, y) or (x, y), got {len(batch)} fields")


def _loader(
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
    sampler = None
    if seed is not None:
        sampler = DistributedSampler(
            ds, num_replicas=ddp.world_size(), rank=ddp.rank(), shuffle=True, seed=seed
        )
    elif shard and ddp.world_size() > 1:
        sampler = range(ddp.rank(), len(ds), ddp.world_size())
    return DataLoader(
        ds,
        batch_size=batch_size,
        sampler=sampler,
        generator=generator,
        num_workers=num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=num_workers > 0,
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
            if training:
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


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


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
    On return the model is on the training device and holds the best epoch's weights.

    Under ``torchrun`` (``WORLD_SIZE > 1``) each process trains a DistributedDataParallel
    replica on its shard of every epoch (``cfg.batch_size`` per process; see :func:`_loader`),
    validates on its shard of the validation set, and the sums behind every metric are
    reduced over the ranks, so all ranks hold the same history and stop at the same epoch.
    ``on_epoch`` and the log lines run on rank 0 only. Each rank's dropout is seeded with
    ``cfg.seed + rank``.
    """
    if not len(train_ds) or not len(val_ds):
        raise ValueError(f"empty dataset: {len(train_ds)} train, {len(val_ds)} val items")
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
    train_loader = _loader(train_ds, cfg.batch_size, device, cfg.num_workers, seed=cfg.seed)
    val_loader = _loader(val_ds, cfg.batch_size, device, cfg.num_workers, shard=True)
    if main:
        log.info(
            "training %s on %s (amp=%s, %d process(es)): %d train, %d val items",
            type(model).__name__, device, precision.enabled, ddp.world_size(), len(train_ds), len(val_ds),
        )

    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state = math.inf, 0, _cpu_state(model)
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        desc = f"epoch {epoch}/{cfg.epochs}"
        train_loader.sampler.set_epoch(epoch - 1)
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
            "samples_per_s": len(train_ds) / train_s,
        }
        history.append(row)
        if main:
            log.info(
                "epoch %d: train loss %.4f acc %.3f | val loss %.4f acc %.3f | %.1f samples/s",
                epoch, train_loss, train_acc, val_loss, val_acc, row["samples_per_s"],
            )
        if on_epoch is not None and main:
            on_epoch(dict(row))
        if val_loss < best_loss:
            best_loss, best_epoch, best_state = val_loss, epoch, _cpu_state(model)
        elif epoch - best_epoch >= cfg.patience:
            if main:
                log.info("early stop after epoch %d (best %d)", epoch, best_epoch)
            break
    model.load_state_dict(best_state)
    return FitResult(history, best_epoch, best_state, str(device))


@torch.no_grad()
def predict_proba(
    model: nn.Module, ds: Dataset, device: str | torch.device = "cpu", batch_size: int = 64
) -> np.ndarray:
    """Class probabilities ``(N, n_classes)`` float32 in dataset order.

    Moves ``model`` to ``device`` and puts it in eval mode; runs in fp32.
    """
    device = torch.device(device)
    model.to(device).eval()
    out = []
    for batch in _loader(ds, batch_size, device, num_workers=0):
        inputs, _ = batch_to_inputs(batch, device)
        out.append(torch.softmax(model(*inputs).float(), dim=1).cpu())
    return torch.cat(out).numpy()


# --------------------------------------------------------------------------- checkpoints

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "lstm": LandmarkLSTM,
    "convlstm": ConvLSTMClassifier,
}


def model_spec(model: nn.Module) -> dict[str, Any]:
    """``{"arch": ..., "hparams": ...}`` for a manifest, enough for :func:`build_model`."""
    for arch, cls in ARCHITECTURES.items():
        if type(model) is cls:
            return {"arch": arch, "hparams": dict(model.hparams)}
    raise TypeError(f"{type(model).__name__} is not one of {sorted(ARCHITECTURES)}")


def build_model(manifest: dict) -> nn.Module:
    """Rebuild an untrained model from a manifest holding :func:`model_spec`'s keys."""
    arch = manifest.get("arch")
    if arch not in ARCHITECTURES:
        raise ValueError(f"manifest 'arch' must be one of {sorted(ARCHITECTURES)}, got {arch!r}")
    return ARCHITECTURES[arch](**manifest["hparams"])


def save_checkpoint(model: nn.Module, path: str | os.PathLike[str], manifest: dict) -> None:
    """Write the CPU ``state_dict`` to ``path`` and ``manifest`` to ``path.with_suffix('.json')``.

    Both writes are atomic. The manifest must be JSON-serialisable and hold whatever
    ``build_model`` needs to rebuild the architecture (see :func:`load_checkpoint`).
    """
    path = Path(path)
    text = json.dumps(manifest, indent=2, sort_keys=True)  # fails before anything is written
    with atomic_open(path, "wb") as fh:
        torch.save(_cpu_state(model), fh)
    with atomic_open(path.with_suffix(".json"), "w") as fh:
        fh.write(text + "\n")


def load_checkpoint(
    path: str | os.PathLike[str],
    build_model: Callable[[dict], nn.Module] = build_model,
) -> tuple[nn.Module, dict]:
    """Rebuild a model from its manifest and load its weights (``weights_only=True``, CPU).

    Returns the model in eval mode on the CPU and the manifest.
    """
    path = Path(path)
    manifest = json.loads(path.with_suffix(".json").read_text())
    model = build_model(manifest)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval(), manifest


# --------------------------------------------------------------------------- plots


def plot_history(history: Sequence[dict[str, float]], png_path: str | os.PathLike[str]) -> None:
    """Loss and accuracy curves (train and val) side by side in one PNG; best epoch marked."""
    # Imported here: inference code (live, web) loads checkpoints without paying for matplotlib.
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if not history:
        raise ValueError("empty history: nothing to plot")
    epochs = [row["epoch"] for row in history]
    best = min(history, key=lambda row: row["val_loss"])["epoch"]
    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("loss", "acc")):
        for split in ("train", "val"):
            values = [row[f"{split}_{metric}"] for row in history]
            ax.plot(epochs, values, marker=".", label=split)
        ax.axvline(best, color="grey", linestyle=":", label=f"best epoch {best}")
        title = "accuracy" if metric == "acc" else "loss"
        ax.set(xlabel="epoch", ylabel=title if metric == "acc" else "cross-entropy", title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=100)
