"""The sequence models' training (LSTM, TCN): windows of per-frame features per subset, augmented
training windows, and the stage body that trains one of them through the shared loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from actionrec.config import paths
from actionrec.config.params import LstmParams, Params, TcnParams
from actionrec.config.stage import StageError
from actionrec.core.labels import LabelMap
from actionrec.data.corpus import load_recordings, window_samples
from actionrec.data.split import read_split
from actionrec.models.standardised import StandardisedSequenceModel
from actionrec.models.torch_io import SequenceDataset
from actionrec.training import ddp
from actionrec.training.augment import AugmentedWindows, Augmenter
from actionrec.training.loop import seed_everything
from actionrec.training.torch_runs import describe, train_and_log

Section = Literal["lstm", "tcn"]


def window_datasets(
    params: Params, labels: LabelMap, section: Section
) -> tuple[dict[str, SequenceDataset], torch.Tensor]:
    """The train and val window datasets of ``params.<section>``, and the train frames (for
    normalisation); not augmented."""
    p: LstmParams | TcnParams = getattr(params, section)
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    split = read_split()
    data: dict[str, SequenceDataset] = {}
    train_frames = torch.empty(0)
    for subset in ("train", "val"):
        seqs, names, _ = window_samples(split, subset, by_id, params.features, p.window, p.stride)
        if not seqs:
            raise StageError(f"{paths.SPLIT}: no {subset} windows for {section}")
        encoded = labels.encode(names, str(paths.SPLIT))
        data[subset] = SequenceDataset(seqs, encoded, p.window)
        if subset == "train":
            train_frames = torch.as_tensor(np.concatenate(seqs))
    return data, train_frames


def train_sequence_stage(
    params: Params, section: Section, build: Callable[[int, int], StandardisedSequenceModel]
) -> str:
    """Train ``build(n_features, n_classes)`` on ``params.<section>``'s windows, log it to MLflow
    and write ``models/<section>/``; the stage's summary line."""
    p: LstmParams | TcnParams = getattr(params, section)
    ddp.relaunch_with_torchrun(p.train.nproc)  # train.nproc > 1: this script again under torchrun
    labels = LabelMap(params.data.labels)
    data, train_frames = window_datasets(params, labels, section)
    seed_everything(p.train.seed)
    model = build(params.features.n_features, len(labels))
    model.set_normalization(train_frames)
    train_ds: Dataset = data["train"]
    if p.augment.active:
        train_ds = AugmentedWindows(data["train"], Augmenter(params.features, p.augment), params.seed)
    example = np.stack([data["val"][i][0].numpy() for i in range(min(2, len(data["val"])))])
    manifest = {"kind": "sequence", "labels": labels.labels, "features": params.features}
    logged = {section: p.model_dump(mode="json"), "features": params.features.model_dump(mode="json")}
    result = train_and_log(
        name=section,
        model=model,
        train_ds=train_ds,
        val_ds=data["val"],
        cfg=p.train,
        manifest={**manifest, "window": p.window, "stride": p.stride},
        params={**logged, "seed": params.seed},
        out_dir=paths.MODELS / section,
        curves_csv=paths.CURVES / f"{section}.csv",
        example=example,
        experiment=params.mlflow.experiment,
        inputs=[paths.SPLIT],
        open_set=p.open_set,
    )
    return describe(result, len(data["train"]), len(data["val"]), "windows")
