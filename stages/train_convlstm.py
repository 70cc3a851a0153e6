"""DVC stage train_convlstm: a ConvLSTM on resized video clips (skipped when there are none), sized
by the device profile ``convlstm.profile`` names (in the MLflow params and the model manifest)."""

from __future__ import annotations

from pathlib import Path

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.core.labels import LabelMap
from actionrec.models.torch_io import ClipDataset
from actionrec.training import convlstm_setup as setup
from actionrec.training import ddp
from actionrec.training.clips import clip_arrays, clip_subsets, write_skipped
from actionrec.training.loop import seed_everything
from actionrec.training.torch_runs import describe, train_and_log

SPLIT, OUT, CURVES = paths.SPLIT, Path("models/convlstm"), Path("reports/curves/convlstm.csv")


@run_stage("train_convlstm")
def main(params: Params) -> str:
    profile, p = setup.choose_profile(params)
    files, encoded = clip_subsets(labels := LabelMap(params.data.labels))
    if not files["train"]:
        return write_skipped(OUT, CURVES)
    ddp.relaunch_with_torchrun(p.train.nproc)  # train.nproc > 1: this script again under torchrun
    seed_everything(p.train.seed)
    with clip_arrays(files) as arrays:
        train_clips, val_ds = (ClipDataset(arrays[s], encoded[s]) for s in ("train", "val"))
        result = train_and_log(
            name="convlstm",
            model=setup.build_model(len(labels), p),
            train_ds=setup.training_views(train_clips, p),
            val_ds=val_ds,
            cfg=p.train,
            params=setup.logged_params(params, profile, p),
            manifest=setup.manifest_fields(params, labels.labels, profile),
            example=val_ds[0][0].numpy()[None],
            out_dir=OUT,
            curves_csv=CURVES,
            experiment=params.mlflow.experiment,
            inputs=[SPLIT],
        )
    return f"{profile} profile: " + describe(result, len(train_clips), len(val_ds), "clips")


if __name__ == "__main__":
    main()
