"""The in-memory unit of data: one recording session (a webcam session or a video clip)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from actionrec.core.schema import Layout


@dataclass
class Recording:
    """Landmarks of one recording: a session of a CSV file or one extracted video clip.

    ``coords`` is float32 ``(frames, landmarks, 4)`` (x, y, z, visibility), NaN where a part
    was not detected. ``group`` is what a leak-free split keeps together: the subject when
    known (UCF101 group, Weizmann actor, ``subject_id`` column), else the session itself.
    """

    session_id: str
    label: str
    coords: np.ndarray
    frames: np.ndarray
    timestamps: np.ndarray
    source: str
    subject_id: str | None = None

    @property
    def layout(self) -> Layout:
        return Layout.from_n_landmarks(self.coords.shape[1])

    @property
    def group(self) -> str:
        return self.subject_id if self.subject_id else self.session_id

    def __len__(self) -> int:
        return int(self.coords.shape[0])
