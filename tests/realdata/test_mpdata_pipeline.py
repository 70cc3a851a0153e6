"""Real MP_Data keypoint sequences: `actionrec import`, then `dvc repro` trains on them, split by sequence."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from actionrec.config import paths
from tests.pipeline.conftest import copy_repo, replace_raw_data, run, set_params, tree_digest
from tests.realdata.conftest import BUDGET, SHARED_DATA

pytestmark = [pytest.mark.realdata, pytest.mark.slow, pytest.mark.pipeline]
MP_DATA = SHARED_DATA / "mediapipe_sequences/achintyaxd_action_recognition/MP_Data"
LABELS = ["hello", "iloveyou", "thanks"]


def test_mp_data_imported_and_trained_split_by_sequence(tmp_path: Path, results: Path) -> None:
    repo = copy_repo(tmp_path)
    replace_raw_data(repo)
    set_params(repo, {"data.labels": LABELS, "features.parts": ["pose", "left_hand", "right_hand"], **BUDGET})
    before = tree_digest(MP_DATA)
    out = run([sys.executable, "-m", "actionrec", "import", str(MP_DATA)], repo).stdout
    assert tree_digest(MP_DATA) == before
    assert "720 files, 24 recordings, 720 frames" in out and "hello (8 recordings)" in out
    assert "left_hand 66%, right_hand 93%" in out and "frames without a person (no pose): 0 of 720" in out
    assert len(list((repo / paths.RAW_LANDMARKS / "MP_Data").glob("*.csv"))) == 24
    run(["dvc", "add", "-q", str(paths.RAW_LANDMARKS), str(paths.RAW_VIDEOS)], repo)
    run(["dvc", "repro", "evaluate"], repo)
    split = pd.read_csv(repo / paths.SPLIT)
    assert set(split["method"]) == {"group"}
    assert (split.groupby("session_id")["subset"].nunique() == 1).all()  # a sequence is on one side only
    assert set(split.loc[split["subset"] == "test", "label"]) == set(LABELS)
    metrics = json.loads((repo / paths.METRICS).read_text())
    assert {"classical-lr", "classical-rf", "lstm"} <= set(metrics)
    (results / "mp_data.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
