"""Calibrating a pooled model's "unknown" threshold (training side; serving needs only
:mod:`actionrec.models.openset`).

A validation split of a few clips per class gives too few in-set scores for a quantile, so the
scores are out-of-fold: the training windows are split by group (actor / recording session) into
at most ``MAX_FOLDS`` folds; a copy of the pipeline fitted on the other folds scores each fold.
Every training window then has a score from a model that never saw its group, and the threshold
is the ``1 - quantile`` quantile of those scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from actionrec.config.params import OpenSetParams
from actionrec.core.manifests import OpenSet
from actionrec.models.classical import predict_proba
from actionrec.models.openset import max_prob_score
from actionrec.models.openset_decision import from_scores

MAX_FOLDS = 5


def fold_ids(groups: np.ndarray, max_folds: int = MAX_FOLDS) -> np.ndarray:
    """Each sample's fold: its group's rank (sorted groups) modulo ``min(max_folds, n_groups)``."""
    names, rank = np.unique(np.asarray(groups), return_inverse=True)
    return rank % min(max_folds, len(names))


def out_of_fold_scores(pipe: Any, x: np.ndarray, y: np.ndarray, groups: np.ndarray, n_labels: int) -> np.ndarray:
    """``max_prob`` score of every sample from a copy of ``pipe`` fitted on the other folds."""
    from sklearn.base import clone

    folds = fold_ids(groups)
    scores = np.empty(len(x))
    for f in np.unique(folds):
        held = folds == f
        fitted = clone(pipe).fit(x[~held], y[~held])
        proba = np.zeros((int(held.sum()), n_labels))
        proba[:, fitted.classes_.astype(int)] = predict_proba(fitted, x[held])
        scores[held] = max_prob_score(proba)
    return scores


def calibrate_open_set(
    params: OpenSetParams, pipe: Any, x: np.ndarray, y: np.ndarray, groups: np.ndarray, n_labels: int
) -> OpenSet | None:
    """The manifest's open-set decision for ``pipe`` trained on ``(x, y)`` (None: score off, or
    fewer than two groups to score out of fold)."""
    if params.score is None or len(np.unique(groups)) < 2:
        return None
    scores = out_of_fold_scores(pipe, x, y, groups, n_labels)
    n_folds = len(np.unique(fold_ids(groups)))
    return from_scores(params, scores, f"out-of-fold scores of {len(x)} training windows ({n_folds} folds by group)")
