"""Torch models at inference: datasets, batches, probabilities, architectures and checkpoints.

Dataset items are tuples of tensors, told apart by their length:

* sequences (:class:`SequenceDataset`): ``(x (T, F) float32, length int, y int)``;
* clips (:class:`ClipDataset`): ``(x (T, C, H, W) float32 in [0, 1], y int)``.

:func:`batch_to_inputs` turns a collated batch into ``model(*inputs)`` arguments, so one loop
(:mod:`actionrec.training.loop`) trains the sequence models (:class:`~actionrec.models.lstm.LandmarkLSTM`,
:class:`~actionrec.models.tcn.LandmarkTCN`) and :class:`~actionrec.models.convlstm.ConvLSTMClassifier`
alike, and :func:`predict_proba` serves them all. A checkpoint is a CPU ``state_dict`` (``.pt``) beside its :class:`ModelManifest`.
"""
from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from actionrec.core.io import atomic_open
from actionrec.core.manifests import ModelManifest, read_model, write_model
from actionrec.models.convlstm import ConvLSTMClassifier
from actionrec.models.lstm import LandmarkLSTM
from actionrec.models.tcn import LandmarkTCN

Batch = Sequence[torch.Tensor]

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "lstm": LandmarkLSTM,
    "tcn": LandmarkTCN,
    "convlstm": ConvLSTMClassifier,
}


# --------------------------------------------------------------------------- datasets


def _fit_window(seq: np.ndarray, window: int) -> np.ndarray:
    """Centre crop ``seq`` to at most ``window`` frames."""
    start = max(0, (len(seq) - window) // 2)
    return seq[start : start + window]


class SequenceDataset(Dataset):
    """Landmark feature sequences padded or centre-cropped to ``window`` frames.

    Items are ``(x (window, F) float32, length, label)``; rows past ``length`` are zeros,
    which the sequence models mask out.
    """

    def __init__(self, sequences: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray, window: int):
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if len(sequences) != len(labels):
            raise ValueError(f"{len(sequences)} sequences but {len(labels)} labels")
        if not len(sequences):
            raise ValueError("no sequences given")
        widths = {s.shape[1] if s.ndim == 2 else None for s in sequences}
        width = widths.pop() if len(widths) == 1 else None
        if width is None:
            raise ValueError(f"sequences must all be 2-D (T, F) with one F, got F in {widths or {None}}")
        self.x = np.zeros((len(sequences), window, width), dtype=np.float32)
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


def _open_clips(path: Path) -> np.ndarray:
    """The clips of a ``.npy`` file, memory-mapped read-only."""
    return np.load(path, mmap_mode="r")


class ClipDataset(Dataset):
    """uint8 frame clips ``(N, T, H, W, C)`` from an array, a memmap or a ``.npy`` path.

    Clips stay uint8 in memory (a ``.npy`` path is memory-mapped); an item is converted to
    float32 ``(T, C, H, W)`` in [0, 1] only when it is loaded. A memory-mapped item's pages are
    released from the process after it is copied out (``MADV_DONTNEED``; the kernel's page
    cache still holds them), so the resident set does not grow with the data set over an epoch.
    """

    def __init__(self, clips: str | os.PathLike[str] | np.ndarray, labels: Sequence[int] | np.ndarray):
        self._path = None if isinstance(clips, np.ndarray) else Path(clips)
        self._clips: np.ndarray = clips if isinstance(clips, np.ndarray) else _open_clips(Path(clips))
        if self._clips.dtype != np.uint8 or self._clips.ndim != 5:
            raise ValueError(
                f"clips must be uint8 (N, T, H, W, C), got {self._clips.dtype} "
                f"{self._clips.shape}"
            )
        if len(self._clips) != len(labels):
            raise ValueError(f"{len(self._clips)} clips but {len(labels)} labels")
        self.y = np.asarray(labels, dtype=np.int64)

    def __getstate__(self) -> dict[str, Any]:
        # A memmap would be pickled as a full in-memory copy: workers reopen the file instead.
        state = self.__dict__.copy()
        if self._path is not None:
            state["_clips"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._path is not None:
            self._clips = _open_clips(self._path)

    def __len__(self) -> int:
        return len(self.y)

    def _release(self, i: int) -> None:
        """Drop clip ``i``'s mapped pages from this process's resident set (only for a ``.npy``
        path, which this class maps read-only itself; never for an array it was handed)."""
        clips = self._clips
        if self._path is None or not isinstance(clips, np.memmap) or not hasattr(mmap, "MADV_DONTNEED"):
            return
        mm = getattr(clips, "_mmap", None)
        if mm is None:
            return
        size = clips.strides[0]
        start = clips.offset % mmap.ALLOCATIONGRANULARITY + i * size  # numpy maps from a
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
    for batch in DataLoader(ds, batch_size=batch_size, pin_memory=device.type == "cuda"):
        inputs, _ = batch_to_inputs(batch, device)
        out.append(torch.softmax(model(*inputs).float(), dim=1).cpu())
    return torch.cat(out).numpy()


# --------------------------------------------------------------------------- checkpoints


def cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``model``'s ``state_dict``."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def model_spec(model: nn.Module) -> dict[str, Any]:
    """``{"arch": ..., "hparams": ...}`` for a manifest, enough for :func:`build_model`."""
    for arch, cls in ARCHITECTURES.items():
        if type(model) is cls:
            return {"arch": arch, "hparams": dict(cast(Mapping[str, Any], model.hparams))}
    raise TypeError(f"{type(model).__name__} is not one of {sorted(ARCHITECTURES)}")


def build_model(manifest: ModelManifest) -> nn.Module:
    """Rebuild an untrained model from a manifest holding :func:`model_spec`'s fields."""
    if manifest.arch not in ARCHITECTURES:
        raise ValueError(f"manifest 'arch' must be one of {sorted(ARCHITECTURES)}, got {manifest.arch!r}")
    return ARCHITECTURES[manifest.arch](**(manifest.hparams or {}))


def save_checkpoint(model: nn.Module, path: str | os.PathLike[str], manifest: ModelManifest) -> None:
    """Write the CPU ``state_dict`` to ``path`` and ``manifest`` to ``path.with_suffix('.json')``.

    Both writes are atomic; ``manifest`` holds what :func:`build_model` needs (see
    :func:`load_checkpoint`).
    """
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        torch.save(cpu_state(model), fh)
    write_model(path.with_suffix(".json"), manifest)


def load_checkpoint(
    path: str | os.PathLike[str],
    build_model: Callable[[ModelManifest], nn.Module] = build_model,
) -> tuple[nn.Module, ModelManifest]:
    """Rebuild a model from its manifest and load its weights (``weights_only=True``, CPU).

    Returns the model in eval mode on the CPU and the manifest.
    """
    path = Path(path)
    manifest = read_model(path.with_suffix(".json"))
    model = build_model(manifest)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval(), manifest
