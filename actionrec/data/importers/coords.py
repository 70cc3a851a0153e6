"""``coords.csv`` in its common variants, and our own session CSVs.

Accepted: a label column (``class`` or ``label``), landmark columns ``x1, y1, z1, v1 ...`` whose
visibility is spelled ``vN`` or ``visibilityN`` (numbered from 0 or 1), 33, 501 or 543
landmarks, an optional leading index column, and any extra metadata columns (ignored, listed).
Our own session CSVs are parsed, checked and copied as they are.

**Bad rows** (a wrong number of fields, an empty label, a non-numeric cell, or NaN inside a
part that was detected) are excluded and counted; above ``max_bad_share`` of the rows the
import fails naming the first ones. A part missing entirely is a part not detected.

**Recordings**: a session column (``session_id`` or ``--session-column``) groups rows; else
each contiguous run of one class is a recording when runs are long enough for a sequence;
else the file has no recording structure and the import says what to choose.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from actionrec.core.recording import Recording
from actionrec.core.schema import (
    CHANNELS,
    SESSION_COL,
    SUBJECT_COL,
    CsvFormat,
    Layout,
    SchemaError,
    detect_schema,
    part_slice,
)
from actionrec.data.importers.common import ACCEPTED_LAYOUTS, ImportFailure, ImportResult, safe_name
from actionrec.data.importers.structure import Grouping, group_rows
from actionrec.data.landmarks import DataError, read_landmark_csv, recordings_from_file

COORD = re.compile(r"^(x|y|z|v|visibility)_?(\d+)$", re.IGNORECASE)
LABELS = ("class", "label")
INDEX_NAMES = ("", "unnamed: 0", "index", "id")


def _header(path: Path) -> list[str]:
    if not path.is_file() or path.stat().st_size == 0:
        raise ImportFailure(f"{path}: empty file (no header); remedy: export the CSV again with its header row")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return next(csv.reader(fh), [])


def coord_columns(path: Path, header: list[str]) -> tuple[list[int], Layout]:
    """Positions of x, y, z, visibility of every landmark (in landmark order) and the layout."""
    found: dict[tuple[int, str], int] = {}
    for pos, name in enumerate(header):
        m = COORD.match(name.strip())
        if m:
            channel = m.group(1).lower()[0]
            key = (int(m.group(2)), channel)
            if key in found:
                raise ImportFailure(f"{path}: landmark column {name} appears twice (as {header[found[key]]} too)")
            found[key] = pos
    if not found:
        raise ImportFailure(f"{path}: no landmark columns (x1, y1, z1, v1 ...) in the header {header[:6]}")
    numbers = sorted({k for k, _ in found})
    base = numbers[0]
    n = numbers[-1] - base + 1
    gaps = sorted(set(range(base, base + n)) - set(numbers))
    missing = [f"{c}{i}" for i in numbers for c in CHANNELS if (i, c) not in found]
    if base not in (0, 1) or gaps or missing:
        problem = (
            f"landmarks numbered from {base}" if base not in (0, 1) else f"missing columns {(gaps or missing)[:5]}"
        )
        raise ImportFailure(f"{path}: {problem}; remedy: every landmark needs x, y, z and v (or visibility) columns")
    try:
        layout = Layout.from_n_landmarks(n)
    except ValueError:
        raise ImportFailure(
            f"{path}: {n} landmarks per row ({4 * n} coordinate columns) match no accepted layout; accepted: "
            f"{ACCEPTED_LAYOUTS}; remedy: keep the first 33 (pose) landmarks, or export MediaPipe Holistic "
            "landmarks in the order pose, face, left hand, right hand"
        ) from None
    return [found[(i, c)] for i in range(base, base + n) for c in CHANNELS], layout


def _parse_cells(block: pd.DataFrame, labels: pd.Series, layout: Layout) -> tuple[np.ndarray, list[str]]:
    """float32 coords and a reason per row ('' for a good row)."""
    raw = block.to_numpy(dtype=object)
    empty = pd.isna(raw) | (raw == "")
    num = block.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    text = np.isnan(num) & ~empty
    coords = num.reshape(len(num), layout.n_landmarks, len(CHANNELS)).astype(np.float32)
    reasons = [""] * len(num)
    for i in range(len(num)):
        if not isinstance(labels.iloc[i], str) or not labels.iloc[i].strip():
            reasons[i] = "empty label"
        elif text[i].any():
            col = int(np.flatnonzero(text[i])[0])
            reasons[i] = f"non-numeric {raw[i, col]!r} in {block.columns[col]}"
        else:
            for part in layout.parts:
                nan = np.isnan(coords[i, part_slice(part)])
                if nan.any() and not nan.all():
                    reasons[i] = f"{int(nan.sum())} empty values inside the detected {part.value}"
                    break
    return coords, reasons


def _read_rows(path: Path, header: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """All rows as text; rows with a wrong number of fields become a reason."""
    rows, reasons = [], []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        for row in reader:
            if not row:
                continue
            ok = len(row) == len(header)
            rows.append(row if ok else [""] * len(header))
            reasons.append("" if ok else f"{len(row)} fields, expected {len(header)}")
    if not rows:
        raise ImportFailure(f"{path}: header only, no data rows")
    return pd.DataFrame(rows, columns=[f"c{i}" for i in range(len(header))], dtype=object), reasons


def read_session_csv(path: Path) -> ImportResult:
    """One of our session CSVs: parsed and checked, then copied byte for byte."""
    try:
        recs = recordings_from_file(read_landmark_csv(path))
    except DataError as exc:
        raise ImportFailure(str(exc)) from None
    return ImportResult(path, "session CSV (ours)", recs, 1, "the file's session_id column", copies=[path])


def read_coords_csv(path: Path, grouping: Grouping, max_bad_share: float, name: str) -> ImportResult:
    """A coords.csv variant (module docstring) as recordings."""
    header = _header(path)
    try:
        if detect_schema(header).format is CsvFormat.SESSION:
            return read_session_csv(path)
    except SchemaError:
        pass
    lowered = [h.strip().lower() for h in header]
    label_pos = next((lowered.index(c) for c in LABELS if c in lowered), None)
    if label_pos is None:
        raise ImportFailure(f"{path}: no label column (class or label) in the header {header[:6]}")
    positions, layout = coord_columns(path, header)
    table, reasons = _read_rows(path, header)
    labels = table.iloc[:, label_pos].str.strip()
    coords, cell_reasons = _parse_cells(table.iloc[:, positions], labels, layout)
    reasons = [a or b for a, b in zip(reasons, cell_reasons, strict=True)]
    bad = [i for i, r in enumerate(reasons) if r]
    skipped = [f"{path} data row {i + 1}: {reasons[i]}" for i in bad]
    if len(bad) > max_bad_share * len(reasons):
        first = "; ".join(skipped[:3])
        raise ImportFailure(
            f"{path}: {len(bad)} of {len(reasons)} rows are bad, above validate.landmarks.max_bad_row_share="
            f"{max_bad_share} (e.g. {first}); remedy: fix or remove those rows, or raise the threshold"
        )
    keep = np.array([not r for r in reasons])
    meta_used = {label_pos, *positions}
    extra = [h for i, h in enumerate(header) if i not in meta_used]
    index_col = 0 if label_pos > 0 and lowered[0] in INDEX_NAMES else None
    columns = {lowered[i]: table.iloc[:, i] for i in range(len(header)) if i not in meta_used}
    by_name = {h: table.iloc[:, i] for i, h in enumerate(header) if i not in meta_used}
    sessions, how = group_rows(path, labels[keep], grouping, {k: v[keep] for k, v in by_name.items()}, name)
    subjects = columns.get(SUBJECT_COL)
    recs = []
    kept_labels = labels[keep].to_numpy(dtype=object)
    kept_coords = coords[keep]
    for sid in dict.fromkeys(sessions):
        rows = np.flatnonzero(sessions == sid)
        frames = np.arange(len(rows), dtype=np.int64)
        subject = str(subjects[keep].iloc[rows[0]]) if subjects is not None else None
        recs.append(
            Recording(
                safe_name(str(sid)),
                str(kept_labels[rows[0]]),
                kept_coords[rows],
                frames,
                frames / grouping.fps,
                str(path),
                subject or None,
            )
        )
    notes = []
    if index_col is not None:
        notes.append(f"{path.name}: leading index column '{header[0]}' ignored")
    if extra[int(index_col is not None) :]:
        notes.append(f"{path.name}: extra columns not imported: {extra[int(index_col is not None) :][:8]}")
    if SESSION_COL not in lowered and grouping.session_column is None:
        notes.append(f"{path.name}: no frame/timestamp columns; frames numbered in file order at {grouping.fps:g} fps")
    return ImportResult(
        path,
        f"coords.csv ({layout.value}, {len(header)} columns)",
        recs,
        1,
        how,
        skipped,
        notes,
        independent_frames=grouping.independent_frames,
    )
