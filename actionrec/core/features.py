"""The ONE feature transform, shared by training, evaluation, live inference and the web app.

``transform`` maps landmarks ``(frames, landmarks, 4)`` to a feature matrix ``(frames, F)``:

* ``none``: the raw seed features (x, y, z, v of each selected landmark, file order);
* ``body_centred``: x, y, z translated by the shoulder midpoint and divided by the body scale
  (the larger of shoulder width and torso length: shoulder width alone collapses when the
  person turns sideways), so stepping around or towards/away from the camera does not change
  the features;
* ``body_aligned``: ``body_centred`` plus an in-plane rotation that levels the shoulders, so a
  tilted camera does not change them either.

With ``trajectory``, three more columns keep what the normalisation removes: where the body
is in the image (shoulder midpoint x, y) and how big (the body scale), so pooled statistics
see walking, running and jumping.

``pool`` turns windows of those per-frame features into one vector per window (the pooled
models' input, so live and the web app pool exactly as training does). Its ``pooling`` options:

* always: per-feature mean, std, min, max and the mean absolute frame-to-frame change;
* ``clip_norm`` (needs ``body_centred`` and ``trajectory``): first re-normalise the window with ONE
  body centre and scale (their mean / median over the window) instead of each frame's own, so
  moving and bending stay visible, and the trajectory columns become the body's path relative
  to the window;
* ``velocity``: mean and std of each feature's frame-to-frame velocity;
* ``spectrum``: magnitudes of the first N temporal frequencies of each feature (low-frequency
  spectrum: how fast and how regularly a joint oscillates);
* ``acceleration``: mean absolute and std of each feature's second frame difference (how jerky);
* ``distances`` (needs ``pose``): mean, std, min and max over the window of the x-y distances
  between every pair of ``DISTANCE_JOINTS`` (nose, shoulders, elbows, wrists, hips, knees,
  ankles: 78 pairs), in body-scale units: the body's shape, whatever the joints' positions.

The defaults (all off) give the original pooled statistics, so older models keep their input.

Missing parts (NaN) become 0 after the transform, with one 0/1 "detected" flag per part (taken
from the input, before normalising), so models never see NaN. Without shoulders there is no
body frame: the normalised kinds then give zeros for every part of that frame.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from actionrec.core.schema import (
    CHANNELS,
    LEFT_HIP,
    LEFT_SHOULDER,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    Layout,
    Part,
    part_slice,
)

_EPS = 1e-6
TRAJECTORY_NAMES = ("body_x", "body_y", "body_scale")
# pose joints whose pairwise distances ``pooling.distances`` pools: nose, shoulders, elbows,
# wrists, hips, knees, ankles (MediaPipe pose indices)
DISTANCE_JOINTS = (0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


class PoolingSpec(BaseModel):
    """What ``pool`` computes over a window beyond mean, std, min, max and mean absolute change."""

    model_config = ConfigDict(extra="forbid")

    clip_norm: bool = False
    velocity: bool = False
    spectrum: int = Field(0, ge=0)
    acceleration: bool = False
    distances: bool = False


class FeatureSpec(BaseModel):
    """Which landmarks become features, how they are normalised, and how windows are pooled."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["none", "body_centred", "body_aligned"] = "body_centred"
    parts: list[Part] = Field(default_factory=lambda: [Part.POSE], min_length=1)
    visibility: bool = True
    trajectory: bool = False
    pooling: PoolingSpec = Field(default_factory=PoolingSpec)  # all off: the original statistics

    @model_validator(mode="after")
    def _clip_norm_needs_frame(self) -> FeatureSpec:
        if self.pooling.clip_norm and (self.kind != "body_centred" or not self.trajectory):
            raise ValueError(
                "features.pooling.clip_norm re-normalises body-centred features with the trajectory "
                f"columns; it needs features.kind body_centred (got {self.kind}) and "
                f"features.trajectory true (got {self.trajectory})"
            )
        if self.pooling.distances and Part.POSE not in self.parts:
            raise ValueError("features.pooling.distances measures pose joints; it needs pose in features.parts")
        return self

    def required_layout(self) -> Layout:
        """The smallest layout that holds every selected part."""
        for layout in Layout:
            if set(self.parts) <= set(layout.parts):
                return layout
        raise AssertionError("unreachable: HOLISTIC_HANDS holds every part")

    def check_layout(self, layout: Layout, source: str = "input") -> None:
        missing = [p.value for p in self.parts if p not in layout.parts]
        if missing:
            raise ValueError(
                f"{source}: features need {', '.join(missing)} landmarks but the data has "
                f"layout '{layout.value}' ({layout.n_landmarks} landmarks); set features.parts "
                "to parts the data holds"
            )

    def names(self) -> list[str]:
        """Feature names, in column order."""
        chans = CHANNELS if self.visibility else CHANNELS[:3]
        names = []
        for part in self.parts:
            sl = part_slice(part)
            names += [f"{c}{i + 1}" for i in range(sl.start, sl.stop) for c in chans]
        if self.trajectory:
            names += list(TRAJECTORY_NAMES)
        return names + [f"{p.value}_detected" for p in self.parts]

    @property
    def n_features(self) -> int:
        return len(self.names())


