"""Shared test set-up: offline environment, repository paths, small landmark CSV writers, and the
check that the tests leave the working tree as they found it."""

from __future__ import annotations

import csv
import functools
import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

# Offline by default (DESIGN.md section 4): set before any tool is imported by a test.
for _key, _value in {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
}.items():
    os.environ[_key] = _value

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
# Written by Python and pytest themselves, not by the code under test.
_TOOL_NOISE = ("__pycache__", ".pytest_cache", ".egg-info")


def output_dir(env_var: str, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """``$env_var`` (set by a make target that refreshes kept artefacts in the repo), else a
    temporary folder: tests write into the repository only when asked to."""
    if env := os.environ.get(env_var):
        folder = Path(env).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp(name)


def worktree_state(root: Path) -> dict[str, str]:
    """What ``git status`` shows of ``root``: each changed or untracked path with a digest of its
    bytes (``deleted`` when gone), and each ignored file or folder git lists (a file by size and
    mtime, a folder by its presence)."""

    def status(*args: str) -> list[str]:
        out = subprocess.run(
            ["git", "status", "--porcelain=v1", "-z", *args], cwd=root, capture_output=True, text=True, check=True
        ).stdout
        return out.split("\0")

    state: dict[str, str] = {}
    fields = iter(status("--untracked-files=all"))
    for entry in fields:
        if not entry:
            continue
        code, rel = entry[:2], entry[3:]
        if code[0] in "RC":
            next(fields)  # the rename's source path
        path = root / rel
        state[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "deleted"
    for entry in status("--ignored=traditional", "--untracked-files=normal"):
        if entry.startswith("!! ") and not any(n in entry for n in _TOOL_NOISE):
            rel = entry[3:]
            path = root / rel
            state[rel] = "folder" if path.is_dir() else f"{path.stat().st_size}:{path.stat().st_mtime_ns}"
    return state


_WORKTREE_AT_START: list[dict[str, str]] = []  # the controller's, once it started
# A test file that uses the memoised pipeline runs (tests.pipeline.shared_runs) by fixture or call.
SHARED_RUN_USE = re.compile(r"\btrained_demo\b|\bshared_runs\.run_[ab]\b")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Note the working tree before any test runs (a developer's own edits are not the tests')."""
    if not _is_worker(session.config):
        _WORKTREE_AT_START.append(worktree_state(REPO))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """After every test (on all workers): ``git status`` of the checkout, ignored paths included,
    is what it was at the start, else the session fails: the tests write only to temporary folders."""
    if _is_worker(session.config) or not _WORKTREE_AT_START:
        return
    start, now = _WORKTREE_AT_START[0], worktree_state(REPO)
    changed = [
        f"  {p}: {start.get(p, 'absent')} -> {now.get(p, 'absent')}"
        for p in sorted(start.keys() | now.keys())
        if start.get(p) != now.get(p)
    ]
    if changed:
        print("\nFAILED: tests wrote into the checkout (path: before -> after):\n" + "\n".join(changed))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def work_unit(nodeid: str) -> str:
    """What ``make test``'s xdist workers take as one unit: a test file (its module fixtures are
    made once), except that every file using the shared pipeline runs is one unit, so that each
    run is made once, on one worker."""
    file = nodeid.split("::", 1)[0]
    return "shared pipeline runs" if _uses_shared_runs(file) else file


@functools.cache
def _uses_shared_runs(file: str) -> bool:
    """Whether the test file ``file`` (relative to the repository) uses the shared pipeline runs;
    read once per file, not once per test."""
    path = REPO / file
    return path.is_file() and SHARED_RUN_USE.search(path.read_text()) is not None


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """Under ``pytest -n N``: xdist's scope scheduler with :func:`work_unit` as the scope."""
    from xdist.scheduler import LoadScopeScheduling

    class _Units(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return _Units(config, log)  # type: ignore[arg-type]  # xdist's Producer


@pytest.fixture(scope="session", autouse=True)
def _extraction_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Per-clip extraction results go to one cache of this session (shared by its pipeline copies
    and its xdist workers: entries are written atomically), never to the checkout's
    ``.cache/actionrec`` (unless ``ACTIONREC_CACHE_DIR`` names one)."""
    if "ACTIONREC_CACHE_DIR" in os.environ:
        yield
        return
    base = tmp_path_factory.getbasetemp()
    cache = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "extraction-cache"
    cache.mkdir(exist_ok=True)
    os.environ["ACTIONREC_CACHE_DIR"] = str(cache)
    try:
        yield
    finally:
        os.environ.pop("ACTIONREC_CACHE_DIR", None)


@pytest.fixture(scope="session")
def repo() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real public data sets); tests using it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available at {SHARED_DATA}")
    return SHARED_DATA


def format_value(v: float) -> str:
    """How our writers put a coordinate in a CSV cell (NaN -> empty)."""
    return "" if np.isnan(v) else f"{v:.6f}"


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write a small landmark CSV from numpy and return its path.

    ``write_csv(coords, labels, fmt="seed"|"session", sessions=..., subjects=..., name=...)``
    with ``coords`` shaped ``(rows, landmarks, 4)``; the layout follows from the landmark
    count. Session files get frame numbers per session and timestamps at 30 fps.
    """
    from actionrec.core.schema import Layout, seed_columns, session_columns

    def _write(
        coords: np.ndarray,
        labels: Sequence[str] | str,
        fmt: str = "seed",
        sessions: Sequence[str] | str | None = None,
        subjects: Sequence[str] | str | None = None,
        name: str = "landmarks.csv",
    ) -> Path:
        coords = np.asarray(coords, dtype=np.float64)
        n = len(coords)
        layout = Layout.from_n_landmarks(coords.shape[1])
        labels = [labels] * n if isinstance(labels, str) else list(labels)
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            if fmt == "seed":
                writer.writerow(seed_columns(layout))
                for label, frame in zip(labels, coords, strict=False):
                    writer.writerow([label, *map(format_value, frame.ravel())])
            elif fmt == "session":
                if sessions is None or isinstance(sessions, str):
                    sessions = [sessions or path.stem] * n
                if subjects is None or isinstance(subjects, str):
                    subjects = [subjects or ""] * n
                writer.writerow(session_columns(layout))
                counters: dict[str, int] = {}
                for label, sid, subj, frame in zip(labels, sessions, subjects, coords, strict=False):
                    i = counters.get(sid, 0)
                    counters[sid] = i + 1
                    writer.writerow([label, sid, subj, i, f"{i / 30:.4f}", *map(format_value, frame.ravel())])
            else:
                raise ValueError(f"unknown format {fmt!r}")
        return path

    return _write


def _random_landmarks(n_frames: int, n_landmarks: int = 33, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    coords = np.empty((n_frames, n_landmarks, 4), dtype=np.float32)
    coords[..., :2] = rng.uniform(0.2, 0.8, (n_frames, n_landmarks, 2))
    coords[..., 2] = rng.normal(0, 0.3, (n_frames, n_landmarks))
    coords[..., 3] = rng.uniform(0.5, 1.0, (n_frames, n_landmarks))
    coords[:, 11, :2] = (0.6, 0.4)  # left shoulder (image right)
    coords[:, 12, :2] = (0.4, 0.42)  # right shoulder
    coords[:, 11:13, :2] += rng.normal(0, 0.01, (n_frames, 2, 2))
    return coords


@pytest.fixture
def random_landmarks() -> Callable[..., np.ndarray]:
    """``random_landmarks(n_frames, n_landmarks=33, seed=0)``: float32 ``(frames, landmarks, 4)``
    with x, y in [0.2, 0.8], shoulders (pose 11/12) about 0.2 apart, visibility in [0.5, 1]."""
    return _random_landmarks


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace of the pipeline tier's reference run (:func:`tests.pipeline.shared_runs.run_a`:
    demo data, split, evaluated models and their MLflow runs, smaller training budgets) with its
    own copy of the MLflow artifacts; never this checkout's own trained state."""
    from tests.pipeline import shared_runs

    source = shared_runs.run_a(tmp_path_factory)
    root = shared_runs.workspace(source, tmp_path_factory.mktemp("trained") / "repo")
    shutil.copytree(source.repo / "mlruns", root / "mlruns")
    return root
