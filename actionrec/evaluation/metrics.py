"""Held-out metrics at two levels: per sample (frame / window / clip) and per recording (clip)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support  # noqa: E402

from actionrec.core.labels import LabelMap  # noqa: E402


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
            {"clip": clips, "actual": labels.decode(clip_y), "predicted": labels.decode(clip_pred),
             "probability": clip_proba.max(axis=1)}
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


def plot_confusion(actual: list[str], predicted: list[str], labels: LabelMap, title: str, path: Path) -> None:
    """A confusion-matrix PNG with counts in the cells."""
    cm = confusion_matrix(actual, predicted, labels=labels.labels)
    n = len(labels)
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * n, 1.0 + 0.6 * n))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(n), labels.labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def restrict(result: dict, clips: set[str], labels: LabelMap) -> dict:
    """An :func:`evaluate_predictions` result again, on the samples of ``clips`` only (a shared test set)."""
    proba, y, clip_ids = result["samples"]
    keep = np.isin(np.asarray(clip_ids, dtype=object), list(clips))
    return evaluate_predictions(proba[keep], y[keep], [c for c, k in zip(clip_ids, keep) if k], labels)


def recording_set_id(clips: list[str]) -> str:
    """A short name for a set of test recordings: the same recordings <=> the same id."""
    return hashlib.md5("\n".join(sorted(clips)).encode()).hexdigest()[:8]


FLAT = ("sample_accuracy", "sample_macro_f1", "clip_accuracy", "clip_macro_f1")


def flat_scores(result: dict) -> dict[str, float]:
    """The four headline figures (:data:`FLAT`) of an :func:`evaluate_predictions` result."""
    return {f"{level}_{name}": result[level][name] for level, name in (k.split("_", 1) for k in FLAT)}


def score_tables(results: dict[str, dict], kinds: dict[str, str], labels: LabelMap) -> tuple[dict, list[dict], list[dict]]:
    """Every model's figures on its own test recordings and on those that every model scores.

    Returns ``(metrics, own, common)``: ``metrics[model]`` is its reports/metrics.json entry (own
    figures, ``n_samples``, ``n_clips``, ``test_set`` and, when the models share recordings,
    ``common``: the figures on the shared ones); ``own`` and ``common`` are leaderboard rows."""
    shared = set.intersection(*(set(r["clip_proba"]) for r in results.values())) if results else set()
    shared_id = recording_set_id(sorted(shared))
    metrics, own, common = {}, [], []
    for key, result in results.items():
        flat, set_id = flat_scores(result), recording_set_id(list(result["clip_proba"]))
        row = {"model": key, "kind": kinds[key], "test_set": set_id, "n_clips": result["n_clips"]}
        own.append({**row, **flat})
        metrics[key] = {**flat, "n_samples": result["n_samples"], "n_clips": result["n_clips"], "test_set": set_id}
        if shared:
            on_shared = flat_scores(restrict(result, shared, labels))
            common.append({**row, "test_set": shared_id, "n_clips": len(shared), **on_shared})
            metrics[key]["common"] = {**on_shared, "n_clips": len(shared), "test_set": shared_id}
    return metrics, own, common


_HEAD = ("| rank | model | input | test set | test clips | clip acc | clip macro-F1 | sample acc | sample macro-F1 |\n"
         "|---:|---|---|---|---:|---:|---:|---:|---:|\n")


def _table(rows: list[dict], rank_by: str) -> str:
    rows = sorted(rows, key=lambda r: (-r[rank_by], r["model"]))
    return _HEAD + "".join(
        f"| {i} | {r['model']} | {r['kind']} | `{r['test_set']}` | {r['n_clips']} | {r['clip_accuracy']:.3f} "
        f"| {r['clip_macro_f1']:.3f} | {r['sample_accuracy']:.3f} | {r['sample_macro_f1']:.3f} |\n"
        for i, r in enumerate(rows, start=1)
    )


def leaderboard_markdown(common: list[dict], own: list[dict], rank_by: str, split_note: str) -> str:
    """reports/leaderboard.md: one ranking of every model on the test recordings they all score
    (``common`` rows), then one table per test set (``own`` rows: each model on all the test
    recordings it can score; models whose inputs cover the same recordings share a table)."""
    text = f"# Leaderboard\n\nRanked by `{rank_by}`; every figure names the test set it is on. {split_note}\n\n"
    if common:
        text += (f"## Every model on the same {common[0]['n_clips']} test recordings (set `{common[0]['test_set']}`)\n\n"
                 "The recordings that every model below can score: the one ranking that compares all of them.\n\n"
                 + _table(common, rank_by) + "\n")
    else:
        text += "## Every model on the same test recordings\n\nNo test recording is scored by every model: no common ranking.\n\n"
    text += "## Each test set on its own\n\n"
    for set_id in sorted({r["test_set"] for r in own}, key=lambda s: (-max(r["n_clips"] for r in own if r["test_set"] == s), s)):
        rows = [r for r in own if r["test_set"] == set_id]
        kinds = ", ".join(sorted({r["kind"] for r in rows}))
        text += f"### Set `{set_id}`: {rows[0]['n_clips']} test recordings ({kinds})\n\n" + _table(rows, rank_by) + "\n"
    return text + (
        "Samples are frames (classical), windows (LSTM) or clips (ConvLSTM, appearance); clip-level scores "
        "average the sample probabilities of each test recording. `fusion` averages the clip probabilities "
        "of the models in its input column (`evaluate.fusion`). A set's id is a digest of its recordings' ids.\n"
    )
