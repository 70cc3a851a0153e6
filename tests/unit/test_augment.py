"""Window augmentation: the mirror's joint swap against schema names, shapes, lengths, determinism."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from actionrec.config.training import AugmentConfig
from actionrec.core.features import FeatureSpec
from actionrec.core.schema import POSE_LANDMARKS, POSE_N, Part
from actionrec.models.torch_io import SequenceDataset
from actionrec.training.augment import AugmentedWindows, Augmenter

OFF = dict(mirror=0.0, scale=0.0, rotate=0.0, crop=0.0, speed=0.0, joint_dropout=0.0)
ALL = dict(mirror=0.5, scale=0.2, rotate=15.0, crop=0.3, speed=0.3, joint_dropout=0.1)
HANDS = FeatureSpec(parts=[Part.POSE, Part.LEFT_HAND, Part.RIGHT_HAND], trajectory=True)


def aug(**kw: float) -> AugmentConfig:
    return AugmentConfig(**{**OFF, **kw})


def expected_mirror_source(spec: FeatureSpec) -> list[str]:
    """For each feature name, the name of the feature it takes its value from in a mirror,
    worked out from the names alone: pose ``left_*``/``right_*`` twins by MediaPipe's names,
    left hand landmark k <-> right hand landmark k (file numbers 502-522 <-> 523-543)."""
    twin = {}
    for i, name in enumerate(POSE_LANDMARKS):
        other = name.replace("left", "@").replace("right", "left").replace("@", "right")
        twin[i + 1] = POSE_LANDMARKS.index(other) + 1
    for k in range(21):
        twin[POSE_N + 468 + 1 + k] = POSE_N + 468 + 21 + 1 + k
        twin[POSE_N + 468 + 21 + 1 + k] = POSE_N + 468 + 1 + k
    out = []
    for name in spec.names():
        if m := re.fullmatch(r"([xyzv])(\d+)", name):
            out.append(f"{m[1]}{twin[int(m[2])]}")
        else:
            swap = {"left_hand_detected": "right_hand_detected", "right_hand_detected": "left_hand_detected"}
            out.append(swap.get(name, name))
    return out


def test_mirror_swaps_the_named_twins_and_negates_x() -> None:
    names = HANDS.names()
    source = expected_mirror_source(HANDS)
    assert source[names.index("x12")] == "x13"  # left shoulder <- right shoulder
    assert source[names.index("y10")] == "y11"  # mouth_left <- mouth_right
    assert source[names.index("z1")] == "z1"  # the nose stays
    rng = np.random.default_rng(0)
    seq = rng.normal(size=(7, len(names))).astype(np.float32)
    seq[:, names.index("body_scale")] = 0.3
    out = Augmenter(HANDS, aug(mirror=1.0)).mirror(seq)
    for j, name in enumerate(names):
        src = seq[:, names.index(source[j])]
        if name.startswith("x"):
            want = -src
        elif name == "body_x":
            want = 1.0 - src
        else:
            want = src
        np.testing.assert_array_equal(out[:, j], want, err_msg=name)


def test_mirror_twice_is_identity_and_leaves_a_missing_body_at_zero() -> None:
    rng = np.random.default_rng(1)
    seq = rng.normal(size=(9, HANDS.n_features)).astype(np.float32)
    names = HANDS.names()
    seq[:, names.index("body_scale")] = np.abs(seq[:, names.index("body_scale")]) + 0.1
    seq[3, names.index("body_x")] = seq[3, names.index("body_scale")] = 0.0  # no body frame
    mirror = Augmenter(HANDS, aug(mirror=1.0)).mirror
    np.testing.assert_allclose(mirror(mirror(seq)), seq, atol=1e-6)
    assert mirror(seq)[3, names.index("body_x")] == 0.0


def test_mirror_refuses_parts_without_twins() -> None:
    with pytest.raises(ValueError, match="face"):
        Augmenter(FeatureSpec(parts=[Part.POSE, Part.FACE]), aug(mirror=0.5))
    with pytest.raises(ValueError, match="right_hand"):
        Augmenter(FeatureSpec(parts=[Part.POSE, Part.LEFT_HAND]), aug(mirror=0.5))
    Augmenter(FeatureSpec(parts=[Part.POSE, Part.FACE]), aug(scale=0.1))  # no mirror: fine


def windows(n: int = 12, window: int = 20) -> SequenceDataset:
    rng = np.random.default_rng(2)
    seqs = [rng.normal(size=(int(rng.integers(1, window + 1)), HANDS.n_features)).astype(np.float32) for _ in range(n)]
    return SequenceDataset(seqs, [i % 3 for i in range(n)], window)


def test_items_keep_labels_shapes_and_valid_lengths() -> None:
    base = windows()
    ds = AugmentedWindows(base, Augmenter(HANDS, aug(**ALL)), seed=5)
    for epoch in range(4):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            x, length, y = ds[i]
            assert x.shape == base[i][0].shape and x.dtype == torch.float32
            assert y == base[i][2]
            assert 1 <= length <= base.x.shape[1]
            assert not x[length:].any()  # padding stays zero
            assert torch.isfinite(x).all()


@pytest.mark.parametrize("speed", [0.0, 0.5])
def test_temporal_ops_keep_lengths_in_range(speed: float) -> None:
    augment = Augmenter(HANDS, aug(crop=0.5, speed=speed))
    rng = np.random.default_rng(3)
    for length in (1, 2, 10, 20):
        seq = rng.normal(size=(length, HANDS.n_features)).astype(np.float32)
        for _ in range(30):
            out = augment(seq, 20, rng)
            assert 1 <= len(out) <= 20
            assert len(out) >= round(length * 0.5 * (1 - speed) / (1 + speed)) - 1
            rows = {r.tobytes() for r in seq}
            assert all(r.tobytes() in rows for r in out)  # nearest-frame resampling: real frames only


def test_speed_change_resamples_the_frames() -> None:
    seq = np.arange(10, dtype=np.float32)[:, None].repeat(HANDS.n_features, axis=1)
    lengths = {len(Augmenter(HANDS, aug(speed=0.5))(seq, 30, np.random.default_rng(s))) for s in range(40)}
    assert min(lengths) < 10 < max(lengths)


def test_joint_dropout_zeroes_whole_landmarks() -> None:
    spec = FeatureSpec()
    seq = np.ones((6, spec.n_features), dtype=np.float32)
    out = Augmenter(spec, aug(joint_dropout=0.5))(seq, 6, np.random.default_rng(4))
    coords = out[:, : POSE_N * 4].reshape(6, POSE_N, 4)
    dropped = (coords == 0).all(axis=(0, 2))
    assert 0 < dropped.sum() < POSE_N
    assert (coords[:, ~dropped] == 1).all()
    assert (out[:, POSE_N * 4 :] == 1).all()  # detected flags untouched


def test_rotation_and_scale_keep_missing_parts_at_zero_and_distances_scaled() -> None:
    spec = FeatureSpec()
    rng = np.random.default_rng(6)
    seq = rng.normal(size=(5, spec.n_features)).astype(np.float32)
    seq[2, : POSE_N * 4] = 0.0  # a frame without a body frame
    out = Augmenter(spec, aug(rotate=20.0))(seq, 5, np.random.default_rng(7))
    xy = lambda a: a[:, : POSE_N * 4].reshape(5, POSE_N, 4)[..., :2]  # noqa: E731
    np.testing.assert_allclose(np.linalg.norm(xy(out), axis=-1), np.linalg.norm(xy(seq), axis=-1), rtol=1e-5)
    assert not out[2, : POSE_N * 4].any()
    scaled = Augmenter(spec, aug(scale=0.2))(seq, 5, np.random.default_rng(8))
    ratio = np.linalg.norm(xy(scaled), axis=-1)[0] / np.linalg.norm(xy(seq), axis=-1)[0]
    assert np.allclose(ratio, ratio[0]) and 0.8 <= ratio[0] <= 1.2 and ratio[0] != 1.0


def test_deterministic_given_seed_epoch_and_index() -> None:
    base = windows()
    make = lambda seed: AugmentedWindows(base, Augmenter(HANDS, aug(**ALL)), seed=seed)  # noqa: E731
    a, b, c = make(1), make(1), make(2)
    items = lambda ds: [ds[i][0] for i in range(len(ds))]  # noqa: E731
    assert all(torch.equal(u, v) for u, v in zip(items(a), items(b), strict=True))
    assert not all(torch.equal(u, v) for u, v in zip(items(a), items(c), strict=True))
    first = items(a)
    a.set_epoch(1)
    assert not all(torch.equal(u, v) for u, v in zip(first, items(a), strict=True))
    a.set_epoch(0)
    assert all(torch.equal(u, v) for u, v in zip(first, items(a), strict=True))
    assert torch.equal(a[len(a) - 1][0], a[-1][0])  # an item does not depend on how it is indexed
