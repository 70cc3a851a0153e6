"""`actionrec crossval` on the trained demo: one fold per group, every recording tested once."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.pipeline.conftest import run

pytestmark = pytest.mark.slow


def test_leave_one_group_out_on_the_demo(trained_demo: Path, tmp_path: Path) -> None:
    proc = run(
        [
            sys.executable,
            "-m",
            "actionrec",
            "crossval",
            "--models",
            "pooled-rf",
            "appearance-rf",
            "--out",
            str(tmp_path),
        ],
        trained_demo,
    )
    result = json.loads((tmp_path / "crossval.json").read_text())
    split = pd.read_csv(trained_demo / "data/processed/split.csv", dtype=str)
    assert result["groups"] == sorted(split["group"].unique())
    pooled, scene = result["models"]["pooled-rf"], result["models"]["appearance-rf"]
    assert pooled["n_clips"] == split["session_id"].nunique()  # landmark sessions and clips, once each
    assert set(pooled["fold_accuracy"]) == set(result["groups"])
    videos = split[split["session_id"].str.startswith("v_")]
    assert scene["n_clips"] == videos["session_id"].nunique() and set(scene["fold_accuracy"]) == set(videos["group"])
    assert result["models"]["fusion"]["n_clips"] == scene["n_clips"]
    assert pooled["clip_accuracy"] > 0.5  # chance is 0.25
    assert "| pooled-rf |" in proc.stdout and (tmp_path / "crossval.md").read_text() in proc.stdout


def test_unknown_model_is_refused(trained_demo: Path) -> None:
    proc = run([sys.executable, "-m", "actionrec", "crossval", "--models", "svm"], trained_demo, check=False)
    assert proc.returncode == 2 and "unknown model(s) ['svm']" in proc.stderr
