"""The four seed scikit-learn pipelines, their pooled-window (incl. extremely randomised trees)
and appearance variants, built
from params.yaml, and their safe (skops) storage."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import skops.io as sio
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.ensemble import ExtraTreesClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from actionrec.core.features import FeatureSpec, PoolingSpec, pool, pool_statistics
from actionrec.core.io import write_bytes

if TYPE_CHECKING:  # params.py pulls in the pipeline's heavy modules; the live bundle has none
    from actionrec.config.params import ClassicalParams, ForestParams

# Types beyond skops' defaults that our own pipelines contain (tree node storage and our
# pooling steps), reviewed.
TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "actionrec.models.classical.TemporalPooling",
    "actionrec.models.classical.AppearancePooling",
]
APPEARANCE_MODEL = "appearance-rf"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
# The params.classical section of each model whose name is not its section.
PARAM_SECTIONS = {"pooled-lr": "lr", "pooled-rf": "pooled_rf", "pooled-et": "pooled_et", APPEARANCE_MODEL: "appearance"}


class TemporalPooling(TransformerMixin, BaseEstimator):
    """Flattened windows ``(N, window * F)`` -> :func:`actionrec.core.features.pool` of them under
    ``features`` (a FeatureSpec as JSON; empty: the original statistics, per-feature mean, std,
    min, max and mean absolute frame-to-frame change): how a pose moves, not just where it is."""

    def __init__(self, window: int = 30, features: str = ""):
        self.window = window
        self.features = features

    def fit(self, x: np.ndarray, y: np.ndarray | None = None) -> TemporalPooling:
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        w = np.asarray(x, dtype=np.float32).reshape(len(x), self.window, -1)
        features = getattr(self, "features", "")  # models saved before the option have none
        if not features:
            return pool_statistics(w, PoolingSpec())
        return pool(w, FeatureSpec.model_validate_json(features))


class AppearancePooling(TransformerMixin, BaseEstimator):
    """uint8 RGB clips ``(N, T, H, W, 3)`` -> what the scene looks like and where it moves:
    per-frame HSV colour histograms and 8x8 thumbnails (mean and std over time) and the
    motion-energy map (mean absolute frame difference, 16x16, normalised) with its mean.

    UCF101-style footage is recognised by its scene as much as by the pose; landmarks carry none
    of it, so this model is fused with a landmark model on the leaderboard (``evaluate.fusion``).
    """

    def fit(self, x: np.ndarray, y: np.ndarray | None = None) -> AppearancePooling:
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return np.stack([self._clip(np.asarray(clip, dtype=np.uint8)) for clip in x])

    @staticmethod
    def _clip(clip: np.ndarray) -> np.ndarray:
        import cv2  # only this step needs OpenCV; the package bundle ships it for live anyway

        hists = []
        for frame in clip:
            hsv = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2HSV)
            h = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
            hists.append(h / max(h.sum(), 1.0))
        hist = np.asarray(hists)
        thumbs = np.stack([cv2.resize(f, (8, 8), interpolation=cv2.INTER_AREA) for f in clip])
        thumbs = thumbs.reshape(len(clip), -1).astype(np.float32) / 255
        grey = clip.astype(np.float32).mean(axis=-1) / 255
        diff = np.abs(np.diff(grey, axis=0)) if len(clip) > 1 else np.zeros_like(grey)
        energy = cv2.resize(diff.mean(axis=0), (16, 16), interpolation=cv2.INTER_AREA).ravel()
        return np.concatenate([
            hist.mean(axis=0), hist.std(axis=0), thumbs.mean(axis=0), thumbs.std(axis=0),
            energy / (energy.sum() + 1e-6), [diff.mean()],
        ]).astype(np.float32)


def build_pipelines(params: ClassicalParams, seed: int) -> dict[str, Pipeline]:
    """StandardScaler + each seed classifier, hyper-parameters from params, seeded."""
    return {name: make_pipeline(StandardScaler(), est) for name, est in _estimators(params, seed).items()}


def build_pooled_pipelines(
    params: ClassicalParams, seed: int, window: int, features: FeatureSpec | None = None
) -> dict[str, Pipeline]:
    """TemporalPooling (under ``features``' pooling options; none: the original statistics) +
    StandardScaler + LogisticRegression (``classical.lr``) / a random forest (``classical.pooled_rf``:
    one sample per window, so it can afford more and deeper trees than the per-frame forest that
    runs live) / extremely randomised trees (``classical.pooled_et``)."""
    spec = features.model_dump_json() if features else ""

    def pooled(est: ClassifierMixin) -> Pipeline:
        return make_pipeline(TemporalPooling(window, spec), StandardScaler(), est)

    return {
        "pooled-lr": pooled(_estimators(params, seed)["lr"]),
        "pooled-rf": pooled(_forest(params.pooled_rf, seed)),
        "pooled-et": pooled(_forest(params.pooled_et, seed, ExtraTreesClassifier)),
    }


def classical_models(
    params: ClassicalParams, seed: int, features: FeatureSpec | None = None
) -> dict[str, tuple[str, Pipeline]]:
    """Every classical model train_classical fits: name -> (input kind, unfitted pipeline)."""
    models = {name: ("frame", pipe) for name, pipe in build_pipelines(params, seed).items()}
    pooled = build_pooled_pipelines(params, seed, params.pooled_window, features)
    models |= {name: ("sequence", pipe) for name, pipe in pooled.items()}
    models[APPEARANCE_MODEL] = ("clip", build_appearance_pipeline(params, seed))
    return models


def build_appearance_pipeline(params: ClassicalParams, seed: int) -> Pipeline:
    """AppearancePooling + a random forest of ``classical.appearance`` (``APPEARANCE_MODEL``)."""
    return make_pipeline(AppearancePooling(), _forest(params.appearance, seed))


def _forest(
    p: ForestParams, seed: int, cls: type[RandomForestClassifier | ExtraTreesClassifier] = RandomForestClassifier
) -> RandomForestClassifier | ExtraTreesClassifier:
    return cls(
        n_estimators=p.n_estimators, max_depth=p.max_depth, min_samples_leaf=p.min_samples_leaf,
        random_state=seed, n_jobs=1,
    )


def _estimators(params: ClassicalParams, seed: int) -> dict[str, ClassifierMixin]:
    return {
        "lr": LogisticRegression(C=params.lr.C, max_iter=params.lr.max_iter, random_state=seed),
        "ridge": RidgeClassifier(alpha=params.ridge.alpha),
        "rf": _forest(params.rf, seed),
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


def canonical_skops(data: bytes) -> bytes:
    """skops bytes with the ``id()``-based object ids and array file names renumbered in schema
    order and fixed zip timestamps, so the same fitted model always gives the same bytes (and
    DVC sees an unchanged model as unchanged)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    ids: dict[str, int] = {}

    def number(old: object) -> int:
        return ids.setdefault(str(old), len(ids))

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "__id__":
                    node[key] = number(value)
                elif key == "file":
                    stem, suffix = str(value).split(".", 1)
                    node[key] = f"{number(stem)}.{suffix}"
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    schema = json.loads(src.read("schema.json"))
    walk(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        dst.writestr(zipfile.ZipInfo("schema.json", _ZIP_EPOCH), json.dumps(schema, indent=2))
        for info in src.infolist():
            if info.filename == "schema.json":
                continue
            stem, suffix = info.filename.split(".", 1)
            entry = zipfile.ZipInfo(f"{number(stem)}.{suffix}", _ZIP_EPOCH)
            entry.compress_type = info.compress_type
            dst.writestr(entry, src.read(info))
    return out.getvalue()


def save_skops(model: Pipeline, path: Path) -> None:
    """Write a fitted pipeline with skops (not pickle), atomically and byte-reproducibly."""
    write_bytes(path, canonical_skops(sio.dumps(model)))


def load_skops(path: Path) -> Pipeline:
    """Load a pipeline written by ``save_skops``; types beyond ``TRUSTED_TYPES`` are refused."""
    return sio.load(path, trusted=TRUSTED_TYPES)
