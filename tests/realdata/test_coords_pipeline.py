"""The whole pipeline on real MediaPipe coords.csv files from other projects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from actionrec.config import paths
from tests.pipeline.conftest import copy_repo, replace_raw_data, run, set_params
from tests.realdata.conftest import BUDGET, SHARED_DATA

pytestmark = [pytest.mark.realdata, pytest.mark.slow, pytest.mark.pipeline]
COORDS = SHARED_DATA / "mediapipe_coords"


def _repro(repo: Path) -> dict:
    run(["dvc", "add", "-q", str(paths.RAW_LANDMARKS), str(paths.RAW_VIDEOS)], repo)
    run(["dvc", "repro"], repo)
    return json.loads((repo / paths.METRICS).read_text())


def _save(results: Path, name: str, repo: Path, metrics: dict) -> None:
    """Keep the leaderboard and metrics of a real-data run in the ``results`` folder."""
    shutil.copy2(repo / paths.LEADERBOARD, results / f"{name}.md")
    (results / f"{name}.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")


def test_fencing_pose_csv_temporal_split_vs_leaky_random_split(tmp_path: Path, results: Path) -> None:
    """Pose-only coords.csv: one run per class -> temporal split; a random frame split inflates."""
    repo = copy_repo(tmp_path)
    replace_raw_data(repo, {"fencing.csv": COORDS / "liulawrence45_fencing_pose/coords.csv"})
    set_params(repo, {"data.labels": ["En Garde", "Lunge"], "features.parts": ["pose"], **BUDGET})
    honest = _repro(repo)
    split = json.loads((repo / paths.SPLIT_REPORT).read_text())
    assert split["temporal_classes"] == ["En Garde", "Lunge"]
    assert "convlstm" not in honest and {"classical-lr", "classical-gb", "lstm"} <= set(honest)
    _save(results, "fencing", repo, honest)
    set_params(repo, {"split.strategy": "random_frames"})
    leaky = _repro(repo)
    best_honest = max(m["sample_accuracy"] for k, m in honest.items() if k.startswith("classical"))
    best_leaky = max(m["sample_accuracy"] for k, m in leaky.items() if k.startswith("classical"))
    assert best_leaky >= best_honest and best_leaky > 0.95
    _save(results, "fencing_random_frames_leaky", repo, leaky)


def test_ebigdon_holistic_csv_malformed_rows_reported(tmp_path: Path, results: Path) -> None:
    """Pose+face coords.csv whose hand-gesture rows are malformed: reported, excluded, trained."""
    repo = copy_repo(tmp_path)
    replace_raw_data(repo, {"ebigdon.csv": COORDS / "ebigdon_hci_project/coords.csv"})
    set_params(
        repo,
        {
            "data.labels": ["Happy", "Sad"],
            "features.parts": ["pose", "face"],
            "split.purge_frames": 2,
            "validate.landmarks.max_bad_row_share": 0.4,  # 36 of 101 rows are hand-gesture rows
            "lstm.window": 20,
            "tcn.window": 20,
            "lstm.augment.mirror": 0.0,  # face landmarks have no left/right twins to mirror with
            "tcn.augment.mirror": 0.0,
            **BUDGET,
        },
    )
    metrics = _repro(repo)
    report = json.loads((repo / paths.VALIDATION_REPORTS / "summary.json").read_text())
    text = json.dumps(report)
    assert "36" in text or "rejected" in text
    detail = next((repo / paths.VALIDATION_REPORTS).glob("*ebigdon*.json"))
    assert len(json.loads(detail.read_text())["rejected_rows"]) == 36
    assert {"classical-lr", "classical-rf"} <= set(metrics)
    _save(results, "ebigdon", repo, metrics)
