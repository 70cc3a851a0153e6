"""DVC stage train_convlstm: a ConvLSTM on resized video clips (skipped when there are none)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from actionrec.config.params import Params
from actionrec.config.stage import StageError, run_stage
from actionrec.core.labels import LabelMap
from actionrec.data.corpus import clip_files
from actionrec.models.convlstm import ConvLSTMClassifier
from actionrec.models.torch_io import ClipDataset
from actionrec.training import ddp
from actionrec.training.clips import clip_arrays, write_skipped
from actionrec.training.loop import seed_everything
from actionrec.training.torch_runs import describe, train_and_log

SPLIT = Path("data/processed/split.csv")
OUT = Path("models/convlstm")
CURVES = Path("reports/curves/convlstm.csv")


@run_stage("train_convlstm")
def main(params: Params) -> str:
    cfg, p = params.convlstm.train, params.convlstm
    split = pd.read_csv(SPLIT, dtype={"session_id": str, "group": str, "label": str})
    labels = LabelMap(params.data.labels)
    files, encoded = {}, {}
    for subset in ("train", "val"):
        files[subset], names, _ = clip_files(split, subset)
        encoded[subset] = labels.encode(names, str(SPLIT))
    if not files["train"]:
        return write_skipped(OUT, CURVES)
    if not files["val"]:
        raise StageError(f"{SPLIT}: video clips in train but none in val; lower split.val_size or add clips")
    ddp.relaunch_with_torchrun(cfg.nproc)  # train.nproc > 1: this script again under torchrun
    seed_everything(cfg.seed)
    model = ConvLSTMClassifier(len(labels), hidden=p.hidden, kernel=p.kernel, dropout=p.dropout)
    with clip_arrays(files) as arrays:
        train_ds, val_ds = (ClipDataset(arrays[s], encoded[s]) for s in ("train", "val"))
        result = train_and_log(
            name="convlstm",
            model=model,
            train_ds=train_ds,
            val_ds=val_ds,
            cfg=cfg,
            manifest={
                "kind": "clip",
                "labels": labels.labels,
                "features": params.features,
                "n_frames": params.extract_clips.n_frames,
                "size": params.extract_clips.size,
            },
            params={
                "convlstm": p.model_dump(mode="json"),
                "extract_clips": params.extract_clips.model_dump(),
                "seed": params.seed,
            },
            out_dir=OUT,
            curves_csv=CURVES,
            example=val_ds[0][0].numpy()[None],
            experiment=params.mlflow.experiment,
            inputs=[SPLIT],
        )
    return describe(result, len(train_ds), len(val_ds), "clips")


if __name__ == "__main__":
    main()
