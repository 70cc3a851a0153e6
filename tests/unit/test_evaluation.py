"""Clip-level scoring and the late fusion of several models' clip probabilities."""
from __future__ import annotations

import numpy as np
import pytest

from actionrec.evaluation import evaluate_predictions, fuse
from actionrec.labels import LabelMap

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
