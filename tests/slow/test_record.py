"""Recorder: session CSVs that the readers and the validation stage accept, even after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from actionrec.config.params import load_params
from actionrec.config.validation import ValidationParams
from actionrec.core.schema import CsvFormat, Layout
from actionrec.data.demo.videos import render_clip
from actionrec.data.landmarks import read_landmark_csv
from actionrec.data.validation.landmarks import validate_landmark_table
from actionrec.media.video import iter_frames, write_video
from actionrec.serving.record import main, record

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LABEL = "waving"  # not in params.yaml: the validation labels are extended with it


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo clip (a real photo of a person, nodding), rendered as `make data` renders it."""
    frames = render_clip("Nod", np.random.default_rng(1), 40, (240, 180))
    return write_video(tmp_path_factory.mktemp("clip") / "v_Nod_g01_c01.avi", frames, 25)


@pytest.fixture(scope="module")
def long_clip(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo clip played forwards and backwards 5 times (400 frames, ~20 s to record)."""
    frames = [f for _, f in iter_frames(clip)]
    loop = (frames + frames[::-1]) * 5
    return write_video(tmp_path_factory.mktemp("long") / "long.avi", loop, 25)


def _params() -> ValidationParams:
    params = load_params(REPO / "params.yaml").validate_.landmarks
    return params.model_copy(update={"labels": [*params.labels, LABEL]})


def _check_session_file(path: Path) -> int:
    """Assert the file reads with no rejected row and passes validation; return its rows."""
    lf = read_landmark_csv(path)
    assert lf.rejected == []
    assert (lf.schema.format, lf.schema.layout) == (CsvFormat.SESSION, Layout.HOLISTIC_HANDS)
    report = validate_landmark_table(
        lf.table,
        lf.schema,
        str(path),
        _params(),
        lf.rejected,
        sessions=lf.sessions,
        rows=lf.table.index.to_numpy(),
    )
    assert report.success, [c.details for c in report.failures()]
    assert set(lf.sessions) == {path.stem}
    return len(lf.table)


def test_headless_recording_is_a_valid_session(clip: Path, tmp_path: Path) -> None:
    summary = record(LABEL, source=clip, out_dir=tmp_path, subject="s99", headless=True, start_frame=5, stop_frame=35)
    [session] = summary.sessions
    assert session.path.parent == tmp_path and session.path.name.startswith("rec-")
    assert session.path.stem.endswith(f"-{LABEL}") and session.rows == 30
    assert _check_session_file(session.path) == 30
    table = read_landmark_csv(session.path).table
    assert table["frame"].tolist() == list(range(5, 35))
    assert table["subject_id"].unique().tolist() == ["s99"]
    assert np.allclose(np.diff(table["timestamp"]), 1 / 25) and table["timestamp"].iloc[0] == 0
    assert summary.frames_without_person == 0 and "dvc add" in summary.text()

    before = session.path.read_bytes()
    again = record(LABEL, source=clip, out_dir=tmp_path, headless=True, max_frames=3)
    assert again.sessions[0].path != session.path, "never overwrites an existing session"
    assert session.path.read_bytes() == before


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_interrupted_recorder_leaves_a_valid_file(long_clip: Path, tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "sessions"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "actionrec",
            "record",
            "--label",
            LABEL,
            "--source",
            str(long_clip),
            "--out-dir",
            str(out),
            "--headless",
            "--max-frames",
            "100000",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            files = list(out.glob("*.csv"))
            if files and files[0].read_bytes().count(b"\n") > 25:
                break
            time.sleep(0.1)
        assert proc.poll() is None, "the recorder ended before it was interrupted"
        os.kill(proc.pid, sig)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    [path] = out.glob("*.csv")
    rows = _check_session_file(path)
    assert 25 <= rows < 400
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 0 and f"{path}: {rows} rows" in stdout


def test_frames_without_a_person_are_counted(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    grey = write_video(tmp_path / "grey.avi", [np.full((120, 160, 3), 128, np.uint8)] * 12, 25)
    out = tmp_path / "sessions"
    code = main(["--label", LABEL, "--source", str(grey), "--out-dir", str(out), "--headless"])
    assert code == 0
    assert "frames without a person while recording: 12 (not written)" in capsys.readouterr().out
    assert not out.exists() or not list(out.iterdir()), "no empty session file"


def test_window_mode_keys_start_stop_and_switch_takes(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SPACE at frame 2, key 2 at frame 12 (new take, new label), SPACE at 22, q at 30."""
    import cv2

    from actionrec.serving import record as record_module

    keys = iter([-1, -1, ord(" ")] + [-1] * 9 + [ord("2")] + [-1] * 9 + [ord(" ")] + [-1] * 7 + [ord("q")])
    shown: list[np.ndarray] = []
    monkeypatch.setattr(record_module, "require_display", lambda: None)
    monkeypatch.setattr(cv2, "imshow", lambda _title, image: shown.append(image))
    monkeypatch.setattr(cv2, "waitKey", lambda _ms: next(keys))
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
    summary = record(LABEL, source=clip, out_dir=tmp_path, labels=[LABEL, "nodding"])
    assert [(s.label, s.rows) for s in summary.sessions] == [(LABEL, 10), ("nodding", 10)]
    assert summary.frames == len(shown) == 31
    first, second = (read_landmark_csv(s.path).table for s in summary.sessions)
    assert first["frame"].tolist() == list(range(2, 12))
    assert second["frame"].tolist() == list(range(12, 22))
