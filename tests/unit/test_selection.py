"""Honest feature selection (actionrec.evaluation.selection, `actionrec crossval --nested / --select`):
the grid, and picks made without the data they are then tested on."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from actionrec.config.params import Params, load_params
from actionrec.core.features import FeatureSpec
from actionrec.core.schema import Part
from actionrec.evaluation import crossval, selection
from tests.unit.test_classical import SMALL
from tests.unit.test_leave_classes_out import CLASSES, FRAMES, corpus


def small_params(repo: Path, tmp_path: Path) -> Params:
    base = load_params(repo / "params.yaml")
    classical = SMALL.model_copy(update={"pooled_window": FRAMES, "pooled_stride": FRAMES})
    data = base.data.model_copy(update={"labels": list(CLASSES), "landmarks_dir": tmp_path / "landmarks"})
    return base.model_copy(update={"data": data, "classical": classical})


def test_grid_is_the_params_features_and_the_ladder_with_and_without_hands() -> None:
    pose = selection.candidates(FeatureSpec())
    assert list(pose) == ["params", "clip", "clip+accel", "clip+shape"]  # pose only already: no /pose copies
    assert not pose["params"].pooling.clip_norm and pose["clip+shape"].pooling.distances
    assert all(
        s.trajectory and s.pooling.clip_norm and s.pooling.spectrum == 4 for n, s in pose.items() if n != "params"
    )
    rich = selection.candidates(FeatureSpec(parts=[Part.POSE, Part.LEFT_HAND], trajectory=True))
    assert len(rich) == 8 and rich["clip/pose"].parts == [Part.POSE] and rich["clip"].parts != [Part.POSE]


def test_overrides_set_params_features_to_the_pick(tmp_path: Path, repo: Path) -> None:
    from dvc.utils.hydra import apply_overrides

    # both hands: the repo's params mirror sequence windows, which needs each hand's counterpart
    spec = selection.candidates(FeatureSpec(parts=[Part.POSE, Part.LEFT_HAND, Part.RIGHT_HAND]))["clip+shape"]
    path = tmp_path / "params.yaml"
    path.write_text((repo / "params.yaml").read_text())
    apply_overrides(path, selection.overrides(spec))  # what `dvc exp run -S ...` does
    assert load_params(path).features == spec


def test_nested_picks_never_see_the_outer_fold(tmp_path: Path, random_landmarks, monkeypatch, repo: Path) -> None:
    split = corpus(tmp_path, random_landmarks)
    monkeypatch.chdir(tmp_path)
    seen: list[set[str]] = []
    real_pick = selection.pick

    def spy(estimator, data):
        seen.append({g for d in data.values() for g in d})
        return real_pick(estimator, data)

    monkeypatch.setattr(selection, "pick", spy)
    result = crossval.nested_cross_validate(small_params(repo, tmp_path), ["pooled-rf", "rf"], split)
    groups = sorted(split["group"].unique())
    assert result["groups"] == groups and list(result["models"]) == ["pooled-rf"]  # pooled models only
    assert seen == [set(groups) - {g} for g in groups]  # outer fold g: picked on the other groups only
    m = result["models"]["pooled-rf"]
    assert set(m["fold_pick"]) == set(groups) and set(m["fold_pick"].values()) <= set(result["grid"])
    assert m["n_clips"] == split["session_id"].nunique()  # every clip tested once
    best = m["fold_pick"][groups[0]]
    assert m["fold_inner_accuracy"][groups[0]][best] == max(m["fold_inner_accuracy"][groups[0]].values())
    assert "| pooled-rf | a0 |" in crossval.report_markdown(result)


def test_select_reads_no_test_rows(tmp_path: Path, random_landmarks, monkeypatch, repo: Path) -> None:
    split = corpus(tmp_path, random_landmarks)
    monkeypatch.chdir(tmp_path)
    read: list[set[str]] = []
    real = selection.group_data

    def spy(params, rows, by_id, spec, by="group"):
        read.append(set(rows["subset"]))
        return real(params, rows, by_id, spec, by)

    monkeypatch.setattr(selection, "group_data", spy)
    result = crossval.select_on_split(small_params(repo, tmp_path), ["pooled-et"], split)
    assert read and all(s <= {"train", "val"} for s in read)
    assert result["folds_by"] == "group" and result["groups"] == ["a0", "a1", "a2"]  # a3 is the test actor
    m = result["models"]["pooled-et"]
    assert m["pick"] in m["inner_accuracy"] and m["set"] == selection.overrides(
        selection.candidates(FeatureSpec())[m["pick"]]
    )
    assert "dvc exp run -S features.kind=" in crossval.selection_markdown(result)


def test_temporal_split_selects_on_its_train_and_val_blocks(
    tmp_path: Path, random_landmarks, monkeypatch, repo: Path
) -> None:
    split = corpus(tmp_path, random_landmarks)
    monkeypatch.chdir(tmp_path)
    temporal = split.assign(method="temporal")
    result = crossval.select_on_split(small_params(repo, tmp_path), ["pooled-rf"], temporal)
    assert result["folds_by"] == "subset" and result["groups"] == ["train", "val"]


def test_selection_needs_pooled_models_and_two_groups(tmp_path: Path, repo: Path) -> None:
    params = small_params(repo, tmp_path)
    with pytest.raises(ValueError, match="--nested selects the pooled models' features"):
        crossval.nested_cross_validate(params, ["rf"], pd.DataFrame())
    with pytest.raises(ValueError, match="two or more training groups"):
        selection.pick(None, {"params": {"a0": (None, None)}})


def test_plain_cross_validation_tests_every_clip_once(
    tmp_path: Path, random_landmarks, monkeypatch, repo: Path
) -> None:
    split = corpus(tmp_path, random_landmarks)
    monkeypatch.chdir(tmp_path)
    result = crossval.cross_validate(small_params(repo, tmp_path), ["pooled-rf", "rf"], split)
    groups = sorted(split["group"].unique())
    for name in ("pooled-rf", "rf"):
        m = result["models"][name]
        assert m["n_clips"] == split["session_id"].nunique() and sorted(m["fold_accuracy"]) == groups
    assert "grid" not in result and "Nested" not in crossval.report_markdown(result)
