"""Frames from a camera, a video file or a stream, read by a capture thread.

:class:`FrameSource` never queues frames: its capture thread keeps only the newest one (a
one-slot buffer), so slow inference drops frames instead of falling behind. A video file is
read losslessly by default (every frame, in order: deterministic results); ``realtime=True``
plays it at its frame rate like a camera.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from actionrec.media.video import VideoError

log = logging.getLogger(__name__)

FALLBACK_FPS = 25.0  # when a container or camera does not report its frame rate
Source = int | str | Path


def parse_source(text: str) -> Source:
    """``0`` -> webcam 0; anything else is a video file or a stream URL."""
    return int(text) if text.isdigit() else text


class RateMeter:
    """Events per second: over the last ``window`` events (``rate``) and overall (``mean``)."""

    def __init__(self, window: int = 30) -> None:
        self._times: deque[float] = deque(maxlen=window)
        self._first: float | None = None
        self.count = 0

    def tick(self, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        self._first = now if self._first is None else self._first
        self._times.append(now)
        self.count += 1

    @property
    def rate(self) -> float:
        span = self._times[-1] - self._times[0] if len(self._times) > 1 else 0.0
        return (len(self._times) - 1) / span if span > 0 else 0.0

    @property
    def mean(self) -> float:
        span = self._times[-1] - self._first if self.count > 1 and self._first is not None else 0.0
        return (self.count - 1) / span if span > 0 else 0.0


@dataclass(frozen=True)
class Frame:
    """A captured frame: ``index`` counts every frame the source produced (dropped ones too);
    ``time`` is its position in a file, or seconds since a camera/stream opened."""

    index: int
    time: float
    image: np.ndarray  # BGR uint8, as OpenCV decodes it


def _describe(source: Source) -> str:
    return f"camera {source}" if isinstance(source, int) else str(source)


class FrameSource:
    """A camera index, a video file or a stream URL, read by a capture thread.

    The thread publishes into a one-slot buffer. In real-time mode (cameras and streams,
    or a file with ``realtime=True``, played at its frame rate) a frame not taken before the
    next one arrives is dropped and counted; otherwise (files, by default) the thread waits
    for the consumer, so every frame is delivered in order.
    """

    def __init__(self, source: Source, *, realtime: bool | None = None) -> None:
        self.name = _describe(source)
        is_file = not isinstance(source, int) and "://" not in str(source)
        if is_file and not Path(str(source)).is_file():
            raise VideoError(str(source), "no such file")
        if realtime is False and not is_file:
            raise ValueError(f"{self.name}: realtime=False (lossless) needs a video file")
        self.realtime = (not is_file) if realtime is None else realtime
        self._cap = cv2.VideoCapture(source if isinstance(source, int) else str(source))
        if not self._cap.isOpened():
            self._cap.release()
            raise VideoError(self.name, "cannot be opened (no such camera, bad URL or container)")
        fps = float(self._cap.get(cv2.CAP_PROP_FPS))
        self.fps = fps if math.isfinite(fps) and 0 < fps < 1000 else FALLBACK_FPS
        self._is_file = is_file
        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._ended = self._closing = False
        self._error: BaseException | None = None
        self.captured = self.dropped = 0
        self._meter = RateMeter()
        self._thread = threading.Thread(target=self._capture, name="frame-capture", daemon=True)

    @property
    def capture_fps(self) -> float:
        """Frames captured per second, over the last 30 frames."""
        return self._meter.rate

    @property
    def mean_capture_fps(self) -> float:
        return self._meter.mean

    def read(self, stop: threading.Event | None = None) -> Frame | None:
        """The newest frame not yet read; None at the end of the source or once ``stop`` is set.

        The first call starts the capture thread (so a file's real-time clock starts then).
        Raises the capture thread's error, if it failed.
        """
        if self._thread.ident is None:
            self._thread.start()
        with self._cond:
            while self._slot is None and not self._ended:
                if stop is not None and stop.is_set():
                    return None
                self._cond.wait(0.1)
            if self._error is not None:
                raise self._error
            frame, self._slot = self._slot, None
            self._cond.notify_all()
            return frame

    def close(self) -> None:
        """Stop the capture thread (it releases the device)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread.ident is None:
            self._cap.release()
            return
        self._thread.join(timeout=5)
        if self._thread.is_alive():
            log.warning("%s: capture thread still blocked in read after 5 s", self.name)

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _capture(self) -> None:
        start = time.perf_counter()
        try:
            while not self._closing:
                ok, image = self._cap.read()
                if not ok:
                    break
                index = self.captured
                if self.realtime and self._is_file:  # play the file at its frame rate
                    delay = start + index / self.fps - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                t = index / self.fps if self._is_file else time.perf_counter() - start
                self._publish(Frame(index, t, image))
        except BaseException as exc:  # surfaced by read()
            self._error = exc
        finally:
            self._cap.release()
            with self._cond:
                self._ended = True
                self._cond.notify_all()

    def _publish(self, frame: Frame) -> None:
        with self._cond:
            while not self.realtime and self._slot is not None and not self._closing:
                self._cond.wait()
            if self._slot is not None:
                self.dropped += 1
            self._slot = frame
            self.captured += 1
            self._meter.tick()
            self._cond.notify_all()
