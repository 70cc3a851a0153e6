"""Held-out metrics at two levels: per sample (frame / window / clip) and per recording (clip)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from actionrec.core.labels import LabelMap


def clip_probabilities(proba: np.ndarray, clip_ids: list[str]) -> tuple[np.ndarray, list[str]]:
    """Mean class probabilities of the samples of each recording (first-seen order)."""
    order = list(dict.fromkeys(clip_ids))
    ids = np.asarray(clip_ids)
    return np.stack([proba[ids == c].mean(axis=0) for c in order]), order


def scores(y_true: np.ndarray, y_pred: np.ndarray, labels: LabelMap) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1 and support."""
    idx = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=idx, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=idx, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, name in enumerate(labels.labels)
        },
    }


def evaluate_predictions(proba: np.ndarray, y: np.ndarray, clip_ids: list[str], labels: LabelMap) -> dict:
    """Sample- and clip-level scores plus the clip-level predictions table."""
    clip_proba, clips = clip_probabilities(proba, clip_ids)
    first = {c: i for i, c in reversed(list(enumerate(clip_ids)))}
    clip_y = np.array([y[first[c]] for c in clips])
    clip_pred = clip_proba.argmax(axis=1)
    return {
        "sample": scores(y, proba.argmax(axis=1), labels),
        "clip": scores(clip_y, clip_pred, labels),
        "n_samples": int(len(y)),
        "n_clips": int(len(clips)),
        "samples": (proba, y, list(clip_ids)),
        "clip_proba": dict(zip(clips, clip_proba, strict=True)),
        "clip_y": dict(zip(clips, clip_y.tolist(), strict=True)),
        "predictions": pd.DataFrame(
            {
                "clip": clips,
                "actual": labels.decode(clip_y),
                "predicted": labels.decode(clip_pred),
                "probability": clip_proba.max(axis=1),
            }
        ),
    }


def fuse(results: list[dict], labels: LabelMap) -> dict:
    """Late fusion: the mean clip probabilities of several models' :func:`evaluate_predictions`
    results, scored on the clips all of them saw (each clip is one sample)."""
    clips = [c for c in results[0]["clip_proba"] if all(c in r["clip_proba"] for r in results[1:])]
    if not clips:
        raise ValueError("the fused models share no test clip")
    proba = np.stack([np.mean([r["clip_proba"][c] for r in results], axis=0) for c in clips])
    y = np.array([results[0]["clip_y"][c] for c in clips])
    return evaluate_predictions(proba, y, clips, labels)


def restrict(result: dict, clips: set[str], labels: LabelMap) -> dict:
    """An :func:`evaluate_predictions` result again, on the samples of ``clips`` only (a shared test set)."""
    proba, y, clip_ids = result["samples"]
    keep = np.isin(np.asarray(clip_ids, dtype=object), list(clips))
    return evaluate_predictions(proba[keep], y[keep], [c for c, k in zip(clip_ids, keep, strict=True) if k], labels)


def recording_set_id(clips: list[str]) -> str:
    """A short name for a set of test recordings: the same recordings <=> the same id."""
    return hashlib.md5("\n".join(sorted(clips)).encode()).hexdigest()[:8]


FLAT = ("sample_accuracy", "sample_macro_f1", "clip_accuracy", "clip_macro_f1")


def flat_scores(result: dict) -> dict[str, float]:
    """The four headline figures (:data:`FLAT`) of an :func:`evaluate_predictions` result."""
    return {f"{level}_{name}": result[level][name] for level, name in (k.split("_", 1) for k in FLAT)}
