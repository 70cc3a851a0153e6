"""Great Expectations checks for landmark tables and clip indexes, fast on ~2,000 columns.

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

GX runs in a process-wide ephemeral context created on first use (importing GX costs ~2 s,
so it is imported lazily); suites are built with all expectations at once and never saved.
"""
from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator

from actionrec.core.io import write_text
from actionrec.config.validation import ClipValidationParams, ValidationParams
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

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.expectations import Expectation

log = logging.getLogger(__name__)

MAX_EXAMPLES = 10
ROW_COL = "row"
CLIP_STATUSES = ("ok", "decode_error", "no_person", "too_short")
CLIP_INDEX_COLUMNS = (
    "clip", "label", "group", "status", "message", "n_frames",
    "pose_rate", "face_rate", "left_hand_rate", "right_hand_rate",
)

_MEANING = {
    "min_xy": "smallest x/y of the detected landmarks in a frame",
    "max_xy": "largest x/y of the detected landmarks in a frame",
    "min_z": "smallest z of the detected landmarks in a frame",
    "max_z": "largest z of the detected landmarks in a frame",
    "min_vis": "smallest visibility of the detected landmarks in a frame",
    "max_vis": "largest visibility of the detected landmarks in a frame",
    "n_null_required": "NaN values inside the body parts detected in a frame",
    "pose_missing": "share of frames without a pose",
    "face_missing": "share of frames without a face",
    "rows_per_class": "rows per class",
    "rows_per_session": "rows per session",
    "ok_n_frames": "frames of a clip with status ok",
    "ok_pose_rate": "pose detection rate of a clip with status ok",
    "excluded": "share of clips excluded (status not ok, too short or too little pose)",
}


@dataclass
class CheckResult:
    """The outcome of one expectation."""

    expectation: str  # GX name, e.g. "expect_column_values_to_be_between"
    column: str | None  # column of the checked table (summary, counts or the file itself)
    success: bool
    observed: Any
    details: str
    example_rows: list[int]  # 1-based data rows of the file


@dataclass
class FileReport:
    """All checks of one file; ``excluded`` lists clips a clip index drops visibly."""

    source: str
    n_rows: int
    checks: list[CheckResult]
    rejected_rows: list[dict] = field(default_factory=list)  # reader: {"line", "reason"}
    excluded: list[dict] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(c.success for c in self.checks)

    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success]

    def to_dict(self) -> dict:
        return _jsonable({"source": self.source, "success": self.success, **asdict(self)})


# --------------------------------------------------------------------------- GX plumbing


