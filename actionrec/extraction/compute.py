"""One clip's cache entry: MediaPipe landmarks or a resized frame clip, computed in a worker.

A worker (:class:`ClipWorker`) holds ONE Holistic for its lifetime and calls ``reset()``
before every clip. ``reset()`` restarts the graph, dropping the tracking state, so results
are bit-identical to a fresh Holistic per clip (checked) at ~35 ms instead of ~230 ms per
clip. Without it, a clip starts from the previous clip's tracked ROI and landmarks differ.
Deterministic failures (``decode_error``, ``too_short``, ``no_person``) are entries too.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from actionrec.config.extraction import ClipParams, ExtractParams, Params
from actionrec.core.schema import Part, part_slice
from actionrec.extraction.cache import Kind
from actionrec.media.holistic import landmarks_from_results, make_holistic
from actionrec.media.video import (
    VideoError,
    count_frames,
    iter_frames,
    iter_indexed_frames,
    read_clip,
    sample_indices,
    video_fps,
)

__all__ = ["ClipWorker", "Failure", "extract_video_landmarks", "prepare_worker_process", "unexpected_failure"]

log = logging.getLogger(__name__)

Failure = tuple[str, str] | None
"""``None``, or ``(status, message)`` of an unexpected (so uncached) failure."""

# MediaPipe's native info/warning lines (absl/glog, TFLite), printed at every graph start.
_NATIVE_LOG = re.compile(
    rb"^(?:[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\]|WARNING: All log messages before absl::"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate)"
)


def extract_video_landmarks(path: Path, params: ExtractParams, holistic: Any) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks ``(T, 543, 4)`` float32 and source frame indices ``(T,)`` int32 of one clip.

    ``holistic`` is reset first, so no tracking state leaks in from a previous clip.
    Raises :class:`VideoError` when the clip cannot be decoded.
    """
    holistic.reset()
    if params.sampling == "uniform":
        assert params.max_frames is not None  # ExtractParams refuses uniform sampling without it
        frames = iter_indexed_frames(path, sample_indices(count_frames(path), params.max_frames))
    else:
        frames = iter_frames(path, stride=params.stride, max_frames=params.max_frames)
    coords, index = [], []
    for i, frame in frames:
        coords.append(landmarks_from_results(holistic.process(frame)))
        index.append(i)
    return np.stack(coords), np.asarray(index, np.int32)


def _failure(status: str, problem: str, n_frames: int) -> dict[str, np.ndarray]:
    return {"status": np.array(status), "problem": np.array(problem), "n_frames": np.array(n_frames)}


def _landmark_entry(path: Path, params: ExtractParams, holistic: Any) -> dict[str, np.ndarray]:
    try:
        coords, frame_index = extract_video_landmarks(path, params, holistic)
        fps = video_fps(path)
    except VideoError as exc:
        return _failure("decode_error", exc.problem, 0)
    n = len(frame_index)
    if n < params.min_frames:
        return _failure("too_short", f"{n} frame(s) sampled, fewer than min_frames={params.min_frames}", n)
    if not np.any(~np.isnan(coords[:, part_slice(Part.POSE).start, 0])):
        return _failure("no_person", f"no person detected in any of {n} sampled frames", n)
    return {"coords": coords, "frame_index": frame_index, "fps": np.array(fps)}


def _clip_entry(path: Path, params: ClipParams) -> dict[str, np.ndarray]:
    try:
        n_total = count_frames(path)
        if n_total < params.min_frames:
            return _failure("too_short", f"{n_total} frame(s), fewer than min_frames={params.min_frames}", n_total)
        frames = read_clip(path, params.n_frames, (params.size, params.size), n_total=n_total)
        fps = video_fps(path)
    except VideoError as exc:
        return _failure("decode_error", exc.problem, 0)
    frame_index = sample_indices(n_total, params.n_frames).astype(np.int32)
    return {"frames": frames, "frame_index": frame_index, "fps": np.array(fps)}


@dataclass
class ClipWorker:
    """Parsed params of one kind and, for landmarks, this worker's one Holistic."""

    kind: Kind
    params: Params
    holistic: Any = None

    @classmethod
    def create(cls, kind: Kind, params_json: str) -> ClipWorker:
        if kind == "landmarks":
            params = ExtractParams.model_validate_json(params_json)
            return cls(kind, params, make_holistic(params))
        return cls(kind, ClipParams.model_validate_json(params_json))

    def entry(self, path: Path) -> dict[str, np.ndarray]:
        """The cache entry of one clip (any executor)."""
        if isinstance(self.params, ExtractParams):  # kind "landmarks"
            return _landmark_entry(path, self.params, self.holistic)
        return _clip_entry(path, self.params)

    def close(self) -> None:
        if self.holistic is not None:
            self.holistic.close()


def unexpected_failure(shown: str, exc: Exception) -> Failure:
    """Log an unexpected exception of one clip and turn it into its ``("error", message)``."""
    log.exception("extraction failed for %s", shown)
    return "error", f"{shown}: unexpected {type(exc).__name__}: {exc}"


def _filter_native_logs() -> None:
    """Drop MediaPipe's native info/warning lines from this (worker) process's stderr.

    They bypass Python and cannot be switched off (mediapipe#5737), so fd 2 goes through a
    pipe whose reader forwards every other line (errors, Python tracebacks) unchanged.
    """
    read_fd, write_fd = os.pipe()
    original = os.dup(2)
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def pump() -> None:
        with os.fdopen(read_fd, "rb") as src, os.fdopen(original, "wb", buffering=0) as dst:
            for line in src:
                if not _NATIVE_LOG.match(line):
                    dst.write(line)

    threading.Thread(target=pump, name="stderr-filter", daemon=True).start()


def prepare_worker_process() -> None:
    """Once per worker process: filter MediaPipe's native log lines, one OpenCV thread
    (the processes already fill the cores)."""
    _filter_native_logs()
    cv2.setNumThreads(1)
