"""Pipeline runs shared by the lineage tiers (determinism, reproduce, experiments, retrain, MLflow UI).

Each run is made once per test session and memoised here (every user imports this module, so
pytest's per-module fixture copies do not multiply the expensive ``dvc repro``; under xdist,
tests/conftest.py puts every user on one worker), then never changed: tests that change things
work in a :func:`workspace` cloned from a run.

A run is a fresh copy of the repository with the demo data and smaller training budgets
(:data:`TEST_PARAMS`: the code paths are the same, the epochs fewer) and no dvc.lock (a new
project), committed (``C0``), then ``dvc repro evaluate`` (every stage but ``package``, which
these tiers do not need; the MLflow runs record ``C0``), then the results committed (``C1``), as
a user would. ``PYTHONPATH`` points at the copy so its stages import the copy's ``actionrec``, not the
editable install of the checkout the tests run from.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from actionrec.lineage import runrecord
from tests.pipeline.conftest import copy_repo, run, set_params

TEST_PARAMS = {
    "lstm.train.epochs": 4,
    "tcn.train.epochs": 4,
    "convlstm.profile": "cpu",
    "convlstm.cpu.train.epochs": 1,
    "classical.rf.n_estimators": 40,
    "classical.gb.n_estimators": 15,
}
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


@dataclass
class PipelineRun:
    repo: Path
    data_commit: str  # C0: what the MLflow runs record
    results_commit: str  # C1: dvc.lock and metrics of the run
    log: str
    seconds: float

    @property
    def store(self) -> str:
        return f"sqlite:///{self.repo / 'mlflow.db'}"


_RUNS: dict[str, PipelineRun] = {}
_FAILED: dict[str, str] = {}  # a run that failed fails its other users at once (not once more each)


def env_for(repo: Path, **extra: str) -> dict[str, str]:
    """Environment for commands in ``repo``: its own actionrec, a git identity, offline."""
    return {"PYTHONPATH": str(repo), **GIT_ID, **extra}


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo, env=GIT_ID).stdout.strip()


def _make_run(factory: pytest.TempPathFactory, name: str, fresh_extraction: bool) -> PipelineRun:
    repo = copy_repo(factory.mktemp(name))
    env = env_for(repo)
    if fresh_extraction:  # nothing from the per-clip extraction cache: MediaPipe runs again
        env["ACTIONREC_CACHE_DIR"] = str(factory.mktemp(f"{name}-extraction-cache"))
    run([sys.executable, "-m", "actionrec", "demo-data"], repo, env=env)
    run(["dvc", "add", "-q", "data/raw/landmarks", "data/raw/videos"], repo, env=env)
    set_params(repo, TEST_PARAMS)
    # A fresh project: no dvc.lock from the checkout (its outputs are in no cache of this copy).
    (repo / "dvc.lock").unlink(missing_ok=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "demo data, test params")
    data_commit = git(repo, "rev-parse", "HEAD")
    start = time.perf_counter()
    proc = run(["dvc", "repro", "evaluate"], repo, env=env)  # everything but the package stage
    seconds = time.perf_counter() - start
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "results")
    return PipelineRun(repo, data_commit, git(repo, "rev-parse", "HEAD"), proc.stdout + proc.stderr, seconds)


def _reused(key: str) -> PipelineRun | None:
    """``ACTIONREC_TEST_RUN_A=/path`` (or ``_B``): reuse a run an earlier session made (kept under
    its --basetemp) while working on these tests; never set in CI."""
    path = os.environ.get(f"ACTIONREC_TEST_RUN_{key.upper()}")
    if not path:
        return None
    repo = Path(path)
    return PipelineRun(repo, git(repo, "rev-parse", "HEAD~1"), git(repo, "rev-parse", "HEAD"), "", 0.0)


def _memoised(key: str, factory: pytest.TempPathFactory, fresh_extraction: bool) -> PipelineRun:
    if key in _FAILED:
        pytest.fail(f"run {key} failed earlier in this session:\n{_FAILED[key]}", pytrace=False)
    if key not in _RUNS:
        try:
            _RUNS[key] = _reused(key) or _make_run(factory, f"run-{key}", fresh_extraction=fresh_extraction)
        except AssertionError as exc:
            _FAILED[key] = str(exc)[-6000:]
            raise
    return _RUNS[key]


def run_a(factory: pytest.TempPathFactory) -> PipelineRun:
    """The reference run (extraction served from the session's per-clip cache when warm)."""
    return _memoised("a", factory, fresh_extraction=False)


def run_b(factory: pytest.TempPathFactory) -> PipelineRun:
    """A second run from scratch: fresh copy, fresh extraction cache, fresh DVC cache and store."""
    return _memoised("b", factory, fresh_extraction=True)


def copy_store(src: Path, dest: Path) -> None:
    """Copy the MLflow SQLite store of repository ``src`` into ``dest`` (as a team's shared tracking
    store would be), pointing its artifact locations at ``dest/mlruns`` so nothing is written
    into ``src``. (Old runs' artifacts are not copied; no test reads them.)"""
    shutil.copy2(src / "mlflow.db", dest / "mlflow.db")
    con = sqlite3.connect(dest / "mlflow.db")
    try:
        old, new = str(src / "mlruns"), str(dest / "mlruns")
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall():
            for _, column, ctype, *_ in con.execute(f"PRAGMA table_info('{table}')").fetchall():
                if "CHAR" in ctype.upper() or "TEXT" in ctype.upper():
                    con.execute(
                        f'UPDATE \'{table}\' SET "{column}" = replace("{column}", ?, ?) WHERE "{column}" LIKE ?',
                        (old, new, f"%{old}%"),
                    )
        con.commit()
    finally:
        con.close()


def workspace(source: PipelineRun, dest: Path, store: bool = True) -> Path:
    """A clone of a run at its results commit, with its own copy of the DVC cache (hard links:
    cache files are read-only and only ever added), outputs checked out, and a copy of its
    MLflow store: changing it leaves the run alone."""
    run(["git", "clone", "-q", str(source.repo), str(dest)], dest.parent, env=GIT_ID)
    subprocess.run(["cp", "-al", str(source.repo / ".dvc" / "cache"), str(dest / ".dvc" / "cache")], check=True)
    run(["dvc", "checkout", "-q", "--with-deps", "evaluate"], dest, env=env_for(dest))  # what the run made
    if store:
        copy_store(source.repo, dest)
        for record in (source.repo / "models").glob(f"*/*{runrecord.SUFFIX}"):  # which runs made the models
            if (dest / record.relative_to(source.repo)).parent.is_dir():  # outputs checked out above
                shutil.copy2(record, dest / record.relative_to(source.repo))
    return dest


def have_chromium() -> tuple[str, str] | None:
    """(browser, chromedriver) paths, or None."""
    browser = next(
        (
            p
            for p in (
                "/usr/bin/chromium",
                shutil.which("chromium"),
                shutil.which("chromium-browser"),
                shutil.which("google-chrome"),
            )
            if p and os.path.exists(p)
        ),
        None,
    )
    driver = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver")) if p and os.path.exists(p)), None)
    return (browser, driver) if browser and driver else None
