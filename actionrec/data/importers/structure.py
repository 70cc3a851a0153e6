"""Which rows of a frame table belong to one recording, or a plain answer why nobody can tell.

A leak-free split keeps each recording on one side, so rows must be grouped into recordings.
Without a session column the contiguous runs of one class are taken as recordings when they
are long enough to be sequences (``min_run`` rows, ``validate.landmarks.min_rows_per_session``);
shorter runs mean the rows are single frames of many videos interleaved, and the import stops
and names the three explicit choices (:data:`CHOICES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from actionrec.core.schema import SESSION_COL
from actionrec.data.importers.common import ImportFailure

CHOICES = (
    "--session-column NAME if a column says which video/session each row comes from; "
    "--per-file to treat each file (one recording per class) as one recording, cut in time for the split; "
    "--independent-frames to declare the rows independent frames of distinct videos, then train with "
    "split.strategy: random_frames (a frame split, which warns that it leaks if frames share a video)"
)


@dataclass(frozen=True)
class Grouping:
    """How the user said rows form recordings (all off: detect)."""

    session_column: str | None = None
    per_file: bool = False
    independent_frames: bool = False
    min_run: int = 5
    fps: float = 30.0


def _runs(labels: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(labels[1:] != labels[:-1])]) if len(labels) else np.zeros(0, int)


def _by_column(path: Path, column: str, values: pd.Series, labels: np.ndarray, name: str) -> np.ndarray:
    sessions = values.fillna("").astype(str).str.strip().to_numpy(dtype=object)
    if (sessions == "").any():
        row = int(np.flatnonzero(sessions == "")[0]) + 1
        raise ImportFailure(f"{path}: empty {column} in data row {row}; remedy: fill it or drop the row")
    frame = pd.DataFrame({"s": sessions, "l": labels})
    mixed = frame.groupby("s")["l"].nunique()
    if (mixed > 1).any():
        sid = mixed.index[mixed > 1][0]
        raise ImportFailure(f"{path}: {column} {sid!r} holds several classes; one recording must have one label")
    return np.array([f"{name}-{s}" for s in sessions], dtype=object)


def group_rows(
    path: Path, labels: pd.Series, grouping: Grouping, columns: dict[str, pd.Series], name: str
) -> tuple[np.ndarray, str]:
    """A session id per row and, in words, how they were found."""
    lab = labels.to_numpy(dtype=object).astype(str)
    if grouping.session_column is not None:
        if grouping.session_column not in columns:
            raise ImportFailure(
                f"{path}: no column {grouping.session_column!r} for --session-column; columns besides landmarks and "
                f"label: {list(columns)[:10]}"
            )
        col = grouping.session_column
        return _by_column(path, col, columns[col], lab, name), f"grouped by the column {col}"
    lower = {k.strip().lower(): k for k in columns}
    if SESSION_COL in lower:
        col = lower[SESSION_COL]
        return _by_column(path, col, columns[col], lab, name), f"grouped by the column {col}"
    per_class = np.array([f"{name}-{path.stem}-{c}" for c in lab], dtype=object)
    if grouping.independent_frames:
        return per_class, "declared independent frames of distinct videos (--independent-frames): random frame split"
    if grouping.per_file:
        return per_class, "one per file and class (--per-file): each is cut in time for the split"
    runs = _runs(lab)
    lengths = np.bincount(runs)
    if np.median(lengths) >= grouping.min_run:
        ids = np.array([f"{name}-{path.stem}-r{r + 1:03d}" for r in runs], dtype=object)
        return ids, (
            f"no session column: each contiguous run of one class is one recording ({len(lengths)} runs, "
            f"{lengths.min()}-{lengths.max()} rows)"
        )
    raise ImportFailure(
        f"{path}: no recording structure: no session column, and the class changes every {np.median(lengths):g} "
        f"rows (median of {len(lengths)} runs; a recording needs at least {grouping.min_run}), so these look like "
        "single frames of many videos interleaved. Without knowing which rows share a video there is no "
        f"leak-free split: frames of one video would land in train and test. Choose one: {CHOICES}"
    )
