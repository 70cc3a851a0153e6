"""The package stage: bundle layout and manifest, the quality gate, the MLflow `champion` alias
(moved only on the main line, never by an experiment), and the bundle running in a fresh
virtualenv with nothing but its own requirements.txt."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import yaml

from actionrec.core.manifests import model_key, read_model
from actionrec.lineage import runrecord
from actionrec.lineage.runrecord import manifests
from actionrec.packaging.pins import CPU_INDEX_LINE
from tests.pipeline.conftest import copy_repo, run, set_params, tree_digest

pytestmark = pytest.mark.slow

MODEL_DIRS = ("classical", "lstm", "tcn", "convlstm")
UNCERTAIN = "uncertain"


def _stage(repo: Path, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}",
        "DVC_EXP_NAME": "",
        "DVC_EXP_BASELINE_REV": "",
        **(env or {}),
    }
    return run([sys.executable, "stages/package.py"], repo, check=check, env=full)


def _client(repo: Path):
    import mlflow

    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")


def _versions(repo: Path, name: str) -> dict[str, dict[str, str]]:
    return {str(v.version): v.tags for v in _client(repo).search_model_versions(f"name = '{name}'")}


def _champion(repo: Path, name: str):
    return _client(repo).get_model_version_by_alias(name, "champion")


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory, trained_demo: Path) -> Path:
    """A copy of the repository (clean, on branch main: the main line) with the trained, evaluated
    models, their predictions and MLflow runs of the demo."""
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    run(["git", "branch", "-M", "main"], repo)
    for d in MODEL_DIRS:
        shutil.copytree(trained_demo / "models" / d, repo / "models" / d)
    shutil.copy2(trained_demo / "reports/metrics.json", repo / "reports/metrics.json")
    shutil.copytree(trained_demo / "reports/predictions", repo / "reports/predictions", dirs_exist_ok=True)
    shutil.copy2(trained_demo / "mlflow.db", repo / "mlflow.db")
    shutil.copytree(trained_demo / "data/raw/videos", repo / "data/raw/videos", dirs_exist_ok=True)
    return repo


@pytest.fixture(scope="module")
def packaged(staged: Path) -> tuple[Path, str]:
    proc = _stage(staged)
    return staged, proc.stdout


def _manifest(repo: Path) -> dict:
    return json.loads((repo / "models/package/manifest.json").read_text())


def _kinds(repo: Path) -> dict[str, str]:
    """Leaderboard key -> kind of every model with a manifest (the package's candidates)."""
    return {
        str(model_key(p, m)): m.kind
        for p in manifests(repo / "models")
        if p.parent.name != "package"
        for m in [read_model(p)]
    }


def test_bundle_layout_and_manifest(packaged: tuple[Path, str]) -> None:
    repo, log = packaged
    assert "[package]" in log and "champion <- promoted" in log and "no champion yet" in log, log
    bundle = repo / "models/package"
    manifest = _manifest(repo)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    metric, gate = params["package"]["min_metric"], params["package"]["quality_gate"]

    assert manifest["labels"] == params["data"]["labels"]
    # every evaluated model with a manifest is a candidate (not the manifest-less fusion entry)
    kind_of = _kinds(repo)
    assert "fusion" in metrics and "fusion" not in kind_of
    assert manifest["selection"] == {
        "metric": metric,
        "quality_gate": gate,
        "candidates": {k: v[metric] for k, v in metrics.items() if k in kind_of},
    }
    # the best model of each kind, by the metric; the live default is the best landmark model
    for kind, rel in manifest["models"].items():
        own = {k: v[metric] for k, v in metrics.items() if kind_of.get(k) == kind}
        details = manifest["model_details"][kind]
        # ties: the better sample accuracy, then the first name
        assert details["key"] == min(own, key=lambda k: (-own[k], -metrics[k]["sample_accuracy"], k))
        assert details["metrics"] == metrics[details["key"]]
        model_manifest = json.loads((bundle / rel).read_text())
        assert model_manifest["kind"] == kind
        model_file = bundle / details["model_file"]
        assert model_file.suffix in (".skops", ".pt")  # safe formats only
        assert hashlib.sha256(model_file.read_bytes()).hexdigest() == details["sha256"]
    assert set(manifest["models"]) == {kind_of[k] for k in metrics if k in kind_of}
    live = {
        k: (manifest["model_details"][k]["metrics"][metric], manifest["model_details"][k]["metrics"]["sample_accuracy"])
        for k in ("frame", "sequence")
        if k in manifest["models"]
    }
    assert manifest["live"] == {
        "default_model": max(live, key=live.get),
        **{k: params["package"]["live"][k] for k in ("smoothing", "threshold")},
    }
    assert manifest["features"] == json.loads((repo / "models/classical/gb.json").read_text())["features"]
    assert manifest["window"] == json.loads((bundle / manifest["models"]["sequence"]).read_text())["window"]
    record = runrecord.read(bundle / "manifest.json")  # this checkout's lineage: outside DVC's hashes
    assert re.fullmatch(r"[0-9a-f]{40}", record["lineage"]["git.commit"])
    assert record["lineage"]["git.dirty"] in ("true", "false")
    runs = json.loads(record["models"])  # the MLflow run of each bundled model, the served one first
    assert set(runs) == set(manifest["models"]) and all(re.fullmatch(r"[0-9a-f]{32}", r) for r in runs.values())
    assert record["mlflow_run_id"] == runs[manifest["live"]["default_model"]]
    for name in ("landmarks", "videos"):
        dvc = yaml.safe_load((repo / f"data/raw/{name}.dvc").read_text())
        assert manifest["data"][f"data.{name}.md5"] == dvc["outs"][0]["md5"]
        assert record["lineage"][f"data.{name}.md5"] == dvc["outs"][0]["md5"]
    assert not re.search(r"created|timestamp|\"time\"", json.dumps(manifest)), "the manifest must be deterministic"

    # vendored modules are the source tree's, byte for byte; no pickles, no bytecode
    for rel in manifest["vendored"]:
        assert (bundle / rel).read_bytes() == (repo / rel).read_bytes(), rel
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib", ".pyc"))]
    assert {"live.py", "requirements.txt", "manifest.json"} <= files

    # requirements.txt: exact public pins of the installed versions; torch (CPU index) only when a
    # torch model is bundled, and the torch modules vendored only then
    lines = (bundle / "requirements.txt").read_text().splitlines()
    pins = dict(line.split("==") for line in lines if line and line[0] not in "#-")
    for name, version in pins.items():
        assert metadata.version(name).split("+")[0] == version, name
    lowered = {n.lower().replace("_", "-") for n in pins}
    assert {"numpy", "opencv-contrib-python", "mediapipe", "protobuf", "scikit-learn", "skops", "pydantic"} <= lowered
    assert not {"pandas", "mlflow", "dvc", "great-expectations"} & lowered
    uses_torch = any(details["model_file"].endswith(".pt") for details in manifest["model_details"].values())
    assert (
        ("torch" in lowered)
        == uses_torch
        == ("actionrec/models/torch_io.py" in manifest["vendored"])
        == (CPU_INDEX_LINE in lines)
    )
    assert not [n for n in lowered if n.startswith("nvidia-") or n == "triton"]


def test_repackaging_is_deterministic(packaged: tuple[Path, str]) -> None:
    repo, _ = packaged
    before = tree_digest(repo / "models/package")
    name = _manifest(repo)["registered_model"]
    versions = _versions(repo, name)
    log = _stage(repo).stdout
    assert tree_digest(repo / "models/package") == before
    assert _versions(repo, name) == versions, "same model: same version, same tags"
    assert "already the champion" in log, log
    assert not (repo / "reports/registry.json").exists(), "registry state lives in the MLflow store, not in files"
    assert not [p.name for p in (repo / "models").iterdir() if p.name.startswith(".package")], "temp dirs left"


def test_quality_gate_refuses_with_every_candidates_numbers(packaged: tuple[Path, str]) -> None:
    repo, _ = packaged
    params = (repo / "params.yaml").read_text()
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    before = tree_digest(repo / "models/package")
    best = max(m["clip_accuracy"] for m in metrics.values())
    try:
        set_params(repo, {"package.quality_gate": min(1.0, round(best + 0.01, 3))})
        proc = _stage(repo, check=False)
    finally:
        (repo / "params.yaml").write_text(params)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "quality gate" in proc.stderr
    for key in _kinds(repo):
        m = metrics[key]
        assert f"{key} " in proc.stderr and f"clip_accuracy={m['clip_accuracy']:.3f}" in proc.stderr, key
    assert tree_digest(repo / "models/package") == before, "a refused package leaves the previous bundle"


def test_champion_alias_is_the_packaged_model(packaged: tuple[Path, str]) -> None:
    import mlflow

    from actionrec.models.predictors import load_predictor

    repo, _ = packaged
    manifest = _manifest(repo)
    kind = manifest["live"]["default_model"]
    details = manifest["model_details"][kind]
    uri = f"sqlite:///{repo / 'mlflow.db'}"
    version = _champion(repo, manifest["registered_model"])
    assert version.run_id == runrecord.read(repo / "models/package/manifest.json")["mlflow_run_id"]
    metric = manifest["selection"]["metric"]
    assert version.tags["metric"] == metric and float(version.tags["metric.value"]) == details["metrics"][metric]
    assert version.tags["promotion.decision"] == "promoted" and version.tags["model.key"] == details["key"]

    pred = load_predictor(repo / "models/package" / manifest["models"][kind])
    rng = np.random.default_rng(0)
    n_features = pred.features.n_features
    if kind == "frame":
        x = rng.normal(0, 1, (16, n_features)).astype(np.float32)
        ours = pred.predict_proba(x)
    else:
        windows = rng.normal(0, 1, (4, pred.manifest.window, n_features)).astype(np.float32)
        ours = pred.predict_proba(list(windows))
        # the logged scikit-learn pipelines take flattened windows, the torch ones (N, T, F)
        x = windows.reshape(len(windows), -1) if pred.is_sklearn else windows
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        served = mlflow.pyfunc.load_model(f"models:/{manifest['registered_model']}@champion")
        theirs = np.asarray(served.predict(x))
    finally:
        mlflow.set_tracking_uri(previous)
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-6)


