"""The LSTM's training inputs: windows of per-frame features per subset."""

from __future__ import annotations

import numpy as np
import torch

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.config.stage import StageError
from actionrec.core.labels import LabelMap
from actionrec.data.corpus import load_recordings, window_samples
from actionrec.data.split import read_split
from actionrec.models.torch_io import SequenceDataset


def window_datasets(params: Params, labels: LabelMap) -> tuple[dict[str, SequenceDataset], torch.Tensor]:
    """The train and val window datasets of ``params.lstm``, and the train frames (for normalisation)."""
    p = params.lstm
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    split = read_split()
    data: dict[str, SequenceDataset] = {}
    train_frames = torch.empty(0)
    for subset in ("train", "val"):
        seqs, names, _ = window_samples(split, subset, by_id, params.features, p.window, p.stride)
        if not seqs:
            raise StageError(f"{paths.SPLIT}: no {subset} windows for the LSTM")
        encoded = labels.encode(names, str(paths.SPLIT))
        data[subset] = SequenceDataset(seqs, encoded, p.window)  # type: ignore[arg-type]  # ndarray of ints
        if subset == "train":
            train_frames = torch.as_tensor(np.concatenate(seqs))
    return data, train_frames
