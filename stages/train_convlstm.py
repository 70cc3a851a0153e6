"""DVC stage train_convlstm: a ConvLSTM on resized video clips (skipped when there are none)."""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from actionrec.training import ddp
from actionrec.data.corpus import clip_files, write_clip_array
from actionrec.extraction.run import default_cache_dir
from actionrec.core.labels import LabelMap
from actionrec.models.convlstm import ConvLSTMClassifier
from actionrec.training.loop import ClipDataset, seed_everything
from actionrec.config.params import Params
from actionrec.config.stage import StageError, run_stage
from actionrec.core.io import write_json, write_text
from actionrec.training.torch_runs import train_and_log

SPLIT = Path("data/processed/split.csv")
OUT = Path("models/convlstm")
CURVES = Path("reports/curves/convlstm.csv")


@contextmanager
def clip_arrays(files: dict[str, list[Path]]) -> Iterator[dict[str, Path]]:
    """Each subset's clips streamed into one uint8 ``.npy`` (memory-mapped by ClipDataset, so
    memory does not grow with the number of clips). Under torchrun the first process of each
    machine writes them and the others wait; removed when training is done."""
    run_id = os.environ.get("TORCHELASTIC_RUN_ID") or f"pid{os.getpid()}"
    work = default_cache_dir("arrays") / f"convlstm-{run_id}"
    writer = ddp.local_rank() == 0
    arrays = {subset: work / f"{subset}.npy" for subset in files}
    try:
        for subset, path in arrays.items():
            if writer:
                write_clip_array(files[subset], path)
            deadline = time.monotonic() + 3600
            while not path.is_file():  # another process of this machine is writing it
                if time.monotonic() > deadline:
                    raise StageError(f"{path}: not written by local rank 0 within an hour")
                time.sleep(0.5)
        yield arrays
    finally:
        if writer:  # the other ranks' open memmaps keep the data readable until they exit
            shutil.rmtree(work, ignore_errors=True)


def _placeholder_plot(path: Path, text: str) -> None:
    """The declared curves PNG, saying why there are no curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    fig.savefig(path)
    plt.close(fig)


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
        if ddp.is_main_process():
            OUT.mkdir(parents=True, exist_ok=True)
            write_json(OUT / "skipped.json", {"reason": "no video clips in the train split"})
            write_text(CURVES, "epoch,train_loss,val_loss,train_acc,val_acc\n")
        _placeholder_plot(CURVES.with_suffix(".png"), "ConvLSTM skipped: no video clips")
        return "skipped: no video clips"
    if not files["val"]:
        raise StageError(f"{SPLIT}: video clips in train but none in val; lower split.val_size or add clips")
    ddp.relaunch_with_torchrun(cfg.nproc)  # train.nproc > 1: this script again under torchrun
    seed_everything(cfg.seed)
    model = ConvLSTMClassifier(len(labels), hidden=p.hidden, kernel=p.kernel, dropout=p.dropout)
    with clip_arrays(files) as arrays:
        train_ds, val_ds = (ClipDataset(arrays[s], encoded[s]) for s in ("train", "val"))
        example = val_ds[0][0].numpy()[None]
        result = train_and_log(
            name="convlstm",
            model=model,
            train_ds=train_ds,
            val_ds=val_ds,
            cfg=cfg,
            manifest={"kind": "clip", "labels": labels.labels, "features": params.features.model_dump(mode="json"),
                      "n_frames": params.extract_clips.n_frames, "size": params.extract_clips.size},
            params={"convlstm": p.model_dump(mode="json"), "extract_clips": params.extract_clips.model_dump(),
                    "seed": params.seed},
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
