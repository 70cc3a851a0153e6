"""A throw-away copy of the repository in which the real pipeline runs (`dvc repro`)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def run(cmd: list[str], cwd: Path, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command in the copy with the venv on PATH; on failure show its output.

    ``MLFLOW_TRACKING_URI`` is not inherited (``mlflow.set_tracking_uri`` in a test sets it for
    the whole pytest process): each copy uses its own store unless ``env`` names one."""
    inherited = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    full_env = {**inherited, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})}
    proc = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def copy_repo(dest: Path) -> Path:
    """Copy the tracked and untracked-not-ignored files (what a fresh clone would hold)."""
    files = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    run(["git", "init", "-q"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"], dest)
    return dest


@pytest.fixture(scope="session")
def demo_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh copy with the demo data generated (not run yet)."""
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    run([sys.executable, "-m", "actionrec", "demo-data"], repo)
    run(["dvc", "add", "-q", "data/raw/landmarks", "data/raw/videos"], repo)
    return repo


def set_params(repo: Path, updates: dict[str, object]) -> None:
    """Set dotted keys (``split.purge_frames``) in the copy's params.yaml."""
    import yaml

    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for dotted, value in updates.items():
        node = params
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def replace_raw_data(repo: Path, csvs: dict[str, Path] | None = None, videos: Path | None = None) -> None:
    """Swap the demo data of a copy for other data (copied; the originals are never touched)."""
    raw = repo / "data" / "raw"
    for name in ("landmarks", "videos"):
        shutil.rmtree(raw / name, ignore_errors=True)
        (raw / name).mkdir(parents=True)
    for name, src in (csvs or {}).items():
        shutil.copy2(src, raw / "landmarks" / name)
    if videos is not None:
        shutil.copytree(videos, raw / "videos", dirs_exist_ok=True)


def tree_digest(folder: Path) -> str:
    """One hash of every file (path and bytes) under ``folder``: did anything change?"""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()
