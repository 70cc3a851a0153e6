"""Video decoding, uniform frame sampling, resizing and writing (OpenCV).

Frames are always RGB ``uint8`` arrays ``(H, W, 3)``. Decoding streams: no function holds a
whole video in memory, and frame counts come from reading to the end, because
``CAP_PROP_FRAME_COUNT`` can be wrong or negative.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from actionrec.core.io import atomic_path

__all__ = [
    "VideoError",
    "count_frames",
    "iter_frames",
    "iter_indexed_frames",
    "read_clip",
    "sample_indices",
    "video_fps",
    "write_video",
]


class VideoError(Exception):
    """A video that is missing, cannot be opened or decodes no frames."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@contextmanager
def _capture(path: str | os.PathLike) -> Iterator[cv2.VideoCapture]:
    """An opened ``VideoCapture`` that is always released."""
    p = Path(path)
    if not p.is_file():
        raise VideoError(p, "no such file" if not p.exists() else "not a regular file")
    if p.stat().st_size == 0:
        raise VideoError(p, "empty file (0 bytes)")
    cap = cv2.VideoCapture(str(p))
    try:
        if not cap.isOpened():
            raise VideoError(p, "cannot be opened as a video (unknown or corrupt container)")
        yield cap
    finally:
        cap.release()


def _no_frames(path: str | os.PathLike) -> VideoError:
    return VideoError(path, "decodes zero frames (corrupt or unsupported codec)")


def iter_frames(
    path: str | os.PathLike, stride: int = 1, max_frames: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame index, RGB frame)`` for every ``stride``-th frame, at most ``max_frames``.

    Raises :class:`VideoError` if the file is missing, cannot be opened or yields no frame.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    with _capture(path) as cap:
        index = yielded = 0
        while max_frames is None or yielded < max_frames:
            if index % stride:
                ok = cap.grab()
            else:
                ok, bgr = cap.read()
                if ok:
                    yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                    yielded += 1
            if not ok:
                break
            index += 1
        if index == 0 and yielded == 0:
            raise _no_frames(path)


def count_frames(path: str | os.PathLike) -> int:
    """Number of frames, counted by grabbing to the end (never zero: raises instead)."""
    with _capture(path) as cap:
        n = 0
        while cap.grab():
            n += 1
    if n == 0:
        raise _no_frames(path)
    return n


def video_fps(path: str | os.PathLike) -> float:
    """Frame rate from the container, or ``nan`` when the container does not say."""
    with _capture(path) as cap:
        fps = float(cap.get(cv2.CAP_PROP_FPS))
    return fps if np.isfinite(fps) and fps > 0 else float("nan")


def sample_indices(n_total: int, n: int) -> np.ndarray:
    """``n`` frame indices spread uniformly over ``n_total`` frames (segment centres).

    When ``n > n_total`` frames repeat evenly, e.g. ``(3, 6) -> [0 0 1 1 2 2]``.
    """
    if n_total < 1 or n < 1:
        raise ValueError(f"need n_total >= 1 and n >= 1, got n_total={n_total}, n={n}")
    return ((np.arange(n) + 0.5) * n_total / n).astype(np.int64)


def iter_indexed_frames(path: str | os.PathLike, indices: Iterable[int]) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame index, RGB frame)`` for each distinct index in ``indices``, in order.

    Frames in between are grabbed, not decoded. Raises :class:`VideoError` when the video ends
    before the last index or a wanted frame cannot be decoded.
    """
    wanted = {int(i) for i in indices}
    if not wanted:
        return
    last = max(wanted)
    with _capture(path) as cap:
        for index in range(last + 1):
            if not cap.grab():
                raise VideoError(path, f"ended at frame {index} while re-reading (expected {last + 1})")
            if index in wanted:
                ok, bgr = cap.retrieve()
                if not ok:
                    raise VideoError(path, f"frame {index} cannot be decoded")
                yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_clip(path: str | os.PathLike, n_frames: int, size: tuple[int, int], n_total: int | None = None) -> np.ndarray:
    """``n_frames`` RGB frames sampled uniformly over the whole clip, resized to ``size``.

    ``size`` is ``(width, height)`` as in OpenCV; the result is ``uint8 (n_frames, H, W, 3)``.
    Two passes: count the frames (skipped when ``n_total`` is given), then decode only the
    sampled ones (:func:`sample_indices`).
    """
    width, height = size
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive (width, height), got {size}")
    wanted = sample_indices(count_frames(path) if n_total is None else n_total, n_frames)
    out = np.empty((n_frames, height, width, 3), np.uint8)
    for index, rgb in iter_indexed_frames(path, wanted):
        out[wanted == index] = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    return out


def write_video(path: str | os.PathLike, frames_rgb: Iterable[np.ndarray], fps: float, fourcc: str = "mp4v") -> Path:
    """Write RGB ``uint8`` frames to ``path`` atomically (temp file + ``os.replace``).

    The container follows the suffix (``.avi``, ``.mp4``). ``mp4v`` is the default codec
    because OpenCV's wheels cannot encode H.264.
    """
    path = Path(path)
    with atomic_path(path) as tmp:  # keeps the suffix: OpenCV picks the container by it
        _write_frames(str(tmp), path, frames_rgb, fps, fourcc)
    return path


def _write_frames(tmp_name: str, path: Path, frames_rgb: Iterable[np.ndarray], fps: float, fourcc: str) -> None:
    writer: cv2.VideoWriter | None = None
    shape: tuple[int, ...] | None = None
    try:
        for i, frame in enumerate(frames_rgb):
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"frame {i} must be uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
            if writer is None:
                shape = frame.shape
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(tmp_name, cv2.VideoWriter.fourcc(*fourcc), fps, size)
                if not writer.isOpened():
                    raise VideoError(path, f"cannot open a {fourcc!r} writer at {fps} fps, size {size}")
            elif frame.shape != shape:
                raise ValueError(f"frame {i} has shape {frame.shape}, expected {shape}")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if writer is None:
            raise ValueError(f"no frames to write to {path}")
        writer.release()
        writer = None
    finally:
        if writer is not None:
            writer.release()
