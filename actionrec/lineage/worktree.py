"""The throw-away checkout a reproduction runs in: a detached ``git worktree`` of the run's
commit sharing the repository's DVC cache and remotes, its data restored, an MLflow store of its
own; the user's working tree and runs are never touched."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from actionrec.core import kernels
from actionrec.lineage import dvcfiles, git

Out = Callable[[str], object]
UNSET = ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV", "DVC_ROOT", "DVC_STAGE", kernels.NATIVE_SWITCH)
QUIET = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
}


class ReproduceError(RuntimeError):
    """The reproduction could not be set up or run; the message says why."""


@dataclass
class Worktree:
    """A checkout of one commit in ``tmp``, with the environment its stages run in."""

    tmp: Path
    path: Path
    store: str  # the throw-away MLflow store its runs log to
    env: dict[str, str]


def stage_env(repo: Path, wt: Path, store: str, run_id: str, tags: dict[str, str]) -> dict[str, str]:
    """The environment of the reproduced stages: the worktree's actionrec and the throw-away store,
    the recorded kernel choice, no DVC experiment variables, the shared extraction cache."""
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": store,
        "ACTIONREC_REPRODUCTION_OF": run_id,
        # the worktree's actionrec, not an editable install of the user's checkout
        "PYTHONPATH": os.pathsep.join(filter(None, [str(wt), os.environ.get("PYTHONPATH")])),
        # stage commands say `python`: the interpreter running this (the project's venv)
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        **QUIET,
    }
    for var in UNSET:
        env.pop(var, None)
    if tags.get("kernels.pinned") == "false":  # trained with the speed switch: reproduce likewise
        env[kernels.NATIVE_SWITCH] = "1"
    if "ACTIONREC_CACHE_DIR" not in env and (repo / ".cache" / "actionrec").is_dir():
        env["ACTIONREC_CACHE_DIR"] = str(repo / ".cache" / "actionrec")  # content-addressed: safe to share
    return env


@contextmanager
def checkout(repo: Path, commit: str, run_id: str, tags: dict[str, str], keep: bool, out: Out) -> Iterator[Worktree]:
    """A worktree of ``commit`` in a new temporary folder, removed afterwards unless ``keep``."""
    tmp = Path(tempfile.mkdtemp(prefix="actionrec-reproduce-"))
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    wt = Worktree(tmp, tmp / "worktree", store, stage_env(repo, tmp / "worktree", store, run_id, tags))
    try:
        git.git(repo, "worktree", "add", "--detach", str(wt.path), commit)
        yield wt
    finally:
        if keep:
            out(f"kept {tmp} (worktree and throw-away MLflow store {store})")
        else:
            git.git(repo, "worktree", "remove", "--force", str(wt.path), check=False)
            shutil.rmtree(tmp, ignore_errors=True)
            git.git(repo, "worktree", "prune", check=False)


def configure_dvc(main: Path, wt: Path) -> None:
    """The worktree shares the repository's DVC cache and remotes (absolute paths)."""
    cache_dir, remotes, default = dvcfiles.cache_and_remotes(main)
    dvc = dvcfiles.executable()
    git.run([dvc, "config", "--local", "cache.dir", str(Path(cache_dir).resolve())], wt)
    for name, conf in remotes.items():
        url = conf.get("url", "")
        if url and "://" not in url:
            url = str(Path(url).resolve())
        git.run([dvc, "remote", "add", "--local", "--force", name, url], wt)
    if default:
        git.run([dvc, "remote", "default", "--local", default], wt)


def restore_data(wt: Path, env: dict[str, str]) -> list[str]:
    """``dvc checkout`` from the shared cache; ``dvc pull`` what the cache lacks; the remote's run
    cache (``dvc push --run-cache``: entries only, outputs follow on use), so that upstream stages
    another machine ran are restored, not re-run (the pinned kernels make their bits the same
    here). -> notes."""
    dvc = dvcfiles.executable()
    notes = []
    if git.run([dvc, "fetch", "--run-cache", "-q"], wt, env, check=False).returncode != 0:
        notes.append("dvc fetch --run-cache: no run cache from the remote")
    if git.run([dvc, "checkout", "--allow-missing"], wt, env, check=False).returncode != 0:
        notes.append("dvc checkout: some outputs are not in the cache; trying the remote")
        pull = git.run([dvc, "pull", "--allow-missing"], wt, env, check=False)
        if pull.returncode != 0:
            notes.append("dvc pull: " + (pull.stdout + pull.stderr).strip().splitlines()[-1])
    for dvc_file in sorted((wt / "data" / "raw").glob("*.dvc")):
        if not dvc_file.with_suffix("").exists():
            raise ReproduceError(
                f"{dvc_file.relative_to(wt)}: the recorded data version is neither in the DVC cache "
                "nor on the remote (dvc push it from where it was made)"
            )
    return notes


def update_upstream(wt: Worktree, targets: list[str], out: Out) -> None:
    """Bring the stages upstream of ``targets`` up to date (DVC's run cache restores what was
    computed before; ``--pull``: the outputs of run-cache hits)."""
    try:
        upstream = dvcfiles.upstream_stages(wt.path, targets)
    except ValueError as exc:
        raise ReproduceError(str(exc)) from exc
    if upstream:
        proc = git.run([dvcfiles.executable(), "repro", "--no-commit", "--pull", *upstream], wt.path, wt.env)
        ran = [line for line in proc.stdout.splitlines() if line.startswith("Running stage")]
        out(f"upstream stages up to date ({len(ran)} re-run)")


def rerun(wt: Worktree, targets: list[str], out: Out) -> None:
    """Re-run each target alone, bypassing the run cache (``dvc repro --force --single-item``)."""
    for target in targets:
        proc = git.run(
            [dvcfiles.executable(), "repro", "--force", "--single-item", "--no-commit", target], wt.path, wt.env
        )
        for line in proc.stdout.splitlines():
            if line.startswith(f"[{target}]"):
                out(line)
