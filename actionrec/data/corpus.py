"""All recordings of a pipeline run, and the model-ready samples of each split subset."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from actionrec.config.paths import CORPUS_CLIPS, CORPUS_LANDMARKS
from actionrec.core.features import FeatureSpec, transform
from actionrec.core.io import atomic_open
from actionrec.core.recording import Recording
from actionrec.data.extracted import recording_from_npz
from actionrec.data.landmarks import DataError, landmark_csvs, read_landmark_csv, recordings_from_file

def extracted_index(directory: Path) -> pd.DataFrame:
    """The index.csv an extraction stage wrote (empty when there were no videos)."""
    path = directory / "index.csv"
    return pd.read_csv(path, dtype={"clip": str, "label": str, "group": str}) if path.is_file() else pd.DataFrame()


def load_recordings(landmarks_dir: Path, extracted_dir: Path = CORPUS_LANDMARKS) -> list[Recording]:
    """Recorded CSV sessions plus every successfully extracted video clip of ``extracted_dir`` (by
    default the usable corpus the split stage writes), ids unique."""
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


def training_inputs(kind: str, rows: pd.DataFrame, by_id: dict[str, Recording], params) -> tuple[np.ndarray, list[str]]:
    """What a classical model of ``kind`` is fitted on: the ``train`` rows as frame features
    (at most ``classical.max_train_frames``, a seeded subset), padded windows of
    ``classical.pooled_window`` frames, or uint8 clips; and their label names."""
    from actionrec.core.features import cap_samples, pad_windows

    c = params.classical
    if kind == "frame":
        x, names, _ = frame_samples(rows, "train", by_id, params.features)
        keep = cap_samples(len(x), c.max_train_frames, params.seed)
        return x[keep], [names[i] for i in keep]
    if kind == "sequence":
        seqs, names, _ = window_samples(rows, "train", by_id, params.features, c.pooled_window, c.pooled_stride)
        return pad_windows(seqs, c.pooled_window), names
    clips, names, _ = clip_samples(rows, "train")
    return clips, names


def model_inputs(predictor, split: pd.DataFrame, subset: str, by_id: dict[str, Recording]):
    """Inputs, encoded labels and recording ids of ``subset`` in the form ``predictor`` takes."""
    spec = predictor.features
    if predictor.kind == "frame":
        x, names, ids = frame_samples(split, subset, by_id, spec)
        return x, predictor.labels.encode(names), ids
    if predictor.kind == "sequence":
        window, stride = int(predictor.manifest.window), int(predictor.manifest.stride)
        seqs, names, ids = window_samples(split, subset, by_id, spec, window, stride)
        return seqs, predictor.labels.encode(names), ids
    clips, names, ids = clip_samples(split, subset)
    return clips, predictor.labels.encode(names), ids


def clip_files(
    split: pd.DataFrame, subset: str, clips_dir: Path = CORPUS_CLIPS
) -> tuple[list[Path], list[str], list[str]]:
    """Clip npz files, labels and recording ids of the video recordings in ``subset``."""
    index = extracted_index(clips_dir)
    if index.empty:
        return [], [], []
    ok = index[index["status"] == "ok"].set_index("clip")
    wanted = split[(split["subset"] == subset) & split["session_id"].isin(ok.index)].drop_duplicates("session_id")
    paths = [clips_dir / ok.loc[sid, "path"] for sid in wanted["session_id"]]
    return paths, list(wanted["label"]), list(wanted["session_id"])


def clip_samples(
    split: pd.DataFrame, subset: str, clips_dir: Path = CORPUS_CLIPS
) -> tuple[np.ndarray, list[str], list[str]]:
    """uint8 frame clips ``(N, T, H, W, 3)`` of the video recordings in ``subset`` (in memory)."""
    paths, labels, ids = clip_files(split, subset, clips_dir)
    if not paths:
        return np.zeros((0,), np.uint8), [], []
    return np.stack([np.load(p)["frames"] for p in paths]), labels, ids


def write_clip_array(paths: list[Path], out: Path) -> None:
    """Stream the ``frames`` of ``paths`` into one uint8 ``.npy`` ``(N, T, H, W, 3)`` at ``out``
    (atomically), one clip in memory at a time; open it with ``np.load(out, mmap_mode="r")``."""
    if not paths:
        raise ValueError("no clips to write")
    with np.load(paths[0]) as first:
        shape = first["frames"].shape
    with atomic_open(out, "wb") as fh:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)), "fortran_order": False,
                  "shape": (len(paths), *shape)}
        np.lib.format.write_array_header_1_0(fh, header)
        for path in paths:
            with np.load(path) as data:
                frames = data["frames"]
            if frames.dtype != np.uint8 or frames.shape != shape:
                raise ValueError(f"{path}: frames {frames.dtype} {frames.shape}, expected uint8 {shape}")
            fh.write(np.ascontiguousarray(frames).tobytes())
