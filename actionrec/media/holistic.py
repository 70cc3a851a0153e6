"""MediaPipe Holistic -> landmark arrays: the light part shared by extraction, live and recording.

Imports only numpy and :mod:`actionrec.core.schema` at module level (MediaPipe is imported when a
Holistic is created), so the live-inference bundle can vendor it. A landmark frame is float32
``(543, 4)`` in file order (pose, face, left hand, right hand; see :mod:`actionrec.core.schema`)
with NaN for every part that was not detected.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import numpy as np

from actionrec.core.schema import Part, part_slice

__all__ = [
    "N_LANDMARKS",
    "DetectionConfidence",
    "HolisticConfig",
    "detection_rates",
    "landmarks_from_results",
    "make_holistic",
    "pose_connections",
    "pose_detected",
]

N_LANDMARKS = sum(part_slice(p).stop - part_slice(p).start for p in Part)
_RESULT_FIELDS = {
    Part.POSE: "pose_landmarks",
    Part.FACE: "face_landmarks",
    Part.LEFT_HAND: "left_hand_landmarks",
    Part.RIGHT_HAND: "right_hand_landmarks",
}


class DetectionConfidence(Protocol):
    """Anything with Holistic's two thresholds (e.g. ``config.extraction.ExtractParams``)."""

    @property
    def min_detection_confidence(self) -> float: ...

    @property
    def min_tracking_confidence(self) -> float: ...


@dataclass(frozen=True)
class HolisticConfig:
    """Holistic thresholds for callers without extraction params (live, recording)."""

    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


def make_holistic(params: DetectionConfidence = HolisticConfig()) -> Any:
    """A video-mode Holistic (``model_complexity=1``: the only one bundled offline).

    Feed it RGB frames; call ``reset()`` between unrelated videos and ``close()`` at the end.
    """
    import mediapipe as mp  # deferred: ~1 s import, only callers that detect need it

    return mp.solutions.holistic.Holistic(
        static_image_mode=False,
        model_complexity=1,
        smooth_landmarks=True,
        min_detection_confidence=params.min_detection_confidence,
        min_tracking_confidence=params.min_tracking_confidence,
    )


def landmarks_from_results(results: Any) -> np.ndarray:
    """float32 ``(543, 4)`` from a Holistic result: pose x, y, z, visibility; face and hands
    x, y, z with visibility 1.0; NaN for every part that was not detected."""
    out = np.full((N_LANDMARKS, 4), np.nan, np.float32)
    for part, field in _RESULT_FIELDS.items():
        found = getattr(results, field)
        if found is None:
            continue
        vis = part is Part.POSE
        out[part_slice(part)] = [(p.x, p.y, p.z, p.visibility if vis else 1.0) for p in found.landmark]
    return out


def pose_detected(landmarks: np.ndarray) -> bool:
    """Whether a landmark frame ``(543, 4)`` holds a pose, i.e. a person."""
    return not np.isnan(landmarks[part_slice(Part.POSE).start, 0])


def detection_rates(coords: np.ndarray) -> dict[Part, float]:
    """Fraction of frames of ``coords`` ``(T, 543, 4)`` in which each part was detected."""
    return {p: float(np.mean(~np.isnan(coords[:, part_slice(p).start, 0]))) for p in Part}


@cache
def pose_connections() -> tuple[tuple[int, int], ...]:
    """MediaPipe's pose skeleton as sorted ``(start, end)`` landmark index pairs."""
    import mediapipe as mp

    return tuple(sorted(mp.solutions.holistic.POSE_CONNECTIONS))
