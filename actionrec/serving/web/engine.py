"""Warm inference for the web app: ``workers`` slots, each with its own MediaPipe Holistic and a
:class:`~actionrec.serving.recognizer.Recognizer` per model of the bundle, all loaded and run
once at start-up. A request takes a free slot (or waits in line for one; past ``max_queue``
waiting it is refused with 503), so requests run in parallel up to ``workers``.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actionrec.core.manifests import LiveKind
from actionrec.media.holistic import make_holistic
from actionrec.media.video import iter_frames, video_fps
from actionrec.serving.capture import FALLBACK_FPS
from actionrec.serving.recognizer import Prediction, Recognizer


class Busy(Exception):
    """Every slot is busy and the line is full."""


@dataclass(frozen=True)
class Run:
    """One video through a recognizer: its predictions and what the frames held."""

    predictions: list[Prediction]
    frames: int  # decoded
    person_frames: int
    window: int  # the model's window (1 for a frame model)
    fps: float  # the container's, or the fallback
    seconds: float  # decoding + inference
    waited: float  # in line for a slot


class Slot:
    """One Holistic and a recognizer per model kind, used by one request at a time."""

    def __init__(self, bundle: Path, kinds: Iterable[LiveKind]) -> None:
        self.holistic = make_holistic()
        self.recognizers = {kind: Recognizer(bundle, kind, holistic=self.holistic) for kind in kinds}
        self._warm()

    def _warm(self) -> None:
        """Run MediaPipe (a blank frame) and every model (random landmarks) once, then forget them."""
        self.holistic.process(np.zeros((240, 320, 3), np.uint8))
        rng = np.random.default_rng(0)
        for rec in self.recognizers.values():
            for i in range(rec.window):
                rec.update(rng.uniform(0.2, 0.8, (543, 4)).astype(np.float32), i, i / FALLBACK_FPS)
            rec.reset()

    def run(self, video: Path, kind: LiveKind) -> tuple[list[Prediction], int, int, int, float]:
        """Predictions, frames, frames with a person, window, fps (VideoError: unreadable)."""
        rec = self.recognizers[kind]
        rec.reset()
        fps = video_fps(video)
        fps = fps if math.isfinite(fps) else FALLBACK_FPS
        frames, missing = rec.frames, rec.frames_without_person
        preds = [p for index, rgb in iter_frames(video) if (p := rec.process(rgb, index, index / fps)[1]) is not None]
        n = rec.frames - frames
        return preds, n, n - (rec.frames_without_person - missing), rec.window, fps

    def close(self) -> None:
        self.holistic.close()


class Engine:
    """The slots and the line in front of them (see the module docstring)."""

    def __init__(self, bundle: Path, kinds: Iterable[LiveKind], workers: int, max_queue: int) -> None:
        if workers < 1 or max_queue < 0:
            raise ValueError(f"workers must be >= 1 and max_queue >= 0, got {workers} and {max_queue}")
        kinds = list(kinds)
        self.workers, self.max_queue = workers, max_queue
        self._free: queue.Queue[Slot] = queue.Queue()
        for _ in range(workers):
            self._free.put(Slot(bundle, kinds))
        self._lock = threading.Lock()
        self._waiting = 0

    @contextmanager
    def _slot(self) -> Iterator[tuple[Slot, float]]:
        start = time.perf_counter()
        with self._lock:
            if self._free.empty() and self._waiting >= self.max_queue:
                raise Busy(f"all {self.workers} workers are busy and {self._waiting} requests are waiting")
            self._waiting += 1
        try:
            slot = self._free.get()
        finally:
            with self._lock:
                self._waiting -= 1
        try:
            yield slot, time.perf_counter() - start
        finally:
            self._free.put(slot)

    def predict(self, video: Path, kind: LiveKind) -> Run:
        """``video`` through the ``kind`` model of a free slot (Busy when the line is full)."""
        with self._slot() as (slot, waited):
            start = time.perf_counter()
            preds, frames, person, window, fps = slot.run(video, kind)
            return Run(preds, frames, person, window, fps, time.perf_counter() - start, waited)

    def status(self) -> dict[str, int]:
        with self._lock:
            return {"workers": self.workers, "free": self._free.qsize(), "waiting": self._waiting}

    def close(self) -> None:
        while not self._free.empty():
            self._free.get().close()
