"""DVC experiments: `dvc exp run -S stage.param=value` in the workspace and `dvc exp run --queue` +
`dvc queue start` (temporary copies) both log MLflow runs tagged with the experiment's name into
the workspace's store; every stage's params can be overridden; `actionrec compare` shows what
differs between experiments and between runs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import mlflow
import pytest
import yaml

from tests.pipeline import shared_runs
from tests.pipeline.conftest import run
from tests.pipeline.shared_runs import PipelineRun, env_for, git, workspace

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]

# One param of every stage that has params, with a valid new value.
STAGE_PARAMS = {
    "extract_landmarks": ("extract_landmarks.stride", 2),
    "extract_clips": ("extract_clips.n_frames", 12),
    "validate": ("validate.landmarks.min_rows_per_class", 10),
    "split": ("split.purge_frames", 5),
    "train_classical": ("classical.lr.C", 0.5),
    "train_lstm": ("lstm.hidden", 64),
    "train_tcn": ("tcn.channels", 32),
    "train_convlstm": ("convlstm.cpu.kernel", 5),
    "evaluate": ("evaluate.rank_by", "clip_accuracy"),
    "package": ("package.live.smoothing", 3),
}


@pytest.fixture(scope="session")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    return shared_runs.run_a(tmp_path_factory)


@pytest.fixture(scope="module")
def ws(run_a: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return workspace(run_a, tmp_path_factory.mktemp("experiments") / "ws")


def _client(ws: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{ws / 'mlflow.db'}")


def _exp_runs(ws: Path, name: str) -> dict[str, mlflow.entities.Run]:
    client = _client(ws)
    exp = client.get_experiment_by_name("actionrec")
    runs = client.search_runs([exp.experiment_id], filter_string=f"tags.`dvc.exp_name` = '{name}'")
    return {r.info.run_name: r for r in runs}


def _reset(ws: Path) -> None:
    git(ws, "reset", "-q", "--hard")
    run(["dvc", "checkout", "-q", "--force", "--with-deps", "evaluate"], ws, env=env_for(ws))


def _actionrec(ws: Path, *args: str) -> str:
    return run([sys.executable, "-m", "actionrec", *args], ws, env=env_for(ws)).stdout


def test_every_stage_param_can_be_overridden(ws: Path) -> None:
    """`-S <stage>.<param>=<value>` is accepted for every stage's params and lands in the queued
    experiment's params.yaml with a value the typed params accept."""
    from actionrec.config.params import Params

    lock = yaml.safe_load((ws / "dvc.yaml").read_text())["stages"]
    assert {s for s, spec in lock.items() if spec.get("params")} == set(STAGE_PARAMS)
    args = [a for key, value in STAGE_PARAMS.values() for a in ("-S", f"{key}={value}")]
    run(["dvc", "exp", "run", "--queue", "-n", "all-stages", *args], ws, env=env_for(ws))
    try:
        stash = git(ws, "reflog", "show", "--format=%H %gs", "refs/exps/celery/stash").splitlines()
        sha = next(line.split()[0] for line in stash if "all-stages" in line)
        params = yaml.safe_load(git(ws, "show", f"{sha}:params.yaml"))
        Params.model_validate(params)
        for key, value in STAGE_PARAMS.values():
            node = params
            for part in key.split("."):
                node = node[part]
            assert node == value, key
    finally:
        run(["dvc", "queue", "remove", "--queued"], ws, env=env_for(ws))
        _reset(ws)


def test_workspace_experiment_is_tagged_in_mlflow(ws: Path) -> None:
    baseline = git(ws, "rev-parse", "HEAD")
    run(["dvc", "exp", "run", "-n", "lr-c05", "-S", "classical.lr.C=0.5", "evaluate"], ws, env=env_for(ws))
    runs = _exp_runs(ws, "lr-c05")
    assert {"train_classical", "classical-lr", "classical-ridge", "classical-rf", "classical-gb"} <= set(runs)
    lr = runs["classical-lr"]
    assert lr.data.params["lr.C"] == "0.5"
    assert lr.data.tags["dvc.exp_baseline"] == baseline
    assert "test_clip_accuracy" in lr.data.metrics, "evaluate ran inside the experiment"
    assert "lr-c05" in run(["dvc", "exp", "list", "--name-only"], ws, env=env_for(ws)).stdout
    # compare two experiments/revisions: only what differs
    table = _actionrec(ws, "compare", baseline, "lr-c05")
    assert "classical.lr.C" in table and "0.5" in table and "1.0" in table
    assert "classical.ridge.alpha" not in table and "seed" not in table.split("\n\n")[0]
    # compare two MLflow runs
    before = [
        r
        for r in _client(ws).search_runs([lr.info.experiment_id], filter_string="attributes.run_name = 'classical-lr'")
        if "dvc.exp_name" not in r.data.tags
    ][0]
    table = _actionrec(ws, "compare", before.info.run_id, lr.info.run_id)
    param_rows = [line.split() for line in table.split("\n\n")[0].splitlines()[2:]]
    assert param_rows == [["lr.C", "1.0", "0.5"]], table
    _reset(ws)


def test_queued_experiment_runs_in_a_temporary_copy_and_logs_here(ws: Path) -> None:
    env = env_for(ws)
    run(["dvc", "exp", "run", "--queue", "-n", "ridge-a3", "-S", "classical.ridge.alpha=3.0", "evaluate"], ws, env=env)
    run(["dvc", "queue", "start", "-j", "1"], ws, env=env)
    deadline = time.monotonic() + 900
    while True:
        status = run(["dvc", "queue", "status"], ws, env=env).stdout
        if "ridge-a3" in status and not any(s in status for s in ("Queued", "Running")):
            break
        assert time.monotonic() < deadline, status
        time.sleep(5)
    logs = run(["dvc", "queue", "logs", "ridge-a3"], ws, env=env, check=False).stdout
    assert "Success" in status, f"{status}\n{logs[-4000:]}"
    runs = _exp_runs(ws, "ridge-a3")
    assert "classical-ridge" in runs, f"the queued experiment's runs must reach {ws / 'mlflow.db'}:\n{logs[-4000:]}"
    assert runs["classical-ridge"].data.params["ridge.alpha"] == "3.0"
    assert "test_clip_accuracy" in runs["classical-ridge"].data.metrics
    exp = _client(ws).get_experiment(runs["classical-ridge"].info.experiment_id)
    assert Path(exp.artifact_location.removeprefix("file://")).is_relative_to(ws), exp.artifact_location
    run(["dvc", "queue", "stop"], ws, env=env, check=False)
