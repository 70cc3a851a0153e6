"""DVC stage train_classical: the four seed scikit-learn pipelines on per-frame features, two on
temporally pooled windows of frames (mean/std/min/max/motion of each feature) and, when there
are video clips, a random forest on their appearance (colour, thumbnails, motion energy)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from actionrec.lineage import runrecord
from actionrec.lineage import tracking
from actionrec.lineage.tags import flatten, lineage_tags
from actionrec.data.corpus import load_recordings, training_inputs
from actionrec.core.labels import LabelMap
from actionrec.models.classical import PARAM_SECTIONS, TRUSTED_TYPES, classical_models, predict_proba, save_skops
from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.core.io import write_json

SPLIT = Path("data/processed/split.csv")
OUT = Path("models/classical")
PIP = ("scikit-learn", "skops", "numpy", "scipy")


@dataclass
class TrainSet:
    """Inputs of some models: features, encoded labels, kind, the pipelines and manifest extras."""

    name: str
    x: np.ndarray
    y: np.ndarray
    kind: str
    pipes: dict[str, Pipeline]
    extra: dict


def _train_sets(params: Params, split: pd.DataFrame) -> list[TrainSet]:
    recordings = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    fit_rows = split[split["subset"].isin(["train", "val"])].assign(subset="train")
    labels = LabelMap(params.data.labels)
    models = classical_models(params.classical, params.seed)
    sets = []
    for kind, name in (("frame", "train_frames"), ("sequence", "train_windows"), ("clip", "train_clips")):
        x, names = training_inputs(kind, fit_rows, recordings, params)
        if kind == "clip" and not names:  # no videos: no appearance model
            continue
        extra = {}  # what serving the model needs beyond its features
        if kind == "sequence":
            extra = {"window": params.classical.pooled_window, "stride": params.classical.pooled_stride}
        elif kind == "clip":
            extra = {"n_frames": int(x.shape[1]), "size": int(x.shape[2])}
        pipes = {n: pipe for n, (k, pipe) in models.items() if k == kind}
        sets.append(TrainSet(name, x, labels.encode(names, str(SPLIT)), kind, pipes, extra))
    return sets


def _log_model(pipe: Pipeline, example: np.ndarray) -> None:
    mlflow.sklearn.log_model(
        pipe,
        name="model",
        signature=infer_signature(example, predict_proba(pipe, example)),
        input_example=example,
        pip_requirements=tracking.pip_requirements(*PIP),
        pyfunc_predict_fn="predict_proba" if hasattr(pipe, "predict_proba") else "predict",
        skops_trusted_types=TRUSTED_TYPES,
    )


@run_stage("train_classical")
def main(params: Params) -> str:
    split = pd.read_csv(SPLIT, dtype={"session_id": str, "group": str, "label": str})
    sets = _train_sets(params, split)
    labels = LabelMap(params.data.labels)
    tracking.setup(params.mlflow.experiment)
    tags = lineage_tags("train_classical", [SPLIT])
    common = {"features": params.features.model_dump(mode="json"), "seed": params.seed}
    summary = []
    with mlflow.start_run(run_name="train_classical", tags=tags) as parent:
        mlflow.log_params(flatten(common))
        for ts in sets:
            dataset = tracking.training_dataset(tags, ts.name)
            for name, pipe in ts.pipes.items():
                run_tags = {**tags, "model.kind": ts.kind, "model.name": name}
                with mlflow.start_run(run_name=f"classical-{name}", nested=True, tags=run_tags) as run:
                    start = time.perf_counter()
                    pipe.fit(ts.x, ts.y)
                    seconds = time.perf_counter() - start
                    family = PARAM_SECTIONS.get(name, name)
                    mlflow.log_params(flatten(getattr(params.classical, family).model_dump(), f"{family}."))
                    mlflow.log_params(flatten({**common, **ts.extra}))
                    mlflow.log_input(dataset, context="training")
                    train_acc = float((pipe.predict(ts.x) == ts.y).mean())
                    mlflow.log_metrics({"train_accuracy": train_acc, "fit_seconds": seconds, "train_samples": len(ts.x)})
                    _log_model(pipe, ts.x[:2])
                    save_skops(pipe, OUT / f"{name}.skops")
                    write_json(OUT / f"{name}.json", {
                        "name": name, "kind": ts.kind, "model_file": f"{name}.skops", "labels": labels.labels,
                        "features": common["features"], **ts.extra,
                    })
                    runrecord.write(OUT / f"{name}.json", run.info.run_id, run_tags,
                                    mlflow_parent_run_id=parent.info.run_id)
                    summary.append(f"{name} {seconds:.1f}s")
    sizes = ", ".join(f"{len(ts.x)} {ts.name}" for ts in sets)
    return f"{sizes}, {sets[0].x.shape[1]} features/frame: " + ", ".join(summary)


if __name__ == "__main__":
    main()
