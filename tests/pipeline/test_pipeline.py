"""`dvc repro` end to end on the demo data, in a copy of the repository, with the smaller training
budgets of :data:`tests.pipeline.shared_runs.TEST_PARAMS` (the same code paths, fewer epochs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow
import numpy as np
import pytest

from actionrec.data.demo.videos import FPS
from actionrec.lineage import runrecord
from actionrec.media.video import iter_frames, write_video
from tests.pipeline.conftest import run, set_params, tree_digest
from tests.pipeline.shared_runs import TEST_PARAMS

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]

MODELS = {
    "classical-lr",
    "classical-ridge",
    "classical-rf",
    "classical-gb",
    "classical-pooled-lr",
    "classical-pooled-rf",
    "classical-pooled-et",
    "classical-appearance-rf",
    "lstm",
    "tcn",
    "convlstm",
    "fusion",
}


@pytest.fixture(scope="module")
def reproduced(demo_repo: Path) -> tuple[Path, str]:
    set_params(demo_repo, TEST_PARAMS)
    proc = run(["dvc", "repro"], demo_repo)
    return demo_repo, proc.stdout + proc.stderr


def test_demo_data_matches_committed_dvc_hashes(demo_repo: Path) -> None:
    """The generator is deterministic: regenerated data has the hashes git already holds."""
    from tests.pipeline.conftest import REPO

    for name in ("landmarks", "videos"):
        committed = (REPO / "data" / "raw" / f"{name}.dvc").read_text()
        assert (demo_repo / "data" / "raw" / f"{name}.dvc").read_text() == committed


def test_repro_writes_metrics_and_leaderboard(reproduced: tuple[Path, str]) -> None:
    repo, log = reproduced
    for stage in (
        "extract_landmarks",
        "extract_clips",
        "validate",
        "split",
        "train_classical",
        "train_lstm",
        "train_tcn",
        "train_convlstm",
        "evaluate",
        "package",
    ):
        assert f"[{stage}]" in log, f"stage {stage} printed no summary"
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert set(metrics) == MODELS
    for name, m in metrics.items():
        for key in ("sample_accuracy", "sample_macro_f1", "clip_accuracy", "clip_macro_f1"):
            assert 0.0 <= m[key] <= 1.0, (name, key)
    best = max(m["clip_accuracy"] for m in metrics.values())
    assert best > 0.5, f"no model beats chance clearly on the demo data: {metrics}"
    assert "| 1 |" in (repo / "reports/leaderboard.md").read_text()
    summary = json.loads((repo / "reports/summary.json").read_text())  # the DVC metric: the common-set leader
    leader = metrics[summary["best"]]["common"]
    assert summary == {
        "best": summary["best"],
        "test_clips": leader["n_clips"],
        "clip_acc": leader["clip_accuracy"],
        "clip_f1": leader["clip_macro_f1"],
        "sample_acc": leader["sample_accuracy"],
    }
    assert all(m["common"]["clip_macro_f1"] <= leader["clip_macro_f1"] for m in metrics.values() if "common" in m)
    for name in MODELS:
        assert (repo / f"reports/confusion/{name}.png").stat().st_size > 1000
    split = (repo / "data/processed/split.csv").read_text()
    assert "group" in split


def test_mlflow_runs_have_lineage_and_loadable_models(reproduced: tuple[Path, str]) -> None:
    repo, _ = reproduced
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    exp = client.get_experiment_by_name("actionrec")
    runs = client.search_runs([exp.experiment_id])
    by_name = {r.info.run_name: r for r in runs}
    assert {name for name in MODELS if name.startswith("classical-")} <= set(by_name)
    assert {"train_classical", "lstm", "convlstm"} <= set(by_name)
    parent = by_name["train_classical"].info.run_id
    for name in ("classical-lr", "classical-ridge", "classical-rf", "classical-gb"):
        r = by_name[name]
        assert r.data.tags["mlflow.parentRunId"] == parent
        assert r.data.tags["git.commit"] != "unknown" and r.data.tags["git.dirty"] in ("true", "false")
        assert r.data.tags["dvc.stage"] == "train_classical"
        assert r.data.tags["data.landmarks.md5"].endswith(".dir")
        assert "test_clip_accuracy" in r.data.metrics
        assert r.inputs.dataset_inputs, f"{name} has no dataset input"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{repo / 'mlflow.db'}")
    try:
        rf_run = runrecord.read(repo / "models/classical/rf.json")["mlflow_run_id"]
        model = mlflow.pyfunc.load_model(f"runs:/{rf_run}/model")
        proba = np.asarray(model.predict(np.zeros((3, 133), dtype=np.float32)))
        lstm = json.loads((repo / "models/lstm/model.json").read_text())
        lstm_run = runrecord.read(repo / "models/lstm/model.json")["mlflow_run_id"]
        seq_model = mlflow.pyfunc.load_model(f"runs:/{lstm_run}/model")
        out = np.asarray(seq_model.predict(np.zeros((2, lstm["window"], 133), dtype=np.float32)))
    finally:
        mlflow.set_tracking_uri(previous)
    assert proba.shape == (3, 4) and np.allclose(proba.sum(axis=1), 1.0)
    assert out.shape == (2, 4)


def test_second_repro_is_a_noop(reproduced: tuple[Path, str]) -> None:
    repo, _ = reproduced
    proc = run(["dvc", "repro"], repo)
    assert "Data and pipelines are up to date" in proc.stdout, proc.stdout


def test_new_session_retrains_and_bad_session_stops_before_training(reproduced: tuple[Path, str]) -> None:
    repo, _ = reproduced
    raw = repo / "data/raw/landmarks"
    models_before = tree_digest(repo / "models")
    # A new session: a copy of an existing one under a new session id retrains the models.
    src = raw / "demo-s01-nod.csv"
    text = src.read_text().replace("demo-s01-nod", "demo-s09-nod").replace(",s01,", ",s09,")
    (raw / "demo-s09-nod.csv").write_text(text)
    run(["dvc", "add", "-q", "data/raw/landmarks"], repo)
    proc = run(["dvc", "repro"], repo)
    assert "[train_classical]" in proc.stdout and "[evaluate]" in proc.stdout
    assert "[extract_landmarks]" not in proc.stdout, "videos did not change: extraction must not re-run"
    models_after = tree_digest(repo / "models")
    assert models_after != models_before
    metrics_before = (repo / "reports/metrics.json").read_bytes()
    # A session with a label not in params: validate fails, models and metrics stay as they were.
    bad = text.replace("demo-s09-nod", "demo-s10-wave").replace("Nod,", "Wave,")
    (raw / "demo-s10-wave.csv").write_text(bad)
    run(["dvc", "add", "-q", "data/raw/landmarks"], repo)
    proc = run(["dvc", "repro"], repo, check=False)
    assert proc.returncode != 0
    assert "demo-s10-wave.csv" in proc.stderr and "Wave" in proc.stderr, proc.stderr[-2000:]
    assert "[train_classical]" not in proc.stdout
    assert tree_digest(repo / "models") == models_after
    assert (repo / "reports/metrics.json").read_bytes() == metrics_before
    (raw / "demo-s10-wave.csv").unlink()
    run(["dvc", "add", "-q", "data/raw/landmarks"], repo)


TRAINED = ("train_classical", "train_lstm", "train_tcn", "train_convlstm", "evaluate", "package")


def test_excluded_clips_are_named_retrain_nothing_and_unknown_class_stops(reproduced: tuple[Path, str]) -> None:
    """Clips validation excludes change data/interim/* but not the usable corpus training reads:
    DVC re-runs extraction, validate and split only; a usable new clip changes the corpus."""
    repo, _ = reproduced
    videos = repo / "data/raw/videos"
    models_before = tree_digest(repo / "models")
    corpus_before = tree_digest(repo / "data/processed/corpus")
    (videos / "Nod" / "v_Nod_g20_c01.avi").write_bytes(b"this is not a video" * 100)
    (videos / "Nod" / "v_Nod_g21_c01.avi").write_bytes(b"")
    first = [frame for _, frame in iter_frames(videos / "Nod" / "v_Nod_g01_c01.avi", max_frames=5)]
    write_video(videos / "Nod" / "v_Nod_g22_c01.avi", first, FPS)  # 5 frames < validate.clips.min_frames
    run(["dvc", "add", "-q", "data/raw/videos"], repo)
    proc = run(["dvc", "repro"], repo)
    out = proc.stdout
    assert "2 unusable" in out, out
    assert "[validate] excluded clip v_Nod_g20_c01 (Nod): decode_error:" in out, out
    assert "[validate] excluded clip v_Nod_g21_c01 (Nod): decode_error:" in out, out
    assert "[validate] excluded clip v_Nod_g22_c01 (Nod): 5 frames < 8" in out, out
    for stage in ("extract_landmarks", "extract_clips", "validate", "split"):
        assert f"Running stage '{stage}'" in out, out
    for stage in TRAINED:
        assert f"Stage '{stage}' didn't change, skipping" in out, out
        assert f"Running stage '{stage}'" not in out, out
    assert tree_digest(repo / "models") == models_before
    assert tree_digest(repo / "data/processed/corpus") == corpus_before
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo).stdout
    summary = (repo / "reports/validation/summary.md").read_text()
    assert all(f"v_Nod_g2{i}_c01" in summary for i in range(3))
    split = (repo / "data/processed/split.csv").read_text()
    assert "v_Nod_g2" not in split
    assert not list(repo.joinpath("data/interim").rglob("*.tmp")), "partial files left behind"
    # A usable new clip (a copy of a Lean clip as a new group) changes what every model reads.
    shutil.copy2(videos / "Lean" / "v_Lean_g01_c01.avi", videos / "Lean" / "v_Lean_g30_c01.avi")
    run(["dvc", "add", "-q", "data/raw/videos"], repo)
    run(["dvc", "repro", "split"], repo)
    assert "v_Lean_g30_c01" in (repo / "data/processed/split.csv").read_text()
    status = json.loads(run(["dvc", "status", "--json"], repo).stdout)
    assert set(status) == set(TRAINED) - {"package"}, status  # package follows once the models change
    for stage in TRAINED[:-1]:
        changed = {k: v for entry in status[stage] for k, v in entry.get("changed deps", {}).items()}
        assert {p for p, how in changed.items() if how == "modified"} & {
            "data/processed/corpus/landmarks",
            "data/processed/corpus/clips",
        }, (stage, changed)
    (videos / "Jump").mkdir()
    shutil.copy2(next((videos / "Lean").glob("*.avi")), videos / "Jump" / "v_Jump_g01_c01.avi")
    run(["dvc", "add", "-q", "data/raw/videos"], repo)
    proc = run(["dvc", "repro"], repo, check=False)
    assert proc.returncode != 0 and "Jump" in proc.stderr and "data.labels" in proc.stderr
