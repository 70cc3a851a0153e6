"""Offline predictions over a whole video file (the web app's inference), with the very
recognizer the live loop runs."""

from __future__ import annotations

import math
from pathlib import Path

from actionrec.core.manifests import LiveKind
from actionrec.media.video import iter_frames, video_fps
from actionrec.serving.bundle import Bundle
from actionrec.serving.capture import FALLBACK_FPS
from actionrec.serving.recognizer import Prediction, Recognizer


def predict_video(
    path: Path | str,
    bundle: Bundle,
    model: LiveKind | None = None,
    stride: int = 1,
    *,
    smoothing: int | None = None,
    threshold: float | None = None,
) -> list[Prediction]:
    """Offline predictions over a whole video file (every ``stride``-th frame, no drops).

    A sequence model on a video shorter than its window gives one prediction from the padded
    window. Raises :class:`~actionrec.media.video.VideoError` for an unreadable file.
    """
    fps = video_fps(path)
    fps = fps if math.isfinite(fps) else FALLBACK_FPS
    with Recognizer(bundle, model, smoothing, threshold) as rec:
        preds = [
            pred
            for index, rgb in iter_frames(path, stride=stride)
            if (pred := rec.process(rgb, index, index / fps)[1]) is not None
        ]
        tail = rec.flush()
    return preds + ([tail] if tail is not None else [])
