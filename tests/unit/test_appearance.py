"""The appearance model's features (colour, thumbnails, motion energy) and its skops storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actionrec.config.params import ClassicalParams, load_params
from actionrec.models.classical import AppearancePooling, build_appearance_pipeline, load_skops, save_skops

T, S = 6, 32


def clip(colour: tuple[int, int, int], moving: bool, seed: int = 0) -> np.ndarray:
    """A uniform-colour clip with a white square that stays put or slides right."""
    rng = np.random.default_rng(seed)
    frames = np.empty((T, S, S, 3), np.uint8)
    for t in range(T):
        frames[t] = np.clip(np.array(colour) + rng.integers(-8, 9, 3), 0, 255)
        x = 4 + 3 * t if moving else 4
        frames[t, 10:18, x : x + 8] = 255
    return frames


def test_features_are_finite_and_fixed_length() -> None:
    feats = AppearancePooling().transform(np.stack([clip((200, 30, 30), True), clip((30, 30, 200), False)]))
    assert feats.shape == (2, 2 * 128 + 2 * 192 + 256 + 1) and np.isfinite(feats).all()


def test_colour_and_motion_change_the_features() -> None:
    pool = AppearancePooling()
    red_still, blue_still, red_moving = pool.transform(
        np.stack([clip((200, 30, 30), False), clip((30, 30, 200), False), clip((200, 30, 30), True)])
    )
    hist = slice(0, 128)
    assert np.abs(red_still[hist] - blue_still[hist]).sum() > 1.0  # different colours
    assert red_moving[-1] > 2 * red_still[-1]  # mean motion energy: sliding square vs colour flicker


def test_pipeline_learns_scene_colour_and_round_trips_through_skops(tmp_path: Path) -> None:
    colours = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]
    x = np.stack([clip(colours[i % 3], bool(i % 2), seed=i) for i in range(24)])
    y = np.arange(24) % 3
    repo = load_params(Path(__file__).resolve().parents[2] / "params.yaml").classical.model_dump()
    params = ClassicalParams.model_validate(
        {**repo, "appearance": {"n_estimators": 20, "max_depth": 4, "min_samples_leaf": 1}}
    )
    pipe = build_appearance_pipeline(params, seed=0).fit(x, y)
    test = np.stack([clip(colours[i], False, seed=100 + i) for i in range(3)])
    assert pipe.predict(test).tolist() == [0, 1, 2]
    save_skops(pipe, tmp_path / "appearance-rf.skops")
    loaded = load_skops(tmp_path / "appearance-rf.skops")
    np.testing.assert_array_equal(loaded.predict_proba(test), pipe.predict_proba(test))
