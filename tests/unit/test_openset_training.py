"""train_classical writes the open-set decision it calibrated: the manifest's threshold is the one
the out-of-fold calibration gives for the same windows and groups, and the model's MLflow run
records it."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from actionrec.config import paths
from actionrec.config.params import load_params
from actionrec.core.manifests import read_model
from actionrec.lineage import runrecord
from actionrec.models.openset_fit import calibrate_open_set
from actionrec.training.classical import TrainSet, train_and_log
from tests.unit.test_leak_record import REPO, write_split


def test_pooled_manifest_carries_the_calibrated_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    # a store of its own, and MLflow's process-wide state restored afterwards (set_tracking_uri
    # exports the variable; the active experiment id would outlive this store)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "")  # set_experiment exports it: removed again afterwards
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    write_split(tmp_path, "group")
    base = load_params(REPO / "params.yaml")
    spec = base.classical.open_set.model_copy(update={"score": "max_prob", "quantile": 0.2})
    params = base.model_copy(update={"classical": base.classical.model_copy(update={"open_set": spec})})
    n_labels = len(params.data.labels)
    rng = np.random.default_rng(0)
    y = np.arange(60) % n_labels
    x = rng.normal(size=(60, 6)) + y[:, None]
    groups = np.array([f"g{i % 4}" for i in range(60)], dtype=object)
    pipe = make_pipeline(LogisticRegression(max_iter=300))
    expected = calibrate_open_set(spec, pipe, x, y, groups, n_labels)
    ts = TrainSet("train_windows", x, y, "sequence", {"lr": pipe}, {"window": 2, "stride": 1}, groups)
    train_and_log(params, [ts], tmp_path / "out", [paths.SPLIT])
    written = read_model(tmp_path / "out" / "lr.json").open_set
    assert written is not None and expected is not None
    assert written == expected and written.score == "max_prob" and written.quantile == 0.2
    assert "(4 folds by group)" in written.calibrated_on
    run = mlflow.get_run(runrecord.read(tmp_path / "out" / "lr.json")["mlflow_run_id"])
    assert run.data.metrics["open_set.threshold"] == written.threshold  # the model's run records it too
