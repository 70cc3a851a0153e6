"""MLflow conventions: where runs go, and the lineage tags every run carries."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import yaml

from actionrec.core import kernels

REPO_ROOT = Path(__file__).resolve().parents[2]
TRACKED_PACKAGES = ("torch", "scikit-learn", "mediapipe", "mlflow", "dvc", "numpy", "pandas")


def store_root() -> Path:
    """Where the default store lives: the repository DVC runs the stage for (``DVC_ROOT``: for a
    queued ``dvc exp run`` that is the user's repository, not the temporary copy it runs in),
    else the current directory."""
    return Path(os.environ.get("DVC_ROOT") or Path.cwd())


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the SQLite store at the repository root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{store_root() / 'mlflow.db'}"


def _local_path(uri: str) -> Path | None:
    """The folder of a ``file:`` or plain-path artifact location; None for remote stores."""
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    return Path(uri) if "://" not in uri and not uri.startswith("mlflow-artifacts:") else None


def checkout_experiment(experiment: str, artifact_location: str | None) -> str:
    """The experiment name this checkout logs to in its default store: ``experiment``, unless that
    experiment keeps its artifacts in another checkout's folder (a copied or moved repository:
    the store holds absolute paths); then ``experiment@<this checkout>``, with artifacts here."""
    folder = _local_path(artifact_location) if artifact_location else None
    root = store_root().resolve()
    if folder is None or folder.resolve().is_relative_to(root):
        return experiment
    return f"{experiment}@{root}"


def setup(experiment: str) -> str:
    """Point MLflow at the store and the experiment; returns the experiment id.

    With the default store (``mlflow.db`` of this checkout) the experiment keeps its artifacts in
    this checkout's ``mlruns/`` (see :func:`checkout_experiment` for a copied repository)."""
    default_store = not os.environ.get("MLFLOW_TRACKING_URI")  # (set_tracking_uri sets it)
    mlflow.set_tracking_uri(tracking_uri())
    if default_store:
        found = mlflow.get_experiment_by_name(experiment)
        name = checkout_experiment(experiment, found.artifact_location if found else None)
        if mlflow.get_experiment_by_name(name) is None:
            # Artifacts beside the default store (MLflow would use ./mlruns of whatever directory
            # creates the experiment: a queued experiment's temporary copy).
            try:
                mlflow.create_experiment(name, artifact_location=str(store_root() / "mlruns" / experiment))
            except mlflow.exceptions.MlflowException:
                pass  # created meanwhile by a concurrent stage
        experiment = name
    return mlflow.set_experiment(experiment).experiment_id


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()


def _pipeline_outputs(root: Path) -> set[str]:
    """Paths that ``dvc repro`` itself rewrites: dvc.lock and every stage output in dvc.yaml."""
    paths = {"dvc.lock"}
    try:
        stages = (yaml.safe_load((root / "dvc.yaml").read_text()) or {}).get("stages") or {}
    except (OSError, yaml.YAMLError):
        return paths
    for stage in stages.values():
        for key in ("outs", "metrics", "plots"):
            for out in (stage or {}).get(key) or []:
                paths.add(next(iter(out)) if isinstance(out, dict) else str(out))
    return {p.rstrip("/") for p in paths}


