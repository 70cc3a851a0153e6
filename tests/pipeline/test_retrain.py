"""scripts/retrain.sh (`make retrain`, the retrain workflow) end to end against a local DVC remote
and a local git origin: pull -> repro -> quality gate -> push -> commit; a second clone then pulls
exactly what was pushed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.pipeline import shared_runs
from tests.pipeline.conftest import REPO, run, set_params
from tests.pipeline.shared_runs import GIT_ID, PipelineRun, copy_store, env_for, git

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]


@pytest.fixture(scope="session")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    return shared_runs.run_a(tmp_path_factory)


@pytest.fixture(scope="module")
def project(run_a: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """origin.git at run A's results, a DVC remote holding its data, models and run cache, and a
    shared MLflow store (a team's tracking server); then a params change pushed to main."""
    root = tmp_path_factory.mktemp("retrain")
    remote = root / "dvc-remote"
    shutil.copytree(run_a.repo / ".dvc" / "cache", remote)  # a local remote has the cache's layout
    origin = root / "origin.git"
    run(["git", "clone", "-q", "--bare", str(run_a.repo), str(origin)], root, env=GIT_ID)
    store = root / "store"
    store.mkdir()
    copy_store(run_a.repo, store)
    dev = root / "dev"
    run(["git", "clone", "-q", str(origin), str(dev)], root, env=GIT_ID)
    shutil.copy2(REPO / "scripts" / "retrain.sh", dev / "scripts" / "retrain.sh")  # the script under test
    shutil.copy2(REPO / "scripts" / "confusion_summary.py", dev / "scripts" / "confusion_summary.py")
    set_params(dev, {"classical.lr.C": 0.25})
    git(dev, "add", "-A")
    git(dev, "commit", "-qm", "lower the regularisation of the logistic regression")
    git(dev, "push", "-q", "origin", "HEAD")
    return {"root": root, "remote": remote, "origin": origin, "store": store}


def _clone(project: dict[str, Path], name: str) -> Path:
    repo = project["root"] / name
    run(["git", "clone", "-q", str(project["origin"]), str(repo)], project["root"], env=GIT_ID)
    run(["dvc", "remote", "add", "--local", "--default", "--force", "ci", str(project["remote"])], repo)
    return repo


@pytest.fixture(scope="module")
def retrained(project: dict[str, Path]) -> tuple[Path, str]:
    ci = _clone(project, "ci")
    summary = project["root"] / "summary.md"
    env = env_for(
        ci,
        RETRAIN_GIT_PUSH="1",
        GITHUB_STEP_SUMMARY=str(summary),
        MLFLOW_TRACKING_URI=f"sqlite:///{project['store'] / 'mlflow.db'}",
    )
    proc = run(["bash", "scripts/retrain.sh"], ci, env=env)
    return ci, proc.stdout + proc.stderr


def test_retrain_pulls_reproduces_gates_pushes_and_commits(
    project: dict[str, Path], retrained: tuple[Path, str]
) -> None:
    ci, log = retrained
    order = [
        log.index(f"== retrain: {step}")
        for step in ("pull", "reproduce", "quality gate", "push data", "summary", "commit")
    ]
    assert order == sorted(order), log[-3000:]
    assert "Running stage 'train_classical'" in log, "the params change must retrain the classical models"
    assert "Running stage 'train_lstm'" not in log and "Running stage 'extract_landmarks'" not in log, (
        "stages whose inputs did not change must come from the pulled outputs"
    )
    assert "quality gate passed" in log
    # The results commit is on origin: dvc.lock holds the new param, metrics are committed.
    head = run(["git", "log", "-1", "--format=%s", "HEAD"], project["origin"]).stdout.strip()
    assert head.startswith("retrain: results for"), head
    lock = yaml.safe_load(run(["git", "show", "HEAD:dvc.lock"], project["origin"]).stdout)
    assert lock["stages"]["train_classical"]["params"]["params.yaml"]["classical"]["lr"]["C"] == 0.25
    summary = (project["root"] / "summary.md").read_text()
    assert "### Params" in summary and "classical.lr.C" in summary and "### Metrics" in summary


def test_second_clone_pulls_the_pushed_results(project: dict[str, Path], retrained: tuple[Path, str]) -> None:
    ci, _ = retrained
    other = _clone(project, "other")
    run(["dvc", "pull"], other)
    status = run(["dvc", "status"], other, env=env_for(other)).stdout
    assert "up to date" in status, status
    for rel in (
        "models/classical/lr.skops",
        "models/lstm/model.pt",
        "reports/metrics.json",
        "data/interim/landmarks/index.csv",
    ):
        assert (other / rel).read_bytes() == (ci / rel).read_bytes(), rel
    metrics = json.loads((other / "reports/metrics.json").read_text())
    assert "classical-lr" in metrics


def test_gate_failure_pushes_and_commits_nothing(project: dict[str, Path], retrained: tuple[Path, str]) -> None:
    """Below the quality gate: exit non-zero before anything is pushed or committed."""
    repo = _clone(project, "gated")
    set_params(repo, {"package.quality_gate": 1.0, "package.min_metric": "sample_macro_f1"})
    metrics = json.loads(run(["git", "show", "HEAD:reports/metrics.json"], repo).stdout)
    if max(m["sample_macro_f1"] for m in metrics.values()) >= 1.0:
        pytest.skip("a perfect model: no gate can fail")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "an impossible gate")
    remote_files = sorted(p.relative_to(project["remote"]) for p in project["remote"].rglob("*") if p.is_file())
    origin_head = run(["git", "rev-parse", "HEAD"], project["origin"]).stdout
    env = env_for(repo, RETRAIN_GIT_PUSH="1", MLFLOW_TRACKING_URI=f"sqlite:///{project['store'] / 'mlflow.db'}")
    proc = run(["bash", "scripts/retrain.sh"], repo, env=env, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "quality gate" in out.lower()
    assert "== retrain: push data" not in out and "== retrain: commit" not in out
    assert sorted(p.relative_to(project["remote"]) for p in project["remote"].rglob("*") if p.is_file()) == remote_files
    assert run(["git", "rev-parse", "HEAD"], project["origin"]).stdout == origin_head
