"""`champion` moves only by the rules (real MLflow, SQLite store in a temporary folder): gate,
at least as good as the champion on the same test recordings, main line or `actionrec promote`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from actionrec.packaging import registry

REPO = Path(__file__).resolve().parents[2]
NAME = "actionrec-live"
SAME = registry.test_set_digest(["a", "b", "c"])


@pytest.fixture(scope="module")
def uri(tmp_path_factory: pytest.TempPathFactory):
    """One SQLite store for the module (creating one costs seconds); each test its own model name."""
    import mlflow

    root = tmp_path_factory.mktemp("store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    # artifacts in the temporary folder: the default (./mlruns) would write into the checkout
    mlflow.set_experiment(
        experiment_id=mlflow.MlflowClient().create_experiment("t", artifact_location=str(root / "mlruns"))
    )
    yield uri
    mlflow.set_tracking_uri(None)


@pytest.fixture()
def store(uri: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest):
    """``version(value, ...)`` registers a new model version with the package stage's tags."""
    import mlflow
    from sklearn.dummy import DummyClassifier

    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    model = DummyClassifier().fit(np.zeros((4, 2)), [0, 1, 0, 1])
    name = f"{NAME}-{request.node.name}".replace("[", "-").replace("]", "").replace(" ", "")

    def version(value: float, test_set: str = SAME, metric: str = "clip_accuracy") -> str:
        with mlflow.start_run() as run:
            mlflow.sklearn.log_model(model, name="model", pip_requirements=[])
        tags = {registry.METRIC: metric, registry.VALUE: repr(value), registry.TEST_SET: test_set, registry.TEST_N: "3"}
        return str(registry.register(run.info.run_id, name, tags)["version"])

    return version, mlflow.MlflowClient(uri), name


def _champion(client, name: str) -> str:
    return str(client.get_model_version_by_alias(name, registry.ALIAS).version)


def test_champion_moves_only_for_a_candidate_as_good_on_the_same_recordings(store) -> None:
    version, client, name = store
    v1 = version(0.8)
    assert registry.promote(name, v1, 0.5, "clip_accuracy").promoted  # no champion yet
    v2 = version(0.7)
    d = registry.promote(name, v2, 0.5, "clip_accuracy")
    assert not d.promoted and _champion(client, name) == v1
    assert "0.7000 < champion v1 clip_accuracy=0.8000 on the same 3 test recordings" in d.line
    tags = client.get_model_version(name, v2).tags
    assert tags["promotion.decision"] == "refused"
    assert (
        tags["promotion.candidate_value"],
        tags["promotion.champion_value"],
        tags["promotion.champion_version"],
    ) == ("0.7", "0.8", v1)
    v3 = version(0.8)  # a tie is "at least as good"
    assert registry.promote(name, v3, 0.5, "clip_accuracy").promoted and _champion(client, name) == v3
    assert client.get_model_version(name, v3).tags["promotion.decision"] == "promoted"


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"value": 0.99, "test_set": registry.test_set_digest(["a", "b", "d"])}, "other test recordings"),
        ({"value": 0.4}, "< package.quality_gate=0.5"),
        ({"value": 0.99, "metric": "sample_accuracy"}, "has no clip_accuracy recorded"),
    ],
)
def test_refused_candidates_leave_the_champion(store, kwargs: dict, reason: str) -> None:
    version, client, name = store
    v1 = version(0.8)
    registry.promote(name, v1, 0.5, "clip_accuracy")
    d = registry.promote(name, version(**kwargs), 0.5, "clip_accuracy")
    assert not d.promoted and reason in d.line and _champion(client, name) == v1


def test_promote_command_prints_the_decision_and_exits_nonzero_when_refused(store) -> None:
    version, client, name = store
    v1, v2 = version(0.9), version(0.6)
    env_cmd = [
        sys.executable,
        "-m",
        "actionrec",
        "promote",
        "--params",
        str(REPO / "params.yaml"),
        "--registered-model",
        name,
    ]
    ok = subprocess.run([*env_cmd, v1], capture_output=True, text=True)
    assert ok.returncode == 0 and "champion <- promoted" in ok.stdout, ok.stderr
    refused = subprocess.run([*env_cmd, v2], capture_output=True, text=True)
    assert refused.returncode == 1 and "champion unchanged" in refused.stdout and "0.9000" in refused.stdout
    assert _champion(client, name) == v1


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
    )


def test_main_line_is_a_clean_main_branch_outside_experiments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.delenv("DVC_EXP_BASELINE_REV", raising=False)
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "code.py").write_text("x = 1\n")
    _git(tmp_path, "add", "code.py")
    _git(tmp_path, "commit", "-qm", "c")
    monkeypatch.chdir(tmp_path)
    assert registry.not_main_line() is None
    (tmp_path / "code.py").write_text("x = 2\n")
    assert "uncommitted changes (code.py)" in registry.not_main_line()
    _git(tmp_path, "checkout", "-q", "code.py")
    monkeypatch.setenv("DVC_EXP_NAME", "fuzzy-tarn")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "0" * 40)
    assert registry.not_main_line() == "experiment fuzzy-tarn (dvc exp run)"
    monkeypatch.delenv("DVC_EXP_NAME")
    monkeypatch.delenv("DVC_EXP_BASELINE_REV")
    _git(tmp_path, "checkout", "-q", "-b", "feature")
    assert registry.not_main_line() == "git branch feature, not main"


def test_a_real_dvc_exp_run_is_not_the_main_line(tmp_path: Path) -> None:
    """DVC marks every stage of `dvc exp run` (DVC_EXP_NAME, DVC_EXP_BASELINE_REV); `dvc repro` on a
    clean main is the main line. A tiny repository, real DVC (~10 s)."""
    import os

    import yaml

    cmd = (
        f'{sys.executable} -c "from actionrec.packaging.registry import not_main_line; '
        f"open('out.txt', 'w').write(str(not_main_line()))\""
    )
    (tmp_path / "params.yaml").write_text("x: 1\n")
    (tmp_path / "dvc.yaml").write_text(
        yaml.safe_dump({"stages": {"s": {"cmd": cmd, "params": ["x"], "outs": ["out.txt"]}}})
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "DVC_NO_ANALYTICS": "1"}
    for k in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV", "DVC_ROOT"):
        env.pop(k, None)
    dvc = [str(Path(sys.executable).parent / "dvc")]
    _git(tmp_path, "init", "-q", "-b", "main")
    subprocess.run([*dvc, "init", "-q"], cwd=tmp_path, env=env, check=True)
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "c")
    subprocess.run([*dvc, "repro", "-q"], cwd=tmp_path, env=env, check=True, capture_output=True)
    assert (tmp_path / "out.txt").read_text() == "None"
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "lock")
    subprocess.run(
        [*dvc, "exp", "run", "-q", "-n", "trial-1", "-S", "x=2"], cwd=tmp_path, env=env, check=True, capture_output=True
    )
    assert (tmp_path / "out.txt").read_text() == "experiment trial-1 (dvc exp run)"
