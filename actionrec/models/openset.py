"""Open set: "unknown" for actions outside the label set, from a score calibrated on validation data.

The score is ``max_prob``: 1 - the winning probability (higher = less like the training data),
with ONE threshold pooled over all classes. The threshold is the ``1 - quantile`` quantile of the in-set validation scores: about ``quantile``
of in-set samples are called "unknown", whatever the classes. Manifests written before these
scores carry ``class_prob``: per-class thresholds on the winning probability (below -> unknown).
The manifest stores what the decision needs, so evaluation, the bundle, live and the web app make
the same one (:meth:`actionrec.models.predictors.Predictor.unknown`). Numpy only: served code.
"""

from __future__ import annotations

import numpy as np

UNKNOWN = "unknown"


def max_prob_score(proba: np.ndarray) -> np.ndarray:
    """1 - the winning probability of each row of ``proba`` ``(N, C)``."""
    return 1.0 - np.atleast_2d(proba).max(axis=1)


def threshold(scores: np.ndarray, quantile: float) -> float:
    """The score above which a sample is "unknown": the ``1 - quantile`` quantile of in-set
    validation ``scores`` (``quantile`` 0: the largest in-set score)."""
    return round(float(np.quantile(np.asarray(scores, dtype=np.float64), 1.0 - quantile)), 6)


def calibrate(proba: np.ndarray, y: np.ndarray, quantile: float) -> list[float]:
    """``class_prob`` thresholds: per class, the ``quantile`` of the winning probability over the
    validation samples ``(N, C)`` correctly given that class (none correct: 0, never unknown)."""
    best = proba.argmax(axis=1)
    out = []
    for c in range(proba.shape[1]):
        won = proba[(best == c) & (y == c), c]
        out.append(round(float(np.quantile(won, quantile)), 6) if len(won) else 0.0)
    return out


def unknown_mask(proba: np.ndarray, thresholds: list[float]) -> np.ndarray:
    """``class_prob``: whether each row of ``proba`` falls below its winning class's threshold."""
    proba = np.atleast_2d(proba)
    best = proba.argmax(axis=1)
    return proba[np.arange(len(proba)), best] < np.asarray(thresholds)[best]
