"""Pooled window features (core.features.pool): original statistics, clip-level normalisation,
velocity and low-frequency spectrum, and the pooled-* pipelines that use them."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from actionrec.core.features import FeatureSpec, PoolingSpec, pool, pool_statistics, transform
from actionrec.core.schema import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER
from actionrec.models.classical import TemporalPooling

RICH = {"clip_norm": True, "velocity": True, "spectrum": 3}


def spec(**pooling: object) -> FeatureSpec:
    return FeatureSpec(kind="body_centred", trajectory=True, pooling=PoolingSpec(**pooling))


def test_default_pooling_is_the_original_statistics(random_landmarks) -> None:
    feats = transform(random_landmarks(10, 33, seed=3), spec())
    w = feats[None]
    diff = np.abs(np.diff(w, axis=1)).mean(axis=1)
    expected = np.concatenate([w.mean(1), w.std(1), w.min(1), w.max(1), diff], axis=1)
    np.testing.assert_allclose(pool(w, spec()), expected, rtol=1e-6)
    old = TemporalPooling(10)  # a model saved before the option: no features
    np.testing.assert_allclose(old.transform(feats.reshape(1, -1)), expected, rtol=1e-6)


def test_clip_norm_uses_one_centre_and_scale_per_window(random_landmarks) -> None:
    raw = random_landmarks(12, 33, seed=4)
    raw[:, :, 0] += np.linspace(0, 0.3, 12)[:, None]  # the person walks to the right
    s = spec(clip_norm=True)
    feats = _clip_normalised(transform(raw, s), s)
    centre = (raw[:, LEFT_SHOULDER, :2] + raw[:, RIGHT_SHOULDER, :2]) / 2
    hips = (raw[:, LEFT_HIP, :2] + raw[:, RIGHT_HIP, :2]) / 2
    scale = np.maximum(
        np.linalg.norm(raw[:, LEFT_SHOULDER, :2] - raw[:, RIGHT_SHOULDER, :2], axis=1),
        np.linalg.norm(centre - hips, axis=1),
    )
    want_x = (raw[:, :, 0] - centre[:, 0].mean()) / np.median(scale)
    np.testing.assert_allclose(feats[:, 0:132:4], want_x, atol=1e-4)
    np.testing.assert_allclose(feats[:, 132], (centre[:, 0] - centre[:, 0].mean()) / np.median(scale), atol=1e-4)
    # per frame the walk is invisible; with one centre per window it is not
    still = raw.copy()
    still[:, :, 0] -= np.linspace(0, 0.3, 12)[:, None]
    per_frame = [transform(r, spec())[:, :132] for r in (raw, still)]
    np.testing.assert_allclose(*per_frame, atol=1e-5)
    assert np.abs(_clip_normalised(transform(still, s), s) - feats)[:, :132].max() > 0.1


def test_clip_norm_ignores_where_and_how_big_the_clip_is(random_landmarks) -> None:
    raw = random_landmarks(9, 33, seed=5)
    moved = raw.copy()
    moved[..., :3] = raw[..., :3] * 1.6 + np.float32(0.2)
    s = spec(**RICH)
    a, b = (pool(transform(r, s)[None], s) for r in (raw, moved))
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_velocity_and_spectrum_add_their_columns(random_landmarks) -> None:
    feats = transform(random_landmarks(16, 33, seed=6), spec())[None]
    n = feats.shape[2]
    assert pool(feats, spec(velocity=True)).shape == (1, 7 * n)
    assert pool(feats, spec(spectrum=4)).shape == (1, 9 * n)
    t = np.arange(16)
    wave = np.sin(2 * np.pi * 2 * t / 16).astype(np.float32)[None, :, None]  # 2 cycles per window
    mag = pool_statistics(wave, PoolingSpec(spectrum=3))[0, 5:]
    assert mag.argmax() == 1 and mag[1] == pytest.approx(0.5, abs=1e-5)
    short = pool_statistics(wave[:, :3], PoolingSpec(spectrum=3))  # fewer frames than 2N: zero-padded
    assert short.shape == (1, 8) and np.isfinite(short).all()


def test_pipeline_pooling_matches_the_shared_transform(random_landmarks) -> None:
    s = spec(**RICH)
    feats = transform(random_landmarks(8, 33, seed=7), s)
    step = TemporalPooling(8, s.model_dump_json())
    np.testing.assert_array_equal(step.transform(feats.reshape(1, -1)), pool(feats[None], s))


def test_clip_norm_needs_the_body_frame() -> None:
    with pytest.raises(ValidationError, match="features.trajectory true"):
        FeatureSpec(kind="body_centred", trajectory=False, pooling=PoolingSpec(clip_norm=True))
    with pytest.raises(ValidationError, match="features.kind body_centred"):
        FeatureSpec(kind="none", trajectory=True, pooling=PoolingSpec(clip_norm=True))
    with pytest.raises(ValueError, match=r"pool: expected windows \(N, T, 136\)"):
        pool(np.zeros((1, 4, 5)), spec())


def _clip_normalised(feats: np.ndarray, s: FeatureSpec) -> np.ndarray:
    from actionrec.core.features import _clip_normalise

    return _clip_normalise(feats[None], s)[0]


def test_acceleration_adds_second_difference_statistics(random_landmarks) -> None:
    feats = transform(random_landmarks(16, 33, seed=8), spec())[None]
    n = feats.shape[2]
    out = pool(feats, spec(acceleration=True))
    assert out.shape == (1, 7 * n)
    np.testing.assert_array_equal(out[:, : 5 * n], pool(feats, spec()))  # old columns unchanged, first
    t = np.arange(12, dtype=np.float32)
    steady = (0.5 * t)[None, :, None]  # constant velocity: no acceleration
    assert np.abs(pool_statistics(steady, PoolingSpec(acceleration=True))[0, 5:]).max() < 1e-6
    jerky = steady + (t % 2)[None, :, None]
    assert pool_statistics(jerky, PoolingSpec(acceleration=True))[0, 5] == pytest.approx(2.0)
    assert pool_statistics(steady[:, :2], PoolingSpec(acceleration=True)).shape == (1, 7)  # too short: zeros


def test_joint_distances_measure_body_shape_not_place_or_size(random_landmarks) -> None:
    from actionrec.core.features import DISTANCE_JOINTS

    raw = random_landmarks(10, 33, seed=9)
    s = spec(clip_norm=True, distances=True)
    feats = transform(raw, s)[None]
    pairs = len(DISTANCE_JOINTS) * (len(DISTANCE_JOINTS) - 1) // 2
    out = pool(feats, s)
    assert pairs == 78 and out.shape == (1, 5 * feats.shape[2] + 4 * pairs)
    moved = raw.copy()
    moved[..., :3] = raw[..., :3] * 0.7 + np.float32(0.1)
    np.testing.assert_allclose(pool(transform(moved, s)[None], s), out, atol=1e-3)
    spread = raw.copy()  # the arms wide apart: the wrists' distance grows, the frame's place does not
    spread[:, 15, 0] += 0.2
    spread[:, 16, 0] -= 0.2
    dist = pool(transform(spread, s)[None], s)[0, 5 * feats.shape[2] :]
    i, j = np.triu_indices(len(DISTANCE_JOINTS), k=1)
    wrists = np.flatnonzero((np.asarray(DISTANCE_JOINTS)[i] == 15) & (np.asarray(DISTANCE_JOINTS)[j] == 16))[0]
    assert dist[wrists] > out[0, 5 * feats.shape[2] + wrists] + 0.2  # mean wrist-wrist distance, body units


def test_joint_distances_find_pose_after_other_parts(random_landmarks) -> None:
    raw = random_landmarks(6, 543, seed=10)  # holistic + hands
    hands_first = FeatureSpec(parts=["left_hand", "pose"], pooling=PoolingSpec(distances=True))
    pose_only = FeatureSpec(parts=["pose"], pooling=PoolingSpec(distances=True))
    a = pool(transform(raw, hands_first)[None], hands_first)[0, -4 * 78 :]
    b = pool(transform(raw, pose_only)[None], pose_only)[0, -4 * 78 :]
    np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(ValidationError, match="needs pose in features.parts"):
        FeatureSpec(parts=["left_hand"], pooling=PoolingSpec(distances=True))


def test_manifest_without_the_new_options_loads_with_them_off() -> None:
    old = {"clip_norm": True, "velocity": True, "spectrum": 3}  # a manifest written before them
    loaded = FeatureSpec.model_validate({"trajectory": True, "pooling": old}).pooling
    assert loaded == PoolingSpec(**old) and not loaded.acceleration and not loaded.distances
