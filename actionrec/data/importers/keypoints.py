"""Keypoint arrays: one ``.npy``/``.npz`` of shape (T, J, C) per sequence, in a folder per class.

J and the joint order come from a named layout (:data:`LAYOUTS`); C is 2 (x, y), 3 (x, y, z) or
4 (x, y, z, visibility). A missing z is written as 0 and a missing visibility as 1.0 (each said
in the summary); a frame whose joints are all zero or NaN has no person (NaN).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from actionrec.core.recording import Recording
from actionrec.core.schema import CHANNELS, Layout
from actionrec.data.importers.common import ImportFailure, ImportResult

# named joint layouts: the joints are already in our (MediaPipe) landmark order
LAYOUTS = {
    "mediapipe_pose": Layout.POSE,
    "mediapipe_pose_face": Layout.HOLISTIC,
    "mediapipe_holistic": Layout.HOLISTIC_HANDS,
}
LAYOUTS_TEXT = ", ".join(f"{k} (J={v.n_landmarks})" for k, v in LAYOUTS.items())
SUFFIXES = (".npy", ".npz")


def is_keypoints(src: Path) -> bool:
    return src.is_dir() and any(p.suffix in SUFFIXES for p in src.glob("*/*"))


def _load(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                keys = list(z.keys())
                if len(keys) != 1:
                    raise ImportFailure(
                        f"{path}: {len(keys)} arrays {keys[:5]}; remedy: save one (T, J, C) array per file"
                    )
                return np.asarray(z[keys[0]])
        return np.asarray(np.load(path, allow_pickle=False))
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ImportFailure(
            f"{path}: not a readable array ({exc}); remedy: re-save it with numpy.save or remove it"
        ) from None


def to_recording(arr: np.ndarray, path: Path, label: str, layout_name: str | None, name: str, fps: float) -> Recording:
    """A (T, J, C) array as one recording in our landmark order."""
    if arr.ndim != 3 or arr.shape[2] not in (2, 3, 4):
        raise ImportFailure(
            f"{path}: shape {arr.shape}, expected (T, J, C) with C in 2, 3, 4; remedy: one sequence per file"
        )
    joints = arr.shape[1]
    if layout_name is None:
        matching = [k for k, v in LAYOUTS.items() if v.n_landmarks == joints]
        if not matching:
            raise ImportFailure(
                f"{path}: {joints} joints match no accepted layout ({LAYOUTS_TEXT}); remedy: reorder the joints "
                "into MediaPipe landmark order and pass --layout"
            )
        layout_name = matching[0]
    layout = LAYOUTS[layout_name]
    if joints != layout.n_landmarks:
        raise ImportFailure(f"{path}: {joints} joints, layout {layout_name} has {layout.n_landmarks}")
    coords = np.full((arr.shape[0], joints, len(CHANNELS)), np.nan, np.float32)
    coords[..., : arr.shape[2]] = arr
    if arr.shape[2] < 3:
        coords[..., 2] = 0.0
    if arr.shape[2] < 4:
        coords[..., 3] = 1.0
    empty = np.all((arr == 0) | np.isnan(arr), axis=(1, 2))
    coords[empty] = np.nan
    frames = np.arange(arr.shape[0], dtype=np.int64)
    return Recording(f"{name}-{label}-{path.stem}", label, coords, frames, frames / fps, str(path))


def read_keypoints(src: Path, name: str, fps: float, layout: str | None, skip_bad: bool) -> ImportResult:
    recordings, skipped, channels = [], [], set()
    files = 0
    for class_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        paths = sorted(p for p in class_dir.iterdir() if p.suffix in SUFFIXES)
        if not paths:
            skipped.append(f"{class_dir}: empty class folder (no .npy/.npz); remedy: remove it or add its sequences")
            continue
        for path in paths:
            files += 1
            try:
                arr = _load(path)
                recordings.append(to_recording(arr, path, class_dir.name, layout, name, fps))
                channels.add(arr.shape[2])
            except ImportFailure as exc:
                if not skip_bad:
                    raise
                skipped.append(str(exc))
    notes = []
    if min(channels, default=4) < 3:
        notes.append("arrays without z: z written as 0")
    if min(channels, default=4) < 4:
        notes.append("arrays without visibility: every present joint written with visibility 1.0")
    structure = f"one per array file, labelled by its class folder; timestamps at {fps:g} fps"
    return ImportResult(src, "keypoint arrays (T, J, C)", recordings, files, structure, skipped, notes)
