"""The four seed scikit-learn pipelines, built from params.yaml, and their safe (skops) storage."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

if TYPE_CHECKING:  # params.py pulls in the pipeline's heavy modules; the live bundle has none
    from actionrec.params import ClassicalParams

# Types beyond skops' defaults that our own pipelines contain (tree node storage and our
# pooling step), reviewed.
TRUSTED_TYPES = ["sklearn.tree._tree.Tree", "actionrec.models.classical.TemporalPooling"]
POOLED_MODELS = ("lr", "rf")


class TemporalPooling(TransformerMixin, BaseEstimator):
    """Flattened windows ``(N, window * F)`` -> per-feature mean, std, min, max and the mean
    absolute frame-to-frame change ``(N, 5 * F)``: how a pose moves, not just where it is."""

    def __init__(self, window: int = 30):
        self.window = window

    def fit(self, x: np.ndarray, y: np.ndarray | None = None) -> "TemporalPooling":
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        w = np.asarray(x, dtype=np.float32).reshape(len(x), self.window, -1)
        motion = np.abs(np.diff(w, axis=1)).mean(axis=1)
        return np.concatenate([w.mean(axis=1), w.std(axis=1), w.min(axis=1), w.max(axis=1), motion], axis=1)


def pad_windows(windows: list[np.ndarray], window: int) -> np.ndarray:
    """Windows of at most ``window`` frames -> ``(N, window * F)``, short ones edge-padded."""
    out = [np.pad(w[:window], ((0, window - len(w[:window])), (0, 0)), mode="edge") for w in windows]
    return np.stack(out).reshape(len(windows), -1)


def build_pipelines(params: ClassicalParams, seed: int) -> dict[str, Pipeline]:
    """StandardScaler + each seed classifier, hyper-parameters from params, seeded."""
    return {name: make_pipeline(StandardScaler(), est) for name, est in _estimators(params, seed).items()}


def build_pooled_pipelines(params: ClassicalParams, seed: int, window: int) -> dict[str, Pipeline]:
    """TemporalPooling + StandardScaler + the classifiers of ``POOLED_MODELS`` (same params)."""
    estimators = _estimators(params, seed)
    return {
        f"pooled-{name}": make_pipeline(TemporalPooling(window), StandardScaler(), estimators[name])
        for name in POOLED_MODELS
    }


def _estimators(params: ClassicalParams, seed: int) -> dict[str, ClassifierMixin]:
    return {
        "lr": LogisticRegression(C=params.lr.C, max_iter=params.lr.max_iter, random_state=seed),
        "ridge": RidgeClassifier(alpha=params.ridge.alpha),
        "rf": RandomForestClassifier(
            n_estimators=params.rf.n_estimators,
            max_depth=params.rf.max_depth,
            min_samples_leaf=params.rf.min_samples_leaf,
            random_state=seed,
            n_jobs=1,
        ),
        "gb": GradientBoostingClassifier(
            n_estimators=params.gb.n_estimators,
            learning_rate=params.gb.learning_rate,
            max_depth=params.gb.max_depth,
            subsample=params.gb.subsample,
            random_state=seed,
        ),
    }


def predict_proba(model: Pipeline, x: np.ndarray) -> np.ndarray:
    """Class probabilities; RidgeClassifier has none, so its decision scores go through softmax."""
    if hasattr(model, "predict_proba"):
        return model.predict_proba(x)
    scores = model.decision_function(x)
    if scores.ndim == 1:
        scores = np.column_stack([-scores, scores])
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


def save_skops(model: Pipeline, path: Path) -> None:
    """Write a fitted pipeline with skops (not pickle), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        sio.dump(model, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_skops(path: Path) -> Pipeline:
    """Load a pipeline written by ``save_skops``; types beyond ``TRUSTED_TYPES`` are refused."""
    return sio.load(path, trusted=TRUSTED_TYPES)
