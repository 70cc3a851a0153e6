"""The one bad-row rule on files, and a validation report written in every outcome (the real stage)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from actionrec.config.validation import ValidationParams
from actionrec.data.demo.landmarks import generate_demo_landmarks
from actionrec.data.landmarks import read_landmark_csv
from actionrec.data.validation.landmarks import validate_landmark_csvs
from tests.conftest import REPO

LABELS = ["Lean", "Nod", "Shake", "Tilt"]


def _demo(folder: Path) -> Path:
    return generate_demo_landmarks(folder, subjects=1, n_frames=40)[0]


def _spoil(path: Path, lines: list[int], how: str) -> None:
    """Make data lines (1-based) bad: ``nan`` empties one pose cell, ``text`` writes a word."""
    rows = path.read_text().splitlines()
    for line in lines:
        cells = rows[line].split(",")
        cells[6] = "" if how == "nan" else "abc"
        rows[line] = ",".join(cells)
    path.write_text("\n".join(rows) + "\n")


def test_every_kind_of_bad_row_is_excluded_and_counted_up_to_the_threshold(tmp_path: Path) -> None:
    path = _demo(tmp_path / "lm")
    _spoil(path, [3], "nan")
    _spoil(path, [7], "text")
    lf = read_landmark_csv(path)
    assert [r["line"] for r in lf.rejected] == [3, 7]
    assert "empty values inside the detected pose" in lf.rejected[0]["reason"] and "'abc'" in lf.rejected[1]["reason"]
    n = len(lf.table) + 2
    ok = validate_landmark_csvs(tmp_path / "lm", ValidationParams(labels=LABELS, max_bad_row_share=2 / n))[0]
    assert ok.success and ok.n_rows == n - 2
    bad = validate_landmark_csvs(tmp_path / "lm", ValidationParams(labels=LABELS, max_bad_row_share=1 / n))[0]
    [failure] = bad.failures()
    assert failure.expectation == "bad_row_share" and failure.example_rows == [3, 7]
    assert failure.observed == {"bad_rows": 2, "rows": n, "share": round(2 / n, 4)}


def _stage(cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "stages.validate"], cwd=cwd, env=env, capture_output=True, text=True)


def test_unusable_clips_listed_on_the_console(tmp_path: Path) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copytree(REPO / "stages", tmp_path / "stages")
    _demo(tmp_path / params["data"]["landmarks_dir"])
    n, bad = 15, {8: ("decode_error", "clip8.avi: cannot decode"), 9: ("no_person", "no pose in any frame")}
    index = pd.DataFrame(
        {
            "clip": [f"clip{i}" for i in range(n)],
            "label": ["Lean"] * n,
            "group": [f"g{i}" for i in range(n)],
            "status": [bad.get(i, ("ok", ""))[0] for i in range(n)],
            "message": [bad.get(i, ("ok", ""))[1] for i in range(n)],
            "n_frames": [0 if i in bad else 40 for i in range(n)],
            "pose_rate": [0.0 if i in bad else 0.9 for i in range(n)],
            "face_rate": 0.0,
            "left_hand_rate": 0.0,
            "right_hand_rate": 0.0,
        }
    )
    index.loc[7, "n_frames"] = 3  # ok but too short
    (tmp_path / "data/interim/landmarks").mkdir(parents=True)
    index.to_csv(tmp_path / "data/interim/landmarks/index.csv", index=False)
    proc = _stage(tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "excluded clip" in line]
    assert lines == [
        "[validate] excluded clip clip7 (Lean): 3 frames < 8",
        "[validate] excluded clip clip8 (Lean): decode_error: clip8.avi: cannot decode",
        "[validate] excluded clip clip9 (Lean): no_person: no pose in any frame",
    ]


def test_failed_validation_still_writes_the_report(tmp_path: Path) -> None:
    """Empty file, header-only file, wrong header: the stage fails and says where the report is."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copytree(REPO / "stages", tmp_path / "stages")
    lm = tmp_path / params["data"]["landmarks_dir"]
    good = _demo(lm)
    (lm / "empty.csv").write_text("")
    (lm / "header_only.csv").write_text(good.read_text().splitlines()[0] + "\n")
    (lm / "wrong.csv").write_text(good.read_text().replace("x1,", "q1,", 1))
    proc = _stage(tmp_path)
    assert proc.returncode == 1
    assert "full report: reports/validation/summary.md" in proc.stderr
    summary = json.loads((tmp_path / "reports/validation/summary.json").read_text())
    results = {Path(f["source"]).name: f["success"] for f in summary["files"]}
    bad = {"empty.csv": False, "header_only.csv": False, "wrong.csv": False}
    assert results == {**{p.name: True for p in lm.glob("demo-*.csv")}, **bad} and results[good.name]
    text = (tmp_path / "reports/validation/summary.md").read_text()
    assert "empty file" in text and "no usable data rows" in text and "column 6 is 'q1', expected 'x1'" in text
