"""The served forest's cheap predict_proba (actionrec.serving.fastforest) gives scikit-learn's
probabilities, on pooled (sequence: forest, extra trees) and plain (frame) pipelines (its speed:
benchmarks/bench_live.py)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from actionrec.models.classical import TemporalPooling
from actionrec.serving.fastforest import FastForestPipeline


def _data(rng: np.random.Generator, n: int, f: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, f)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int) + (x[:, 2] > 1).astype(int)
    return x, y


def test_same_probabilities_as_sklearn() -> None:
    rng = np.random.default_rng(0)
    for pipe, f in (
        (make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=40, random_state=0)), 12),
        (
            make_pipeline(
                TemporalPooling(5), StandardScaler(), RandomForestClassifier(60, max_depth=9, random_state=1)
            ),
            5 * 6,
        ),
        (
            make_pipeline(TemporalPooling(5), StandardScaler(), ExtraTreesClassifier(50, random_state=2)),
            5 * 6,
        ),
    ):
        x, y = _data(rng, 400, f)
        pipe.fit(x, y)
        fast = FastForestPipeline(pipe)
        test = rng.normal(size=(50, f)).astype(np.float32)
        np.testing.assert_allclose(fast.predict_proba(test), pipe.predict_proba(test), rtol=0, atol=1e-12)
