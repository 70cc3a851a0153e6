"""MLflow conventions: where runs go, and the lineage tags every run carries."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TRACKED_PACKAGES = ("torch", "scikit-learn", "mediapipe", "mlflow", "dvc", "numpy", "pandas")


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the SQLite store at the repository root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def setup(experiment: str) -> str:
    """Point MLflow at the store and the experiment; returns the experiment id."""
    mlflow.set_tracking_uri(tracking_uri())
    return mlflow.set_experiment(experiment).experiment_id


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.stdout.strip()


def git_state() -> dict[str, str]:
    """Commit and dirty flag of the working tree ('unknown' outside git)."""
    commit = _git("rev-parse", "HEAD") or "unknown"
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
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


def lineage_tags(stage: str, inputs: list[Path] | None = None, device: str = "cpu") -> dict[str, str]:
    """Tags for a run: git, DVC stage and experiment, input and data hashes, packages, device."""
    tags: dict[str, str] = {**git_state(), **data_versions(), "dvc.stage": stage, "device": device}
    if os.environ.get("DVC_EXP_NAME"):
        tags["dvc.exp_name"] = os.environ["DVC_EXP_NAME"]
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
