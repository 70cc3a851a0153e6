"""DVC stage train_lstm: an LSTM on windows of per-frame landmark features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from actionrec.config.params import Params
from actionrec.config.stage import StageError, run_stage
from actionrec.core.labels import LabelMap
from actionrec.data.corpus import load_recordings, window_samples
from actionrec.models.lstm import LandmarkLSTM
from actionrec.models.torch_io import SequenceDataset
from actionrec.training import ddp
from actionrec.training.loop import seed_everything
from actionrec.training.torch_runs import describe, train_and_log

SPLIT = Path("data/processed/split.csv")


@run_stage("train_lstm")
def main(params: Params) -> str:
    cfg, p = params.lstm.train, params.lstm
    ddp.relaunch_with_torchrun(cfg.nproc)  # train.nproc > 1: this script again under torchrun
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    split = pd.read_csv(SPLIT, dtype={"session_id": str, "group": str, "label": str})
    labels = LabelMap(params.data.labels)
    data: dict[str, SequenceDataset] = {}
    for subset in ("train", "val"):
        seqs, names, _ = window_samples(split, subset, by_id, params.features, p.window, p.stride)
        if not seqs:
            raise StageError(f"{SPLIT}: no {subset} windows for the LSTM")
        data[subset] = SequenceDataset(seqs, labels.encode(names, str(SPLIT)), p.window)
        if subset == "train":
            train_frames = torch.as_tensor(np.concatenate(seqs))
    seed_everything(cfg.seed)
    model = LandmarkLSTM(params.features.n_features, len(labels), p.hidden, p.layers, p.dropout)
    model.set_normalization(train_frames)
    example = np.stack([data["val"][i][0].numpy() for i in range(min(2, len(data["val"])))])
    result = train_and_log(
        name="lstm",
        model=model,
        train_ds=data["train"],
        val_ds=data["val"],
        cfg=cfg,
        manifest={
            "kind": "sequence",
            "labels": labels.labels,
            "features": params.features,
            "window": p.window,
            "stride": p.stride,
        },
        params={
            "lstm": p.model_dump(mode="json"),
            "features": params.features.model_dump(mode="json"),
            "seed": params.seed,
        },
        out_dir=Path("models/lstm"),
        curves_csv=Path("reports/curves/lstm.csv"),
        example=example,
        experiment=params.mlflow.experiment,
        inputs=[SPLIT],
    )
    return describe(result, len(data["train"]), len(data["val"]), "windows")


if __name__ == "__main__":
    main()
