"""`actionrec reproduce RUN_ID`: a classical and an LSTM run reproduced exactly from their lineage
(commit, data version, stage) in a throw-away worktree; a run made on data that differs from its
recorded version is reported as a mismatch."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from tests.pipeline import shared_runs
from tests.pipeline.conftest import run
from tests.pipeline.shared_runs import PipelineRun, env_for, git, workspace

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]


@pytest.fixture(scope="session")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    return shared_runs.run_a(tmp_path_factory)


def _run_id(store: str, name: str) -> str:
    client = mlflow.MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("actionrec")
    runs = client.search_runs(
        [exp.experiment_id], filter_string=f"attributes.run_name = '{name}'", order_by=["attributes.start_time DESC"]
    )
    assert runs, f"no run {name}"
    return runs[0].info.run_id


def _reproduce(repo: Path, run_id: str, *extra: str) -> subprocess.CompletedProcess:
    """As a user would: ``actionrec reproduce`` in the repository (its own actionrec)."""
    return run([sys.executable, "-m", "actionrec", "reproduce", run_id, *extra], repo, check=False, env=env_for(repo))


def _state(repo: Path) -> tuple[str, str, int]:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    n_runs = sum(len(client.search_runs([e.experiment_id])) for e in client.search_experiments())
    return git(repo, "status", "--porcelain"), git(repo, "worktree", "list"), n_runs


@pytest.mark.parametrize("name", ["classical-lr", "lstm"])
def test_run_is_reproduced_exactly(run_a: PipelineRun, name: str) -> None:
    run_id = _run_id(run_a.store, name)
    before = _state(run_a.repo)
    start = time.perf_counter()
    proc = _reproduce(run_a.repo, run_id)
    seconds = time.perf_counter() - start
    out = proc.stdout + proc.stderr
    print(f"reproduce {name}: {seconds:.1f} s")
    assert proc.returncode == 0, out[-5000:]
    assert f"REPRODUCED: run {run_id}" in out
    assert f"{name}: compared EXACTLY: same kernel fingerprint" in out, out[-3000:]
    assert run_a.data_commit[:12] in out, "must check out the commit the run recorded"
    assert "inputs of" in out and "match the recorded run" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(name + " ")]
    metrics = {r[1]: r[-1] for r in rows}
    train_key = "train_accuracy" if name.startswith("classical") else "train_loss"
    for key in (train_key, "test_clip_accuracy", "test_sample_macro_f1"):
        assert metrics.get(key) == "ok", (key, out[-3000:])
    assert "MISMATCH" not in out
    assert _state(run_a.repo) == before, "the user's working tree, worktrees or MLflow store changed"


def test_run_on_changed_data_is_a_mismatch(run_a: PipelineRun, tmp_path: Path) -> None:
    """Someone edits a landmark CSV and retrains without committing the new data version: `dvc
    repro` updates data/raw/landmarks.dvc, so the run is dirty and refused; forced, the
    reproduction (the commit's data version) differs in its inputs and its metrics."""
    ws = workspace(run_a, tmp_path / "ws")
    split = pd.read_csv(ws / "data/processed/split.csv", dtype=str)
    csvs = {p.stem: p for p in (ws / "data/raw/landmarks").glob("*.csv")}
    csv = next(csvs[s] for s in split.loc[split["subset"] == "train", "session_id"] if s in csvs)
    lines = csv.read_text().splitlines(keepends=True)
    csv.unlink()  # never write through a link into the DVC cache
    csv.write_text("".join(lines[: len(lines) // 2]))  # half the session's frames are gone
    run(["dvc", "repro", "train_classical"], ws, env=env_for(ws))
    store = f"sqlite:///{ws / 'mlflow.db'}"
    run_id = _run_id(store, "classical-lr")
    tags = mlflow.MlflowClient(tracking_uri=store).get_run(run_id).data.tags
    assert tags["git.dirty"] == "true" and tags["git.dirty_files"] == "data/raw/landmarks.dvc"
    assert (
        tags["data.landmarks.md5"] != yaml.safe_load(git(ws, "show", "HEAD:data/raw/landmarks.dvc"))["outs"][0]["md5"]
    )
    refused = _reproduce(ws, run_id)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "cannot be reproduced exactly" in refused.stdout and "data/raw/landmarks.dvc" in refused.stdout
    proc = _reproduce(ws, run_id, "--allow-dirty")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-5000:]
    assert "INPUTS DIFFER" in out and "dep data/raw/landmarks:" in out
    assert any(
        line.startswith("classical-lr  train_") and line.rstrip().endswith("MISMATCH") for line in out.splitlines()
    ), out[-3000:]
    assert "MISMATCH: run" in out
