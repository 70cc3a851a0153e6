"""Real-time action recognition from a webcam, a video file or a stream.

One frame goes: capture thread -> MediaPipe Holistic (created once) -> landmarks ->
:func:`actionrec.core.features.transform` (the model's own feature spec, as in training) -> the
classifier (per frame, or a sliding window of the last ``window`` frames for a sequence
model) -> smoothing (mean of the last ``k`` probability vectors) -> label, or ``uncertain``
below the threshold.

:class:`FrameSource` never queues frames: its capture thread keeps only the newest one (a
one-slot buffer), so slow inference drops frames instead of falling behind. A video file is
read losslessly by default (every frame, in order: deterministic results); ``realtime=True``
plays it at its frame rate like a camera.

Light on purpose (the live bundle vendors it): numpy, OpenCV, MediaPipe, pydantic and the
model libraries behind :mod:`actionrec.models.predictors`; no pandas, MLflow, DVC or plotting.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, Field, ValidationError

from actionrec.core.features import transform
from actionrec.media.holistic import (
    landmarks_from_results,
    make_holistic,
    pose_connections,
    pose_detected,
)
from actionrec.models.predictors import Predictor, load_predictor, read_manifest
from actionrec.core.schema import Part, part_slice
from actionrec.media.video import VideoError, iter_frames, video_fps, write_video

__all__ = [
    "UNCERTAIN",
    "BundleError",
    "Frame",
    "FrameSource",
    "LiveSettings",
    "Prediction",
    "RateMeter",
    "Recognizer",
    "build_parser",
    "draw_overlay",
    "main",
    "parse_source",
    "predict_video",
    "require_display",
    "resolve_model",
    "run",
    "stop_on_signals",
]

log = logging.getLogger(__name__)

UNCERTAIN = "uncertain"
FALLBACK_FPS = 25.0  # when a container or camera does not report its frame rate
WINDOW_TITLE = "actionrec live (q quits)"
LiveModel = Literal["frame", "sequence"]
Source = int | str | Path
Bundle = Path | str | Mapping[str, Path | str]


class BundleError(Exception):
    """A live bundle or model manifest that is missing or unusable; the message says why."""


# ---------------------------------------------------------------- bundle and model manifests


class LiveSettings(BaseModel, extra="forbid"):
    """``live`` section of a bundle manifest: defaults for :class:`Recognizer`."""

    default_model: LiveModel = "frame"
    smoothing: int = Field(5, ge=1)
    threshold: float = Field(0.5, ge=0.0, le=1.0)


class BundleManifest(BaseModel, extra="ignore"):
    """``<bundle>/manifest.json``: model manifests (relative to the bundle) and live settings."""

    labels: list[str] = Field(min_length=1)
    models: dict[str, str]
    live: LiveSettings = LiveSettings()


def _bundle_model(manifest_path: Path, model: str | None) -> tuple[Path, LiveSettings]:
    try:
        bundle = BundleManifest.model_validate(read_manifest(manifest_path))
    except (ValueError, ValidationError) as exc:
        raise BundleError(f"{manifest_path}: not a valid bundle manifest: {exc}") from None
    name = model or bundle.live.default_model
    if name not in bundle.models:
        raise BundleError(
            f"{manifest_path}: no {name!r} model in the bundle (has {sorted(bundle.models)})"
        )
    return manifest_path.parent / bundle.models[name], bundle.live


def resolve_model(bundle: Bundle, model: str | None = None) -> tuple[Path, LiveSettings]:
    """The model manifest to load and the live defaults.

    ``bundle`` is a bundle directory (``manifest.json`` inside), a bundle manifest, a model
    manifest (``models/classical/gb.json``) or a mapping ``{"frame": path, "sequence": path}``.
    ``model`` picks ``frame`` or ``sequence`` (default: the bundle's ``live.default_model``).
    """
    if isinstance(bundle, Mapping):
        name = model or "frame"
        if name not in bundle:
            raise BundleError(f"no {name!r} model among {sorted(bundle)}")
        return Path(bundle[name]), LiveSettings()
    path = Path(bundle)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise BundleError(
            f"{path}: no such live bundle; build it with `dvc repro` (the package stage "
            "writes models/package), or pass a model manifest such as models/classical/gb.json"
        )
    try:
        manifest = read_manifest(path)
    except ValueError as exc:
        raise BundleError(f"{path}: not valid JSON: {exc}") from None
    if "models" in manifest:
        return _bundle_model(path, model)
    if model is not None and manifest.get("kind") != model:
        raise BundleError(f"{path}: a {manifest.get('kind')!r} model, not {model!r}")
    return path, LiveSettings()


# ---------------------------------------------------------------- predictions


@dataclass(frozen=True)
class Prediction:
    """A smoothed prediction for one frame (``time`` in seconds of the source)."""

    time: float
    frame: int
    label: str
    probability: float
    probabilities: dict[str, float]

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class Recognizer:
    """Frames in, smoothed :class:`Prediction` out (see the module docstring).

    Frames without a person give no prediction and are counted in ``frames_without_person``.
    For a sequence model they still enter the window (as zeros with the part flags off,
    exactly as in training, where windows are runs of consecutive frames).
    """

    def __init__(
        self,
        bundle_or_manifests: Bundle,
        model: LiveModel | None = None,
        smoothing: int | None = None,
        threshold: float | None = None,
        *,
        holistic: Any | None = None,
    ) -> None:
        manifest, defaults = resolve_model(bundle_or_manifests, model)
        settings = LiveSettings(
            default_model=defaults.default_model,
            smoothing=defaults.smoothing if smoothing is None else smoothing,
            threshold=defaults.threshold if threshold is None else threshold,
        )
        self.predictor: Predictor = load_predictor(manifest)
        if self.predictor.kind not in ("frame", "sequence"):
            raise BundleError(
                f"{manifest}: a {self.predictor.kind!r} model cannot run on landmarks live"
            )
        self.manifest_path = manifest
        self.spec = self.predictor.features
        self.labels = self.predictor.labels.labels
        self.window = int(self.predictor.manifest["window"]) if self.is_sequence else 1
        # A sequence model re-scores its window every `stride` frames, as its training windows
        # were spaced; in between, its last prediction holds (so its cost is shared by them).
        self.every = int(self.predictor.manifest.get("stride", 1)) if self.is_sequence else 1
        self._held: Prediction | None = None
        self.smoothing, self.threshold = settings.smoothing, settings.threshold
        self._features: deque[np.ndarray] = deque(maxlen=self.window)
        self._probs: deque[np.ndarray] = deque(maxlen=self.smoothing)
        self._own_holistic = holistic is None
        self._holistic = make_holistic() if holistic is None else holistic
        self.frames = self.frames_without_person = self.predictions = 0
        self._last: tuple[int, float] = (-1, 0.0)
        self._person = False

    @property
    def is_sequence(self) -> bool:
        return self.predictor.kind == "sequence"

    @property
    def name(self) -> str:
        return f"{self.predictor.name} ({self.predictor.kind})"

    def detect(self, frame_rgb: np.ndarray) -> np.ndarray:
        """Landmarks ``(543, 4)`` of an RGB frame (NaN for undetected parts)."""
        return landmarks_from_results(self._holistic.process(frame_rgb))

    def process(self, frame_rgb: np.ndarray, frame: int, t: float) -> tuple[np.ndarray, Prediction | None]:
        """Landmarks of an RGB frame and the prediction they give (or None)."""
        landmarks = self.detect(frame_rgb)
        return landmarks, self.update(landmarks, frame, t)

    def update(self, landmarks: np.ndarray, frame: int, t: float) -> Prediction | None:
        """The prediction for one landmark frame (None: no person, or the window not full)."""
        self.frames += 1
        self._last = (frame, t)
        self._person = pose_detected(landmarks)
        if not self._person:
            self.frames_without_person += 1
            self._held = None
            if self.is_sequence:
                self._features.append(self._transform(landmarks))
            return None
        feats = self._transform(landmarks)
        if not self.is_sequence:
            return self._smoothed(self.predictor.predict_proba(feats[None])[0], frame, t)
        self._features.append(feats)
        if len(self._features) < self.window:
            return None
        if self._held is not None and frame - self._held.frame < self.every:
            return replace(self._held, time=round(float(t), 4), frame=int(frame))
        self._held = self._smoothed(self._window_proba(), frame, t)
        return self._held

    def flush(self) -> Prediction | None:
        """A sequence model's prediction from a window that never filled (a source shorter
        than ``window`` frames): padded with ``length`` as in training. None otherwise."""
        if not self.is_sequence or self.predictions or not self._features:
            return None
        return self._smoothed(self._window_proba(), *self._last)

    def status(self) -> str:
        """Why the last frame gave no prediction: ``no person`` or ``collecting n/window``."""
        if not self._person:
            return "no person"
        if self.is_sequence and len(self._features) < self.window:
            return f"collecting {len(self._features)}/{self.window}"
        return ""

    def reset(self) -> None:
        """Forget the window, the smoothing history and Holistic's tracking state."""
        self._features.clear()
        self._probs.clear()
        self._held = None
        self._holistic.reset()

    def close(self) -> None:
        if self._own_holistic:
            self._holistic.close()

    def __enter__(self) -> Recognizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transform(self, landmarks: np.ndarray) -> np.ndarray:
        return transform(landmarks[None], self.spec, str(self.manifest_path))[0]

    def _window_proba(self) -> np.ndarray:
        return self.predictor.predict_proba([np.stack(self._features)])[0]

    def _smoothed(self, proba: np.ndarray, frame: int, t: float) -> Prediction:
        self._probs.append(np.asarray(proba, dtype=np.float64))
        mean = np.mean(self._probs, axis=0)
        best = int(np.argmax(mean))
        self.predictions += 1
        return Prediction(
            time=round(float(t), 4),
            frame=int(frame),
            label=self.labels[best] if mean[best] >= self.threshold else UNCERTAIN,
            probability=round(float(mean[best]), 4),
            probabilities={name: round(float(p), 4) for name, p in zip(self.labels, mean)},
        )


