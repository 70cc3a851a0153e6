"""Training curves as PNG: loss and accuracy per epoch, or a placeholder saying why there are none."""

from __future__ import annotations

import os
from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from actionrec.core.io import atomic_path


def plot_history(history: Sequence[dict[str, float]], png_path: str | os.PathLike[str]) -> None:
    """Loss and accuracy curves (train and val) side by side in one PNG; best epoch marked."""
    if not history:
        raise ValueError("empty history: nothing to plot")
    epochs = [row["epoch"] for row in history]
    best = min(history, key=lambda row: row["val_loss"])["epoch"]
    fig = Figure(figsize=(10, 4), layout="constrained")
    for ax, metric in zip(fig.subplots(1, 2), ("loss", "acc"), strict=True):
        for split in ("train", "val"):
            values = [row[f"{split}_{metric}"] for row in history]
            ax.plot(epochs, values, marker=".", label=split)
        ax.axvline(best, color="grey", linestyle=":", label=f"best epoch {best}")
        title = "accuracy" if metric == "acc" else "loss"
        ax.set(xlabel="epoch", ylabel=title if metric == "acc" else "cross-entropy", title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=100)


def placeholder_plot(path: str | os.PathLike[str], text: str) -> None:
    """The declared curves PNG, saying why there are no curves."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
