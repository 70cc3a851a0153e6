"""Open set for the torch sequence models: a TCN's ``max_prob`` threshold calibrated on its
validation windows rejects a motion outside the label set and accepts in-set windows at about the
calibrated rate wherever a Predictor is used; train_and_log writes and records the decision only
when ``<section>.open_set.score`` is set."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from actionrec.config import paths
from actionrec.config.params import OpenSetParams
from actionrec.core.features import FeatureSpec
from actionrec.core.manifests import ModelManifest, read_model
from actionrec.lineage import runrecord
from actionrec.models.openset import max_prob_score, threshold
from actionrec.models.predictors import load_predictor
from actionrec.models.tcn import LandmarkTCN
from actionrec.models.torch_io import SequenceDataset, model_spec, predict_proba, save_checkpoint
from actionrec.training.loop import fit, seed_everything
from actionrec.training.torch_runs import train_and_log, validation_open_set
from tests.unit.test_leak_record import write_split
from tests.unit.test_tcn import cfg, torch_state  # noqa: F401 (one thread for the module)

WINDOW, N_FEATURES = 16, 6
LABELS = ["a", "b", "c"]  # in-set class k: feature k oscillates; the others hold still


def window(rng: np.random.Generator, moving: list[int]) -> np.ndarray:
    """One generated window in which the ``moving`` features oscillate over a little noise."""
    x = rng.normal(0, 0.1, (WINDOW, N_FEATURES)).astype(np.float32)
    x[:, moving] += np.sin(np.linspace(0, 4 * np.pi, WINDOW) + rng.uniform(0, np.pi))[:, None].astype(np.float32)
    return x


def in_set(seed: int, per_class: int) -> SequenceDataset:
    rng = np.random.default_rng(seed)
    seqs = [window(rng, [k]) for _ in range(per_class) for k in range(len(LABELS))]
    return SequenceDataset(seqs, np.tile(np.arange(len(LABELS)), per_class), WINDOW)  # type: ignore[arg-type]


def trained_tcn(train: SequenceDataset, val: SequenceDataset, epochs: int) -> LandmarkTCN:
    seed_everything(0)
    model = LandmarkTCN(N_FEATURES, len(LABELS), channels=8, levels=2, kernel=3, dropout=0.1)
    model.set_normalization(torch.as_tensor(train.x.reshape(-1, N_FEATURES)))
    fit(model, train, val, cfg(epochs=epochs, lr=5e-3))
    return model.cpu().eval()


def manifest(model: LandmarkTCN, **extra: object) -> ModelManifest:
    fields = dict(kind="sequence", labels=LABELS, features=FeatureSpec(), window=WINDOW, stride=WINDOW)
    return ModelManifest(**model_spec(model), **fields, name="tcn", model_file="model.pt", **extra)  # type: ignore[arg-type]


def test_a_tcn_calibrated_on_validation_rejects_an_out_of_set_motion(tmp_path: Path) -> None:
    val = in_set(2, 20)
    model = trained_tcn(in_set(1, 30), val, epochs=30)
    open_set = validation_open_set(OpenSetParams(score="max_prob", quantile=0.1), model, val)
    assert open_set is not None and open_set.score == "max_prob" and open_set.quantile == 0.1
    assert open_set.calibrated_on == "max_prob of 60 validation windows"
    assert open_set.threshold == threshold(max_prob_score(predict_proba(model, val)), 0.1)  # the val windows'
    save_checkpoint(model, tmp_path / "model.pt", manifest(model, open_set=open_set))
    pred = load_predictor(tmp_path / "model.json")  # what live, the bundle and the web app load
    held_out = in_set(3, 40)
    proba = pred.predict_proba(list(held_out.x))
    assert (proba.argmax(axis=1) == np.asarray(held_out.y)).mean() == 1.0
    assert pred.unknown(proba).mean() <= 0.2  # in-set: about the calibrated 10 % called unknown
    rng = np.random.default_rng(9)
    for moving in ([0, 1], []):  # two features at once; none at all
        assert pred.unknown(pred.predict_proba([window(rng, moving) for _ in range(10)])).all()


def test_no_validation_windows_fail_before_training_and_score_off_calibrates_nothing() -> None:
    model = LandmarkTCN(N_FEATURES, len(LABELS), channels=8, levels=2, kernel=3)
    train = TensorDataset(torch.zeros(4, WINDOW, N_FEATURES), torch.zeros(4, dtype=torch.long))
    empty = TensorDataset(torch.empty(0, WINDOW, N_FEATURES), torch.empty(0, dtype=torch.long))
    with pytest.raises(ValueError, match=r"^empty dataset: 4 train, 0 val items; .*change the split"):
        fit(model, train, empty, cfg(epochs=1))
    assert validation_open_set(OpenSetParams(score=None, quantile=0.05), model, empty) is None


@pytest.fixture
def mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store in ``tmp_path``; MLflow's process-wide state restored afterwards (as in
    test_openset_training)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID")
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.setattr(mlflow.tracking._tracking_service.utils, "_tracking_uri", None)
    write_split(tmp_path, "group")


@pytest.mark.parametrize("score", ["max_prob", None])
def test_train_and_log_writes_and_records_the_decision_only_when_on(
    tmp_path: Path, mlflow_store: None, score: str | None
) -> None:
    train, val = in_set(1, 10), in_set(2, 5)
    seed_everything(0)
    model = LandmarkTCN(N_FEATURES, len(LABELS), channels=8, levels=2, kernel=3)
    model.set_normalization(torch.as_tensor(train.x.reshape(-1, N_FEATURES)))
    spec = OpenSetParams(score=score, quantile=0.2)  # type: ignore[arg-type]
    fields = dict(kind="sequence", labels=LABELS, features=FeatureSpec(), window=WINDOW, stride=WINDOW)
    train_and_log(
        name="tcn",
        model=model,
        train_ds=train,
        val_ds=val,
        cfg=cfg(epochs=1),
        manifest=fields,
        params={"tcn": {"open_set": spec.model_dump(mode="json")}},
        out_dir=tmp_path / "models" / "tcn",
        curves_csv=tmp_path / "curves" / "tcn.csv",
        example=val.x[:2],
        experiment="open-set",
        inputs=[paths.SPLIT],
        open_set=spec,
    )
    written = read_model(tmp_path / "models" / "tcn" / "model.json").open_set
    run = mlflow.get_run(runrecord.read(tmp_path / "models" / "tcn" / "model.json")["mlflow_run_id"])
    if score is None:
        assert written is None and "open_set.threshold" not in run.data.metrics
        return
    assert written == validation_open_set(spec, model, val)  # the trained model's val windows
    assert written is not None and written.calibrated_on == "max_prob of 15 validation windows"
    assert run.data.metrics["open_set.threshold"] == written.threshold
