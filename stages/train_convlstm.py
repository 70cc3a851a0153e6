"""DVC stage train_convlstm: a ConvLSTM on resized video clips (skipped when there are none).

Its sizes come from the device profile ``convlstm.profile`` names (``auto``: gpu when torch
sees CUDA, else cpu); the chosen one is logged (MLflow param ``convlstm.profile``) and kept
in the model manifest."""

from __future__ import annotations

from pathlib import Path

import torch

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.core.labels import LabelMap
from actionrec.models.convlstm import ConvLSTMClassifier
from actionrec.models.torch_io import ClipDataset
from actionrec.training import ddp
from actionrec.training.clip_augment import AugmentedClips
from actionrec.training.clips import clip_arrays, clip_subsets, write_skipped
from actionrec.training.loop import seed_everything
from actionrec.training.torch_runs import describe, train_and_log

SPLIT, OUT, CURVES = paths.SPLIT, Path("models/convlstm"), Path("reports/curves/convlstm.csv")


@run_stage("train_convlstm")
def main(params: Params) -> str:
    profile, p = params.convlstm.choose(torch.cuda.is_available())
    cfg, clip = p.train, params.extract_clips
    files, encoded = clip_subsets(labels := LabelMap(params.data.labels))
    if not files["train"]:
        return write_skipped(OUT, CURVES)
    ddp.relaunch_with_torchrun(cfg.nproc)  # train.nproc > 1: this script again under torchrun
    seed_everything(cfg.seed)
    model = ConvLSTMClassifier(
        len(labels),
        hidden=p.hidden,
        kernel=p.kernel,
        dropout=p.dropout,
        motion=p.motion,
        norm=p.norm,
        downsample=p.downsample,
    )
    with clip_arrays(files) as arrays:
        train_clips, val_ds = (ClipDataset(arrays[s], encoded[s]) for s in ("train", "val"))
        train_ds = AugmentedClips(train_clips, p.augment, cfg.seed)
        manifest = {"kind": "clip", "labels": labels.labels, "features": params.features, "profile": profile}
        logged = {
            "convlstm": {"profile": profile, "profile_asked": params.convlstm.profile, **p.model_dump(mode="json")},
            "extract_clips": clip.model_dump(),
            "seed": params.seed,
        }
        where = {"out_dir": OUT, "curves_csv": CURVES, "experiment": params.mlflow.experiment, "inputs": [SPLIT]}
        result = train_and_log(
            name="convlstm",
            model=model,
            train_ds=train_ds,
            val_ds=val_ds,
            cfg=cfg,
            params=logged,
            manifest={**manifest, "n_frames": clip.n_frames, "size": clip.size},
            example=val_ds[0][0].numpy()[None],
            **where,
        )
    return f"{profile} profile: " + describe(result, len(train_clips), len(val_ds), "clips")


if __name__ == "__main__":
    main()
