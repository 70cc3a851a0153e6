"""Great Expectations plumbing: run one suite on a table, flatten its results into reports.

GX runs in a process-wide ephemeral context created on first use (importing GX costs ~2 s,
so it is imported lazily); suites are built with all expectations at once and never saved.
"""
from __future__ import annotations

import functools
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_validation_result import (
        ExpectationValidationResult,
    )
    from great_expectations.expectations import Expectation
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

log = logging.getLogger(__name__)

MAX_EXAMPLES = 10
ROW_COL = "row"

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
        return jsonable({"source": self.source, "success": self.success, **asdict(self)})


@functools.cache
def _batch_definition() -> BatchDefinition:
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


def gx_expectations() -> ModuleType:
    """``great_expectations.expectations``, imported after the context is set up."""
    _batch_definition()
    import great_expectations.expectations as module

    return module


def validate_frame(
    frame: pd.DataFrame, expectations: list[Expectation], index_columns: list[str]
) -> list[ExpectationValidationResult]:
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

    def position(r: ExpectationValidationResult) -> int:
        config = _config(r)
        return order[(config.type, config.kwargs.get("column"))]

    return sorted(results, key=position)


def _config(result: ExpectationValidationResult) -> ExpectationConfiguration:
    """The expectation a result answers (GX always sets it on results of a suite run)."""
    assert result.expectation_config is not None
    return result.expectation_config


def _exception_message(result: ExpectationValidationResult) -> str | None:
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


def check_result(result: ExpectationValidationResult, index_column: str | None) -> CheckResult:
    """Flatten a GX result; example rows come from ``index_column`` of unexpected rows."""
    config = _config(result)
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


def run_checks(
    frame: pd.DataFrame, expectations: list[Expectation], index_column: str | None
) -> list[CheckResult]:
    """:func:`validate_frame` and :func:`check_result` in one; ``index_column`` names example rows."""
    index_columns = [index_column] if index_column else []
    return [check_result(r, index_column) for r in validate_frame(frame, expectations, index_columns)]


def log_report(report: FileReport, seconds: float) -> None:
    """One INFO line: the file, its rows, the checks passed and the time taken."""
    n_ok = sum(c.success for c in report.checks)
    log.info("validated %s: %d rows, %d/%d checks passed (%.2f s)",
             report.source, report.n_rows, n_ok, len(report.checks), seconds)


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars unwrapped, NaN/inf -> None, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return None if pd.isna(value) else str(value)
