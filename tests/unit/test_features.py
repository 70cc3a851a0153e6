"""The one feature transform: raw values, body-centred/aligned invariances, missing parts."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from actionrec.core.features import FeatureSpec, transform
from actionrec.core.schema import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER, Layout, Part, part_slice


def rotate_xy(coords: np.ndarray, theta: float, pivot=(0.5, 0.5)) -> np.ndarray:
    out = coords.copy()
    c, s = np.cos(theta), np.sin(theta)
    x, y = coords[..., 0] - pivot[0], coords[..., 1] - pivot[1]
    out[..., 0] = c * x - s * y + pivot[0]
    out[..., 1] = s * x + c * y + pivot[1]
    return out


def translate_scale(coords: np.ndarray, shift=(0.13, -0.21, 0.4), scale: float = 1.7) -> np.ndarray:
    out = coords.copy()
    out[..., :3] = coords[..., :3] * scale + np.asarray(shift, dtype=np.float32)
    return out


# --------------------------------------------------------------------------- none


@pytest.mark.parametrize("visibility", [True, False])
def test_none_reproduces_raw_values(random_landmarks, visibility: bool) -> None:
    coords = random_landmarks(7, 501, seed=1)
    spec = FeatureSpec(kind="none", parts=["pose", "face"], visibility=visibility)
    feats = transform(coords, spec)
    n_chan = 4 if visibility else 3
    raw = coords[:, :, :n_chan].reshape(7, -1)
    assert feats.dtype == np.float32
    assert feats.shape == (7, 501 * n_chan + 2)
    np.testing.assert_array_equal(feats[:, :-2], raw)
    np.testing.assert_array_equal(feats[:, -2:], 1.0)


def test_none_selects_parts_in_spec_order(random_landmarks) -> None:
    coords = random_landmarks(3, 543, seed=2)
    spec = FeatureSpec(kind="none", parts=["right_hand", "pose"])
    feats = transform(coords, spec)
    right = coords[:, part_slice(Part.RIGHT_HAND)].reshape(3, -1)
    pose = coords[:, part_slice(Part.POSE)].reshape(3, -1)
    np.testing.assert_array_equal(feats[:, : right.shape[1]], right)
    np.testing.assert_array_equal(feats[:, right.shape[1] : -2], pose)
    assert spec.names()[0] == "x523" and spec.names()[-2:] == ["right_hand_detected", "pose_detected"]


def test_transform_does_not_modify_input(random_landmarks) -> None:
    coords = random_landmarks(4, seed=3)
    copy = coords.copy()
    for kind in ("none", "body_centred", "body_aligned"):
        transform(coords, FeatureSpec(kind=kind))
    np.testing.assert_array_equal(coords, copy)


# --------------------------------------------------------------------------- invariances


@pytest.mark.parametrize("kind", ["body_centred", "body_aligned"])
def test_invariant_to_translation_and_uniform_scale(random_landmarks, kind: str) -> None:
    coords = random_landmarks(6, 501, seed=4)
    spec = FeatureSpec(kind=kind, parts=["pose", "face"])
    base = transform(coords, spec)
    moved = transform(translate_scale(coords), spec)
    np.testing.assert_allclose(moved, base, atol=1e-4)
    smaller = transform(translate_scale(coords, shift=(-0.3, 0.2, -1.0), scale=0.4), spec)
    np.testing.assert_allclose(smaller, base, atol=1e-4)


def test_body_centred_values() -> None:
    coords = np.zeros((1, 33, 4), dtype=np.float32)
    coords[0, LEFT_SHOULDER, :3] = (0.6, 0.5, 0.1)
    coords[0, RIGHT_SHOULDER, :3] = (0.4, 0.5, -0.1)
    coords[0, [LEFT_HIP, RIGHT_HIP], :3] = (0.5, 0.65, 0.0)  # torso 0.15: shorter than the width
    coords[0, 0, :3] = (0.5, 0.3, 0.0)  # nose: above the shoulder midpoint by one width
    coords[..., 3] = 0.9
    feats = transform(coords, FeatureSpec(kind="body_centred")).reshape(-1)
    nose = feats[0:4]
    np.testing.assert_allclose(nose, [0.0, -1.0, 0.0, 0.9], atol=1e-6)
    np.testing.assert_allclose(feats[4 * LEFT_SHOULDER : 4 * LEFT_SHOULDER + 3], [0.5, 0.0, 0.5], atol=1e-6)


def test_profile_view_is_scaled_by_the_torso() -> None:
    """Turned sideways the shoulders almost coincide; the torso length keeps the scale."""
    coords = np.zeros((2, 33, 4), dtype=np.float32)
    coords[:, LEFT_SHOULDER, :3] = [(0.6, 0.5, 0.0), (0.505, 0.5, 0.0)]  # frontal, then profile
    coords[:, RIGHT_SHOULDER, :3] = [(0.4, 0.5, 0.0), (0.495, 0.5, 0.0)]
    coords[:, [LEFT_HIP, RIGHT_HIP], :3] = (0.5, 0.9, 0.0)  # torso 0.4 > both widths
    coords[:, 0, :3] = (0.5, 0.3, 0.0)
    feats = transform(coords, FeatureSpec(kind="body_centred", visibility=False))
    np.testing.assert_allclose(feats[:, 0:3], [[0.0, -0.5, 0.0]] * 2, atol=1e-6)  # nose, same both


def test_trajectory_keeps_position_and_scale(random_landmarks) -> None:
    coords = random_landmarks(4, seed=11)
    spec = FeatureSpec(kind="body_centred", trajectory=True)
    base, moved = transform(coords, spec), transform(translate_scale(coords), spec)
    body = [spec.names().index(n) for n in ("body_x", "body_y", "body_scale")]
    others = [i for i in range(spec.n_features) if i not in body]
    np.testing.assert_allclose(moved[:, others], base[:, others], atol=1e-4)
    assert not np.allclose(moved[:, body], base[:, body], atol=1e-3)
    np.testing.assert_allclose(base[:, others], transform(coords, FeatureSpec(kind="body_centred")), atol=1e-6)


def test_changes_under_translation_without_normalisation(random_landmarks) -> None:
    coords = random_landmarks(3, seed=5)
    spec = FeatureSpec(kind="none")
    assert not np.allclose(transform(translate_scale(coords), spec), transform(coords, spec), atol=1e-3)


def test_body_aligned_invariant_to_in_plane_rotation_but_centred_is_not(random_landmarks) -> None:
    coords = random_landmarks(5, seed=6)
    turned = rotate_xy(coords, theta=0.4)
    aligned = FeatureSpec(kind="body_aligned")
    centred = FeatureSpec(kind="body_centred")
    np.testing.assert_allclose(transform(turned, aligned), transform(coords, aligned), atol=1e-4)
    assert not np.allclose(transform(turned, centred), transform(coords, centred), atol=1e-2)


def test_body_aligned_levels_the_shoulders(random_landmarks) -> None:
    coords = rotate_xy(random_landmarks(4, seed=7), theta=-0.7)
    feats = transform(coords, FeatureSpec(kind="body_aligned", visibility=False))
    left = feats[:, 3 * LEFT_SHOULDER : 3 * LEFT_SHOULDER + 3]
    right = feats[:, 3 * RIGHT_SHOULDER : 3 * RIGHT_SHOULDER + 3]
    np.testing.assert_allclose(left[:, 1], 0.0, atol=1e-5)  # level ...
    np.testing.assert_allclose(right[:, 1], 0.0, atol=1e-5)
    np.testing.assert_allclose(right[:, 0], -left[:, 0], atol=1e-5)  # ... and centred
    assert (left[:, 0] > 0).all() and (left[:, 0] <= 0.5 + 1e-5).all()  # scale >= shoulder width


# --------------------------------------------------------------------------- missing parts


@pytest.mark.parametrize("kind", ["none", "body_centred", "body_aligned"])
def test_missing_part_becomes_zeros_with_detected_flag(random_landmarks, kind: str) -> None:
    coords = random_landmarks(4, 501, seed=8)
    coords[1, part_slice(Part.FACE)] = np.nan
    spec = FeatureSpec(kind=kind, parts=["pose", "face"])
    feats = transform(coords, spec)
    assert np.isfinite(feats).all()
    face = slice(33 * 4, 501 * 4)
    np.testing.assert_array_equal(feats[1, face], 0.0)
    assert np.abs(feats[0, face]).sum() > 0
    np.testing.assert_array_equal(feats[:, -2], [1, 1, 1, 1])  # pose_detected
    np.testing.assert_array_equal(feats[:, -1], [1, 0, 1, 1])  # face_detected


def test_missing_pose_frame_gives_no_nan(random_landmarks) -> None:
    coords = random_landmarks(3, seed=9)
    coords[0] = np.nan
    feats = transform(coords, FeatureSpec(kind="body_centred"))
    assert np.isfinite(feats).all()
    np.testing.assert_array_equal(feats[0], 0.0)
    np.testing.assert_array_equal(feats[:, -1], [0, 1, 1])


def test_coincident_shoulders_do_not_blow_up(random_landmarks) -> None:
    coords = random_landmarks(2, seed=10)
    coords[:, RIGHT_SHOULDER] = coords[:, LEFT_SHOULDER]
    feats = transform(coords, FeatureSpec(kind="body_aligned"))
    assert np.isfinite(feats).all()


# --------------------------------------------------------------------------- spec


def test_face_on_pose_only_layout_is_refused(random_landmarks) -> None:
    spec = FeatureSpec(parts=["pose", "face", "left_hand"])
    with pytest.raises(ValueError, match=r"clip\.csv: features need face, left_hand landmarks.*'pose'"):
        transform(random_landmarks(2), spec, source="clip.csv")


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match=r"expected landmarks \(frames, landmarks, 4\)"):
        transform(np.zeros((2, 33, 3), np.float32), FeatureSpec())


@pytest.mark.parametrize(
    ("parts", "visibility", "layout", "n"),
    [
        (["pose"], True, Layout.POSE, 33 * 4 + 1),
        (["pose"], False, Layout.POSE, 33 * 3 + 1),
        (["pose", "face"], True, Layout.HOLISTIC, 501 * 4 + 2),
        (["left_hand", "right_hand"], False, Layout.HOLISTIC_HANDS, 42 * 3 + 2),
    ],
)
def test_names_match_width(random_landmarks, parts, visibility: bool, layout: Layout, n: int) -> None:
    spec = FeatureSpec(kind="body_centred", parts=parts, visibility=visibility)
    names = spec.names()
    assert len(names) == spec.n_features == n
    assert len(set(names)) == n
    assert spec.required_layout() is layout
    feats = transform(random_landmarks(3, 543), spec)
    assert feats.shape == (3, n)


def test_spec_is_strict() -> None:
    with pytest.raises(ValidationError):
        FeatureSpec(kind="centred")
    with pytest.raises(ValidationError):
        FeatureSpec(parts=[])
    with pytest.raises(ValidationError):
        FeatureSpec(parts=["torso"])
    with pytest.raises(ValidationError):
        FeatureSpec(scale=True)
