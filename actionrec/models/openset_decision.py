"""The manifest's open-set decision from in-set scores (training side), one builder for both
calibrations: the pooled models' out-of-fold scores (:mod:`actionrec.models.openset_fit`) and the
torch sequence models' validation windows (:func:`actionrec.training.torch_runs.validation_open_set`).
Neither scikit-learn nor torch: each caller's stage imports only its own."""

from __future__ import annotations

import numpy as np

from actionrec.config.params import OpenSetParams
from actionrec.core.manifests import OpenSet
from actionrec.models.openset import threshold


def from_scores(params: OpenSetParams, scores: np.ndarray, calibrated_on: str) -> OpenSet:
    """``params.score``'s decision with the threshold that calls ``params.quantile`` of the in-set
    ``scores`` unknown (``params.score`` must be set)."""
    if params.score is None:
        raise ValueError("open_set.score is empty (off): there is no decision to calibrate")
    return OpenSet(
        score=params.score,
        threshold=threshold(scores, params.quantile),
        quantile=params.quantile,
        calibrated_on=calibrated_on,
    )
