"""Open set: one max_prob threshold calibrated on out-of-fold scores rejects an action outside the
label set and accepts the actions inside it at the calibrated rate, wherever a Predictor is used;
manifests with the older per-class thresholds still load and decide as before."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from actionrec.config.params import OpenSetParams
from actionrec.core.features import FeatureSpec, PoolingSpec, transform
from actionrec.core.labels import LabelMap
from actionrec.core.manifests import ModelManifest, OpenSet
from actionrec.models.classical import build_pooled_pipelines
from actionrec.models.openset import calibrate, max_prob_score, threshold, unknown_mask
from actionrec.models.openset_fit import calibrate_open_set, fold_ids
from actionrec.models.predictors import Predictor
from tests.unit.test_classical import SMALL

SPEC = FeatureSpec(trajectory=True, pooling=PoolingSpec(clip_norm=True, velocity=True, spectrum=3))
WINDOW = 16
# each in-set class moves one limb: left arm, right arm, left leg; the out-of-set clip nods the head
JOINTS = ((13, 15, 17, 19, 21), (14, 16, 18, 20, 22), (25, 27, 29, 31))
HEAD = tuple(range(11))
LABELS = ["wave_left", "wave_right", "kick"]


def clip(random_landmarks, joints: tuple[int, ...], seed: int) -> np.ndarray:
    """Pooled-model input of one generated clip whose ``joints`` oscillate."""
    rng = np.random.default_rng(seed)
    coords = random_landmarks(WINDOW, 33, seed=0)
    coords[:, :, :2] = coords[0, :, :2] + rng.normal(0, 0.005, coords[:, :, :2].shape)  # one still body
    phase = np.sin(np.linspace(0, 4 * np.pi, WINDOW) + rng.uniform(0, np.pi))
    coords[:, list(joints), 1] += (0.25 * phase).astype(np.float32)[:, None]
    return transform(coords, SPEC).reshape(-1)


def dataset(random_landmarks, seeds: range) -> tuple[np.ndarray, np.ndarray]:
    x = [clip(random_landmarks, j, 1000 * c + s) for s in seeds for c, j in enumerate(JOINTS)]
    return np.stack(x), np.tile(np.arange(len(JOINTS)), len(seeds))


def test_rejects_an_out_of_set_clip_and_accepts_in_set_ones(random_landmarks) -> None:
    pipe = build_pooled_pipelines(SMALL, seed=0, window=WINDOW, features=SPEC)["pooled-rf"]
    x, y = dataset(random_landmarks, range(20))
    groups = np.repeat([f"actor{i % 5}" for i in range(20)], len(JOINTS))  # 5 actors, 4 clips each per class
    params = OpenSetParams(score="max_prob", quantile=0.1)
    open_set = calibrate_open_set(params, pipe, x, y, groups, len(LABELS))
    assert open_set is not None and open_set.score == "max_prob" and open_set.quantile == 0.1
    assert "60 training windows (5 folds by group)" in open_set.calibrated_on
    pipe.fit(x, y)
    manifest = ModelManifest(
        name="pooled-rf",
        kind="sequence",
        model_file="pooled-rf.skops",
        labels=LABELS,
        features=SPEC,
        window=WINDOW,
        stride=WINDOW,
        open_set=open_set,
    )
    pred = Predictor("pooled-rf", "sequence", LabelMap(LABELS), manifest, pipe)
    x_in, y_in = dataset(random_landmarks, range(200, 240))
    proba = pred.predict_proba(list(x_in.reshape(len(x_in), WINDOW, -1)))
    assert (proba.argmax(axis=1) == y_in).mean() == 1.0
    assert pred.unknown(proba).mean() <= 0.2  # in-set: about the calibrated 10 % called unknown
    outsider = [clip(random_landmarks, HEAD, 7 + s).reshape(WINDOW, -1) for s in range(5)]
    assert pred.unknown(pred.predict_proba(outsider)).all()  # out-of-set: unknown


def test_threshold_is_the_quantile_of_the_in_set_scores_and_folds_follow_groups() -> None:
    scores = np.arange(101) / 100  # 0.00 ... 1.00
    assert threshold(scores, 0.05) == 0.95 and threshold(scores, 0.0) == 1.0
    assert max_prob_score(np.array([[0.7, 0.3], [0.2, 0.8]])).round(6).tolist() == [0.3, 0.2]
    folds = fold_ids(np.array(["b", "a", "c", "a", "g", "f", "e", "d"]), max_folds=5)
    assert folds.tolist() == [1, 0, 2, 0, 1, 0, 4, 3]  # rank of the group modulo 5: a group stays in one fold
    assert calibrate_open_set(OpenSetParams(score=None, quantile=0.05), None, *([np.zeros(2)] * 3), 2) is None
    one_group = np.array(["a", "a"])
    assert (
        calibrate_open_set(OpenSetParams(score="max_prob", quantile=0.05), None, np.zeros(2), np.zeros(2), one_group, 2)
        is None
    )


def test_old_class_prob_manifests_load_and_decide_as_before() -> None:
    old = {"thresholds": [0.6, 0.9, 0.5], "quantile": 0.05, "calibrated_on": "split val rows"}  # no score field
    manifest = ModelManifest(
        name="pooled-rf", kind="sequence", model_file="p.skops", labels=LABELS, features=SPEC, window=4, stride=4,
        open_set=OpenSet.model_validate(old),
    )  # fmt: skip
    assert manifest.open_set is not None and manifest.open_set.score == "class_prob"
    pred = Predictor("pooled-rf", "sequence", LabelMap(LABELS), manifest, None)
    proba = np.array([[0.65, 0.3, 0.05], [0.1, 0.85, 0.05], [0.2, 0.2, 0.6]])
    assert pred.unknown(proba).tolist() == [False, True, False]
    with pytest.raises(ValidationError, match="needs one threshold"):
        OpenSet(score="max_prob", quantile=0.05, calibrated_on="x")
    with pytest.raises(ValidationError, match="thresholds go with score class_prob"):
        OpenSet(score="max_prob", thresholds=[0.5], threshold=0.5, quantile=0.05, calibrated_on="x")


def test_thresholds_are_the_quantile_of_correct_winners() -> None:
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])
    y = np.array([0, 0, 1, 1])  # the last is wrong: not a winner of class 0's threshold
    assert calibrate(proba, y, 0.0) == [0.6, 0.7]
    assert calibrate(np.array([[0.9, 0.1]]), np.array([0]), 0.5) == [0.9, 0.0]  # class 1: none correct
    assert unknown_mask(np.array([[0.65, 0.35], [0.55, 0.45], [0.2, 0.8]]), [0.6, 0.9]).tolist() == [False, True, True]


def test_a_model_without_open_set_never_says_unknown_and_thresholds_match_labels() -> None:
    manifest = ModelManifest(name="lr", kind="frame", model_file="lr.skops", labels=LABELS, features=SPEC)
    assert not Predictor("lr", "frame", LabelMap(LABELS), manifest, None).unknown(np.full((2, 3), 1 / 3)).any()
    with pytest.raises(ValidationError, match="one threshold per label"):
        ModelManifest(
            name="lr",
            kind="frame",
            model_file="lr.skops",
            labels=LABELS,
            features=SPEC,
            open_set=OpenSet(thresholds=[0.5], quantile=0.05, calibrated_on="val"),
        )
