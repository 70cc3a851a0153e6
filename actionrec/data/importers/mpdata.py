"""MP_Data folders of the MediaPipe LSTM tutorial: ``MP_Data/<action>/<sequence>/<frame>.npy``.

Each frame is one flat vector: pose 33 x (x, y, z, visibility), then face 468 x (x, y, z), left
hand 21 x 3 and right hand 21 x 3 (1662 values); a part that was not detected is all zeros.
A sequence folder becomes one recording labelled by its action folder; a zero-filled part
becomes missing landmarks (NaN, empty cells), a detected face or hand gets visibility 1.0 (as
our own extraction writes it). Frame numbers must run 0..T-1 without a gap.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actionrec.core.recording import Recording
from actionrec.core.schema import CHANNELS, HAND_N, POSE_N, Layout, Part, part_slice
from actionrec.data.importers.common import ImportFailure, ImportResult

POSE_VALUES = POSE_N * 4
# values per frame -> landmark layout of the recording
FRAME_SIZES = {
    POSE_VALUES: Layout.POSE,
    POSE_VALUES + 468 * 3: Layout.HOLISTIC,
    POSE_VALUES + 468 * 3 + 2 * HAND_N * 3: Layout.HOLISTIC_HANDS,
}
SIZES_TEXT = "1662 (pose 33x4 + face 468x3 + hands 2x21x3), 1536 (pose + face) or 132 (pose 33x4)"


def is_mpdata(src: Path) -> bool:
    """A folder whose ``<action>/<sequence>/`` folders hold numbered ``.npy`` frames."""
    return src.is_dir() and any(p.stem.isdigit() for p in src.glob("*/*/*.npy"))


def frame_to_landmarks(vector: np.ndarray) -> np.ndarray:
    """One flat MP_Data frame -> float32 ``(landmarks, 4)`` with NaN for zero-filled parts."""
    layout = FRAME_SIZES[vector.size]
    out = np.full((layout.n_landmarks, len(CHANNELS)), np.nan, np.float32)
    pos = 0
    for part in layout.parts:
        span = part_slice(part)
        n = span.stop - span.start
        width = 4 if part is Part.POSE else 3
        block = vector[pos : pos + n * width].reshape(n, width)
        pos += n * width
        if not np.any(block):
            continue  # the tutorial writes zeros for a part it did not detect
        out[span, :width] = block
        if width == 3:
            out[span, 3] = 1.0
    return out


def _load_frame(path: Path) -> np.ndarray:
    try:
        vector = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ImportFailure(
            f"{path}: not a readable .npy ({exc}); remedy: re-save it with numpy.save or remove its sequence"
        ) from None
    vector = np.asarray(vector).ravel()
    if vector.size not in FRAME_SIZES:
        raise ImportFailure(
            f"{path}: {vector.size} values per frame match no accepted MP_Data layout ({SIZES_TEXT}); remedy: "
            "export keypoints in this order (extract_keypoints of the tutorial), "
            "or import (T, J, C) arrays with --layout"
        )
    if not np.all(np.isfinite(vector)):
        raise ImportFailure(f"{path}: NaN or infinite values; MP_Data marks a missing part with zeros")
    return vector


def read_sequence(folder: Path, action: str, name: str, fps: float) -> Recording:
    """One sequence folder as one recording (frames in numeric order, no gap allowed)."""
    files = [p for p in folder.glob("*.npy") if p.stem.isdigit()]
    if not files:
        raise ImportFailure(f"{folder}: no <frame>.npy file; remedy: remove the empty sequence folder")
    numbers = sorted(int(p.stem) for p in files)
    missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
    if missing:
        raise ImportFailure(
            f"{folder}: frame numbers {missing[:10]} missing of 0..{numbers[-1]}; "
            "remedy: re-record the sequence or remove its folder (or pass --skip-bad)"
        )
    vectors = [_load_frame(folder / f"{n}.npy") for n in numbers]
    if len({v.size for v in vectors}) > 1:
        raise ImportFailure(f"{folder}: frames of different sizes {sorted({v.size for v in vectors})}")
    coords = np.stack([frame_to_landmarks(v) for v in vectors])
    frames = np.arange(len(numbers), dtype=np.int64)
    return Recording(f"{name}-{action}-{folder.name}", action, coords, frames, frames / fps, str(folder))


def read_mpdata(src: Path, name: str, fps: float, skip_bad: bool) -> ImportResult:
    """Every sequence of every action folder; a broken one fails the import unless ``skip_bad``."""
    recordings, skipped = [], []
    files = 0
    for action_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        sequences = sorted((p for p in action_dir.iterdir() if p.is_dir()), key=lambda p: (len(p.name), p.name))
        if not sequences:
            skipped.append(
                f"{action_dir}: empty class folder (no sequence folder); remedy: remove it or add its sequences"
            )
            continue
        for seq in sequences:
            try:
                rec = read_sequence(seq, action_dir.name, name, fps)
            except ImportFailure as exc:
                if not skip_bad:
                    raise
                skipped.append(str(exc))
                continue
            files += len(rec)
            recordings.append(rec)
    structure = f"one per sequence folder, labelled by its action folder; timestamps at {fps:g} fps"
    return ImportResult(src, "MP_Data keypoint sequences", recordings, files, structure, skipped)
