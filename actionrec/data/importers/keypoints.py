"""Keypoint arrays: one ``.npy``/``.npz`` of shape (T, J, C) per sequence, in a folder per class.

J and the joint order come from a named layout, found from J or given as ``--layout``:

* MediaPipe layouts (:data:`LAYOUTS`), already in our landmark order: C is 2 (x, y), 3 (x, y, z)
  or 4 (x, y, z, visibility). A missing z is written as 0 and a missing visibility as 1.0 (each
  said in the summary); a frame whose joints are all zero or NaN has no person (NaN).
* other pose estimators (:data:`~actionrec.data.importers.layouts.ESTIMATOR_LAYOUTS`: COCO-17,
  OpenPose BODY_25): C is 2 (x, y) or 3 (x, y, score), in pixels with ``--image-size WxH``;
  mapped into the 33-landmark MediaPipe pose by the rule of
  :mod:`actionrec.data.importers.layouts` (score -> visibility, undetected joints carried,
  landmarks the layout lacks filled with visibility 0, all said in the summary).
"""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from actionrec.core.recording import Recording
from actionrec.core.schema import CHANNELS, Layout
from actionrec.data.importers.common import ImportFailure, ImportResult
from actionrec.data.importers.layouts import ESTIMATOR_LAYOUTS, EstimatorLayout, estimator_notes, estimator_pose

# named joint layouts: the joints are already in our (MediaPipe) landmark order
LAYOUTS = {
    "mediapipe_pose": Layout.POSE,
    "mediapipe_pose_face": Layout.HOLISTIC,
    "mediapipe_holistic": Layout.HOLISTIC_HANDS,
}
ALL_LAYOUTS: dict[str, Layout | EstimatorLayout] = {**LAYOUTS, **ESTIMATOR_LAYOUTS}
LAYOUTS_TEXT = ", ".join(f"{k} (J={v.n_landmarks})" for k, v in ALL_LAYOUTS.items())
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


def layout_of(arr: np.ndarray, path: Path, layout_name: str | None) -> str:
    """The layout named by ``--layout``, else the one layout whose J matches, or a refusal with the remedy."""
    if arr.ndim != 3 or arr.shape[2] not in (2, 3, 4):
        raise ImportFailure(
            f"{path}: shape {arr.shape}, expected (T, J, C) with C in 2, 3, 4; remedy: one sequence per file"
        )
    joints = arr.shape[1]
    if layout_name is None:
        matching = [k for k, v in ALL_LAYOUTS.items() if v.n_landmarks == joints]
        if len(matching) != 1:
            raise ImportFailure(
                f"{path}: {joints} joints match {'no' if not matching else 'more than one'} accepted layout "
                f"({LAYOUTS_TEXT}); remedy: reorder the joints into one of them and pass --layout NAME"
            )
        return matching[0]
    if layout_name not in ALL_LAYOUTS:
        raise ImportFailure(f"--layout {layout_name}: unknown; remedy: pass one of {LAYOUTS_TEXT}")
    if joints != ALL_LAYOUTS[layout_name].n_landmarks:
        raise ImportFailure(
            f"{path}: {joints} joints, layout {layout_name} has {ALL_LAYOUTS[layout_name].n_landmarks}; "
            f"remedy: pass the --layout of this data ({LAYOUTS_TEXT})"
        )
    return layout_name


def _mediapipe_coords(arr: np.ndarray) -> np.ndarray:
    coords = np.full((arr.shape[0], arr.shape[1], len(CHANNELS)), np.nan, np.float32)
    coords[..., : arr.shape[2]] = arr
    if arr.shape[2] < 3:
        coords[..., 2] = 0.0
    if arr.shape[2] < 4:
        coords[..., 3] = 1.0
    empty = np.all((arr == 0) | np.isnan(arr), axis=(1, 2))
    coords[empty] = np.nan
    return coords


def to_recording(
    arr: np.ndarray,
    path: Path,
    label: str,
    layout_name: str,
    name: str,
    fps: float,
    image_size: tuple[int, int] | None = None,
    stats: Counter[str] | None = None,
) -> Recording:
    """A (T, J, C) array of ``layout_name`` as one recording in our landmark order."""
    layout = ALL_LAYOUTS[layout_name]
    if isinstance(layout, EstimatorLayout):
        coords = estimator_pose(arr, layout, image_size, path, Counter() if stats is None else stats)
    elif image_size is not None:
        raise ImportFailure(
            f"{path}: --image-size is for pixel layouts ({', '.join(ESTIMATOR_LAYOUTS)}), {layout_name} arrays "
            "are normalised already; remedy: drop --image-size"
        )
    else:
        coords = _mediapipe_coords(arr)
    frames = np.arange(arr.shape[0], dtype=np.int64)
    return Recording(f"{name}-{label}-{path.stem}", label, coords, frames, frames / fps, str(path))


def read_keypoints(
    src: Path, name: str, fps: float, layout: str | None, skip_bad: bool, image_size: tuple[int, int] | None = None
) -> ImportResult:
    recordings, skipped, channels, used = [], [], set(), dict[str, Path]()
    files, stats = 0, Counter[str]()
    for class_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        paths = sorted(p for p in class_dir.iterdir() if p.suffix in SUFFIXES)
        if not paths:
            skipped.append(f"{class_dir}: empty class folder (no .npy/.npz); remedy: remove it or add its sequences")
            continue
        for path in paths:
            files += 1
            try:
                arr = _load(path)
                found = layout_of(arr, path, layout)
                recordings.append(to_recording(arr, path, class_dir.name, found, name, fps, image_size, stats))
                channels.add(arr.shape[2])
                used.setdefault(found, path)
            except ImportFailure as exc:
                if not skip_bad:
                    raise
                skipped.append(str(exc))
    if len(used) > 1:
        raise ImportFailure(
            f"{src}: arrays of different layouts: {'; '.join(f'{k} in e.g. {v}' for k, v in used.items())}; "
            "remedy: import each layout into its own --name"
        )
    if used and isinstance(ALL_LAYOUTS[next(iter(used))], EstimatorLayout):
        notes = estimator_notes(ESTIMATOR_LAYOUTS[next(iter(used))], channels, image_size, stats)
    else:
        notes = _mediapipe_notes(channels)
    structure = f"one per array file, labelled by its class folder; timestamps at {fps:g} fps"
    kind = f"keypoint arrays (T, J, C) of layout {', '.join(used) or '-'}"
    return ImportResult(src, kind, recordings, files, structure, skipped, notes)


def _mediapipe_notes(channels: set[int]) -> list[str]:
    notes = []
    if min(channels, default=4) < 3:
        notes.append("arrays without z: z written as 0")
    if min(channels, default=4) < 4:
        notes.append("arrays without visibility: every present joint written with visibility 1.0")
    return notes
