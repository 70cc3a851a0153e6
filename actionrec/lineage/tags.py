"""The lineage tags every run carries: git, DVC stage and lock entry, data versions, packages,
and the kernel fingerprint of what decides its bits (no MLflow import here)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from actionrec.core import kernels
from actionrec.lineage import dvcfiles, git

TRACKED_PACKAGES = ("torch", "scikit-learn", "mediapipe", "mlflow", "dvc", "numpy", "pandas")
MAX_TAG = 5000  # MLflow refuses longer tag values (8000 in 3.x; keep a margin)
ENV_TAGS = (
    ("DVC_EXP_NAME", "dvc.exp_name"),
    ("DVC_EXP_BASELINE_REV", "dvc.exp_baseline"),
    ("ACTIONREC_REPRODUCTION_OF", "reproduction.of"),
)


def git_state() -> dict[str, str]:
    """Commit and dirty flag of the working tree ('unknown' outside git); see :func:`git.dirty_files`."""
    commit = git.head() or "unknown"
    dirty = bool(git.dirty_files()) if commit != "unknown" else False
    return {"git.commit": commit, "git.dirty": str(dirty).lower()}


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dvc_lineage(stage: str) -> dict[str, str]:
    """``dvc.lock.*`` tags (this run's lock entry of ``stage``) and ``data.dirty``: whether a raw
    data folder the stage reads differs from its committed ``.dvc`` file (data changed without
    ``dvc add``: the recorded data version is then not what the run used)."""
    try:
        entry = dvcfiles.stage_lock_entry(stage)
    except Exception as exc:  # noqa: BLE001 - lineage must never stop a stage (e.g. outside DVC)
        return {"dvc.lock.error": f"{type(exc).__name__}: {exc}"[:MAX_TAG]}
    tags = {"dvc.lock.md5": dvcfiles.lock_fingerprint(entry), "dvc.lock.cmd": entry["cmd"][:MAX_TAG]}
    for key in ("deps", "params"):
        text = json.dumps(entry[key], sort_keys=True, separators=(",", ":"), default=str)
        tags[f"dvc.lock.{key}"] = text if len(text) <= MAX_TAG else f"(too long: {len(text)} chars)"
    recorded = dvcfiles.data_versions()
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
    tags: dict[str, str] = {
        **git_state(),
        **dvcfiles.data_versions(),
        "dvc.stage": stage,
        "device": device,
        **kernels.fingerprint(device),
    }
    if changed := git.dirty_files():
        tags["git.dirty_files"] = ",".join(changed)[:MAX_TAG]
    tags.update(_dvc_lineage(stage))
    for env, tag in ENV_TAGS:
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
