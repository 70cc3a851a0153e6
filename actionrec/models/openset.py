"""Open set: "unknown" for actions outside the label set, from per-class probability thresholds.

A model's thresholds are calibrated on validation data it was not fitted on (train_classical: a
copy fitted on the split's ``train`` rows, scored on its ``val`` rows, which hold other groups):
for each class, the ``quantile`` of the winning probability over the validation samples
correctly given that class. A prediction whose winning probability is below its class's
threshold is "unknown"; the manifest stores the thresholds, so evaluation, the bundle, live and
the web app make the same decision (:meth:`actionrec.models.predictors.Predictor.unknown`).
"""

from __future__ import annotations

import numpy as np

UNKNOWN = "unknown"


def calibrate(proba: np.ndarray, y: np.ndarray, quantile: float) -> list[float]:
    """Per-class thresholds from validation probabilities ``(N, C)`` and true classes ``y``
    (a class without a correct validation sample gets 0: never unknown)."""
    best = proba.argmax(axis=1)
    out = []
    for c in range(proba.shape[1]):
        won = proba[(best == c) & (y == c), c]
        out.append(round(float(np.quantile(won, quantile)), 6) if len(won) else 0.0)
    return out


def unknown_mask(proba: np.ndarray, thresholds: list[float]) -> np.ndarray:
    """Whether each row of ``proba`` ``(N, C)`` falls below its winning class's threshold."""
    proba = np.atleast_2d(proba)
    best = proba.argmax(axis=1)
    return proba[np.arange(len(proba)), best] < np.asarray(thresholds)[best]