# ---------------------------------------------------------------- capture


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
        span = self._times[-1] - self._first if self.count > 1 else 0.0
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
        if is_file and not Path(source).is_file():
            raise VideoError(source, "no such file")
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


# ---------------------------------------------------------------- overlay

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


# ---------------------------------------------------------------- running


def require_display() -> None:
    """Fail early (instead of Qt aborting the process) when a window cannot be shown."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise ValueError("no display (DISPLAY is not set): run with --headless")


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT/SIGTERM (a second signal raises KeyboardInterrupt), so loops
    can finish the current frame and close cleanly. Outside the main thread: never set."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("%s: stopping after the current frame", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@dataclass
class _Stats:
    processed: int = 0
    max_lag_frames: int = 0
    labels: Counter = field(default_factory=Counter)
    durations: deque = field(default_factory=lambda: deque(maxlen=30))
    busy_s: float = 0.0

    @property
    def inference_fps(self) -> float:
        return len(self.durations) / sum(self.durations) if self.durations else 0.0


def _live_frames(
    src: FrameSource,
    rec: Recognizer,
    stats: _Stats,
    stop: threading.Event,
    *,
    headless: bool,
    draw: bool,
    max_frames: int | None,
) -> Iterator[np.ndarray]:
    """Process frames until the end, ``max_frames``, ``stop`` or q; yield annotated frames."""
    while max_frames is None or stats.processed < max_frames:
        frame = src.read(stop)
        if frame is None or stop.is_set():
            break
        stats.max_lag_frames = max(stats.max_lag_frames, src.captured - 1 - frame.index)
        start = time.perf_counter()
        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
        landmarks, pred = rec.process(rgb, frame.index, frame.time)
        elapsed = time.perf_counter() - start
        stats.durations.append(elapsed)
        stats.busy_s += elapsed
        stats.processed += 1
        if pred is not None:
            stats.labels[pred.label] += 1
            if headless:
                print(pred.to_json(), flush=True)
        if not draw:
            continue
        image = draw_overlay(
            frame.image, landmarks, pred, src.capture_fps, stats.inference_fps, banner=rec.status()
        )
        if not headless:
            cv2.imshow(WINDOW_TITLE, image)
            if cv2.waitKey(1) & 0xFF == ord("q"):
                break
        yield image


def run(
    source: Source,
    bundle: Bundle,
    *,
    model: LiveModel | None = None,
    headless: bool = False,
    output: Path | None = None,
    smoothing: int | None = None,
    threshold: float | None = None,
    max_frames: int | None = None,
    realtime: bool | None = None,
) -> dict[str, Any]:
    """Recognise actions on ``source`` until it ends, ``max_frames``, q or Ctrl-C.

    Window mode shows the annotated frames; ``headless`` prints one JSON line per prediction
    to stdout instead. ``output`` also writes the annotated video (mp4v, atomically).
    Returns a summary: frame counts (captured, dropped, processed, without a person),
    predictions per label, FPS figures and the worst lag behind the newest captured frame.
    """
    if not headless:
        require_display()
    with FrameSource(source, realtime=realtime) as src, Recognizer(
        bundle, model, smoothing, threshold
    ) as rec, stop_on_signals() as stop:
        stats = _Stats()
        draw = not headless or output is not None
        frames = _live_frames(
            src, rec, stats, stop, headless=headless, draw=draw, max_frames=max_frames
        )
        try:
            if output is not None:
                rgb = (cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames)
                write_video(output, rgb, src.fps)
            else:
                for _ in frames:
                    pass
        finally:
            if not headless:
                cv2.destroyAllWindows()
        return {
            "source": src.name,
            "model": rec.name,
            "frames": stats.processed,
            "captured": src.captured,
            "dropped": src.dropped,
            "frames_without_person": rec.frames_without_person,
            "predictions": dict(stats.labels),
            "capture_fps": round(src.mean_capture_fps, 2),
            "inference_fps": round(stats.processed / stats.busy_s, 2) if stats.busy_s else 0.0,
            "max_lag_frames": stats.max_lag_frames,
            "output": str(output) if output is not None else None,
        }


def predict_video(
    path: Path | str,
    bundle: Bundle,
    model: LiveModel | None = None,
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


# ---------------------------------------------------------------- command line


def parse_source(text: str) -> Source:
    """``0`` -> webcam 0; anything else is a video file or a stream URL."""
    return int(text) if text.isdigit() else text


def build_parser(prog: str = "live.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Recognise actions live from a webcam, a video file or a stream. Window "
        "mode shows the annotated video (q quits); --headless prints one JSON line per "
        "prediction on stdout (logs go to stderr).",
    )
    parser.add_argument(
        "--source", type=parse_source, default=0,
        help="webcam index (default 0), a video file or a stream URL (rtsp://, http://)",
    )
    parser.add_argument(
        "--bundle", type=Path, default=Path("models/package"),
        help="live bundle directory (default models/package, written by the package stage of "
        "`dvc repro`), or one model manifest such as models/classical/gb.json",
    )
    parser.add_argument(
        "--model", choices=("frame", "sequence"),
        help="the bundle's per-frame or sliding-window model (default: its live.default_model)",
    )
    parser.add_argument(
        "--headless", action="store_true",
        help="no window; one JSON line per prediction on stdout: time, frame, label, "
        "probability, probabilities",
    )
    parser.add_argument("--output", type=Path, help="also write the annotated video (mp4v), e.g. out.mp4")
    parser.add_argument(
        "--smoothing", type=int,
        help="average the last N probability vectors (default: the bundle's, else 5)",
    )
    parser.add_argument(
        "--threshold", type=float,
        help=f"below this smoothed probability the label is '{UNCERTAIN}' (default: the bundle's, else 0.5)",
    )
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N processed frames")
    parser.add_argument(
        "--realtime", action=argparse.BooleanOptionalAction,
        help="video files: play at the file's frame rate and drop frames when inference is "
        "slower, like a camera (default: every frame in order, deterministic)",
    )
    return parser


def _summary_text(summary: dict[str, Any]) -> str:
    labels = ", ".join(f"{k} {v}" for k, v in sorted(summary["predictions"].items())) or "none"
    lines = [
        f"{summary['source']} with {summary['model']}: {summary['frames']} frames processed "
        f"({summary['captured']} captured, {summary['dropped']} dropped, "
        f"{summary['frames_without_person']} without a person)",
        f"predictions: {labels}",
        f"capture {summary['capture_fps']} fps, inference {summary['inference_fps']} fps",
    ]
    if summary["output"]:
        lines.append(f"annotated video: {summary['output']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "live.py") -> int:
    """Command-line entry point (``actionrec live`` and the bundle's ``live.py``)."""
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = run(
            args.source, args.bundle, model=args.model, headless=args.headless,
            output=args.output, smoothing=args.smoothing, threshold=args.threshold,
            max_frames=args.max_frames, realtime=args.realtime,
        )
    except (BundleError, VideoError, ValueError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.headless:
        log.info("summary: %s", json.dumps(summary))
    else:
        print(_summary_text(summary))
    return 0