@functools.cache
def _batch_definition() -> "BatchDefinition":
    """One ephemeral context per process: a pandas asset whose batches are passed in."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    quiet = logging.getLogger("great_expectations").level == logging.NOTSET
    if quiet:  # GX logs hundreds of INFO lines on import
        logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    if quiet:  # this module pins its own logger to INFO
        logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("actionrec").add_dataframe_asset("table")
    return asset.add_batch_definition_whole_dataframe("whole")


def _gxe() -> ModuleType:
    """``great_expectations.expectations``, imported after the context is set up."""
    _batch_definition()
    import great_expectations.expectations as gxe

    return gxe


def _validate(
    frame: pd.DataFrame, expectations: list["Expectation"], index_columns: list[str]
) -> list["ExpectationValidationResult"]:
    """Run one suite on ``frame``; results come back in the order of ``expectations``."""
    import great_expectations as gx

    batch_definition = _batch_definition()
    suite = gx.ExpectationSuite(name="actionrec", expectations=expectations)
    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": MAX_EXAMPLES,
        "unexpected_index_column_names": index_columns,
    }
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    results = batch.validate(suite, result_format=result_format).results
    order = {(e.expectation_type, getattr(e, "column", None)): i
             for i, e in enumerate(expectations)}

    def position(r: "ExpectationValidationResult") -> int:
        return order[(r.expectation_config.type, r.expectation_config.kwargs.get("column"))]

    return sorted(results, key=position)


def _exception_message(result: "ExpectationValidationResult") -> str | None:
    """GX nests metric failures one level down (keyed by metric id); find the message."""
    info = result.exception_info or {}
    if info.get("raised_exception"):
        return info.get("exception_message")
    for nested in info.values():
        if isinstance(nested, dict) and nested.get("raised_exception"):
            return nested.get("exception_message")
    return None


def _describe(expectation: str, kwargs: dict) -> str:
    """What an expectation asked for, in words."""
    column = kwargs.get("column")
    subject = f"{column} ({_MEANING[column]})" if column in _MEANING else str(column)
    lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
    limits = [f">= {lo}" if lo is not None else "", f"<= {hi}" if hi is not None else ""]
    bounds = " and ".join(filter(None, limits))
    mostly = kwargs.get("mostly", 1.0)
    share = "" if mostly >= 1.0 else f" for at least {mostly:.0%} of rows"
    words = {
        "expect_table_columns_to_match_ordered_list":
            f"columns are the schema's {len(kwargs.get('column_list', []))} columns, in order",
        "expect_table_columns_to_match_set": f"columns include {kwargs.get('column_set')}",
        "expect_table_row_count_to_be_between": f"row count {bounds}",
        "expect_column_values_to_not_be_null": f"{subject}: no nulls",
        "expect_column_values_to_be_unique": f"{subject}: unique",
        "expect_column_values_to_be_in_set": f"{subject} in {kwargs.get('value_set')}",
        "expect_column_mean_to_be_between": f"mean of {subject} {bounds}",
        "expect_column_values_to_be_between": f"{subject} {bounds}{share}",
    }
    return words.get(expectation, f"{expectation} {kwargs}")


def _check(result: "ExpectationValidationResult", index_column: str | None) -> CheckResult:
    """Flatten a GX result; example rows come from ``index_column`` of unexpected rows."""
    config = result.expectation_config
    kwargs = config.kwargs
    res = result.result or {}
    details = _describe(config.type, kwargs)
    error = _exception_message(result)
    if error:
        details += f"; GX error: {error}"
    if "unexpected_count" in res:
        observed: Any = {
            "unexpected_count": res["unexpected_count"],
            "unexpected_percent": res.get("unexpected_percent"),
            "examples": res.get("partial_unexpected_list", []),
        }
    else:
        observed = res.get("observed_value")
    examples = res.get("partial_unexpected_index_list") or []
    rows = [int(e[index_column]) for e in examples if index_column and index_column in e]
    return CheckResult(config.type, kwargs.get("column"), bool(result.success), observed,
                       details, rows)


def _run_checks(
    frame: pd.DataFrame, expectations: list["Expectation"], index_column: str | None
) -> list[CheckResult]:
    index_columns = [index_column] if index_column else []
    return [_check(r, index_column) for r in _validate(frame, expectations, index_columns)]


# --------------------------------------------------------------------------- landmark tables


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


def _summary_expectations(summary: pd.DataFrame, params: ValidationParams) -> list:
    gxe = _gxe()
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
    gxe = _gxe()
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
    results = _validate(counts_table, expectations, list(groups))
    return [_count_check(r, key_col, summary) for r, key_col in zip(results, groups)]


def _count_check(result: "ExpectationValidationResult", key_col: str,
                 summary: pd.DataFrame) -> CheckResult:
    """Name the small groups and point at their first rows in the file."""
    check = _check(result, None)
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
    gxe = _gxe()
    expectation = gxe.ExpectTableColumnsToMatchOrderedList(column_list=expected)
    result = _validate(df.iloc[:0], [expectation], [])[0]
    check = _check(result, None)
    got = [str(c) for c in df.columns]
    got_set, expected_set = set(got), set(expected)
    missing = [c for c in expected if c not in got_set]
    extra = [c for c in got if c not in expected_set]
    moved = [f"position {i + 1}: '{g}' (expected '{e}')"
             for i, (g, e) in enumerate(zip(got, expected)) if g != e]
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
        checks += _run_checks(summary, _summary_expectations(summary, params), ROW_COL)
        checks += _count_checks(summary, params)
    else:
        log.warning("%s: schema columns missing, data checks skipped", source)
    report = FileReport(source, len(df), checks, list(rejected_rows or []))
    _log_report(report, time.perf_counter() - start)
    return report


# --------------------------------------------------------------------------- clip index


def usable_clips(index: pd.DataFrame, params: ClipValidationParams) -> np.ndarray:
    """Clips kept for training: status ok, enough frames and enough pose detections."""
    ok = index["status"].to_numpy(dtype=object) == "ok"
    frames = index["n_frames"].to_numpy(dtype=np.float64)
    pose = index["pose_rate"].to_numpy(dtype=np.float64)
    return ok & (frames >= params.min_frames) & (pose >= params.min_pose_rate)


def _exclusion_reason(clip: pd.Series, params: ClipValidationParams) -> str:
    if clip["status"] != "ok":
        return f"{clip['status']}: {clip['message']}"
    if not clip["n_frames"] >= params.min_frames:
        return f"{clip['n_frames']} frames < {params.min_frames}"
    return f"pose rate {clip['pose_rate']:.2f} < {params.min_pose_rate}"


def _clip_frame(index: pd.DataFrame, usable: np.ndarray) -> pd.DataFrame:
    """What the clip expectations run on; frame counts and pose rates of ok clips only."""
    ok = index["status"].to_numpy(dtype=object) == "ok"
    return pd.DataFrame({
        ROW_COL: np.arange(1, len(index) + 1),
        "clip": index["clip"].to_numpy(dtype=object),
        "label": index["label"].to_numpy(dtype=object),
        "status": index["status"].to_numpy(dtype=object),
        "ok_n_frames": np.where(ok, index["n_frames"].to_numpy(dtype=np.float64), np.nan),
        "ok_pose_rate": np.where(ok, index["pose_rate"].to_numpy(dtype=np.float64), np.nan),
        "excluded": (~usable).astype(np.int8),
    })


def _clip_expectations(params: ClipValidationParams) -> list["Expectation"]:
    """Per-clip thresholds use ``mostly``: single bad clips are listed, not fatal."""
    gxe = _gxe()
    mostly = 1.0 - params.max_bad_clip_share
    return [
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
        gxe.ExpectColumnValuesToNotBeNull(column="clip"),
        gxe.ExpectColumnValuesToBeUnique(column="clip"),
        gxe.ExpectColumnValuesToBeInSet(column="label", value_set=params.labels),
        gxe.ExpectColumnValuesToBeInSet(column="status", value_set=list(CLIP_STATUSES)),
        gxe.ExpectColumnValuesToBeBetween(
            column="ok_n_frames", min_value=params.min_frames, mostly=mostly
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="ok_pose_rate", min_value=params.min_pose_rate, mostly=mostly
        ),
        gxe.ExpectColumnMeanToBeBetween(
            column="excluded", min_value=0.0, max_value=params.max_bad_clip_share
        ),
    ]


def validate_clip_index(
    index: pd.DataFrame, source: str, params: ClipValidationParams
) -> FileReport:
    """Check the clip index. Clips that :func:`usable_clips` rejects are listed in
    ``excluded`` (row, clip, label, status, reason); they fail the report only when their
    share exceeds ``max_bad_clip_share``."""
    start = time.perf_counter()
    gxe = _gxe()
    has_columns = gxe.ExpectTableColumnsToMatchSet(
        column_set=list(CLIP_INDEX_COLUMNS), exact_match=False
    )
    checks = _run_checks(index.iloc[:0], [has_columns], None)
    excluded: list[dict] = []
    if checks[0].success:
        usable = usable_clips(index, params)
        checks += _run_checks(_clip_frame(index, usable), _clip_expectations(params), ROW_COL)
        for i in np.flatnonzero(~usable):
            clip = index.iloc[i]
            excluded.append({"row": int(i) + 1, "clip": clip["clip"], "label": clip["label"],
                             "status": clip["status"], "reason": _exclusion_reason(clip, params)})
        share = next(c for c in checks if c.column == "excluded")
        share.example_rows = [e["row"] for e in excluded[:MAX_EXAMPLES]]
        share.details += f"; {len(excluded)} of {len(index)} clips excluded"
    report = FileReport(source, len(index), checks, excluded=excluded)
    _log_report(report, time.perf_counter() - start)
    return report


# --------------------------------------------------------------------------- reporting


def _log_report(report: FileReport, seconds: float) -> None:
    n_ok = sum(c.success for c in report.checks)
    log.info("validated %s: %d rows, %d/%d checks passed (%.2f s)",
             report.source, report.n_rows, n_ok, len(report.checks), seconds)


def _jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars unwrapped, NaN/inf -> None, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return None if pd.isna(value) else str(value)


def _observed_text(observed: Any) -> str:
    """``3 rows (0.03%), e.g. [1.7, 2.0]`` for row checks, the value itself otherwise."""
    if isinstance(observed, dict) and "unexpected_count" in observed:
        percent = observed.get("unexpected_percent") or 0.0
        return (f"{observed['unexpected_count']} rows ({percent:.2f}%), "
                f"e.g. {_jsonable(observed['examples'])}")
    return str(_jsonable(observed))


def _check_line(check: CheckResult) -> str:
    column = f" on {check.column}" if check.column else ""
    rows = f"; example rows {check.example_rows}" if check.example_rows else ""
    return (f"{check.expectation}{column}: observed {_observed_text(check.observed)}{rows} "
            f"[expected {check.details}]")


def _notes(report: FileReport, limit: int) -> list[str]:
    """Excluded clips and rejected rows, at most ``limit`` of each."""
    notes = [f"excluded clip {e['clip']} (row {e['row']}): {e['reason']}"
             for e in report.excluded[:limit]]
    notes += [f"rejected line {r.get('line')}: {r.get('reason')}"
              for r in report.rejected_rows[:limit]]
    hidden = max(0, len(report.excluded) - limit) + max(0, len(report.rejected_rows) - limit)
    return notes + ([f"... and {hidden} more"] if hidden else [])


def format_failure(report: FileReport) -> str:
    """A message for the stage to raise: file, failed expectations, observed, example rows."""
    outcome = "passed" if report.success else "failed"
    lines = [f"validation {outcome} for {report.source} ({report.n_rows} rows, "
             f"{len(report.failures())} of {len(report.checks)} checks failed):"]
    lines += [f"  - {_check_line(c)}" for c in report.failures()]
    lines += [f"  * {note}" for note in _notes(report, limit=5)]
    return "\n".join(lines)


def _safe_name(source: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("_.") or "report"




def _summary_markdown(reports: list[FileReport], names: list[str]) -> str:
    n_failed = sum(not r.success for r in reports)
    lines = ["# Data validation", "",
             f"{len(reports)} files, {n_failed} failed.", "",
             "| file | rows | checks passed | rejected rows | excluded | result |",
             "|---|---|---|---|---|---|"]
    for report, name in zip(reports, names):
        passed = sum(c.success for c in report.checks)
        lines.append(f"| [{report.source}]({name}) | {report.n_rows} | "
                     f"{passed}/{len(report.checks)} | {len(report.rejected_rows)} | "
                     f"{len(report.excluded)} | {'ok' if report.success else '**FAILED**'} |")
    for report in reports:
        notes = _notes(report, limit=50)
        if report.success and not notes:
            continue
        lines += ["", f"## {report.source}", ""]
        lines += [f"- **FAILED** `{_check_line(c)}`" for c in report.failures()]
        lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def write_reports(reports: list[FileReport], out_dir: Path) -> Path:
    """Write ``<source>.json`` per report, ``summary.json`` and ``summary.md``; returns the
    path of ``summary.json``. Every file is replaced atomically."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for report in reports:
        base = _safe_name(report.source)
        name, n = f"{base}.json", 2
        while name in names or name == "summary.json":
            name, n = f"{base}-{n}.json", n + 1
        names.append(name)
        write_text(out_dir / name, json.dumps(report.to_dict(), indent=2, allow_nan=False))
    summary = {
        "success": all(r.success for r in reports),
        "n_files": len(reports),
        "n_failed": sum(not r.success for r in reports),
        "files": [
            {"source": r.source, "report": name, "success": r.success, "n_rows": r.n_rows,
             "n_rejected_rows": len(r.rejected_rows), "n_excluded": len(r.excluded),
             "failures": [{"expectation": c.expectation, "column": c.column}
                          for c in r.failures()]}
            for r, name in zip(reports, names)
        ],
    }
    path = out_dir / "summary.json"
    write_text(path, json.dumps(summary, indent=2, allow_nan=False))
    write_text(out_dir / "summary.md", _summary_markdown(reports, names))
    return path
