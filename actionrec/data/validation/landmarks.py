"""Great Expectations checks for landmark tables, fast on ~2,000 columns.

One expectation per landmark column costs ~30 s on a 10,000 x 2,005 table, so the wide table
is never handed to GX whole. Instead:

* its header is checked on a 0-row copy (column names and order);
* a compact per-frame **summary** is derived with numpy (one row per frame, a dozen columns)
  and validated with ONE expectation suite;
* rows per class and per session are counted in pandas into a tiny **counts** table that GX
  checks too.

Summary columns (one row per data row of the file):

``row``             1-based data row of the file (the header is not counted).
``class``           the label; ``session_id`` and ``frame`` are copied when known.
``pose_missing``    1 when every pose value is NaN (no person detected), else 0.
``face_missing``    1 when every face value is NaN (layouts with a face only).
``n_null_required`` NaN values inside the parts that *were* detected in the frame. MediaPipe
                    reports a part whole or not at all, so a partly empty part is corrupt data.
``min_xy`` ...      ``min_xy, max_xy, min_z, max_z, min_vis, max_vis``: extremes over the
                    detected landmarks of the frame (NaN when nothing was detected).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from actionrec.config.validation import ValidationParams
from actionrec.core.schema import (
    CHANNELS,
    FRAME_COL,
    LABEL_COL,
    SESSION_COL,
    CsvSchema,
    Part,
    landmark_columns,
    part_slice,
)
from actionrec.data.landmarks import DataError, landmark_csvs, read_landmark_csv
from actionrec.data.validation.checks import (
    MAX_EXAMPLES,
    ROW_COL,
    CheckResult,
    FileReport,
    check_result,
    gx_expectations,
    log_report,
    run_checks,
    validate_frame,
)

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.expectations import Expectation

log = logging.getLogger(__name__)


def frame_summary(
    df: pd.DataFrame,
    schema: CsvSchema,
    sessions: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """The compact per-frame table the landmark expectations run on (module docstring)."""
    n = len(df)
    coord_cols = landmark_columns(schema.layout)
    block = df.iloc[:, len(schema.meta_columns):]
    if list(block.columns) != coord_cols:  # wrong order: select by name (slower)
        block = df[coord_cols]
    values = block.to_numpy(dtype=np.float64).reshape(n, schema.layout.n_landmarks, len(CHANNELS))
    summary = {
        ROW_COL: np.arange(1, n + 1) if rows is None else np.asarray(rows, dtype=np.int64),
        LABEL_COL: df[LABEL_COL].to_numpy(dtype=object),
    }
    if sessions is not None:
        summary[SESSION_COL] = np.asarray(sessions, dtype=object)
    if FRAME_COL in schema.meta_columns:
        summary[FRAME_COL] = df[FRAME_COL].to_numpy()
    summary.update(_part_flags(np.isnan(values), schema))
    summary.update(_extremes(values))
    return pd.DataFrame(summary)


def _part_flags(nan: np.ndarray, schema: CsvSchema) -> dict[str, np.ndarray]:
    """``pose_missing``, ``face_missing`` and ``n_null_required`` from the NaN mask."""
    flags: dict[str, np.ndarray] = {}
    n_null = np.zeros(nan.shape[0], dtype=np.int64)
    for part in schema.layout.parts:
        span = part_slice(part)
        size = (span.stop - span.start) * len(CHANNELS)
        counts = np.count_nonzero(nan[:, span].reshape(len(nan), size), axis=1)
        missing = counts == size
        n_null += np.where(missing, 0, counts)
        if part in (Part.POSE, Part.FACE):
            flags[f"{part.value}_missing"] = missing.astype(np.int8)
    flags["n_null_required"] = n_null
    return flags


def _extremes(values: np.ndarray) -> dict[str, np.ndarray]:
    """Per-frame min/max of x&y, z and visibility, ignoring NaN (all-NaN gives NaN)."""
    xy, z, vis = values[:, :, :2], values[:, :, 2], values[:, :, 3]
    return {
        "min_xy": np.fmin.reduce(xy, axis=(1, 2)),
        "max_xy": np.fmax.reduce(xy, axis=(1, 2)),
        "min_z": np.fmin.reduce(z, axis=1),
        "max_z": np.fmax.reduce(z, axis=1),
        "min_vis": np.fmin.reduce(vis, axis=1),
        "max_vis": np.fmax.reduce(vis, axis=1),
    }


def _summary_expectations(summary: pd.DataFrame, params: ValidationParams) -> list[Expectation]:
    gxe = gx_expectations()
    (xy_lo, xy_hi), (z_lo, z_hi) = params.xy_range, params.z_range
    required = [c for c in (LABEL_COL, SESSION_COL, FRAME_COL) if c in summary.columns]
    expectations = [gxe.ExpectTableRowCountToBeBetween(min_value=1)]
    expectations += [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in required]
    expectations += [
        gxe.ExpectColumnValuesToBeInSet(column=LABEL_COL, value_set=params.labels),
        gxe.ExpectColumnValuesToBeBetween(column="n_null_required", min_value=0, max_value=0),
        gxe.ExpectColumnValuesToBeBetween(column="min_xy", min_value=xy_lo),
        gxe.ExpectColumnValuesToBeBetween(column="max_xy", max_value=xy_hi),
        gxe.ExpectColumnValuesToBeBetween(column="min_z", min_value=z_lo),
        gxe.ExpectColumnValuesToBeBetween(column="max_z", max_value=z_hi),
        gxe.ExpectColumnValuesToBeBetween(column="min_vis", min_value=0.0),
        gxe.ExpectColumnValuesToBeBetween(column="max_vis", max_value=1.0),
        gxe.ExpectColumnMeanToBeBetween(
            column="pose_missing", min_value=0.0, max_value=params.max_missing_pose_share
        ),
    ]
    if "face_missing" in summary.columns:
        expectations.append(gxe.ExpectColumnMeanToBeBetween(
            column="face_missing", min_value=0.0, max_value=params.max_missing_face_share
        ))
    return expectations


def _count_checks(summary: pd.DataFrame, params: ValidationParams) -> list[CheckResult]:
    """Rows per known class (and per session when known), counted in pandas, checked by GX."""
    gxe = gx_expectations()
    groups = {LABEL_COL: ("rows_per_class", params.min_rows_per_class)}
    if SESSION_COL in summary.columns:
        groups[SESSION_COL] = ("rows_per_session", params.min_rows_per_session)
    tables, expectations = [], []
    known = summary[LABEL_COL].isin(params.labels)  # unknown labels fail the set check
    for key_col, (count_col, minimum) in groups.items():
        keys = summary.loc[known, key_col] if key_col == LABEL_COL else summary[key_col]
        counts = keys.astype(object).value_counts(dropna=True, sort=False)
        tables.append(pd.DataFrame({
            key_col: counts.index.map(str).to_numpy(dtype=object),
            count_col: counts.to_numpy(dtype=np.float64),  # float: NaN pads the shorter table
        }))
        expectations.append(gxe.ExpectColumnValuesToBeBetween(column=count_col,
                                                               min_value=minimum))
    counts_table = pd.concat(tables, axis=1)
    results = validate_frame(counts_table, expectations, list(groups))
    return [_count_check(r, key_col, summary) for r, key_col in zip(results, groups, strict=True)]


def _count_check(result: ExpectationValidationResult, key_col: str,
                 summary: pd.DataFrame) -> CheckResult:
    """Name the small groups and point at their first rows in the file."""
    check = check_result(result, None)
    unexpected = (result.result or {}).get("partial_unexpected_index_list") or []
    small = {str(e[key_col]): int(e[check.column]) for e in unexpected}
    if small:
        listed = ", ".join(f"{k} ({v})" for k, v in small.items())
        check.details += f"; too few rows: {listed}"
        keys = summary[key_col].astype(object).map(str)
        rows = summary.loc[keys.isin(list(small)), ROW_COL]
        check.example_rows = [int(r) for r in rows.iloc[:MAX_EXAMPLES]]
        check.observed = small
    return check


def _column_check(df: pd.DataFrame, expected: list[str]) -> CheckResult:
    """Header check on a 0-row copy; observed keeps only the mismatches (not 2,000 names)."""
    gxe = gx_expectations()
    expectation = gxe.ExpectTableColumnsToMatchOrderedList(column_list=expected)
    result = validate_frame(df.iloc[:0], [expectation], [])[0]
    check = check_result(result, None)
    got = [str(c) for c in df.columns]
    got_set, expected_set = set(got), set(expected)
    missing = [c for c in expected if c not in got_set]
    extra = [c for c in got if c not in expected_set]
    moved = [f"position {i + 1}: '{g}' (expected '{e}')"
             for i, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e]
    check.observed = {"n_columns": len(got), "missing": missing[:MAX_EXAMPLES],
                      "unexpected": extra[:MAX_EXAMPLES], "mismatched": moved[:5]}
    if not check.success:
        first = moved[0] if moved else f"end: missing {missing[:3]}, unexpected {extra[:3]}"
        check.details += f"; first difference at {first}"
    return check


def validate_landmark_table(
    df: pd.DataFrame,
    schema: CsvSchema,
    source: str,
    params: ValidationParams,
    rejected_rows: list[dict] | None = None,
    sessions: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> FileReport:
    """Validate a parsed landmark table (coordinates float64 with NaN, columns in file order).

    ``sessions`` (one id per row) overrides the ``session_id`` column; without both, the
    per-session check is skipped (seed files: pass e.g. the file name for every row).
    ``rows`` gives each row's 1-based data row in the file when the reader dropped rows
    (default 1..n). Data checks are skipped when schema columns are missing entirely.
    """
    start = time.perf_counter()
    checks = [_column_check(df, schema.columns)]
    if set(schema.columns) <= set(df.columns):
        if sessions is None and SESSION_COL in df.columns:
            sessions = df[SESSION_COL].to_numpy(dtype=object)
        summary = frame_summary(df, schema, sessions, rows)
        checks += run_checks(summary, _summary_expectations(summary, params), ROW_COL)
        checks += _count_checks(summary, params)
    else:
        log.warning("%s: schema columns missing, data checks skipped", source)
    report = FileReport(source, len(df), checks, list(rejected_rows or []))
    log_report(report, time.perf_counter() - start)
    return report


def _bad_row_check(n_good: int, rejected: list[dict], max_share: float) -> CheckResult:
    """The one rule for bad rows: excluded and counted up to ``max_share`` of the file's rows."""
    total = n_good + len(rejected)
    share = len(rejected) / total if total else 0.0
    return CheckResult("bad_row_share", None, share <= max_share,
                       {"bad_rows": len(rejected), "rows": total, "share": round(share, 4)},
                       f"at most validate.landmarks.max_bad_row_share={max_share} of the rows bad "
                       "(remedy: fix or remove them, or raise the threshold)",
                       [int(r["line"]) for r in rejected[:MAX_EXAMPLES]])


def _unreadable(path: Path, error: DataError) -> FileReport:
    check = CheckResult("readable_landmark_csv", None, False, str(error),
                        "a landmark CSV with a known header and data rows", [])
    return FileReport(str(path), 0, [check])


def validate_landmark_csvs(directory: Path, params: ValidationParams) -> list[FileReport]:
    """A report per landmark CSV of ``directory``, a failed one for a file that cannot be parsed."""
    reports = []
    for path in landmark_csvs(directory):
        try:
            lf = read_landmark_csv(path)
        except DataError as exc:
            reports.append(_unreadable(path, exc))
            continue
        report = validate_landmark_table(lf.table, lf.schema, str(path), params, lf.rejected,
                                         sessions=lf.sessions, rows=lf.table.index.to_numpy())
        report.checks.append(_bad_row_check(len(lf.table), lf.rejected, params.max_bad_row_share))
        reports.append(report)
    return reports
