"""Figures of the evaluation: a confusion matrix per model (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from actionrec.core.labels import LabelMap  # noqa: E402


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
            color = "white" if cm[i, j] > cm.max() / 2 else "black"
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", color=color)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
