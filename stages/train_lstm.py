"""DVC stage train_lstm: an LSTM on windows of per-frame landmark features."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.core.labels import LabelMap
from actionrec.models.lstm import LandmarkLSTM
from actionrec.training import ddp
from actionrec.training.loop import seed_everything
from actionrec.training.sequences import window_datasets
from actionrec.training.torch_runs import describe, train_and_log


@run_stage("train_lstm")
def main(params: Params) -> str:
    cfg, p = params.lstm.train, params.lstm
    ddp.relaunch_with_torchrun(cfg.nproc)  # train.nproc > 1: this script again under torchrun
    labels = LabelMap(params.data.labels)
    data, train_frames = window_datasets(params, labels)
    seed_everything(cfg.seed)
    model = LandmarkLSTM(params.features.n_features, len(labels), p.hidden, p.layers, p.dropout)
    model.set_normalization(train_frames)
    example = np.stack([data["val"][i][0].numpy() for i in range(min(2, len(data["val"])))])
    manifest = {"kind": "sequence", "labels": labels.labels, "features": params.features}
    logged = {"lstm": p.model_dump(mode="json"), "features": params.features.model_dump(mode="json")}
    result = train_and_log(
        name="lstm",
        model=model,
        train_ds=data["train"],
        val_ds=data["val"],
        cfg=cfg,
        manifest={**manifest, "window": p.window, "stride": p.stride},
        params={**logged, "seed": params.seed},
        out_dir=Path("models/lstm"),
        curves_csv=Path("reports/curves/lstm.csv"),
        example=example,
        experiment=params.mlflow.experiment,
        inputs=[paths.SPLIT],
    )
    return describe(result, len(data["train"]), len(data["val"]), "windows")


if __name__ == "__main__":
    main()
