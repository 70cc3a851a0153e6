"""Open set: per-class thresholds calibrated on validation clips reject an action outside the
label set and accept the actions inside it, the same way wherever a Predictor is used."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from actionrec.core.features import FeatureSpec, PoolingSpec, transform
from actionrec.core.labels import LabelMap
from actionrec.core.manifests import ModelManifest, OpenSet
from actionrec.models.classical import build_pooled_pipelines, predict_proba
from actionrec.models.openset import calibrate, unknown_mask
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
    x_tr, y_tr = dataset(random_landmarks, range(12))
    x_val, y_val = dataset(random_landmarks, range(100, 108))
    pipe.fit(x_tr, y_tr)
    thresholds = calibrate(predict_proba(pipe, x_val), y_val, quantile=0.05)
    manifest = ModelManifest(
        name="pooled-rf",
        kind="sequence",
        model_file="pooled-rf.skops",
        labels=LABELS,
        features=SPEC,
        window=WINDOW,
        stride=WINDOW,
        open_set=OpenSet(thresholds=thresholds, quantile=0.05, calibrated_on="test"),
    )
    pred = Predictor("pooled-rf", "sequence", LabelMap(LABELS), manifest, pipe)
    x_in, y_in = dataset(random_landmarks, range(200, 206))
    windows = list(x_in.reshape(len(x_in), WINDOW, -1))
    proba = pred.predict_proba(windows)
    assert (proba.argmax(axis=1) == y_in).mean() == 1.0
    assert pred.unknown(proba).mean() <= 0.1  # in-set: accepted (a 0.05 quantile rejects ~5 %)
    outsider = [clip(random_landmarks, HEAD, 7 + s).reshape(WINDOW, -1) for s in range(3)]
    assert pred.unknown(pred.predict_proba(outsider)).all()  # out-of-set: unknown


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
