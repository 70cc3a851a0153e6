"""All recordings of a pipeline run, and the model-ready samples of each split subset."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from actionrec.datasets import DataError, landmark_csvs, read_landmark_csv, recordings_from_file
from actionrec.extract import recording_from_npz
from actionrec.features import FeatureSpec, transform
from actionrec.recording import Recording

LANDMARKS_DIR = Path("data/interim/landmarks")
CLIPS_DIR = Path("data/interim/clips")


def extracted_index(directory: Path) -> pd.DataFrame:
    """The index.csv an extraction stage wrote (empty when there were no videos)."""
    path = directory / "index.csv"
    return pd.read_csv(path, dtype={"clip": str, "label": str, "group": str}) if path.is_file() else pd.DataFrame()


def load_recordings(landmarks_dir: Path, extracted_dir: Path = LANDMARKS_DIR) -> list[Recording]:
    """Recorded CSV sessions plus every successfully extracted video clip, ids unique."""
    recordings = [r for path in landmark_csvs(landmarks_dir) for r in recordings_from_file(read_landmark_csv(path))]
    index = extracted_index(extracted_dir)
    if not index.empty:
        for row in index[index["status"] == "ok"].itertuples():
            recordings.append(recording_from_npz(extracted_dir / row.path, row.label, row.group))
    seen: dict[str, str] = {}
    for rec in recordings:
        if rec.session_id in seen:
            raise DataError(
                f"session id {rec.session_id!r} appears in both {seen[rec.session_id]} and "
                f"{rec.source}; session ids must be unique"
            )
        seen[rec.session_id] = rec.source
    return recordings


def segments(split: pd.DataFrame, subset: str, by_id: dict[str, Recording]) -> Iterator[tuple[Recording, int, int]]:
    """(recording, start, stop) of every segment of ``subset``, in manifest order."""
    for row in split[split["subset"] == subset].itertuples():
        yield by_id[row.session_id], int(row.start), int(row.stop)


def frame_samples(
    split: pd.DataFrame, subset: str, by_id: dict[str, Recording], spec: FeatureSpec
) -> tuple[np.ndarray, list[str], list[str]]:
    """Per-frame features, labels and recording ids of a subset."""
    feats, labels, ids = [], [], []
    for rec, start, stop in segments(split, subset, by_id):
        feats.append(transform(rec.coords[start:stop], spec, rec.source))
        labels += [rec.label] * (stop - start)
        ids += [rec.session_id] * (stop - start)
    if not feats:
        return np.zeros((0, spec.n_features), np.float32), [], []
    return np.concatenate(feats), labels, ids


def window_samples(
    split: pd.DataFrame, subset: str, by_id: dict[str, Recording], spec: FeatureSpec, window: int, stride: int
) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Feature sequences of ``window`` frames every ``stride`` frames (a short segment: one)."""
    seqs, labels, ids = [], [], []
    for rec, start, stop in segments(split, subset, by_id):
        feats = transform(rec.coords[start:stop], spec, rec.source)
        starts = range(0, max(1, len(feats) - window + 1), stride)
        for s in starts:
            seqs.append(feats[s : s + window])
            labels.append(rec.label)
            ids.append(rec.session_id)
    return seqs, labels, ids


def model_inputs(predictor, split: pd.DataFrame, subset: str, by_id: dict[str, Recording]):
    """Inputs, encoded labels and recording ids of ``subset`` in the form ``predictor`` takes."""
    spec = predictor.features
    if predictor.kind == "frame":
        x, names, ids = frame_samples(split, subset, by_id, spec)
        return x, predictor.labels.encode(names), ids
    if predictor.kind == "sequence":
        window, stride = int(predictor.manifest["window"]), int(predictor.manifest["stride"])
        seqs, names, ids = window_samples(split, subset, by_id, spec, window, stride)
        return seqs, predictor.labels.encode(names), ids
    clips, names, ids = clip_samples(split, subset)
    return clips, predictor.labels.encode(names), ids


def clip_samples(split: pd.DataFrame, subset: str, clips_dir: Path = CLIPS_DIR) -> tuple[np.ndarray, list[str], list[str]]:
    """uint8 frame clips ``(N, T, H, W, 3)`` of the video recordings in ``subset``."""
    index = extracted_index(clips_dir)
    if index.empty:
        return np.zeros((0,), np.uint8), [], []
    ok = index[index["status"] == "ok"].set_index("clip")
    wanted = split[(split["subset"] == subset) & split["session_id"].isin(ok.index)].drop_duplicates("session_id")
    clips = [np.load(clips_dir / ok.loc[sid, "path"])["frames"] for sid in wanted["session_id"]]
    if not clips:
        return np.zeros((0,), np.uint8), [], []
    return np.stack(clips), list(wanted["label"]), list(wanted["session_id"])