def dirty_files() -> list[str]:
    """Tracked files whose working-tree state differs from HEAD, except what ``dvc repro`` writes
    (dvc.lock and git-tracked stage outputs such as reports/metrics.json): those change between
    the stages of every run and are results, not inputs. Untracked files are not counted."""
    top = _git("rev-parse", "--show-toplevel")
    if not top:
        return []
    outputs = _pipeline_outputs(Path(top))
    changed = []
    try:
        status = subprocess.run(["git", "-C", top, "status", "--porcelain", "-z", "--untracked-files=no", "--no-renames"],
                                capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    for entry in filter(None, status.split("\0")):
        path = entry[3:]
        if not any(path == out or path.startswith(f"{out}/") for out in outputs):
            changed.append(path)
    return changed


def git_state() -> dict[str, str]:
    """Commit and dirty flag of the working tree ('unknown' outside git); see :func:`dirty_files`."""
    commit = _git("rev-parse", "HEAD") or "unknown"
    dirty = bool(dirty_files()) if commit != "unknown" else False
    return {"git.commit": commit, "git.dirty": str(dirty).lower()}


def data_versions(root: Path = Path(".")) -> dict[str, str]:
    """DVC hash of every tracked raw data folder (from its ``.dvc`` file)."""
    tags = {}
    for dvc_file in sorted((root / "data" / "raw").glob("*.dvc")):
        outs = (yaml.safe_load(dvc_file.read_text()) or {}).get("outs", [])
        if outs:
            tags[f"data.{dvc_file.stem}.md5"] = str(outs[0].get("md5", ""))
    return tags


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stage_lock_entry(stage: str, root: Path | None = None) -> dict[str, Any]:
    """The inputs side of the ``dvc.lock`` entry DVC writes for ``stage`` once it succeeds.

    dvc.lock is written only after the stage command finishes, so while a stage runs its lock
    entry is the previous run's. This computes the entry of *this* run the way DVC does (its
    dependency objects and hash cache): ``{"cmd", "deps": {path: md5}, "params": {file: {key:
    value}}}``; :func:`lock_fingerprint` of it is what ``actionrec reproduce`` compares.
    """
    from contextlib import chdir, nullcontext

    from dvc.repo import Repo
    from dvc.stage.utils import split_params_deps

    # DVC resolves a stage name against the current directory's dvc.yaml: be in the repository.
    with chdir(root) if root else nullcontext(), Repo(str(root) if root else None) as repo:
        (dvc_stage,) = repo.stage.collect(stage)
        dvc_stage.save_deps()
        params, deps = split_params_deps(dvc_stage)
        return {
            "cmd": dvc_stage.cmd,
            "deps": {d.def_path: str(d.hash_info.value) for d in sorted(deps, key=lambda d: d.def_path)},
            "params": {p.def_path: p.hash_info.value for p in sorted(params, key=lambda p: p.def_path)},
        }


def lock_fingerprint(entry: dict[str, Any]) -> str:
    """md5 of a canonical JSON of a :func:`stage_lock_entry` (same inputs <=> same fingerprint)."""
    return hashlib.md5(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()


MAX_TAG = 5000  # MLflow refuses longer tag values (8000 in 3.x; keep a margin)


def _dvc_lineage(stage: str) -> dict[str, str]:
    """``dvc.lock.*`` tags (this run's lock entry of ``stage``) and ``data.dirty``: whether a raw
    data folder the stage reads differs from its committed ``.dvc`` file (data changed without
    ``dvc add``: the recorded data version is then not what the run used)."""
    try:
        entry = stage_lock_entry(stage)
    except Exception as exc:  # noqa: BLE001 - lineage must never stop a stage (e.g. outside DVC)
        return {"dvc.lock.error": f"{type(exc).__name__}: {exc}"[:MAX_TAG]}
    tags = {"dvc.lock.md5": lock_fingerprint(entry), "dvc.lock.cmd": entry["cmd"][:MAX_TAG]}
    for key in ("deps", "params"):
        text = json.dumps(entry[key], sort_keys=True, separators=(",", ":"), default=str)
        tags[f"dvc.lock.{key}"] = text if len(text) <= MAX_TAG else f"(too long: {len(text)} chars)"
    recorded = data_versions()
    dirty = []
    for path, md5 in entry["deps"].items():
        name = Path(path).name
        if Path(path).parent.as_posix() == "data/raw" and recorded.get(f"data.{name}.md5") not in (None, md5):
            tags[f"data.{name}.workspace_md5"] = md5
            dirty.append(path)
    tags["data.dirty"] = str(bool(dirty)).lower()
    return tags


def lineage_tags(stage: str, inputs: list[Path] | None = None, device: str = "cpu") -> dict[str, str]:
    """Tags for a run: git (commit, dirty flag and files), DVC stage, its dvc.lock entry (input
    hashes and params as of this run) and experiment, data versions, packages, device, and the
    ``kernels.*`` fingerprint of what decides its bits (:func:`actionrec.core.kernels.fingerprint`)."""
    tags: dict[str, str] = {**git_state(), **data_versions(), "dvc.stage": stage, "device": device,
                            **kernels.fingerprint(device)}
    if changed := dirty_files():
        tags["git.dirty_files"] = ",".join(changed)[:MAX_TAG]
    tags.update(_dvc_lineage(stage))
    for env, tag in (("DVC_EXP_NAME", "dvc.exp_name"), ("DVC_EXP_BASELINE_REV", "dvc.exp_baseline"),
                     ("ACTIONREC_REPRODUCTION_OF", "reproduction.of")):
        if os.environ.get(env):
            tags[tag] = os.environ[env]
    for path in inputs or []:
        if path.is_file():
            tags[f"input.{path.as_posix()}.sha256"] = file_sha256(path)
    for pkg in TRACKED_PACKAGES:
        try:
            tags[f"pkg.{pkg}"] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    tags["python"] = platform.python_version()
    return tags


def add_to_finished_run(client: mlflow.MlflowClient, run_id: str, metrics: dict[str, float], tags: dict[str, str],
                        artifacts: dict[Path, str]) -> None:
    """Add metrics, tags and artifacts (file -> artifact folder) to a finished run without
    reopening it: its status, start and end time (the duration the MLflow UI shows) stay the
    training's. (``mlflow.start_run(run_id=...)`` would set the end time to now.)"""
    from mlflow.entities import Metric, RunTag

    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                     tags=[RunTag(k, v) for k, v in tags.items()])
    for path, folder in artifacts.items():
        client.log_artifact(run_id, str(path), artifact_path=folder)


def training_dataset(tags: dict[str, str], name: str) -> Any:
    """A digest-only MLflow dataset (no table to hash or profile: ~0.02 s) for the data a run of
    the stage in ``tags`` (:func:`lineage_tags`) trained on: the DVC hashes of the stage's data
    inputs (``dvc.lock.deps`` under ``data/``) as its source's tags; the digest is theirs and the name's
    (one stage can derive several training sets from them: frames, windows, clips)."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    deps = tags.get("dvc.lock.deps", "")
    hashes = {p: h for p, h in (json.loads(deps) if deps.startswith("{") else {}).items() if p.startswith("data/")}
    hashes = hashes or {k: v for k, v in tags.items() if k.startswith("input.")}  # outside DVC: file hashes
    digest = hashlib.md5(json.dumps([name, hashes], sort_keys=True).encode()).hexdigest()
    return MetaDataset(CodeDatasetSource(tags=hashes), name=name, digest=digest)


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params -> ``{"a.b": "value"}`` for ``mlflow.log_params``."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)
    return flat


def pip_requirements(*packages: str) -> list[str]:
    """Exact pins of the installed versions of ``packages`` (no slow inference by MLflow)."""
    return [f"{p}=={metadata.version(p)}" for p in packages]
