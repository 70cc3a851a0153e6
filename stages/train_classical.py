"""DVC stage train_classical: the four seed scikit-learn pipelines on per-frame features, two on
temporally pooled windows of frames (mean/std/min/max/motion of each feature) and, when there
are video clips, a random forest on their appearance (colour, thumbnails, motion energy)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.training.classical import train_and_log, train_sets

SPLIT = Path("data/processed/split.csv")
OUT = Path("models/classical")


@run_stage("train_classical")
def main(params: Params) -> str:
    split = pd.read_csv(SPLIT, dtype={"session_id": str, "group": str, "label": str})
    sets = train_sets(params, split, SPLIT)
    summary = train_and_log(params, sets, OUT, inputs=[SPLIT])
    sizes = ", ".join(f"{len(ts.x)} {ts.name}" for ts in sets)
    return f"{sizes}, {sets[0].x.shape[1]} features/frame: " + ", ".join(summary)


if __name__ == "__main__":
    main()
