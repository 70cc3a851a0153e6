"""Keypoints of other pose estimators (COCO-17, OpenPose BODY_25) as our 33-landmark MediaPipe pose.

Left and right are the person's own in all three conventions (MediaPipe, COCO, OpenPose), so
joints map by name, never mirrored. The rule, applied to every (T, J, C) array of these layouts:

* **channels**: C = 3 is (x, y, score), C = 2 is (x, y), never z; the score becomes our
  visibility (clipped to [0, 1], clipped values counted), without a score a detected joint gets
  visibility 1.0; z is 0.
* **pixels**: coordinates above :data:`PIXEL_LIMIT` are pixels and need ``image_size`` (W, H):
  x / W, y / H gives our normalised image coordinates; pixel-looking data without it, or
  normalised data with it, is refused.
* **undetected joint** (x = y = 0 as OpenPose writes it, or NaN) in a frame where another joint
  was detected: carried from the last frame of the sequence where it was detected (before its
  first detection: from that first one), visibility 0. A frame with none of the joints that map
  to a landmark detected has no person (NaN), as for every import.
* **landmarks the layout lacks** (eye corners, mouth, fingers, and heels / feet for COCO), and
  joints never detected in their sequence: in every frame with a person, the position of the
  first of :data:`SUBSTITUTES` the frame has (else the mean of its joints), visibility 0,
  because our validation wants the pose whole or not at all.
* joints without a MediaPipe landmark (BODY_25's Neck, MidHip and small toes) are left out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actionrec.core.schema import CHANNELS, POSE_LANDMARKS, POSE_N
from actionrec.data.importers.common import ImportFailure

PIXEL_LIMIT = 4.0  # normalised landmarks stay near [0, 1] (MediaPipe's off-screen ones reach ~1.2)


def _sides(name: str, *subs: str) -> dict[str, tuple[str, ...]]:
    """``left_<name>`` and ``right_<name>`` with their (mirrored) substitutes."""
    other = {"left": "right", "right": "left"}
    out = {}
    for side in ("left", "right"):
        out[f"{side}_{name}"] = tuple(s.format(side=side, other=other[side]) for s in subs)
    return out


# nearest anatomical joints first: which landmark stands in for one that is missing
SUBSTITUTES: dict[str, tuple[str, ...]] = {
    "nose": ("left_eye", "right_eye", "left_ear", "right_ear"),
    **_sides("eye_inner", "{side}_eye", "nose"),
    **_sides("eye", "{side}_eye_inner", "{side}_eye_outer", "nose"),
    **_sides("eye_outer", "{side}_eye", "{side}_ear"),
    **_sides("ear", "{side}_eye_outer", "{side}_eye", "nose"),
    "mouth_left": ("nose",),
    "mouth_right": ("nose",),
    **_sides("shoulder", "{other}_shoulder", "{side}_elbow"),
    **_sides("elbow", "{side}_shoulder", "{side}_wrist"),
    **_sides("wrist", "{side}_elbow", "{side}_shoulder"),
    **_sides("pinky", "{side}_wrist", "{side}_elbow"),
    **_sides("index", "{side}_wrist", "{side}_elbow"),
    **_sides("thumb", "{side}_wrist", "{side}_elbow"),
    **_sides("hip", "{other}_hip", "{side}_shoulder"),
    **_sides("knee", "{side}_hip", "{side}_ankle"),
    **_sides("ankle", "{side}_knee", "{side}_hip"),
    **_sides("heel", "{side}_ankle", "{side}_knee"),
    **_sides("foot_index", "{side}_heel", "{side}_ankle", "{side}_knee"),
}


@dataclass(frozen=True)
class EstimatorLayout:
    """An estimator's joint order and where each joint goes in the MediaPipe pose (None: left out)."""

    name: str
    joints: tuple[str, ...]
    to_pose: tuple[str | None, ...]

    @property
    def n_landmarks(self) -> int:  # J, named as for our own layouts
        return len(self.joints)

    def pose_index(self) -> dict[int, int]:
        """Joint index -> MediaPipe pose index, for the joints that have one."""
        return {j: POSE_LANDMARKS.index(m) for j, m in enumerate(self.to_pose) if m is not None}

    def dropped(self) -> list[str]:
        return [j for j, m in zip(self.joints, self.to_pose, strict=True) if m is None]

    def lacking(self) -> dict[str, str]:
        """MediaPipe landmarks the layout lacks -> the joint it has that stands in for them."""
        has = {m for m in self.to_pose if m is not None}
        return {
            m: next((s for s in SUBSTITUTES[m] if s in has), "the mean of the frame's joints")
            for m in POSE_LANDMARKS
            if m not in has
        }


