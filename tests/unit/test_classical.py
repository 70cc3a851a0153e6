"""The four scikit-learn pipelines: built from params, calibrated outputs, safe skops storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from actionrec.config.params import ClassicalParams, load_params
from actionrec.core.labels import LabelMap
from actionrec.models.classical import (
    APPEARANCE_MODEL,
    PARAM_SECTIONS,
    build_appearance_pipeline,
    build_pipelines,
    build_pooled_pipelines,
    load_skops,
    predict_proba,
    save_skops,
)

REPO_CLASSICAL = load_params(Path(__file__).resolve().parents[2] / "params.yaml").classical.model_dump()
SMALL = ClassicalParams.model_validate(
    {
        **REPO_CLASSICAL,
        "lr": {"C": 0.5, "max_iter": 300},
        "ridge": {"alpha": 2.5},
        "rf": {"n_estimators": 12, "max_depth": 4, "min_samples_leaf": 3},
        "gb": {"n_estimators": 8, "learning_rate": 0.2, "max_depth": 2, "subsample": 0.7},
    }
)


def blobs(n_classes: int, n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    x = rng.normal(size=(n, 6))
    x[np.arange(n), y] += 3.0  # one direction per class (no masking for one-vs-rest ridge)
    return x.astype(np.float32), y


def double(x):  # a custom function: skops must not load it without being told to trust it
    return x * 2


def test_build_pipelines_from_params() -> None:
    pipes = build_pipelines(SMALL, seed=123)
    assert set(pipes) == {"lr", "ridge", "rf", "gb"}
    kinds = {
        "lr": LogisticRegression,
        "ridge": RidgeClassifier,
        "rf": RandomForestClassifier,
        "gb": GradientBoostingClassifier,
    }
    for name, pipe in pipes.items():
        assert isinstance(pipe, Pipeline) and len(pipe.steps) == 2
        assert isinstance(pipe.steps[0][1], StandardScaler)
        assert type(pipe.steps[1][1]) is kinds[name]
    lr, ridge, rf, gb = (pipes[n].steps[-1][1] for n in ("lr", "ridge", "rf", "gb"))
    assert (lr.C, lr.max_iter, lr.random_state) == (0.5, 300, 123)
    assert ridge.alpha == 2.5
    assert (rf.n_estimators, rf.max_depth, rf.min_samples_leaf, rf.random_state) == (12, 4, 3, 123)
    assert (gb.n_estimators, gb.learning_rate, gb.max_depth, gb.subsample, gb.random_state) == (8, 0.2, 2, 0.7, 123)


def test_pooled_and_appearance_forests_have_their_own_params() -> None:
    forest = {"max_depth": None, "min_samples_leaf": 1}
    params = ClassicalParams.model_validate(
        {
            **SMALL.model_dump(),
            "pooled_rf": {**forest, "n_estimators": 7},
            "pooled_et": {**forest, "n_estimators": 5},
            "appearance": {**forest, "n_estimators": 9},
        }
    )
    pooled = build_pooled_pipelines(params, seed=1, window=4)
    assert pooled["pooled-rf"].steps[-1][1].n_estimators == 7
    assert type(pooled["pooled-et"].steps[-1][1]).__name__ == "ExtraTreesClassifier"
    assert pooled["pooled-et"].steps[-1][1].n_estimators == 5
    assert pooled["pooled-lr"].steps[-1][1].C == SMALL.lr.C
    assert build_appearance_pipeline(params, seed=1).steps[-1][1].n_estimators == 9
    for name in [*pooled, APPEARANCE_MODEL]:
        assert hasattr(params, PARAM_SECTIONS[name]), name  # where train_classical logs its params from


def test_build_pipelines_returns_fresh_estimators() -> None:
    a, b = build_pipelines(SMALL, 0), build_pipelines(SMALL, 0)
    assert a["rf"] is not b["rf"] and a["rf"].steps[-1][1] is not b["rf"].steps[-1][1]


def test_same_seed_same_model() -> None:
    x, y = blobs(3)
    p1 = build_pipelines(SMALL, 5)["rf"].fit(x, y)
    p2 = build_pipelines(SMALL, 5)["rf"].fit(x, y)
    np.testing.assert_array_equal(p1.predict_proba(x), p2.predict_proba(x))


@pytest.mark.parametrize("n_classes", [2, 4])
def test_predict_proba_rows_sum_to_one(n_classes: int) -> None:
    x, y = blobs(n_classes)
    for name, pipe in build_pipelines(SMALL, 0).items():
        pipe.fit(x, y)
        proba = predict_proba(pipe, x)
        assert proba.shape == (len(x), n_classes), name
        assert (proba >= 0).all() and (proba <= 1).all(), name
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6, err_msg=name)
        # the most probable class is the predicted class
        np.testing.assert_array_equal(proba.argmax(axis=1), pipe.predict(x), err_msg=name)
        assert (proba.argmax(axis=1) == y).mean() > 0.6, name


def test_ridge_has_no_predict_proba_but_gets_softmax_scores() -> None:
    x, y = blobs(2)
    ridge = build_pipelines(SMALL, 0)["ridge"].fit(x, y)
    assert not hasattr(ridge, "predict_proba")
    proba = predict_proba(ridge, x)
    scores = ridge.decision_function(x)
    # binary: the second column grows with the decision score
    order = np.argsort(scores)
    assert np.all(np.diff(proba[order, 1]) >= -1e-12)


@pytest.mark.parametrize("name", ["lr", "ridge", "rf", "gb"])
def test_skops_round_trip_identical(tmp_path: Path, name: str) -> None:
    x, y = blobs(3)
    pipe = build_pipelines(SMALL, 0)[name].fit(x, y)
    path = tmp_path / "nested" / f"{name}.skops"
    save_skops(pipe, path)
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left
    loaded = load_skops(path)
    np.testing.assert_array_equal(loaded.predict(x), pipe.predict(x))
    np.testing.assert_array_equal(predict_proba(loaded, x), predict_proba(pipe, x))


def test_skops_bytes_are_reproducible(tmp_path: Path) -> None:
    """Two identical fits (different Python object ids) give byte-identical files."""
    x, y = blobs(3)
    for i in range(2):
        save_skops(build_pipelines(SMALL, 7)["rf"].fit(x, y), tmp_path / f"rf{i}.skops")
    assert (tmp_path / "rf0.skops").read_bytes() == (tmp_path / "rf1.skops").read_bytes()


def test_skops_file_is_not_a_pickle(tmp_path: Path) -> None:
    x, y = blobs(2)
    path = tmp_path / "lr.skops"
    save_skops(build_pipelines(SMALL, 0)["lr"].fit(x, y), path)
    assert path.read_bytes()[:2] == b"PK"  # a zip archive with a JSON schema


def test_load_skops_refuses_unexpected_types(tmp_path: Path) -> None:
    x, y = blobs(2)
    evil = make_pipeline(FunctionTransformer(double), LogisticRegression()).fit(x, y)
    path = tmp_path / "evil.skops"
    sio.dump(evil, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert any("double" in t for t in untrusted)
    with pytest.raises(Exception, match="double") as err:
        load_skops(path)
    assert "untrusted" in type(err.value).__name__.lower() or "trust" in str(err.value).lower()


def test_save_skops_overwrites_atomically(tmp_path: Path) -> None:
    x, y = blobs(2)
    path = tmp_path / "m.skops"
    path.write_bytes(b"old")
    save_skops(build_pipelines(SMALL, 0)["ridge"].fit(x, y), path)
    assert load_skops(path).predict(x).shape == (len(x),)


# --------------------------------------------------------------------------- label map


def test_label_map_round_trip_and_unknown_labels() -> None:
    labels = LabelMap(["Nod", "Shake", "Tilt"])
    assert len(labels) == 3
    codes = labels.encode(["Tilt", "Nod", "Tilt"])
    assert codes.dtype == np.int64 and list(codes) == [2, 0, 2]
    assert labels.decode(codes) == ["Tilt", "Nod", "Tilt"]
    assert labels.decode(np.array([1])) == ["Shake"]
    with pytest.raises(ValueError, match=r"train: labels \['Wave'\] are not in data\.labels"):
        labels.encode(["Nod", "Wave"], source="train")
