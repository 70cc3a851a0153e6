"""Annotated frames: landmarks, the action banner and the FPS figures drawn with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np

from actionrec.core.schema import Part, part_slice
from actionrec.media.holistic import pose_connections
from actionrec.serving.recognizer import UNCERTAIN, Prediction

_FACE_STEP = 6  # draw every 6th of the 468 face points
_GREEN, _ORANGE, _GREY, _WHITE = (60, 200, 60), (0, 165, 255), (160, 160, 160), (255, 255, 255)


def _pixels(landmarks: np.ndarray, part: Part, width: int, height: int) -> np.ndarray:
    """Pixel coordinates of a part's landmarks; rows of an undetected part are NaN."""
    return landmarks[part_slice(part), :2] * (width, height)


def _points(image: np.ndarray, xy: np.ndarray, radius: int, color: tuple[int, int, int]) -> None:
    for x, y in xy[np.isfinite(xy).all(axis=1)].astype(np.int32):
        cv2.circle(image, (int(x), int(y)), radius, color, -1, cv2.LINE_AA)


def _skeleton(image: np.ndarray, pose: np.ndarray) -> None:
    ok = np.isfinite(pose).all(axis=1)
    for a, b in pose_connections():
        if ok[a] and ok[b]:
            pa, pb = pose[a].astype(np.int32), pose[b].astype(np.int32)
            cv2.line(image, (int(pa[0]), int(pa[1])), (int(pb[0]), int(pb[1])), _WHITE, 2, cv2.LINE_AA)
    _points(image, pose, 3, _GREEN)


def _strip(image: np.ndarray, text: str, top: bool, scale: float, color: tuple[int, int, int]) -> None:
    """``text`` on a black strip across the top or bottom, shrunk to fit the width."""
    height, width = image.shape[:2]
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    if w > width - 12:
        scale *= (width - 12) / w
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    y0 = 0 if top else height - h - base - 8
    cv2.rectangle(image, (0, y0), (width, y0 + h + base + 8), (0, 0, 0), -1)
    cv2.putText(image, text, (6, y0 + h + 4), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def draw_overlay(
    frame_bgr: np.ndarray,
    landmarks: np.ndarray,
    prediction: Prediction | None,
    capture_fps: float,
    inference_fps: float,
    *,
    banner: str | None = None,
) -> np.ndarray:
    """Draw landmarks, the action banner and both FPS figures onto ``frame_bgr`` (in place).

    The banner shows ``prediction`` (label and probability), else ``banner`` (e.g. ``no
    person``). Returns ``frame_bgr``.
    """
    height, width = frame_bgr.shape[:2]
    _skeleton(frame_bgr, _pixels(landmarks, Part.POSE, width, height))
    face = _pixels(landmarks, Part.FACE, width, height)[::_FACE_STEP]
    _points(frame_bgr, face, 1, _GREY)
    for hand in (Part.LEFT_HAND, Part.RIGHT_HAND):
        _points(frame_bgr, _pixels(landmarks, hand, width, height), 2, _ORANGE)
    scale = max(0.4, width / 800)
    if prediction is not None:
        text = f"{prediction.label} {prediction.probability:.0%}"
        color = _ORANGE if prediction.label == UNCERTAIN else _GREEN
    else:
        text, color = banner or "", _GREY
    _strip(frame_bgr, text, True, scale * 1.6, color)
    fps = f"capture {capture_fps:.1f} fps | inference {inference_fps:.1f} fps"
    _strip(frame_bgr, fps, False, scale, _WHITE)
    return frame_bgr
