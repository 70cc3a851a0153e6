"""Deterministic demo landmark sessions (our session CSV format, pose + face).

A procedural upper body performs one of four head/torso actions (Nod, Shake, Tilt, Lean) per
session. Subjects differ in size, position and camera distance; sessions differ in speed,
amplitude and phase; every frame has sensor noise, some frames lose the face, and each
session starts and ends with idle frames, so the task is learnable but not trivial.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from actionrec.core.schema import FACE_N, POSE_N, Layout, session_columns
from actionrec.core.io import atomic_open

CLASSES = ("Lean", "Nod", "Shake", "Tilt")
FPS = 30.0

# Pose template in shoulder-width units, origin at the shoulder midpoint, y pointing down.
_HALF = {  # index of the subject's left landmark -> (x, y); its right twin mirrors x
    1: (0.07, -0.85), 2: (0.12, -0.86), 3: (0.17, -0.86), 7: (0.27, -0.80), 9: (0.08, -0.62),
    11: (0.5, 0.0), 13: (0.62, 0.6), 15: (0.6, 1.1), 17: (0.62, 1.22), 19: (0.58, 1.24),
    21: (0.52, 1.18), 23: (0.32, 1.4), 25: (0.33, 2.2), 27: (0.33, 3.0), 29: (0.33, 3.08),
    31: (0.38, 3.15),
}
_TWIN = {1: 4, 2: 5, 3: 6, 7: 8, 9: 10}  # head landmarks whose right twin is not index + 1
HEAD = np.arange(11)
NECK = np.array([0.0, -0.35])


def _pose_template() -> np.ndarray:
    pose = np.zeros((POSE_N, 2))
    pose[0] = (0.0, -0.75)
    for left, (x, y) in _HALF.items():
        pose[left] = (x, y)  # subject's left appears on the image's right in MediaPipe
        pose[_TWIN.get(left, left + 1)] = (-x, y)
    return pose


def _face_template(rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi, FACE_N)
    radius = np.sqrt(rng.uniform(0, 1, FACE_N))
    return np.column_stack([0.28 * radius * np.cos(angle), -0.78 + 0.38 * radius * np.sin(angle)])


def _rotate(points: np.ndarray, pivot: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Rotate (T, N, 2) points about ``pivot`` by per-frame angles ``theta`` (T,)."""
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    d = points - pivot
    return np.stack([c * d[..., 0] - s * d[..., 1], s * d[..., 0] + c * d[..., 1]], axis=-1) + pivot


def _motion(action: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame head displacement (T, 2) and body angle, for one session."""
    t = np.arange(n) / FPS
    speed = rng.uniform(0.7, 1.4)
    phase = rng.uniform(0, 2 * np.pi)
    amp = rng.uniform(0.5, 1.2)
    envelope = np.clip(np.minimum(t, t[-1] - t) / 0.6, 0, 1)  # idle at both ends
    wave = amp * envelope * np.sin(2 * np.pi * 1.1 * speed * t + phase)
    head, body = np.zeros((n, 3)), np.zeros(n)
    if action == "Nod":
        head[:, 1] = 0.12 * wave  # pitch: head moves down/up, depth changes
        head[:, 2] = 0.1 * wave
    elif action == "Shake":
        head[:, 0] = 0.12 * wave  # yaw: head shifts sideways
    elif action == "Tilt":
        head[:, 2] = 0.35 * wave  # roll angle (radians), applied below
    elif action == "Lean":
        body = 0.18 * amp * envelope * np.sin(2 * np.pi * 0.35 * speed * t + phase)
    return head, body


def make_session(action: str, subject: int, n_frames: int, rng: np.random.Generator, face: np.ndarray) -> np.ndarray:
    """Landmarks ``(n_frames, 501, 4)`` of one session."""
    pose, n = _pose_template(), n_frames
    pts = np.concatenate([pose, face])[None].repeat(n, axis=0)  # (T, 501, 2)
    head_idx = np.concatenate([HEAD, POSE_N + np.arange(FACE_N)])
    disp, body = _motion(action, n, rng)
    if action == "Tilt":
        pts[:, head_idx] = _rotate(pts[:, head_idx], NECK, disp[:, 2])
    else:
        pts[:, head_idx] += disp[:, None, :2]
    upper = np.r_[0:23, POSE_N : POSE_N + FACE_N]
    hips = pose[[23, 24]].mean(axis=0)
    pts[:, upper] = _rotate(pts[:, upper], hips, body)
    sub = np.random.default_rng(1000 + subject)  # the subject's build and placement
    scale = sub.uniform(0.16, 0.26) * rng.uniform(0.95, 1.05)
    centre = np.array([sub.uniform(0.4, 0.6), sub.uniform(0.45, 0.55)]) + rng.normal(0, 0.02, 2)
    aspect = np.array([1.0, sub.uniform(1.2, 1.4)])
    xy = centre + pts * scale * aspect + rng.normal(0, 0.004, pts.shape)
    z = np.zeros(pts.shape[:2])
    z[:, head_idx] = -0.3 - disp[:, None, 2 if action == "Nod" else 0] * 0.5
    z += rng.normal(0, 0.02, z.shape)
    vis = np.ones(pts.shape[:2])
    vis[:, :POSE_N] = np.clip(rng.normal(0.98, 0.01, (n, POSE_N)), 0, 1)
    vis[:, 23:POSE_N] = np.clip(rng.normal(0.4, 0.1, (n, POSE_N - 23)), 0, 1)
    vis[:, POSE_N:] = 0.0  # the seed recorder writes visibility 0 for face landmarks
    out = np.concatenate([xy, z[..., None], vis[..., None]], axis=-1).astype(np.float32)
    lost = rng.random(n) < 0.03
    out[lost, POSE_N:] = np.nan
    return out


def _write_session(path: Path, rows: np.ndarray, action: str, session: str, subject: str) -> None:
    with atomic_open(path, "w") as fh:
        writer = csv.writer(fh)
        writer.writerow(session_columns(Layout.HOLISTIC))
        for i, frame in enumerate(rows):
            values = ["" if np.isnan(v) else f"{v:.5f}" for v in frame.ravel()]
            writer.writerow([action, session, subject, i, f"{i / FPS:.4f}", *values])


def generate_demo_landmarks(out_dir: Path, seed: int = 0, subjects: int = 5, n_frames: int = 80) -> list[Path]:
    """Write one session CSV per subject and class; byte-identical for the same seed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    face = _face_template(np.random.default_rng(seed))
    paths = []
    for subject in range(1, subjects + 1):
        for k, action in enumerate(CLASSES):
            rng = np.random.default_rng([seed, subject, k])
            session = f"demo-s{subject:02d}-{action.lower()}"
            path = out_dir / f"{session}.csv"
            frames = make_session(action, subject, n_frames + int(rng.integers(0, 30)), rng, face)
            _write_session(path, frames, action, session, f"s{subject:02d}")
            paths.append(path)
    return paths
