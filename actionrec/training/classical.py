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
from sklearn.pipeline import Pipeline

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.core.labels import LabelMap
from actionrec.core.manifests import Kind, ModelManifest, write_model
from actionrec.data.corpus import load_recordings, training_inputs
from actionrec.data.split import split_tags
from actionrec.lineage import runrecord, tracking
from actionrec.lineage.tags import flatten, lineage_tags
from actionrec.models.classical import PARAM_SECTIONS, TRUSTED_TYPES, classical_models, predict_proba, save_skops
from actionrec.models.openset_fit import calibrate_open_set

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
    # open-set calibration: the training windows' groups (None: no calibration)
    groups: np.ndarray | None = None


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
        y, groups = labels.encode(names, str(split_path)), None
        if kind == "sequence" and params.classical.open_set.score is not None:
            x, y, groups = grouped_windows(params, fit_rows, recordings, labels, str(split_path))
        sets.append(TrainSet(name, x, y, kind, pipes, extra, groups))
    return sets


def grouped_windows(params: Params, rows: pd.DataFrame, recordings: dict, labels: LabelMap, source: str):
    """The pooled models' training windows of ``rows``, group by group: ``(x, y, groups)``."""
    xs, ys, gs = [], [], []
    for group, part in rows.groupby("group", sort=True):
        x, names = training_inputs("sequence", part, recordings, params)
        xs.append(x)
        ys.append(labels.encode(names, source))
        gs.append(np.full(len(x), str(group), dtype=object))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)


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
                    unknown = None
                    if ts.groups is not None:
                        unknown = calibrate_open_set(
                            params.classical.open_set, pipe, ts.x, ts.y, ts.groups, len(labels.labels)
                        )
                    tracking.log_open_set(unknown)
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