_COCO = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
_BODY25 = {
    "Nose": "nose", "Neck": None, "RShoulder": "right_shoulder", "RElbow": "right_elbow",
    "RWrist": "right_wrist", "LShoulder": "left_shoulder", "LElbow": "left_elbow", "LWrist": "left_wrist",
    "MidHip": None, "RHip": "right_hip", "RKnee": "right_knee", "RAnkle": "right_ankle", "LHip": "left_hip",
    "LKnee": "left_knee", "LAnkle": "left_ankle", "REye": "right_eye", "LEye": "left_eye", "REar": "right_ear",
    "LEar": "left_ear", "LBigToe": "left_foot_index", "LSmallToe": None, "LHeel": "left_heel",
    "RBigToe": "right_foot_index", "RSmallToe": None, "RHeel": "right_heel",
}  # fmt: skip
ESTIMATOR_LAYOUTS = {
    "coco17": EstimatorLayout("coco17", _COCO, _COCO),
    "openpose_body25": EstimatorLayout("openpose_body25", tuple(_BODY25), tuple(_BODY25.values())),
}


def _normalised_xy(xy: np.ndarray, seen: np.ndarray, image_size: tuple[int, int] | None, path: Path) -> np.ndarray:
    """x, y in normalised image coordinates, or a refusal naming the file and the remedy."""
    top = float(np.abs(xy[seen]).max()) if seen.any() else 0.0
    if image_size is None:
        if top > PIXEL_LIMIT:
            raise ImportFailure(
                f"{path}: x/y up to {top:g} look like pixels (normalised image coordinates stay below "
                f"{PIXEL_LIMIT:g}); remedy: pass --image-size WxH, the width and height of the video in pixels"
            )
        return xy
    width, height = image_size
    if top <= PIXEL_LIMIT:
        raise ImportFailure(
            f"{path}: x/y up to {top:g} are normalised already, yet --image-size {width}x{height} was given; "
            "remedy: drop --image-size"
        )
    out = xy / np.array([width, height], dtype=np.float64)
    far = float(np.abs(out[seen]).max())
    if far > PIXEL_LIMIT:
        raise ImportFailure(
            f"{path}: x/y up to {far:g} image sizes after dividing by --image-size {width}x{height}; "
            "remedy: pass the size of the images the keypoints were detected in"
        )
    return out


def _carry(xy: np.ndarray, seen: np.ndarray, person: np.ndarray, joints: list[int], stats: Counter[str]) -> np.ndarray:
    """Undetected ``joints`` of frames with a person from the last (else the first) frame they were seen."""
    out = np.where(seen[..., None], xy, np.nan)
    for j in joints:
        at = np.flatnonzero(seen[:, j])
        gaps = np.flatnonzero(person & ~seen[:, j])
        if at.size and gaps.size:
            prev = at[np.maximum(np.searchsorted(at, gaps, side="right") - 1, 0)]
            out[gaps, j] = xy[prev, j]
            stats["carried"] += gaps.size
        elif gaps.size:
            stats["never_seen"] += 1
    return out


