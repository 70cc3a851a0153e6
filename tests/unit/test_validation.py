"""Great Expectations checks on synthetic landmark tables and clip indexes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from actionrec.config.validation import ClipValidationParams, ValidationParams
from actionrec.core.schema import (
    CsvFormat,
    CsvSchema,
    Layout,
    Part,
    part_slice,
    seed_columns,
    session_columns,
)
from actionrec.data.validation.checks import CheckResult, FileReport
from actionrec.data.validation.clips import usable_clips, validate_clip_index
from actionrec.data.validation.landmarks import validate_landmark_table
from actionrec.data.validation.report import format_failure, write_reports

LABELS = ["wave", "clap"]
BETWEEN = "expect_column_values_to_be_between"
MEAN = "expect_column_mean_to_be_between"


def landmarks(n: int, layout: Layout, seed: int = 0) -> np.ndarray:
    """Plausible MediaPipe output ``(n, landmarks, 4)``; face visibility is 0 as in MediaPipe."""
    rng = np.random.default_rng(seed)
    values = np.empty((n, layout.n_landmarks, 4))
    values[:, :, :2] = rng.uniform(0.2, 0.8, (n, layout.n_landmarks, 2))
    values[:, :, 2] = rng.uniform(-0.5, 0.5, (n, layout.n_landmarks))
    values[:, :, 3] = rng.uniform(0.0, 1.0, (n, layout.n_landmarks))
    if Part.FACE in layout.parts:
        values[:, part_slice(Part.FACE), 3] = 0.0
    return values


def session_table(
    labels: list[str], sessions: list[str], layout: Layout = Layout.HOLISTIC
) -> tuple[pd.DataFrame, CsvSchema]:
    n = len(labels)
    df = pd.DataFrame(landmarks(n, layout).reshape(n, -1), columns=session_columns(layout)[5:])
    meta = pd.DataFrame(
        {
            "class": pd.Series(labels, dtype="str"),
            "session_id": pd.Series(sessions, dtype="str"),
            "subject_id": pd.Series(["p1"] * n, dtype="str"),
            "frame": np.arange(n, dtype=np.int64),
            "timestamp": np.arange(n) / 30.0,
        }
    )
    return pd.concat([meta, df], axis=1), CsvSchema(CsvFormat.SESSION, layout)


def seed_table(labels: list[str], layout: Layout = Layout.HOLISTIC) -> tuple[pd.DataFrame, CsvSchema]:
    n = len(labels)
    df = pd.DataFrame(landmarks(n, layout).reshape(n, -1), columns=seed_columns(layout)[1:])
    df.insert(0, "class", pd.Series(labels, dtype="str"))
    return df, CsvSchema(CsvFormat.SEED, layout)


def good_table(layout: Layout = Layout.POSE) -> tuple[pd.DataFrame, CsvSchema]:
    """60 rows: 30 per class, sessions s1 (20 rows) and s2 (40 rows)."""
    return session_table(["wave"] * 30 + ["clap"] * 30, ["s1"] * 20 + ["s2"] * 40, layout)


def check(report: FileReport, expectation: str, column: str | None = None) -> CheckResult:
    found = [c for c in report.checks if c.expectation == expectation and c.column == column]
    assert len(found) == 1, [(c.expectation, c.column) for c in report.checks]
    return found[0]


def failed(report: FileReport) -> set[tuple[str, str | None]]:
    return {(c.expectation, c.column) for c in report.failures()}


def validate(df: pd.DataFrame, schema: CsvSchema, **params: object) -> FileReport:
    params_ = ValidationParams(labels=LABELS, **params)
    return validate_landmark_table(df, schema, "data/s.csv", params_)


@pytest.mark.parametrize("layout", [Layout.POSE, Layout.HOLISTIC, Layout.HOLISTIC_HANDS])
def test_good_session_table_passes(layout: Layout) -> None:
    df, schema = session_table(["wave"] * 30 + ["clap"] * 30, ["s1"] * 60, layout)
    report = validate(df, schema)
    assert report.success, format_failure(report)
    assert report.n_rows == 60
    check(report, BETWEEN, "rows_per_session")
    json.dumps(report.to_dict(), allow_nan=False)


def test_good_seed_table_passes_and_sessions_argument_enables_session_check() -> None:
    df, schema = seed_table(["wave"] * 25 + ["clap"] * 25)
    params = ValidationParams(labels=LABELS)
    report = validate_landmark_table(df, schema, "coords.csv", params)
    assert report.success, format_failure(report)
    assert not any(c.column == "rows_per_session" for c in report.checks)
    sessions = np.array(["a"] * 48 + ["b"] * 2, dtype=object)
    report = validate_landmark_table(df, schema, "coords.csv", params, sessions=sessions)
    assert failed(report) == {(BETWEEN, "rows_per_session")}
    assert check(report, BETWEEN, "rows_per_session").example_rows == [49, 50]


def test_unknown_label_fails_with_row() -> None:
    df, schema = good_table()
    df.loc[6, "class"] = "jump"
    report = validate(df, schema)
    assert failed(report) == {("expect_column_values_to_be_in_set", "class")}
    result = check(report, "expect_column_values_to_be_in_set", "class")
    assert result.example_rows == [7]
    assert result.observed["examples"] == ["jump"]


@pytest.mark.parametrize(
    ("column_name", "value", "summary_column"),
    [
        ("x40", 5.0, "max_xy"),
        ("y2", -3.5, "min_xy"),
        ("z501", 12.0, "max_z"),
        ("z1", -11.0, "min_z"),
        ("v3", 1.5, "max_vis"),
        ("v3", -0.1, "min_vis"),
    ],
)
def test_out_of_range_values_fail_with_rows(column_name: str, value: float, summary_column: str) -> None:
    df, schema = good_table(Layout.HOLISTIC)
    df.loc[[4, 40], column_name] = value
    report = validate(df, schema)
    assert failed(report) == {(BETWEEN, summary_column)}
    assert check(report, BETWEEN, summary_column).example_rows == [5, 41]


def test_xy_range_is_configurable() -> None:
    df, schema = good_table()
    df.loc[0, "x1"] = 1.5
    assert validate(df, schema).success
    assert failed(validate(df, schema, xy_range=(0.0, 1.0))) == {(BETWEEN, "max_xy")}


def test_too_few_rows_per_class() -> None:
    df, schema = session_table(["wave"] * 40 + ["clap"] * 3, ["s1"] * 43)
    report = validate(df, schema)
    assert failed(report) == {(BETWEEN, "rows_per_class")}
    result = check(report, BETWEEN, "rows_per_class")
    assert result.observed == {"clap": 3}
    assert result.example_rows == [41, 42, 43]
    assert "clap (3)" in result.details


def test_too_few_rows_per_session() -> None:
    df, schema = session_table(["wave"] * 30 + ["clap"] * 30, ["s1"] * 57 + ["s9"] * 3)
    report = validate(df, schema)
    assert failed(report) == {(BETWEEN, "rows_per_session")}
    assert check(report, BETWEEN, "rows_per_session").example_rows == [58, 59, 60]


def test_missing_pose_share_too_high() -> None:
    df, schema = good_table()
    pose = list(df.columns[5 : 5 + 33 * 4])
    df.loc[[2, 3], pose] = np.nan
    report = validate(df, schema)
    assert failed(report) == {(MEAN, "pose_missing")}
    assert check(report, MEAN, "pose_missing").observed == pytest.approx(2 / 60)
    assert validate(df, schema, max_missing_pose_share=0.05).success


def test_missing_face_share_too_high() -> None:
    df, schema = good_table(Layout.HOLISTIC)
    face = list(df.columns[5 + 33 * 4 :])
    df.loc[:40, face] = np.nan
    report = validate(df, schema)
    assert failed(report) == {(MEAN, "face_missing")}
    assert check(report, MEAN, "face_missing").observed == pytest.approx(41 / 60)


def test_partly_missing_part_counts_as_null_required() -> None:
    df, schema = good_table()
    df.loc[9, ["x5", "y5"]] = np.nan
    report = validate(df, schema)
    assert failed(report) == {(BETWEEN, "n_null_required")}
    assert check(report, BETWEEN, "n_null_required").example_rows == [10]


def test_null_session_and_frame_fail() -> None:
    df, schema = good_table()
    df["frame"] = df["frame"].astype("float64")
    df.loc[3, "frame"] = np.nan
    df.loc[5, "session_id"] = None
    report = validate(df, schema)
    assert ("expect_column_values_to_not_be_null", "frame") in failed(report)
    assert check(report, "expect_column_values_to_not_be_null", "frame").example_rows == [4]
    assert check(report, "expect_column_values_to_not_be_null", "session_id").example_rows == [6]


def test_empty_table_fails_row_count() -> None:
    df, schema = good_table()
    report = validate(df.iloc[:0], schema)
    assert ("expect_table_row_count_to_be_between", None) in failed(report)


def test_wrong_column_order_fails_but_data_is_still_checked() -> None:
    df, schema = good_table()
    columns = list(df.columns)
    columns[5], columns[6] = columns[6], columns[5]
    report = validate(df[columns], schema)
    assert failed(report) == {("expect_table_columns_to_match_ordered_list", None)}
    result = check(report, "expect_table_columns_to_match_ordered_list")
    assert result.observed["mismatched"][0] == "position 6: 'y1' (expected 'x1')"
    assert len(report.checks) > 10


def test_missing_column_skips_data_checks() -> None:
    df, schema = good_table()
    report = validate(df.drop(columns=["v33"]), schema)
    assert [c.expectation for c in report.checks] == ["expect_table_columns_to_match_ordered_list"]
    assert report.checks[0].observed["missing"] == ["v33"]
    assert not report.success


def test_rows_argument_maps_examples_to_file_rows() -> None:
    df, schema = good_table()
    df.loc[1, "class"] = "jump"
    rows = np.arange(1, 61) + 100
    report = validate_landmark_table(
        df,
        schema,
        "s.csv",
        ValidationParams(labels=LABELS),
        rejected_rows=[{"line": 3, "reason": "bad float"}],
        rows=rows,
    )
    assert check(report, "expect_column_values_to_be_in_set", "class").example_rows == [102]
    assert report.rejected_rows == [{"line": 3, "reason": "bad float"}]


def test_params_are_strict() -> None:
    with pytest.raises(ValidationError, match="min_rows"):
        ValidationParams(labels=LABELS, min_rows=3)
    with pytest.raises(ValidationError, match="xy_range"):
        ValidationParams(labels=LABELS, xy_range=(1.0, 0.0))


def clip_index(statuses: list[str]) -> pd.DataFrame:
    n = len(statuses)
    ok = np.array([s == "ok" for s in statuses])
    return pd.DataFrame(
        {
            "clip": [f"v_Wave_g{i:02d}_c01" for i in range(n)],
            "label": ["wave"] * n,
            "group": [f"g{i:02d}" for i in range(n)],
            "status": statuses,
            "message": ["" if s == "ok" else f"{s} while reading" for s in statuses],
            "n_frames": np.where(ok, 40, 0),
            "pose_rate": np.where(ok, 0.9, 0.0),
            "face_rate": np.where(ok, 0.8, 0.0),
            "left_hand_rate": 0.0,
            "right_hand_rate": 0.0,
        }
    )


def test_clip_index_bad_clip_under_threshold_is_excluded_visibly() -> None:
    index = clip_index(["ok"] * 9 + ["decode_error"])
    report = validate_clip_index(index, "clips.csv", ClipValidationParams(labels=LABELS))
    assert report.success, format_failure(report)
    assert report.excluded == [
        {
            "row": 10,
            "clip": "v_Wave_g09_c01",
            "label": "wave",
            "status": "decode_error",
            "reason": "decode_error: decode_error while reading",
        }
    ]
    assert check(report, MEAN, "excluded").observed == pytest.approx(0.1)


def test_clip_index_bad_clips_over_threshold_fail() -> None:
    index = clip_index(["ok"] * 7 + ["no_person", "too_short", "ok"])
    index.loc[9, "pose_rate"] = 0.2  # ok but hardly any pose: excluded too
    report = validate_clip_index(index, "clips.csv", ClipValidationParams(labels=LABELS))
    assert (MEAN, "excluded") in failed(report)
    result = check(report, MEAN, "excluded")
    assert result.example_rows == [8, 9, 10]
    assert [e["clip"] for e in report.excluded] == [f"v_Wave_g0{i}_c01" for i in (7, 8, 9)]
    assert report.excluded[-1]["reason"] == "pose rate 0.20 < 0.5"
    assert check(report, BETWEEN, "ok_pose_rate").example_rows == [10]
    assert usable_clips(index, ClipValidationParams(labels=LABELS)).sum() == 7
    message = format_failure(report)
    assert "expect_column_mean_to_be_between on excluded" in message
    assert "excluded clip v_Wave_g07_c01 (row 8): no_person: no_person while reading" in message


def test_clip_index_unknown_label_and_status_fail() -> None:
    index = clip_index(["ok"] * 5)
    index.loc[2, "label"] = "jump"
    index.loc[3, "status"] = "weird"
    report = validate_clip_index(index, "clips.csv", ClipValidationParams(labels=LABELS))
    assert {("expect_column_values_to_be_in_set", "label"), ("expect_column_values_to_be_in_set", "status")} <= failed(
        report
    )
    assert check(report, "expect_column_values_to_be_in_set", "status").example_rows == [4]


def test_clip_index_missing_columns() -> None:
    report = validate_clip_index(
        clip_index(["ok"]).drop(columns=["pose_rate"]), "clips.csv", ClipValidationParams(labels=LABELS)
    )
    assert failed(report) == {("expect_table_columns_to_match_set", None)}


def test_format_failure_names_file_expectation_and_rows() -> None:
    df, schema = good_table()
    df.loc[11, "v7"] = 2.0
    message = format_failure(validate(df, schema))
    assert "data/s.csv" in message
    assert "expect_column_values_to_be_between on max_vis" in message
    assert "example rows [12]" in message


def test_write_reports(tmp_path) -> None:
    df, schema = good_table()
    good = validate(df, schema)
    df.loc[0, "class"] = "jump"
    bad = validate_landmark_table(df, schema, "data/raw/landmarks/b.csv", ValidationParams(labels=LABELS))
    clips = validate_clip_index(
        clip_index(["ok"] * 9 + ["decode_error"]), "clips/index.csv", ClipValidationParams(labels=LABELS)
    )
    out = tmp_path / "validation"
    summary_path = write_reports([good, bad, clips], out)
    assert summary_path == out / "summary.json"
    summary = json.loads(summary_path.read_text())
    assert summary["success"] is False and summary["n_failed"] == 1
    assert summary["files"][1]["failures"] == [{"expectation": "expect_column_values_to_be_in_set", "column": "class"}]
    per_file = json.loads((out / summary["files"][1]["report"]).read_text())
    assert per_file["source"] == "data/raw/landmarks/b.csv" and per_file["success"] is False
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["summary.json", "summary.md", "data_s.csv.json", "data_raw_landmarks_b.csv.json", "clips_index.csv.json"]
    )
    markdown = (out / "summary.md").read_text()
    assert "expect_column_values_to_be_in_set on class" in markdown
    assert "v_Wave_g09_c01" in markdown


def test_write_reports_keeps_colliding_names_apart(tmp_path) -> None:
    df, schema = good_table()
    reports = [
        validate_landmark_table(df, schema, source, ValidationParams(labels=LABELS))
        for source in ("a/b.csv", "a_b.csv")
    ]
    summary = json.loads(write_reports(reports, tmp_path).read_text())
    assert [f["report"] for f in summary["files"]] == ["a_b.csv.json", "a_b.csv-2.json"]
