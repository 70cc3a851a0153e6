"""Shared test set-up: offline environment, repository paths and small landmark CSV writers."""
from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
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
    from actionrec.schema import Layout, seed_columns, session_columns

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
                for label, frame in zip(labels, coords):
                    writer.writerow([label, *map(format_value, frame.ravel())])
            elif fmt == "session":
                if sessions is None or isinstance(sessions, str):
                    sessions = [sessions or path.stem] * n
                if subjects is None or isinstance(subjects, str):
                    subjects = [subjects or ""] * n
                writer.writerow(session_columns(layout))
                counters: dict[str, int] = {}
                for label, sid, subj, frame in zip(labels, sessions, subjects, coords):
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
    """A repository root with the demo data, the split, evaluated models and their MLflow runs:
    this checkout once `make demo` has run here, else a fresh copy running `dvc repro evaluate`."""
    import sys

    from tests.pipeline.conftest import copy_repo, run

    needed = ("models/classical", "models/lstm", "models/convlstm", "data/processed/split.csv", "mlflow.db")
    if all((REPO / rel).exists() for rel in needed):
        return REPO
    root = copy_repo(tmp_path_factory.mktemp("trained"))
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    run([sys.executable, "-m", "actionrec", "demo-data"], root)
    run(["dvc", "add", "-q", "data/raw/landmarks", "data/raw/videos"], root)
    run(["dvc", "repro", "evaluate"], root, env=env)
    return root
