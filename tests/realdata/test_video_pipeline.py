"""The whole video pipeline on real clips: UCF101 (8 classes, official split 1) and Weizmann.

CI runs a lighter configuration (24 frames per clip, fewer ConvLSTM epochs);
``ACTIONREC_REALDATA=full`` runs the README's full configuration instead. Leaderboards are kept
in the ``results`` folder (``<dataset>_ci`` / ``<dataset>_full``; reports/realdata/ with
``make realdata-reports`` / ``make realdata-full``).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from actionrec.config import paths
from tests.pipeline.conftest import copy_repo, replace_raw_data, run, set_params
from tests.realdata.conftest import SHARED_DATA
from tests.realdata.test_coords_pipeline import _save

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.slow,
    pytest.mark.pipeline,
    # ~20 min of MediaPipe and training on 2 cores: beyond `make test`'s budget
    pytest.mark.skipif(
        not os.environ.get("ACTIONREC_REALDATA"),
        reason="the video pipelines run with make realdata-reports / realdata-full (ACTIONREC_REALDATA set)",
    ),
]

UCF_CLASSES = sorted(p.name for p in (SHARED_DATA / "ucf101").iterdir()) if SHARED_DATA.is_dir() else []
FULL = os.environ.get("ACTIONREC_REALDATA") == "full"
N_FRAMES = 32 if FULL else 24
PARAMS = {
    "features.parts": ["pose", "left_hand", "right_hand"],
    "features.trajectory": True,
    # N frames spread over the whole clip; each clip is then one pooled window
    "extract_landmarks.sampling": "uniform",
    "extract_landmarks.max_frames": N_FRAMES,
    "lstm.window": 30 if FULL else 20,  # 20, 30 or 60 (the choices)
    "classical.pooled_window": N_FRAMES,
    **({} if FULL else {"convlstm.cpu.train.epochs": 6}),
    # Real footage: MediaPipe misses the person in ~5% of UCF101 clips and in many frames of
    # others (BasketballDunk: 24% of frames); keep every clip with any detection.
    "validate.clips.min_pose_rate": 0.0,
}
SUFFIX = "full" if FULL else "ci"
# UCF101's pooled models: the pick of `actionrec crossval --select` on the official split's train +
# val groups (18 groups; grid of actionrec.evaluation.selection): one body frame per clip, velocity,
# 4 frequencies, acceleration, pose joint distances (inner accuracy pooled-rf 0.683 vs 0.652 without)
UCF_POOLING = {
    "features.pooling.clip_norm": True,
    "features.pooling.velocity": True,
    "features.pooling.spectrum": 4,
    "features.pooling.acceleration": True,
    "features.pooling.distances": True,
}


def _run_pipeline(repo: Path) -> tuple[dict, pd.DataFrame]:
    run(["dvc", "add", "-q", str(paths.RAW_LANDMARKS), str(paths.RAW_VIDEOS)], repo)
    run(["dvc", "repro"], repo)
    metrics = json.loads((repo / paths.METRICS).read_text())
    split = pd.read_csv(repo / paths.SPLIT, dtype=str)
    return metrics, split


def _assert_no_group_leak(split: pd.DataFrame) -> None:
    test = set(split.loc[split["subset"] == "test", "group"])
    fit = set(split.loc[split["subset"] != "test", "group"])
    assert not test & fit, f"groups on both sides: {sorted(test & fit)}"


def test_ucf101_official_split(tmp_path: Path, results: Path) -> None:
    repo = copy_repo(tmp_path)
    replace_raw_data(repo)
    set_params(repo, {"data.labels": UCF_CLASSES, **PARAMS, **UCF_POOLING})
    run(
        [
            sys.executable,
            "-m",
            "actionrec",
            "import-ucf101",
            str(SHARED_DATA / "ucf101"),
            "--splits",
            str(SHARED_DATA / "ucf101_splits"),
        ],
        repo,
    )
    metrics, split = _run_pipeline(repo)
    assert set(split["method"]) == {"official"}
    test_groups = {int(g[1:]) for g in split.loc[split["subset"] == "test", "group"]}
    assert test_groups <= set(range(1, 8)), "split 1 tests on groups g01-g07"
    _assert_no_group_leak(split)
    assert {"classical-lr", "lstm", "convlstm"} <= set(metrics)
    assert max(m["clip_accuracy"] for m in metrics.values()) > 0.4  # chance is 0.125
    _save(results, f"ucf101_{SUFFIX}", repo, metrics)
    # the open-set protocol: train on 6 classes, present the clips of the other 2 (5 seeded sets)
    openset = results / f"ucf101_{SUFFIX}_openset"
    cmd = ["crossval", "--leave-classes-out", "2", "--models", "pooled-rf", "pooled-et", "--out", str(openset)]
    run([sys.executable, "-m", "actionrec", *cmd], repo)
    figures = json.loads((openset / "openset.json").read_text())["models"]
    assert all(m["out_of_set_clips"] > 0 and 0.0 <= m["out_of_set_unknown"] <= 1.0 for m in figures.values())


def test_weizmann_split_by_actor(tmp_path: Path, results: Path) -> None:
    repo = copy_repo(tmp_path)
    replace_raw_data(repo, videos=SHARED_DATA / "weizmann")
    labels = sorted(p.name for p in (SHARED_DATA / "weizmann").iterdir())
    set_params(repo, {"data.labels": labels, **PARAMS, "split.official_split": None})
    metrics, split = _run_pipeline(repo)
    assert set(split["method"]) == {"group"}
    assert set(split["group"]) <= {"daria", "denis", "eli", "ido", "ira", "lena", "lyova", "moshe", "shahar"}
    _assert_no_group_leak(split)
    assert max(m["clip_accuracy"] for m in metrics.values()) > 0.4  # chance is 0.1
    _save(results, f"weizmann_{SUFFIX}", repo, metrics)
    # the protocol of published Weizmann figures: leave-one-actor-out over all 9 actors
    run([sys.executable, "-m", "actionrec", "crossval", "--out", str(results / f"weizmann_{SUFFIX}_loao")], repo)
    loao = json.loads((results / f"weizmann_{SUFFIX}_loao/crossval.json").read_text())
    assert len(loao["groups"]) == 9 and loao["models"]["pooled-rf"]["n_clips"] == len(set(split["session_id"]))
    assert max(m["clip_accuracy"] for m in loao["models"].values()) > 0.5
    # the same with each fold's pooled features picked by inner folds of the other 8 actors only
    nested = results / f"weizmann_{SUFFIX}_loao"
    run(
        [
            sys.executable,
            "-m",
            "actionrec",
            "crossval",
            "--nested",
            "--models",
            "pooled-rf",
            "pooled-et",
            "--out",
            str(nested),
        ],
        repo,
    )
    picks = json.loads((nested / "crossval_nested.json").read_text())["models"]["pooled-et"]["fold_pick"]
    assert sorted(picks) == loao["groups"]
