"""Train every classical model: build each input kind's training set, fit its pipelines, log
each to MLflow as a nested run, and write ``<name>.skops`` beside its model manifest."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.core.labels import LabelMap
from actionrec.core.manifests import Kind, ModelManifest, OpenSet, write_model
from actionrec.data.corpus import load_recordings, training_inputs
from actionrec.data.split import split_tags
from actionrec.lineage import runrecord, tracking
from actionrec.lineage.tags import flatten, lineage_tags
from actionrec.models.classical import PARAM_SECTIONS, TRUSTED_TYPES, classical_models, predict_proba, save_skops
from actionrec.models.openset import calibrate

PIP = ("scikit-learn", "skops", "numpy", "scipy")
INPUTS: tuple[tuple[Kind, str], ...] = (
    ("frame", "train_frames"),
    ("sequence", "train_windows"),
    ("clip", "train_clips"),
)


@dataclass
class TrainSet:
    """Inputs of some models: features, encoded labels, kind, the pipelines and manifest extras."""

    name: str
    x: np.ndarray
    y: np.ndarray
    kind: Kind
    pipes: dict[str, Pipeline]
    extra: dict[str, int] = field(default_factory=dict)  # what serving the model needs beyond its features
    # open-set calibration: (x, y) of the split's train rows and of its val rows (other groups)
    calib: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None


def train_sets(params: Params, split: pd.DataFrame, split_path: Path) -> list[TrainSet]:
    """One set per input kind, from the train and val rows of ``split`` (no clips: no clip set)."""
    recordings = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    fit_rows = split[split["subset"].isin(["train", "val"])].assign(subset="train")
    labels = LabelMap(params.data.labels)
    models = classical_models(params.classical, params.seed, params.features)
    sets = []
    for kind, name in INPUTS:
        x, names = training_inputs(kind, fit_rows, recordings, params)
        if kind == "clip" and not names:  # no videos: no appearance model
            continue
        extra = {}
        if kind == "sequence":
            extra = {"window": params.classical.pooled_window, "stride": params.classical.pooled_stride}
        elif kind == "clip":
            extra = {"n_frames": int(x.shape[1]), "size": int(x.shape[2])}
        pipes = {n: pipe for n, (k, pipe) in models.items() if k == kind}
        calib = None
        if kind == "sequence" and params.classical.open_set_quantile is not None:
            calib = calibration_set(params, split, recordings, labels, str(split_path))
        sets.append(TrainSet(name, x, labels.encode(names, str(split_path)), kind, pipes, extra, calib))
    return sets


def calibration_set(params: Params, split: pd.DataFrame, recordings: dict, labels: LabelMap, source: str):
    """Pooled windows of the train rows and of the val rows (None without both)."""
    x_tr, n_tr = training_inputs("sequence", split[split["subset"] == "train"], recordings, params)
    val = split[split["subset"] == "val"].assign(subset="train")
    x_val, n_val = training_inputs("sequence", val, recordings, params)
    if not n_tr or not n_val:
        return None
    return x_tr, labels.encode(n_tr, source), x_val, labels.encode(n_val, source)


def open_set(params: Params, pipe: Pipeline, calib: tuple | None, n_labels: int) -> OpenSet | None:
    """Thresholds of a copy of ``pipe`` fitted on the train rows, scored on the val rows."""
    q = params.classical.open_set_quantile
    if calib is None or q is None:
        return None
    x_tr, y_tr, x_val, y_val = calib
    fitted = clone(pipe).fit(x_tr, y_tr)
    proba = np.zeros((len(x_val), n_labels))
    proba[:, fitted.classes_.astype(int)] = predict_proba(fitted, x_val)
    return OpenSet(thresholds=calibrate(proba, y_val, q), quantile=q, calibrated_on="split val rows")


def log_model(pipe: Pipeline, example: np.ndarray) -> None:
    """Log a fitted pipeline to the active MLflow run (skops, with its signature)."""
    mlflow.sklearn.log_model(
        pipe,
        name="model",
        signature=infer_signature(example, predict_proba(pipe, example)),
        input_example=example,
        pip_requirements=tracking.pip_requirements(*PIP),
        pyfunc_predict_fn="predict_proba" if hasattr(pipe, "predict_proba") else "predict",
        skops_trusted_types=TRUSTED_TYPES,
    )


def train_and_log(params: Params, sets: list[TrainSet], out: Path, inputs: list[Path]) -> list[str]:
    """Fit every pipeline of ``sets`` in one parent MLflow run; -> ``"<name> <seconds>s"`` each."""
    labels = LabelMap(params.data.labels)
    tracking.setup(params.mlflow.experiment)
    tags = {**lineage_tags("train_classical", inputs), **(split_tags() if paths.SPLIT in inputs else {})}
    common: dict[str, Any] = {"features": params.features.model_dump(mode="json"), "seed": params.seed}
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
                    mlflow.log_metrics(
                        {"train_accuracy": train_acc, "fit_seconds": seconds, "train_samples": len(ts.x)}
                    )
                    log_model(pipe, ts.x[:2])
                    save_skops(pipe, out / f"{name}.skops")
                    unknown = open_set(params, pipe, ts.calib, len(labels.labels))
                    write_model(
                        out / f"{name}.json",
                        ModelManifest(
                            name=name,
                            kind=ts.kind,
                            model_file=f"{name}.skops",
                            labels=labels.labels,
                            features=params.features,
                            open_set=unknown,
                            **ts.extra,
                        ),
                    )
                    runrecord.write(
                        out / f"{name}.json", run.info.run_id, run_tags, mlflow_parent_run_id=parent.info.run_id
                    )
                    summary.append(f"{name} {seconds:.1f}s")
    return summary
