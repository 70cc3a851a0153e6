"""DVC stage train_convlstm: a ConvLSTM on resized video clips (skipped when there are none)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from actionrec.corpus import clip_samples
from actionrec.labels import LabelMap
from actionrec.models.convlstm import ConvLSTMClassifier
from actionrec.models.train import ClipDataset, seed_everything
from actionrec.params import Params
from actionrec.stage import StageError, run_stage, write_json, write_text
from actionrec.torch_runs import train_and_log

SPLIT = Path("data/processed/split.csv")
OUT = Path("models/convlstm")
CURVES = Path("reports/curves/convlstm.csv")


@run_stage("train_convlstm")
def main(params: Params) -> str:
    cfg, p = params.convlstm.train, params.convlstm
    split = pd.read_csv(SPLIT, dtype={"session_id": str, "group": str, "label": str})
    labels = LabelMap(params.data.labels)
    data = {}
    for subset in ("train", "val"):
        clips, names, _ = clip_samples(split, subset)
        data[subset] = (clips, labels.encode(names, str(SPLIT)))
    if not len(data["train"][1]):
        OUT.mkdir(parents=True, exist_ok=True)
        write_json(OUT / "skipped.json", {"reason": "no video clips in the train split"})
        write_text(CURVES, "epoch,train_loss,val_loss,train_acc,val_acc\n")
        return "skipped: no video clips"
    if not len(data["val"][1]):
        raise StageError(f"{SPLIT}: video clips in train but none in val; lower split.val_size or add clips")
    seed_everything(cfg.seed)
    model = ConvLSTMClassifier(len(labels), hidden=p.hidden, kernel=p.kernel, dropout=p.dropout)
    train_ds, val_ds = (ClipDataset(*data[s]) for s in ("train", "val"))
    example = val_ds[0][0].numpy()[None]
    result = train_and_log(
        name="convlstm",
        model=model,
        train_ds=train_ds,
        val_ds=val_ds,
        cfg=cfg,
        manifest={"kind": "clip", "labels": labels.labels, "features": params.features.model_dump(mode="json"),
                  "n_frames": params.extract_clips.n_frames, "size": params.extract_clips.size},
        params={"convlstm": p.model_dump(mode="json"), "extract_clips": params.extract_clips.model_dump(), "seed": params.seed},
        out_dir=OUT,
        curves_csv=CURVES,
        example=example,
        experiment=params.mlflow.experiment,
        inputs=[SPLIT],
    )
    return (f"{len(train_ds)} train / {len(val_ds)} val clips, best epoch {result['best_epoch']} "
            f"of {result['epochs']}, val acc {result['val_acc']:.3f} on {result['device']}")


if __name__ == "__main__":
    main()