def _body_frame(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: shoulder midpoint (x, y, z), left-minus-right shoulder (x, y) and body scale."""
    left, right = coords[:, LEFT_SHOULDER, :3], coords[:, RIGHT_SHOULDER, :3]
    centre = (left + right) / 2
    delta = left[:, :2] - right[:, :2]
    hips = (coords[:, LEFT_HIP, :2] + coords[:, RIGHT_HIP, :2]) / 2
    torso = np.linalg.norm(centre[:, :2] - hips, axis=1)
    scale = np.maximum(np.fmax(np.linalg.norm(delta, axis=1), torso), _EPS)
    return centre, delta, scale


def _normalise(coords: np.ndarray, rotate: bool) -> np.ndarray:
    """Centre x, y, z of every frame on its shoulder midpoint, divide by its body scale (and
    optionally level the shoulders)."""
    out = coords.copy()
    centre, delta, scale = _body_frame(coords)
    out[..., :3] = (coords[..., :3] - centre[:, None, :]) / scale[:, None, None]
    if rotate:
        angle = np.arctan2(delta[:, 1], delta[:, 0])
        cos, sin = np.cos(-angle)[:, None], np.sin(-angle)[:, None]
        x, y = out[..., 0].copy(), out[..., 1].copy()
        out[..., 0], out[..., 1] = cos * x - sin * y, sin * x + cos * y
    return out


def transform(coords: np.ndarray, spec: FeatureSpec, source: str = "input") -> np.ndarray:
    """Landmarks ``(frames, landmarks, 4)`` -> float32 features ``(frames, spec.n_features)``."""
    if coords.ndim != 3 or coords.shape[2] != len(CHANNELS):
        raise ValueError(f"{source}: expected landmarks (frames, landmarks, 4), got {coords.shape}")
    spec.check_layout(Layout.from_n_landmarks(coords.shape[1]), source)
    coords = coords.astype(np.float32, copy=False)
    detected = [~np.isnan(coords[:, part_slice(p), :3]).all(axis=(1, 2)) for p in spec.parts]
    trajectory = []
    if spec.trajectory:
        centre, _, scale = _body_frame(coords)
        trajectory.append(np.column_stack([centre[:, :2], scale]))
    if spec.kind != "none":
        coords = _normalise(coords, rotate=spec.kind == "body_aligned")
    n_chan = len(CHANNELS) if spec.visibility else 3
    parts = [coords[:, part_slice(p), :n_chan].reshape(len(coords), -1) for p in spec.parts]
    feats = np.concatenate([*parts, *trajectory, np.stack(detected, axis=1)], axis=1).astype(np.float32)
    return np.nan_to_num(feats, nan=0.0, posinf=0.0, neginf=0.0)


def pool(windows: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Windows of per-frame features ``(N, T, spec.n_features)`` -> float32 ``(N, P)`` (see module doc)."""
    w = np.asarray(windows, dtype=np.float32)
    if w.ndim != 3 or w.shape[2] != spec.n_features:
        raise ValueError(f"pool: expected windows (N, T, {spec.n_features}), got {w.shape}")
    if spec.pooling.clip_norm:
        w = _clip_normalise(w, spec)
    out = pool_statistics(w, spec.pooling)
    if not spec.pooling.distances:
        return out
    d = _joint_distances(w, spec)
    return np.concatenate([out, d.mean(axis=1), d.std(axis=1), d.min(axis=1), d.max(axis=1)], axis=1)


def _joint_distances(w: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """``(N, T, F)`` windows -> ``(N, T, pairs)`` x-y distances between ``DISTANCE_JOINTS``."""
    n_chan = len(CHANNELS) if spec.visibility else 3
    start = 0
    for part in spec.parts[: spec.parts.index(Part.POSE)]:
        start += (part_slice(part).stop - part_slice(part).start) * n_chan
    cols = np.asarray(DISTANCE_JOINTS) * n_chan + start
    xy = np.stack([w[:, :, cols], w[:, :, cols + 1]], axis=-1)  # (N, T, joints, 2)
    i, j = np.triu_indices(len(DISTANCE_JOINTS), k=1)
    return np.linalg.norm(xy[:, :, i] - xy[:, :, j], axis=-1).astype(np.float32)


def pool_statistics(w: np.ndarray, pooling: PoolingSpec) -> np.ndarray:
    """The statistics of ``pool`` over ``(N, T, F)`` windows as they are (no re-normalising)."""
    diff = np.diff(w, axis=1) if w.shape[1] > 1 else np.zeros_like(w)
    out = [w.mean(axis=1), w.std(axis=1), w.min(axis=1), w.max(axis=1), np.abs(diff).mean(axis=1)]
    if pooling.velocity:
        out += [diff.mean(axis=1), diff.std(axis=1)]
    if k := pooling.spectrum:
        centred = w - w.mean(axis=1, keepdims=True)
        mag = np.abs(np.fft.rfft(centred, n=max(w.shape[1], 2 * k), axis=1))[:, 1 : k + 1] / w.shape[1]
        out += [mag[:, i] for i in range(k)]
    if pooling.acceleration:
        acc = np.diff(w, n=2, axis=1) if w.shape[1] > 2 else np.zeros_like(w)
        out += [np.abs(acc).mean(axis=1), acc.std(axis=1)]
    return np.concatenate(out, axis=1).astype(np.float32)


def _clip_normalise(w: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Per-frame body-centred windows -> one body centre (mean) and scale (median) per window."""
    n_chan = len(CHANNELS) if spec.visibility else 3
    n_coords = sum(part_slice(p).stop - part_slice(p).start for p in spec.parts) * n_chan
    traj = w[:, :, n_coords : n_coords + 3]
    seen = traj[:, :, 2] > 0  # frames with a body frame (scale 0: no shoulders, features are 0)
    count = np.maximum(seen.sum(axis=1), 1)[:, None]
    centre = (traj[:, :, :2] * seen[..., None]).sum(axis=1) / count
    medians = [np.median(s[m]) if m.any() else 1.0 for s, m in zip(traj[:, :, 2], seen, strict=True)]
    scale = np.maximum(np.asarray(medians, dtype=np.float32), _EPS)[:, None]  # (N, 1)
    out = w.copy()
    coords = out[:, :, :n_coords].reshape(*w.shape[:2], -1, n_chan)
    s_t = traj[:, :, 2][..., None]  # (N, T, 1)
    for c in range(3):
        shift = (traj[:, :, c][..., None] - centre[:, None, c : c + 1]) if c < 2 else 0.0
        coords[..., c] = (coords[..., c] * s_t + shift) / scale[:, :, None]
    start, flags = 0, w[:, :, n_coords + 3 :]
    for i, part in enumerate(spec.parts):  # a part missing in a frame stays 0
        size = part_slice(part).stop - part_slice(part).start
        coords[:, :, start : start + size, :3] *= (flags[:, :, i] > 0)[..., None, None] & seen[..., None, None]
        start += size
    out[:, :, :n_coords] = coords.reshape(*w.shape[:2], -1)
    out[:, :, n_coords : n_coords + 2] = (traj[:, :, :2] - centre[:, None, :]) / scale[:, :, None] * seen[..., None]
    out[:, :, n_coords + 2] = traj[:, :, 2] / scale
    return out


def cap_samples(n: int, cap: int | None, seed: int) -> np.ndarray:
    """Indices of at most ``cap`` of ``n`` training samples (a seeded random subset, in order)."""
    if not cap or n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, cap, replace=False))


def pad_windows(windows: list[np.ndarray], window: int) -> np.ndarray:
    """Windows of at most ``window`` frames -> ``(N, window * F)``, short ones edge-padded."""
    out = [np.pad(w[:window], ((0, window - len(w[:window])), (0, 0)), mode="edge") for w in windows]
    return np.stack(out).reshape(len(windows), -1)
