"""A frame split (the --independent-frames opt-in) says it leaks wherever its results are read:
reports/split.json, the leaderboard's split note and the tags of the MLflow runs trained on it."""

from __future__ import annotations

import warnings
from pathlib import Path

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from actionrec.config import paths
from actionrec.config.params import SplitParams, load_params
from actionrec.data.split import LEAK_WARNING, LeakySplitWarning, make_split, read_split, split_report, split_tags
from actionrec.evaluation.leaderboard import split_note
from actionrec.training.classical import TrainSet, train_and_log
from tests.unit.test_split import subject_corpus

REPO = Path(__file__).resolve().parents[2]


def write_split(root: Path, strategy: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LeakySplitWarning)
        split = make_split(subject_corpus(n_subjects=4, sessions=1), SplitParams(strategy=strategy), seed=0)
    (root / paths.SPLIT).parent.mkdir(parents=True, exist_ok=True)
    split.to_csv(root / paths.SPLIT, index=False)


@pytest.mark.parametrize("strategy", ["group", "random_frames"])
def test_split_report_and_tags_carry_the_leak_warning(tmp_path: Path, strategy: str) -> None:
    write_split(tmp_path, strategy)
    report = split_report(read_split(tmp_path / paths.SPLIT), strategy)
    tags = split_tags(tmp_path / paths.SPLIT)
    note = split_note(set(report["methods"]))
    if strategy == "random_frames":
        assert report["leak_warning"] == LEAK_WARNING and tags["split.leak_warning"] == LEAK_WARNING
        assert tags["split.methods"] == "random_frames" and LEAK_WARNING in note
    else:
        assert report["leak_warning"] is None and "split.leak_warning" not in tags
        assert "Warning" not in note
        assert "random_frames" not in tags["split.methods"]


def test_runs_trained_on_a_frame_split_are_tagged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    # MLflow's process-wide state restored afterwards: set_tracking_uri / set_experiment export
    # these variables, and a later test's store has no experiment of this id
    for var in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    write_split(tmp_path, "random_frames")
    params = load_params(REPO / "params.yaml")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)), np.arange(40) % 2
    pipe = make_pipeline(LogisticRegression(max_iter=200))
    train_and_log(params, [TrainSet("train_frames", x, y, "frame", {"lr": pipe})], tmp_path / "out", [paths.SPLIT])
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    assert runs and all(r.data.tags.get("split.leak_warning") == LEAK_WARNING for r in runs)
