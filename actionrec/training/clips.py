"""The ConvLSTM's training inputs: clip files per subset as memory-mapped arrays, or the skip outputs."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from actionrec.config import paths
from actionrec.config.stage import StageError
from actionrec.core.io import write_text
from actionrec.core.labels import LabelMap
from actionrec.data.corpus import clip_files, write_clip_array
from actionrec.data.split import read_split
from actionrec.extraction.cache import default_cache_dir
from actionrec.training import ddp
from actionrec.training.curves import placeholder_plot

NO_CURVES = "epoch,train_loss,val_loss,train_acc,val_acc\n"


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


def write_skipped(out: Path, curves_csv: Path) -> str:
    """The declared outputs of a ConvLSTM stage without video clips, saying why; -> the summary."""
    if ddp.is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        write_text(out / "skipped.txt", "no video clips in the train split\n")
        write_text(curves_csv, NO_CURVES)
    placeholder_plot(curves_csv.with_suffix(".png"), "ConvLSTM skipped: no video clips")
    return "skipped: no video clips"


def clip_subsets(labels: LabelMap) -> tuple[dict[str, list[Path]], dict[str, np.ndarray]]:
    """The clip files and encoded labels of the train and val subsets of the split (no train
    clips: both empty, the stage is skipped; train clips but no val clips: an error)."""
    split = read_split()
    files: dict[str, list[Path]] = {}
    encoded: dict[str, np.ndarray] = {}
    for subset in ("train", "val"):
        files[subset], names, _ = clip_files(split, subset)
        encoded[subset] = labels.encode(names, str(paths.SPLIT))
    if files["train"] and not files["val"]:
        raise StageError(f"{paths.SPLIT}: video clips in train but none in val; lower split.val_size or add clips")
    return files, encoded
