"""Two runs of the pipeline from scratch (fresh copies, caches, stores) on the same data, params
and code give identical results on the CPU: metrics byte for byte, every DVC output hash, every
model's predictions, every MLflow metric."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from actionrec.lineage import runrecord
from tests.pipeline import shared_runs
from tests.pipeline.shared_runs import PipelineRun

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]

TIMING = {"fit_seconds", "seconds", "samples_per_s"}


@pytest.fixture(scope="session")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    return shared_runs.run_a(tmp_path_factory)


@pytest.fixture(scope="session")
def run_b(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    return shared_runs.run_b(tmp_path_factory)


def _lock_outs(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {
        f"{stage}:{out['path']}": out.get("md5", "")
        for stage, entry in lock["stages"].items()
        for out in entry.get("outs", [])
    }


def test_second_run_really_started_from_scratch(run_b: PipelineRun) -> None:
    assert "extract landmarks" in run_b.log or "[extract_landmarks]" in run_b.log
    assert "(0 from cache)" in run_b.log, "run B must extract every clip again (fresh extraction cache)"


def test_metrics_are_byte_identical(run_a: PipelineRun, run_b: PipelineRun) -> None:
    a, b = (r.repo / "reports/metrics.json" for r in (run_a, run_b))
    assert a.read_bytes() == b.read_bytes(), f"metrics differ:\n{a.read_text()}\n{b.read_text()}"
    for rel in ("reports/split.json", "reports/leaderboard.md", "data/processed/split.csv"):
        assert (run_a.repo / rel).read_bytes() == (run_b.repo / rel).read_bytes(), rel
    for folder in ("reports/predictions", "reports/per_class"):
        files = sorted(p.relative_to(run_a.repo) for p in (run_a.repo / folder).iterdir())
        assert files, folder
        for rel in files:
            assert (run_a.repo / rel).read_bytes() == (run_b.repo / rel).read_bytes(), rel


def test_every_dvc_output_has_the_same_hash(run_a: PipelineRun, run_b: PipelineRun) -> None:
    """Every output, models and learning curves included (extraction fresh in run B), has the same
    DVC hash in both runs: the committed dvc.lock is what any fresh clone produces."""
    a, b = _lock_outs(run_a.repo), _lock_outs(run_b.repo)
    assert set(a) == set(b) and {"train_classical:models/classical", "train_lstm:reports/curves/lstm.csv"} <= set(a)
    differ = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    assert not differ, f"outputs that differ between two runs from scratch: {differ}"


def test_model_files_are_identical_and_run_identity_is_outside_them(run_a: PipelineRun, run_b: PipelineRun) -> None:
    """Weights, manifests and curves byte for byte; the MLflow run ids (which differ) live only in
    the run records that .dvcignore keeps out of the outputs' hashes."""
    files = [
        p for p in sorted((run_a.repo / "models").glob("*/*")) if p.is_file() and p.suffix in (".pt", ".skops", ".json")
    ]
    assert len([p for p in files if p.suffix in (".pt", ".skops")]) >= 9, files
    for path in files:
        twin = run_b.repo / path.relative_to(run_a.repo)
        if path.name.endswith(runrecord.SUFFIX):
            assert json.loads(path.read_text())["mlflow_run_id"] != json.loads(twin.read_text())["mlflow_run_id"], path
        else:
            assert path.read_bytes() == twin.read_bytes(), path
    assert any(p.name.endswith(runrecord.SUFFIX) for p in files)
    for name in ("lstm", "convlstm"):
        rel = f"reports/curves/{name}.csv"
        assert (run_a.repo / rel).read_bytes() == (run_b.repo / rel).read_bytes(), rel


def test_models_predict_identically(run_a: PipelineRun, run_b: PipelineRun, monkeypatch: pytest.MonkeyPatch) -> None:
    from actionrec.data.corpus import load_recordings, model_inputs
    from actionrec.models.predictors import load_predictor

    monkeypatch.chdir(run_a.repo)  # the corpus readers use the pipeline's relative paths
    split = pd.read_csv("data/processed/split.csv", dtype={"session_id": str, "group": str, "label": str})
    by_id = {r.session_id: r for r in load_recordings(Path("data/raw/landmarks"))}
    manifests = [
        p
        for p in sorted(Path("models").glob("*/*.json"))
        if p.parent.name != "package" and "kind" in json.loads(p.read_text())
    ]
    assert len(manifests) >= 6, manifests
    for manifest in manifests:
        pa, pb = load_predictor(manifest), load_predictor(run_b.repo / manifest)
        inputs, y, _ = model_inputs(pa, split, "test", by_id)
        assert len(y), manifest
        proba_a, proba_b = pa.predict_proba(inputs), pb.predict_proba(inputs)
        np.testing.assert_array_equal(proba_a, proba_b, err_msg=str(manifest))


def test_mlflow_metrics_are_identical(run_a: PipelineRun, run_b: PipelineRun) -> None:
    """Every logged metric but wall-clock timings, including the per-epoch history."""

    def metrics(run: PipelineRun) -> dict[str, dict[str, list[tuple[int, float]]]]:
        client = mlflow.MlflowClient(tracking_uri=run.store)
        exp = client.get_experiment_by_name("actionrec")
        out = {}
        for r in client.search_runs([exp.experiment_id]):
            out[r.info.run_name] = {
                key: [
                    (m.step, m.value)
                    for m in sorted(client.get_metric_history(r.info.run_id, key), key=lambda m: m.step)
                ]
                for key in r.data.metrics
                if key not in TIMING
            }
        return out

    a, b = metrics(run_a), metrics(run_b)
    assert set(a) >= {"classical-lr", "classical-rf", "lstm", "convlstm"}
    assert a == b
