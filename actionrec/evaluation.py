"""Held-out metrics at two levels: per sample (frame / window / clip) and per recording (clip)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support  # noqa: E402

from actionrec.labels import LabelMap  # noqa: E402


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


def leaderboard_markdown(rows: list[dict], rank_by: str, split_note: str) -> str:
    """The ranked model table of reports/leaderboard.md."""
    head = "| rank | model | input | test clips | clip acc | clip macro-F1 | sample acc | sample macro-F1 |\n"
    head += "|---:|---|---|---:|---:|---:|---:|---:|\n"
    body = "".join(
        f"| {i} | {r['model']} | {r['kind']} | {r['n_clips']} | {r['clip_accuracy']:.3f} | {r['clip_macro_f1']:.3f} "
        f"| {r['sample_accuracy']:.3f} | {r['sample_macro_f1']:.3f} |\n"
        for i, r in enumerate(rows, start=1)
    )
    return (
        f"# Leaderboard\n\nRanked by `{rank_by}` on the held-out test split. {split_note}\n\n{head}{body}\n"
        "Samples are frames (classical), windows (LSTM) or clips (ConvLSTM, appearance); clip-level scores "
        "average the sample probabilities of each test recording. `fusion` averages the clip probabilities "
        "of the models in its input column (`evaluate.fusion`).\n"
    )
