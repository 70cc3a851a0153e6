"""Lineage on MLflow runs (tags.lineage_tags), the dirty rule, the dvc.lock entry computed the
way DVC does, `actionrec reproduce` refusing dirty runs, and `actionrec compare`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import yaml

from actionrec.lineage import compare, dvcfiles, git, reproduce, tracking
from actionrec.lineage.tags import MAX_TAG, git_state, lineage_tags

VENV_BIN = Path(sys.executable).parent
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def sh(cwd: Path, *cmd: str) -> str:
    env = {**os.environ, **GIT_ENV, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


@pytest.fixture
def dvc_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny git + DVC project: one stage reading a data file and a param, writing a metric."""
    repo = tmp_path / "proj"
    repo.mkdir()
    sh(repo, "git", "init", "-q")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "dvc", "config", "core.analytics", "false")
    (repo / "data").mkdir()
    (repo / "data" / "in.txt").write_text("1\n2\n3\n")
    (repo / "params.yaml").write_text(yaml.safe_dump({"train": {"scale": 2, "unused": 1}, "other": 5}))
    (repo / "train.py").write_text(
        "import json, yaml\n"
        "s = yaml.safe_load(open('params.yaml'))['train']['scale']\n"
        "v = sum(int(x) for x in open('data/in.txt'))\n"
        "json.dump({'total': v * s}, open('metrics.json', 'w'))\n"
    )
    (repo / "dvc.yaml").write_text(
        yaml.safe_dump(
            {
                "stages": {
                    "train": {
                        "cmd": "python train.py",
                        "deps": ["data/in.txt", "train.py"],
                        "params": ["train.scale"],
                        "metrics": [{"metrics.json": {"cache": False}}],
                    }
                }
            }
        )
    )
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "init")
    monkeypatch.chdir(repo)
    return repo


def test_dirty_ignores_what_dvc_repro_writes(dvc_repo: Path) -> None:
    assert git_state()["git.dirty"] == "false"
    sh(dvc_repo, "dvc", "repro", "-q")  # writes dvc.lock and metrics.json (an output)
    sh(dvc_repo, "git", "add", "-A")
    sh(dvc_repo, "git", "commit", "-qm", "results")
    (dvc_repo / "dvc.lock").write_text((dvc_repo / "dvc.lock").read_text() + "# changed by a later stage\n")
    (dvc_repo / "metrics.json").write_text('{"total": 0}')
    assert git.dirty_files() == []
    assert git_state()["git.dirty"] == "false"
    (dvc_repo / "train.py").write_text((dvc_repo / "train.py").read_text() + "# edit\n")
    (dvc_repo / "params.yaml").write_text((dvc_repo / "params.yaml").read_text().replace("scale: 2", "scale: 3"))
    assert git.dirty_files() == ["params.yaml", "train.py"]
    assert git_state()["git.dirty"] == "true"


def test_lock_entry_is_what_dvc_writes_after_the_stage(dvc_repo: Path) -> None:
    entry = dvcfiles.stage_lock_entry("train")  # before the stage ran: there is no dvc.lock yet
    assert not (dvc_repo / "dvc.lock").exists()
    sh(dvc_repo, "dvc", "repro", "-q")
    lock = yaml.safe_load((dvc_repo / "dvc.lock").read_text())["stages"]["train"]
    assert entry["cmd"] == lock["cmd"]
    assert entry["deps"] == {d["path"]: d["md5"] for d in lock["deps"]}
    assert entry["params"] == lock["params"] == {"params.yaml": {"train.scale": 2}}
    assert dvcfiles.lock_fingerprint(entry) == dvcfiles.lock_fingerprint(dvcfiles.stage_lock_entry("train"))
    (dvc_repo / "data" / "in.txt").write_text("1\n2\n4\n")
    assert dvcfiles.lock_fingerprint(dvcfiles.stage_lock_entry("train")) != dvcfiles.lock_fingerprint(entry)