def _substitute(pose: np.ndarray, person: np.ndarray) -> None:
    """Fill the landmarks no frame value reached from :data:`SUBSTITUTES` (in place), visibility 0."""
    known = ~np.isnan(pose[..., 0])
    base = pose[..., :2].copy()
    centre = np.zeros((len(pose), 2))
    centre[person] = np.nanmean(base[person], axis=1)
    for m, name in enumerate(POSE_LANDMARKS):
        gaps = person & ~known[:, m]
        value = centre.copy()
        for sub in reversed(SUBSTITUTES[name]):  # the first substitute a frame has wins
            s = POSE_LANDMARKS.index(sub)
            value[known[:, s]] = base[known[:, s], s]
        pose[gaps, m, :2] = value[gaps]
        pose[gaps, m, 2:] = 0.0


def estimator_pose(
    arr: np.ndarray, layout: EstimatorLayout, image_size: tuple[int, int] | None, path: Path, stats: Counter[str]
) -> np.ndarray:
    """A (T, J, 2|3) array of ``layout`` -> float32 (T, 33, 4) MediaPipe pose (module rule); counts in ``stats``."""
    if arr.shape[2] not in (2, 3):
        raise ImportFailure(
            f"{path}: C = {arr.shape[2]}, but {layout.name} arrays are (x, y) or (x, y, score); "
            "remedy: save only those channels"
        )
    a = arr.astype(np.float64)
    seen = ~np.isnan(a).any(axis=2) & ~np.all(a[..., :2] == 0, axis=2)
    to_pose = layout.pose_index()
    person = seen[:, list(to_pose)].any(axis=1)  # BODY_25's Neck or MidHip alone is no pose
    xy = _carry(_normalised_xy(a[..., :2], seen, image_size, path), seen, person, list(to_pose), stats)
    score = a[..., 2] if arr.shape[2] == 3 else np.ones(seen.shape)
    stats["clipped"] += int(np.count_nonzero(seen & ((score < 0) | (score > 1))))
    vis = np.where(seen, np.clip(score, 0.0, 1.0), 0.0)
    pose = np.full((len(a), POSE_N, len(CHANNELS)), np.nan)
    for j, m in to_pose.items():
        pose[person, m, :2] = xy[person, j]
        pose[person, m, 2] = 0.0
        pose[person, m, 3] = vis[person, j]
    _substitute(pose, person)
    return pose.astype(np.float32)


def estimator_notes(layout: EstimatorLayout, channels: set[int], image_size: tuple[int, int] | None,
                    stats: Counter[str]) -> list[str]:  # fmt: skip
    """What the import of ``layout`` arrays did, for the summary (module rule, with this source's counts)."""
    name = layout.name
    notes = []
    if 3 in channels:
        notes.append(f"{name} (x, y, score) arrays: score written as visibility, z as 0")
    if 2 in channels:
        notes.append(f"{name} (x, y) arrays: visibility 1.0 for every detected joint, z 0")
    if image_size:
        notes.append(f"pixel coordinates divided by --image-size: x / {image_size[0]}, y / {image_size[1]}")
    lacking = ", ".join(f"{m} <- {s}" for m, s in layout.lacking().items())
    notes.append(f"MediaPipe pose landmarks {name} lacks, at the nearest joint it has, visibility 0: {lacking}")
    if dropped := layout.dropped():
        notes.append(f"{name} joints without a MediaPipe pose landmark, left out: {', '.join(dropped)}")
    notes.append(
        f"{stats['carried']} undetected joint positions (x = y = 0 or NaN) in frames with a person carried from the last "
        "frame they were seen (before it: the first), visibility 0"
    )
    if stats["never_seen"]:
        notes.append(
            f"{stats['never_seen']} joints never detected in their sequence filled like the landmarks {name} lacks"
        )
    if stats["clipped"]:
        notes.append(f"{stats['clipped']} scores outside [0, 1] clipped to it")
    return notes
