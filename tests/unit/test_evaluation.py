"""Clip-level scoring, the late fusion of several models' clip probabilities, and rankings on shared test recordings."""

from __future__ import annotations

import numpy as np
import pytest

from actionrec.core.labels import LabelMap
from actionrec.evaluation.leaderboard import leaderboard_markdown, score_tables
from actionrec.evaluation.metrics import evaluate_predictions, fuse, recording_set_id

LABELS = LabelMap(["a", "b"])


def test_clip_scores_average_the_samples_of_each_clip() -> None:
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    result = evaluate_predictions(proba, np.array([0, 0, 1, 1]), ["c1", "c1", "c2", "c2"], LABELS)
    assert result["sample"]["accuracy"] == 0.5
    assert result["clip"]["accuracy"] == 1.0  # c1: (0.55, 0.45) -> a; c2: (0.45, 0.55) -> b
    np.testing.assert_allclose(result["clip_proba"]["c1"], [0.55, 0.45])


def test_fusion_averages_clip_probabilities_on_shared_clips() -> None:
    y = np.array([0, 1, 1])
    landmarks = evaluate_predictions(np.array([[0.6, 0.4], [0.7, 0.3], [0.2, 0.8]]), y, ["c1", "c2", "c3"], LABELS)
    scene = evaluate_predictions(np.array([[0.9, 0.1], [0.1, 0.9]]), y[:2], ["c1", "c2"], LABELS)
    fused = fuse([landmarks, scene], LABELS)
    assert fused["n_clips"] == 2  # c3: only one model saw it
    np.testing.assert_allclose(fused["clip_proba"]["c2"], [0.4, 0.6])
    assert landmarks["clip"]["accuracy"] == pytest.approx(2 / 3) and fused["clip"]["accuracy"] == 1.0
    assert list(fused["predictions"]["predicted"]) == ["a", "b"]


def test_fusion_without_shared_clips_is_an_error() -> None:
    a = evaluate_predictions(np.array([[0.6, 0.4]]), np.array([0]), ["c1"], LABELS)
    b = evaluate_predictions(np.array([[0.6, 0.4]]), np.array([0]), ["c2"], LABELS)
    with pytest.raises(ValueError, match="share no test clip"):
        fuse([a, b], LABELS)


def test_models_are_ranked_on_the_recordings_they_all_score() -> None:
    """A landmark model scored on 3 recordings and a clip model on 2 of them: the common ranking
    uses those 2 for both, each model's own figures keep their set, and the table says which."""
    y = np.array([0, 1, 1])
    wide = evaluate_predictions(np.array([[0.6, 0.4], [0.7, 0.3], [0.2, 0.8]]), y, ["c1", "c2", "c3"], LABELS)
    narrow = evaluate_predictions(np.array([[0.9, 0.1], [0.1, 0.9]]), y[:2], ["c1", "c2"], LABELS)
    metrics, own, common = score_tables({"lm": wide, "clip": narrow}, {"lm": "frame", "clip": "clip"}, LABELS)
    assert metrics["lm"]["n_clips"] == 3 and metrics["lm"]["clip_accuracy"] == pytest.approx(2 / 3)
    assert metrics["lm"]["common"]["n_clips"] == 2 and metrics["lm"]["common"]["clip_accuracy"] == 0.5
    assert metrics["clip"]["common"]["clip_accuracy"] == metrics["clip"]["clip_accuracy"] == 1.0
    assert metrics["lm"]["test_set"] != metrics["clip"]["test_set"] == metrics["lm"]["common"]["test_set"]
    assert metrics["clip"]["test_set"] == recording_set_id(["c2", "c1"])
    text = leaderboard_markdown(common, own, "clip_accuracy", "")
    ranking = text.split("## Each test set")[0]
    assert "same 2 test recordings" in ranking and ranking.index("| 1 | clip |") < ranking.index("| 2 | lm |")
    assert f"### Set `{metrics['lm']['test_set']}`: 3 test recordings (frame)" in text
    assert f"### Set `{metrics['clip']['test_set']}`: 2 test recordings (clip)" in text


def test_no_shared_recordings_no_common_ranking() -> None:
    a = evaluate_predictions(np.array([[0.6, 0.4]]), np.array([0]), ["c1"], LABELS)
    b = evaluate_predictions(np.array([[0.6, 0.4]]), np.array([0]), ["c2"], LABELS)
    metrics, own, common = score_tables({"a": a, "b": b}, {"a": "frame", "b": "clip"}, LABELS)
    assert common == [] and "common" not in metrics["a"] and len(own) == 2
    assert "no common ranking" in leaderboard_markdown(common, own, "clip_accuracy", "")