def test_lineage_tags(dvc_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DVC_EXP_NAME", "quick-fox")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "abc123")
    (dvc_repo / "train.py").write_text((dvc_repo / "train.py").read_text() + "# edit\n")
    tags = lineage_tags("train", [dvc_repo / "train.py"])
    assert tags["git.commit"] == sh(dvc_repo, "git", "rev-parse", "HEAD").strip()
    assert tags["git.dirty"] == "true" and tags["git.dirty_files"] == "train.py"
    assert tags["dvc.stage"] == "train" and tags["device"] == "cpu"
    assert tags["dvc.exp_name"] == "quick-fox" and tags["dvc.exp_baseline"] == "abc123"
    assert json.loads(tags["dvc.lock.params"]) == {"params.yaml": {"train.scale": 2}}
    assert set(json.loads(tags["dvc.lock.deps"])) == {"data/in.txt", "train.py"}
    assert tags["dvc.lock.md5"] == dvcfiles.lock_fingerprint(dvcfiles.stage_lock_entry("train"))
    assert tags["pkg.mlflow"] == mlflow.__version__ and tags["data.dirty"] == "false"
    assert all(len(v) <= MAX_TAG for v in tags.values())
    # what decides the bits (actionrec.core.kernels): this pytest process was not pinned
    assert tags["kernels.device"] == "cpu" and len(tags["kernels.fingerprint"]) == 32
    assert {"kernels.aten", "kernels.openblas", "kernels.threads", "kernels.torch", "kernels.numpy"} <= set(tags)


def test_training_dataset_is_the_dvc_hashes_of_the_stage_data(dvc_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each training run's MLflow dataset input: digest-only, from the DVC hashes of its data deps."""
    tags = lineage_tags("train")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{dvc_repo / 'mlflow.db'}")  # (restored afterwards)
    mlflow.set_tracking_uri(f"sqlite:///{dvc_repo / 'mlflow.db'}")
    with mlflow.start_run() as run:
        mlflow.log_input(tracking.training_dataset(tags, "train_frames"), context="training")
    (logged,) = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    md5 = json.loads(tags["dvc.lock.deps"])["data/in.txt"]
    assert logged.dataset.name == "train_frames" and json.loads(logged.dataset.source) == {"tags": {"data/in.txt": md5}}
    (dvc_repo / "data" / "in.txt").write_text("1\n2\n4\n")
    changed = tracking.training_dataset(lineage_tags("train"), "train_frames")
    assert changed.digest != logged.dataset.digest, "other data, other digest"
    assert tracking.training_dataset(tags, "train_clips").digest != logged.dataset.digest


def test_metrics_added_to_a_finished_run_keep_its_duration(tmp_path: Path) -> None:
    """evaluate adds test metrics to the training runs without reopening them (reopening set the
    end time to evaluate's: a 0.6 s fit showed 1.2 min in the UI)."""
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = client.create_experiment("x", artifact_location=str(tmp_path / "mlruns"))
    run = client.create_run(exp, run_name="m")
    client.set_terminated(run.info.run_id)
    before = client.get_run(run.info.run_id).info
    (tmp_path / "cm.png").write_bytes(b"png")
    tracking.add_to_finished_run(
        client, run.info.run_id, {"test_clip_accuracy": 0.75}, {"test.set": "abc"}, {tmp_path / "cm.png": "evaluation"}
    )
    after = client.get_run(run.info.run_id)
    assert (after.info.start_time, after.info.end_time, after.info.status) == (
        before.start_time,
        before.end_time,
        "FINISHED",
    )
    assert after.data.metrics["test_clip_accuracy"] == 0.75 and after.data.tags["test.set"] == "abc"
    assert [a.path for a in client.list_artifacts(run.info.run_id, "evaluation")] == ["evaluation/cm.png"]


LOG_ONE_RUN = """
import sys, mlflow
from actionrec.lineage import tracking
exp = tracking.setup("actionrec")
with mlflow.start_run() as run:
    mlflow.log_text("x", sys.argv[1])
print(mlflow.get_experiment(exp).name, run.info.artifact_uri)
"""


def test_a_copied_repository_logs_into_its_own_artifacts(tmp_path: Path) -> None:
    """The SQLite store holds absolute artifact paths: a copy (or move) of a repository with its
    mlflow.db must not write artifacts into the original's mlruns/."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "DVC_ROOT")}

    def log_one(cwd: Path, name: str) -> list[str]:
        proc = subprocess.run(
            [sys.executable, "-c", LOG_ONE_RUN, name], cwd=cwd, env=env, capture_output=True, text=True, check=True
        )
        return proc.stdout.split()

    original, copy = tmp_path / "original", tmp_path / "copy"
    original.mkdir()
    assert log_one(original, "a.txt")[0] == "actionrec"
    subprocess.run(["cp", "-r", str(original), str(copy)], check=True)
    name, uri = log_one(copy, "b.txt")
    assert uri.removeprefix("file://").startswith(str(copy.resolve() / "mlruns")), uri
    assert name == f"actionrec@{copy.resolve()}"
    assert not list(original.glob("mlruns/**/b.txt")) and list(copy.glob("mlruns/**/b.txt"))
    assert log_one(copy, "c.txt")[0] == name, "the copy keeps using its experiment"
    assert log_one(original, "d.txt")[0] == "actionrec", "the original is unchanged"


def test_lineage_outside_dvc_does_not_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tags = lineage_tags("train")
    assert tags["git.commit"] == "unknown" and "dvc.lock.error" in tags


def _store(repo: Path) -> mlflow.MlflowClient:
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")


def test_reproduce_refuses_a_dirty_run(dvc_repo: Path, capsys: pytest.CaptureFixture) -> None:
    client = _store(dvc_repo)
    exp = client.create_experiment("actionrec", artifact_location=str(dvc_repo / "mlruns"))
    run = client.create_run(
        exp,
        run_name="m",
        tags={
            "git.commit": sh(dvc_repo, "git", "rev-parse", "HEAD").strip(),
            "git.dirty": "true",
            "git.dirty_files": "train.py",
            "dvc.stage": "train",
        },
    )
    client.log_metric(run.info.run_id, "total", 12)
    args = reproduce.add_parser(__import__("argparse").ArgumentParser().add_subparsers()).parse_args([run.info.run_id])
    assert reproduce.main(args) == reproduce.EXIT_REFUSED
    out = capsys.readouterr().out
    assert "cannot be reproduced exactly" in out and "train.py" in out and "--allow-dirty" in out
    assert sh(dvc_repo, "git", "worktree", "list").count("\n") == 1, "nothing may be set up for a refused run"


def test_reproduce_reruns_the_stage_in_a_worktree(dvc_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole loop on the tiny project: a run logged by hand with the stage's lineage."""
    sh(dvc_repo, "dvc", "repro", "-q")
    total = json.loads((dvc_repo / "metrics.json").read_text())["total"]
    client = _store(dvc_repo)
    exp = client.create_experiment("actionrec", artifact_location=str(dvc_repo / "mlruns"))
    tags = {**lineage_tags("train"), "mlflow.runName": "m"}
    run = client.create_run(exp, run_name="m", tags=tags)
    client.log_metric(run.info.run_id, "total", total)
    # The stage itself logs to MLflow in a real project; here a wrapper logs the same run name.
    (dvc_repo / "train.py").write_text(
        (dvc_repo / "train.py").read_text()
        + (
            "import mlflow\nmlflow.set_experiment('actionrec')\n"
            "with mlflow.start_run(run_name='m', tags={'dvc.stage': 'train'}):\n"
            "    mlflow.log_metric('total', v * s)\n"
        )
    )
    sh(dvc_repo, "git", "add", "-A")
    sh(dvc_repo, "git", "commit", "-qm", "log to mlflow")
    sh(dvc_repo, "dvc", "repro", "-q")
    client.set_tag(run.info.run_id, "git.commit", sh(dvc_repo, "git", "rev-parse", "HEAD").strip())
    entry = dvcfiles.stage_lock_entry("train")
    client.set_tag(run.info.run_id, "dvc.lock.md5", dvcfiles.lock_fingerprint(entry))
    client.set_tag(run.info.run_id, "dvc.lock.deps", json.dumps(entry["deps"]))
    lines: list[str] = []
    code, outcome = reproduce.reproduce(run.info.run_id, repo=dvc_repo, out=lines.append)
    assert code == reproduce.EXIT_OK, "\n".join(lines)
    assert outcome.inputs_match and outcome.rows == [("m", "total", float(total), float(total), True)]
    assert sh(dvc_repo, "git", "worktree", "list").count("\n") == 1, "the worktree is removed afterwards"
    # A changed param at the recorded commit's lineage: inputs differ, reported as a mismatch.
    client.set_tag(run.info.run_id, "dvc.lock.md5", "0" * 32)
    client.set_tag(run.info.run_id, "dvc.lock.params", json.dumps({"params.yaml": {"train.scale": 3}}))
    code, outcome = reproduce.reproduce(run.info.run_id, repo=dvc_repo, out=lines.append)
    assert code == reproduce.EXIT_MISMATCH and outcome.inputs_match is False
    assert outcome.input_diffs == ["param params.yaml:train.scale: recorded 3, now 2"]


def test_compare_runs_shows_only_differences(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("x", artifact_location=str(tmp_path / "mlruns"))
    ids = []
    for c, acc in (("1.0", 0.5), ("0.5", 0.75)):
        r = client.create_run(exp, run_name=f"lr-{c}")
        client.log_param(r.info.run_id, "lr.C", c)
        client.log_param(r.info.run_id, "seed", "42")
        client.log_metric(r.info.run_id, "test_clip_accuracy", acc)
        client.log_metric(r.info.run_id, "train_frames", 100)
        client.log_metric(r.info.run_id, "fit_seconds", acc * 3)
        ids.append(r.info.run_id)
    table = compare.compare(ids[0], ids[1], tmp_path, uri)
    params, metrics = table.split("\n\n")
    assert [line.split() for line in params.splitlines()[2:]] == [["lr.C", "1.0", "0.5"]]
    assert [line.split() for line in metrics.splitlines()[2:]] == [["test_clip_accuracy", "0.5", "0.75"]]


def test_compare_revisions(dvc_repo: Path) -> None:
    (dvc_repo / "metrics.json").write_text(json.dumps({"m": {"acc": 0.5, "n": 3}}))
    sh(dvc_repo, "git", "add", "-A")
    sh(dvc_repo, "git", "commit", "-qm", "a")
    (dvc_repo / "params.yaml").write_text((dvc_repo / "params.yaml").read_text().replace("scale: 2", "scale: 3"))
    (dvc_repo / "metrics.json").write_text(json.dumps({"m": {"acc": 0.6, "n": 3}}))
    monkey_metrics = compare.METRICS_FILE
    compare.METRICS_FILE = "metrics.json"
    try:
        table = compare.compare("HEAD", "workspace", dvc_repo)
    finally:
        compare.METRICS_FILE = monkey_metrics
    assert "train.scale" in table and "m.acc" in table and "m.n" not in table and "other" not in table
    with pytest.raises(compare.CompareError):
        compare.resolve("no-such-thing", dvc_repo)


def test_run_commits_inputs_then_results_so_runs_are_clean(dvc_repo: Path) -> None:
    """`actionrec run`: params changed -> one command -> a run recorded on a clean commit that
    holds exactly its inputs, the results in the next commit, nothing left to commit."""
    (dvc_repo / "train.py").write_text(
        (dvc_repo / "train.py").read_text()
        + ("from actionrec.lineage.tags import git_state\njson.dump(git_state(), open('state.json', 'w'))\n")
    )
    spec = yaml.safe_load((dvc_repo / "dvc.yaml").read_text())
    spec["stages"]["train"]["outs"] = [{"state.json": {"cache": False}}]
    (dvc_repo / "dvc.yaml").write_text(yaml.safe_dump(spec))
    sh(dvc_repo, "git", "add", "-A")
    sh(dvc_repo, "git", "commit", "-qm", "record the git state")
    (dvc_repo / "params.yaml").write_text((dvc_repo / "params.yaml").read_text().replace("scale: 2", "scale: 3"))
    env = {
        **os.environ,
        **GIT_ENV,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "actionrec", "run", "-m", "scale 3"],
        cwd=dvc_repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    inputs = sh(dvc_repo, "git", "rev-parse", "HEAD~1").strip()
    assert json.loads((dvc_repo / "state.json").read_text()) == {"git.commit": inputs, "git.dirty": "false"}
    assert sh(dvc_repo, "git", "show", "--name-only", "--format=%s", "HEAD~1").split() == ["scale", "3", "params.yaml"]
    assert set(sh(dvc_repo, "git", "show", "--name-only", "--format=", "HEAD").split()) == {
        "dvc.lock",
        "metrics.json",
        "state.json",
    }
    assert sh(dvc_repo, "git", "status", "--porcelain") == ""
    assert json.loads((dvc_repo / "metrics.json").read_text()) == {"total": 18}
    assert f"record commit {inputs[:12]}, clean" in proc.stdout
