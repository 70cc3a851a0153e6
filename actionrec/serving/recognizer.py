"""Frames in, smoothed action predictions out.

One frame goes: MediaPipe Holistic (created once) -> landmarks ->
:func:`actionrec.core.features.transform` (the model's own feature spec, as in training) -> the
classifier (per frame, or a sliding window of the last ``window`` frames for a sequence
model) -> smoothing (mean of the last ``k`` probability vectors) -> label; ``unknown`` where the
model's calibrated open-set decision says so (:meth:`~actionrec.models.predictors.Predictor.unknown`
on the smoothed probabilities: an action outside the label set), else ``uncertain`` below the
live threshold.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from actionrec.core.features import transform
from actionrec.core.manifests import LiveKind, LiveSettings
from actionrec.media.holistic import landmarks_from_results, make_holistic, pose_detected
from actionrec.models.openset import UNKNOWN
from actionrec.models.predictors import Predictor, load_predictor
from actionrec.serving.bundle import Bundle, BundleError, resolve_model
from actionrec.serving.fastforest import fast_predictor

UNCERTAIN = "uncertain"


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
        model: LiveKind | None = None,
        smoothing: int | None = None,
        threshold: float | None = None,
        *,
        holistic: Any | None = None,
    ) -> None:
        resolved = resolve_model(bundle_or_manifests, model)
        defaults = resolved.settings
        settings = LiveSettings(
            default_model=defaults.default_model,
            smoothing=defaults.smoothing if smoothing is None else smoothing,
            threshold=defaults.threshold if threshold is None else threshold,
        )
        manifest = resolved.manifest
        if manifest.kind not in ("frame", "sequence"):
            raise BundleError(f"{resolved.path}: a {manifest.kind!r} model cannot run on landmarks live")
        self.predictor: Predictor = fast_predictor(load_predictor(resolved.path))  # a forest: cheap proba
        self.manifest_path = resolved.path
        self.spec = self.predictor.features
        self.labels = self.predictor.labels.labels
        # A sequence model re-scores its window every `stride` frames, as its training windows
        # were spaced; in between, its last prediction holds (so its cost is shared by them).
        sequence = (manifest.window or 1, manifest.stride or 1)
        self.window, self.every = sequence if self.is_sequence else (1, 1)
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
            label=self._label(mean, best),
            probability=round(float(mean[best]), 4),
            probabilities={name: round(float(p), 4) for name, p in zip(self.labels, mean, strict=True)},
        )

    def _label(self, mean: np.ndarray, best: int) -> str:
        if self.predictor.unknown(mean)[0]:
            return UNKNOWN
        return self.labels[best] if mean[best] >= self.threshold else UNCERTAIN
