"""MLflow conventions: the store runs go to (one rule for its default URI), experiments,
additions to finished runs, training datasets; the tags they carry are :mod:`actionrec.lineage.tags`."""

from __future__ import annotations

import hashlib
import json
import os
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow

from actionrec.core.manifests import OpenSet


def store_root() -> Path:
    """Where the default store lives: the repository DVC runs the stage for (``DVC_ROOT``: for a
    queued ``dvc exp run`` that is the user's repository, not the temporary copy it runs in),
    else the current directory."""
    return Path(os.environ.get("DVC_ROOT") or Path.cwd())


def tracking_uri(root: Path | None = None) -> str:
    """The store: ``MLFLOW_TRACKING_URI`` if set, else the SQLite ``mlflow.db`` at the repository
    root (``root``, else :func:`store_root`)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(root or store_root()) / 'mlflow.db'}"


def _local_path(uri: str) -> Path | None:
    """The folder of a ``file:`` or plain-path artifact location; None for remote stores."""
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    return Path(uri) if "://" not in uri and not uri.startswith("mlflow-artifacts:") else None


def checkout_experiment(experiment: str, artifact_location: str | None) -> str:
    """The experiment name this checkout logs to in its default store: ``experiment``, unless that
    experiment keeps its artifacts in another checkout's folder (a copied or moved repository:
    the store holds absolute paths); then ``experiment@<this checkout>``, with artifacts here."""
    folder = _local_path(artifact_location) if artifact_location else None
    root = store_root().resolve()
    if folder is None or folder.resolve().is_relative_to(root):
        return experiment
    return f"{experiment}@{root}"


def setup(experiment: str) -> str:
    """Point MLflow at the store and the experiment; returns the experiment id.

    With the default store (``mlflow.db`` of this checkout) the experiment keeps its artifacts in
    this checkout's ``mlruns/`` (see :func:`checkout_experiment` for a copied repository)."""
    default_store = not os.environ.get("MLFLOW_TRACKING_URI")  # (set_tracking_uri sets it)
    mlflow.set_tracking_uri(tracking_uri())
    if default_store:
        found = mlflow.get_experiment_by_name(experiment)
        name = checkout_experiment(experiment, found.artifact_location if found else None)
        if mlflow.get_experiment_by_name(name) is None:
            # Artifacts beside the default store (MLflow would use ./mlruns of whatever directory
            # creates the experiment: a queued experiment's temporary copy).
            try:
                mlflow.create_experiment(name, artifact_location=str(store_root() / "mlruns" / experiment))
            except mlflow.exceptions.MlflowException:
                pass  # created meanwhile by a concurrent stage
        experiment = name
    return mlflow.set_experiment(experiment).experiment_id


def add_to_finished_run(
    client: mlflow.MlflowClient,
    run_id: str,
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: dict[Path, str],
) -> None:
    """Add metrics, tags and artifacts (file -> artifact folder) to a finished run without
    reopening it: its status, start and end time (the duration the MLflow UI shows) stay the
    training's. (``mlflow.start_run(run_id=...)`` would set the end time to now.)"""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    for path, folder in artifacts.items():
        client.log_artifact(run_id, str(path), artifact_path=folder)


def training_dataset(tags: dict[str, str], name: str) -> Any:
    """A digest-only MLflow dataset (no table to hash or profile: ~0.02 s) for the data a run of
    the stage in ``tags`` (:func:`actionrec.lineage.tags.lineage_tags`) trained on: the DVC hashes of the stage's data
    inputs (``dvc.lock.deps`` under ``data/``) as its source's tags; the digest is theirs and the name's
    (one stage can derive several training sets from them: frames, windows, clips)."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    deps = tags.get("dvc.lock.deps", "")
    hashes = {p: h for p, h in (json.loads(deps) if deps.startswith("{") else {}).items() if p.startswith("data/")}
    hashes = hashes or {k: v for k, v in tags.items() if k.startswith("input.")}  # outside DVC: file hashes
    digest = hashlib.md5(json.dumps([name, hashes], sort_keys=True).encode()).hexdigest()
    return MetaDataset(CodeDatasetSource(tags=hashes), name=name, digest=digest)  # type: ignore[abstract]  # profile: None


def log_open_set(open_set: OpenSet | None) -> None:
    """Record a model's calibrated ``max_prob`` threshold in the active run (metric
    ``open_set.threshold``); nothing for a model without one."""
    if open_set is not None and open_set.threshold is not None:
        mlflow.log_metric("open_set.threshold", open_set.threshold)


def pip_requirements(*packages: str) -> list[str]:
    """Exact pins of the installed versions of ``packages`` (no slow inference by MLflow)."""
    return [f"{p}=={metadata.version(p)}" for p in packages]
