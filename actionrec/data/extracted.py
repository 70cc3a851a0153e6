"""The read side of an extracted clip's ``.npz`` (written by :mod:`actionrec.extraction`).

Landmark npz: ``coords`` (T, 543, 4) float32, ``frame_index`` (T,) int32, ``fps``.
Clip npz: ``frames`` (n_frames, size, size, 3) uint8 RGB, ``frame_index``, ``fps``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from actionrec.core.recording import Recording

__all__ = ["recording_from_npz"]


def recording_from_npz(path: Path, label: str, group: str | None) -> Recording:
    """A :class:`Recording` from an extracted landmark npz (session = clip stem, subject = group).

    Timestamps are ``frame_index / fps`` in seconds (NaN when the container gave no fps).
    """
    path = Path(path)
    with np.load(path) as data:
        coords = data["coords"].astype(np.float32, copy=False)
        frames = data["frame_index"].astype(np.int64)
        fps = float(data["fps"])
    return Recording(
        session_id=path.stem,
        label=label,
        coords=coords,
        frames=frames,
        timestamps=frames / fps if fps > 0 else np.full(len(frames), np.nan),
        source=str(path),
        subject_id=group,
    )
