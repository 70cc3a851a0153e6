"""Great Expectations checks for the clip index an extraction writes, and which clips are usable."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from actionrec.config.validation import ClipValidationParams
from actionrec.data.validation.checks import MAX_EXAMPLES, ROW_COL, FileReport, gx_expectations, log_report, run_checks

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation

CLIP_STATUSES = ("ok", "decode_error", "no_person", "too_short")
CLIP_INDEX_COLUMNS = (
    "clip", "label", "group", "status", "message", "n_frames",
    "pose_rate", "face_rate", "left_hand_rate", "right_hand_rate",
)


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


def _clip_expectations(params: ClipValidationParams) -> list[Expectation]:
    """Per-clip thresholds use ``mostly``: single bad clips are listed, not fatal."""
    gxe = gx_expectations()
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
    gxe = gx_expectations()
    has_columns = gxe.ExpectTableColumnsToMatchSet(
        column_set=list(CLIP_INDEX_COLUMNS), exact_match=False
    )
    checks = run_checks(index.iloc[:0], [has_columns], None)
    excluded: list[dict] = []
    if checks[0].success:
        usable = usable_clips(index, params)
        checks += run_checks(_clip_frame(index, usable), _clip_expectations(params), ROW_COL)
        for i in np.flatnonzero(~usable):
            clip = index.iloc[i]
            excluded.append({"row": int(i) + 1, "clip": clip["clip"], "label": clip["label"],
                             "status": clip["status"], "reason": _exclusion_reason(clip, params)})
        share = next(c for c in checks if c.column == "excluded")
        share.example_rows = [e["row"] for e in excluded[:MAX_EXAMPLES]]
        share.details += f"; {len(excluded)} of {len(index)} clips excluded"
    report = FileReport(source, len(index), checks, excluded=excluded)
    log_report(report, time.perf_counter() - start)
    return report
