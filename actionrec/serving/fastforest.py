"""A cheaper ``predict_proba`` for a served random forest or extra-trees ensemble: live predicts one sample at a time,
where scikit-learn's per-tree Python loop costs milliseconds. The trees are packed into arrays
once and walked for all trees together, level by level, with numpy; the arithmetic is
scikit-learn's (float32 inputs compared with float64 thresholds, each tree's leaf values
normalised, tree sums in tree order, divided by the tree count), so the probabilities are the
same (tests/unit/test_fastforest.py). Other models are served unchanged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from actionrec.models.predictors import Predictor


class PackedForest:
    """The trees of a fitted ``RandomForestClassifier`` or ``ExtraTreesClassifier`` (single output)
    as arrays ``(trees, nodes)``."""

    def __init__(self, forest: Any) -> None:
        trees = [est.tree_ for est in forest.estimators_]
        n_nodes = max(t.node_count for t in trees)
        n_classes = int(forest.n_classes_)
        shape = (len(trees), n_nodes)
        self.feature = np.zeros(shape, np.intp)
        self.threshold = np.zeros(shape, np.float64)
        self.child = np.zeros((2, *shape), np.intp)  # left, right; a leaf points at itself
        self.value = np.zeros((*shape, n_classes), np.float64)
        for i, t in enumerate(trees):
            n = t.node_count
            leaf = t.children_left[:n] == -1
            own = np.arange(n)
            self.feature[i, :n] = np.where(leaf, 0, t.feature[:n])
            self.threshold[i, :n] = t.threshold[:n]
            self.child[0, i, :n] = np.where(leaf, own, t.children_left[:n])
            self.child[1, i, :n] = np.where(leaf, own, t.children_right[:n])
            value = t.value[:n, 0, :n_classes].astype(np.float64)
            norm = value.sum(axis=1, keepdims=True)
            self.value[i, :n] = value / np.where(norm == 0, 1.0, norm)
        self.depth = max(int(t.max_depth) for t in trees)
        self.rows = np.arange(len(trees))

    def proba_one(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n_classes,)`` of one sample ``(n_features,)``."""
        x = np.asarray(x, np.float32).astype(np.float64)
        node = np.zeros(len(self.rows), np.intp)
        for _ in range(self.depth):
            right = x[self.feature[self.rows, node]] > self.threshold[self.rows, node]
            node = self.child[right.astype(np.intp), self.rows, node]
        leaves = self.value[self.rows, node]
        return np.cumsum(leaves, axis=0)[-1] / len(self.rows)  # summed in tree order, as sklearn does


class FastForestPipeline:
    """A fitted pipeline ending in a forest, with the forest's proba from :class:`PackedForest`."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.classes_ = pipeline.classes_
        self.packed = PackedForest(pipeline[-1])

    def predict_proba(self, x: Any) -> np.ndarray:
        z = self.pipeline[:-1].transform(x) if len(self.pipeline) > 1 else np.asarray(x)
        return np.stack([self.packed.proba_one(row) for row in np.asarray(z)])


def fast_predictor(predictor: Predictor) -> Predictor:
    """``predictor`` with a :class:`FastForestPipeline` where its model is a scikit-learn pipeline
    ending in a single-output ``RandomForestClassifier`` or ``ExtraTreesClassifier`` (the same
    trees and the same averaging); unchanged otherwise."""
    model = predictor.model
    if not predictor.is_sklearn or not hasattr(model, "steps"):
        return predictor
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

    forest = model[-1]
    if type(forest) not in (RandomForestClassifier, ExtraTreesClassifier) or getattr(forest, "n_outputs_", 1) != 1:
        return predictor
    return replace(predictor, model=FastForestPipeline(model))