def _demo_clip(repo: Path) -> Path:
    clips = sorted((repo / "data/raw/videos").glob("*/*.avi"))
    assert clips, f"no demo video under {repo}"
    return clips[0]


def test_bundle_runs_in_a_fresh_virtualenv(packaged: tuple[Path, str], tmp_path: Path) -> None:
    """A plain venv, `pip install -r requirements.txt` (pip's cache makes it ~2-3 min), no
    actionrec installed: live.py --headless prints JSON lines with the bundle's labels."""
    repo, _ = packaged
    bundle = tmp_path / "bundle"
    shutil.copytree(repo / "models/package", bundle)  # anywhere: the bundle needs no repository
    venv = tmp_path / "venv"
    python = shutil.which("python3.11") or sys.executable
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    subprocess.run([python, "-m", "venv", str(venv)], check=True, env=env)
    pip = subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", "install", "-q", "-r", str(bundle / "requirements.txt")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert pip.returncode == 0, pip.stderr[-3000:]
    py = str(venv / "bin/python")
    assert subprocess.run([py, "-c", "import actionrec"], cwd=tmp_path, env=env, capture_output=True).returncode != 0
    proc = subprocess.run(
        [py, str(bundle / "live.py"), "--source", str(_demo_clip(repo)), "--headless"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    labels = set(json.loads((bundle / "manifest.json").read_text())["labels"])
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert lines, proc.stderr[-2000:]
    for row in lines:
        assert {"time", "frame", "label", "probability", "probabilities"} <= set(row)
        assert row["label"] in labels | {UNCERTAIN}
        assert set(row["probabilities"]) == labels
    assert not list(bundle.rglob("__pycache__")), "running the bundle must not modify it (a DVC output)"


def test_experiments_register_without_moving_champion_and_the_main_line_compares(packaged: tuple[Path, str]) -> None:
    """An experiment (the variables DVC sets for every stage of `dvc exp run`) serving another model
    registers it, tagged with the experiment's name, and leaves `champion`; the same candidate on the
    main line (committed) is compared with the champion on the same test recordings, by numbers."""
    repo, _ = packaged
    manifest = _manifest(repo)
    name, served = manifest["registered_model"], manifest["live"]["default_model"]
    other = next(k for k in ("frame", "sequence") if k != served and k in manifest["models"])
    champion = _champion(repo, name)
    params = (repo / "params.yaml").read_text()
    try:
        set_params(repo, {"package.live.default_model": other})
        before = set(_versions(repo, name))
        exp = _stage(repo, env={"DVC_EXP_NAME": "exp-test", "DVC_EXP_BASELINE_REV": "0" * 40}).stdout
        assert "champion unchanged: experiment exp-test (dvc exp run)" in exp, exp
        assert _champion(repo, name).version == champion.version
        (new,) = set(_versions(repo, name)) - before
        tags = _versions(repo, name)[new]
        assert tags["dvc.exp_name"] == "exp-test" and tags["promotion.decision"] == "not considered"

        dirty = _stage(repo).stdout  # not an experiment, but params.yaml is not committed
        assert (
            "champion unchanged: uncommitted changes (params.yaml)" in dirty
            and _champion(repo, name).version == champion.version
        )

        run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "serve the other kind"], repo)
        main = _stage(repo).stdout
        cand, champ = float(tags["metric.value"]), float(champion.tags["metric.value"])
        if tags["test.recordings.md5"] != champion.tags["test.recordings.md5"]:
            moved = False  # scored on other recordings (e.g. windows too long for some): no comparison
            assert "other test recordings" in main and "not comparable" in main, main
        else:
            moved = cand >= champ
            assert f"{cand:.4f} {'>=' if moved else '<'} champion v{champion.version}" in main, main
        assert (_champion(repo, name).version == int(new)) == moved
        recorded = _versions(repo, name)[new]
        assert recorded["promotion.decision"] == ("promoted" if moved else "refused")
        assert (
            float(recorded["promotion.champion_value"]) == champ
            and float(recorded["promotion.candidate_value"]) == cand
        )
    finally:
        (repo / "params.yaml").write_text(params)
        run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "back", "--allow-empty"], repo)
