"""Reading recordings: landmark CSV files (seed or session format) and extracted video clips."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from actionrec.core.recording import Recording
from actionrec.core.schema import (
    CHANNELS,
    FRAME_COL,
    LABEL_COL,
    SESSION_COL,
    SUBJECT_COL,
    TIMESTAMP_COL,
    CsvFormat,
    CsvSchema,
    SchemaError,
    detect_schema,
    part_slice,
)

log = logging.getLogger(__name__)


class DataError(ValueError):
    """A data file that cannot be used; the message names the file and the problem."""


@dataclass
class LandmarkFile:
    """A parsed landmark CSV: the good rows, the rows rejected and why."""

    path: Path
    schema: CsvSchema
    table: pd.DataFrame
    rejected: list[dict] = field(default_factory=list)

    @property
    def sessions(self) -> np.ndarray:
        """Session id of every row; a seed file's contiguous runs of one class are sessions."""
        if self.schema.format is CsvFormat.SESSION:
            return self.table[SESSION_COL].to_numpy(dtype=object).astype(str)
        labels = self.table[LABEL_COL].to_numpy(dtype=object)
        run = np.concatenate([[0], np.cumsum(labels[1:] != labels[:-1])])
        return np.array([f"{self.path.stem}#{r + 1:02d}" for r in run], dtype=object)

    def coords(self) -> np.ndarray:
        """float32 landmarks ``(rows, landmarks, 4)``."""
        values = self.table[self.schema.columns[len(self.schema.meta_columns) :]].to_numpy(dtype=np.float32)
        return values.reshape(len(values), -1, len(CHANNELS))


def _scan_rows(path: Path, n_fields: int) -> list[dict]:
    """Rows whose field count differs from the header's (1-based data line numbers)."""
    bad = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for line, row in enumerate(reader, start=1):
            if len(row) != n_fields:
                bad.append({"line": line, "reason": f"{len(row)} fields, expected {n_fields}"})
    return bad


def _coerce_numeric(table: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Make ``columns`` float; report rows holding non-numeric text (set to drop)."""
    rejected = []
    for col in columns:
        if pd.api.types.is_numeric_dtype(table[col]):
            continue
        raw = table[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna()
        for idx in np.flatnonzero(bad.to_numpy()):
            rejected.append({"line": int(table.index[idx]), "reason": f"non-numeric {raw.iloc[idx]!r} in {col}"})
        table[col] = num
    return rejected


def _missing_meta(table: pd.DataFrame, schema: CsvSchema) -> list[dict]:
    """Rows with an empty label, session id, frame or timestamp (subject_id is optional)."""
    required = [c for c in schema.meta_columns if c != SUBJECT_COL]
    rejected = []
    for col in required:
        for line in table.index[table[col].isna().to_numpy()]:
            rejected.append({"line": int(line), "reason": f"empty {col}"})
    return rejected


def _partial_parts(table: pd.DataFrame, schema: CsvSchema) -> list[dict]:
    """Rows with NaN inside a detected part (MediaPipe reports a part whole or not at all)."""
    if table.empty:
        return []
    coords = table[schema.columns[len(schema.meta_columns) :]].to_numpy(dtype=np.float32)
    nan = np.isnan(coords.reshape(len(coords), -1, len(CHANNELS)))
    rejected = []
    for part in schema.layout.parts:
        counts = nan[:, part_slice(part)].reshape(len(nan), -1).sum(axis=1)
        size = (part_slice(part).stop - part_slice(part).start) * len(CHANNELS)
        for i in np.flatnonzero((counts > 0) & (counts < size)):
            rejected.append(
                {"line": int(table.index[i]), "reason": f"{counts[i]} empty values inside the detected {part.value}"}
            )
    return rejected


def read_landmark_csv(path: Path | str) -> LandmarkFile:
    """Parse a seed or session landmark CSV. Bad rows (a wrong number of fields, an empty label
    or session field, a non-numeric cell, NaN inside a detected part) are reported and excluded;
    ``validate.landmarks.max_bad_row_share`` bounds their share in the validate stage."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (no header)")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh), [])
    try:
        schema = detect_schema(header)
    except SchemaError as exc:
        raise DataError(f"{path}: {exc}") from None
    rejected = _scan_rows(path, len(header))
    skip = {r["line"] for r in rejected}
    table = pd.read_csv(
        path,
        skiprows=sorted(skip),
        dtype={LABEL_COL: str, SESSION_COL: str, SUBJECT_COL: str},
        encoding="utf-8-sig",
        low_memory=False,
    )
    table.index = [i for i in range(1, len(table) + len(skip) + 1) if i not in skip]
    coord_cols = schema.columns[len(schema.meta_columns) :]
    numeric = coord_cols + ([FRAME_COL, TIMESTAMP_COL] if schema.format is CsvFormat.SESSION else [])
    bad = _missing_meta(table, schema) + _coerce_numeric(table, numeric)
    lines = {r["line"] for r in bad}
    bad += [r for r in _partial_parts(table, schema) if r["line"] not in lines]
    if bad:
        rejected += bad
        table = table.drop(index=sorted({r["line"] for r in bad}))
    rejected.sort(key=lambda r: r["line"])
    if table.empty:
        raise DataError(f"{path}: no usable data rows ({len(rejected)} rejected)")
    for r in rejected[:5]:
        log.warning("%s: data row %d rejected: %s", path, r["line"], r["reason"])
    if len(rejected) > 5:
        log.warning("%s: %d rows rejected in all", path, len(rejected))
    return LandmarkFile(path, schema, table, rejected)


def recordings_from_file(lf: LandmarkFile) -> list[Recording]:
    """Split a parsed file into its recording sessions (in file order)."""
    sessions = lf.sessions
    coords = lf.coords()
    labels = lf.table[LABEL_COL].to_numpy(dtype=object).astype(str)
    is_session = lf.schema.format is CsvFormat.SESSION
    subjects = (
        lf.table[SUBJECT_COL].fillna("").to_numpy(dtype=object).astype(str)
        if is_session
        else np.full(len(labels), "", dtype=object)
    )
    out = []
    for sid in dict.fromkeys(sessions):
        rows = np.flatnonzero(sessions == sid)
        session_labels = set(labels[rows])
        if len(session_labels) > 1:
            raise DataError(
                f"{lf.path}: session {sid} mixes labels {sorted(session_labels)}; one session must have one label"
            )
        frames = (
            lf.table[FRAME_COL].to_numpy()[rows].astype(np.int64)
            if is_session
            else np.arange(len(rows), dtype=np.int64)
        )
        times = lf.table[TIMESTAMP_COL].to_numpy()[rows].astype(np.float64) if is_session else frames.astype(np.float64)
        out.append(
            Recording(
                session_id=str(sid),
                label=labels[rows[0]],
                coords=coords[rows],
                frames=frames,
                timestamps=times,
                source=str(lf.path),
                subject_id=subjects[rows[0]] or None,
            )
        )
    return out


def landmark_csvs(directory: Path) -> list[Path]:
    """The landmark CSV files of a directory, sorted (a missing directory holds none)."""
    return sorted(directory.rglob("*.csv")) if directory.is_dir() else []
