"""Landmark CSV headers: format and layout detection, and precise errors for bad headers."""

from __future__ import annotations

import pytest

from actionrec.core.schema import (
    FACE_N,
    HAND_N,
    POSE_N,
    SESSION_META,
    CsvFormat,
    Layout,
    Part,
    SchemaError,
    detect_schema,
    landmark_columns,
    part_slice,
    seed_columns,
    session_columns,
)


@pytest.mark.parametrize(
    ("header", "fmt", "layout", "width"),
    [
        (seed_columns(Layout.POSE), CsvFormat.SEED, Layout.POSE, 133),
        (seed_columns(Layout.HOLISTIC), CsvFormat.SEED, Layout.HOLISTIC, 2005),
        (session_columns(Layout.POSE), CsvFormat.SESSION, Layout.POSE, 137),
        (session_columns(Layout.HOLISTIC), CsvFormat.SESSION, Layout.HOLISTIC, 2009),
        (session_columns(Layout.HOLISTIC_HANDS), CsvFormat.SESSION, Layout.HOLISTIC_HANDS, 2177),
    ],
)
def test_detect_schema_known_layouts(header: list[str], fmt: CsvFormat, layout: Layout, width: int) -> None:
    assert len(header) == width
    schema = detect_schema(header)
    assert (schema.format, schema.layout) == (fmt, layout)
    assert schema.columns == header
    n_meta = 1 if fmt is CsvFormat.SEED else len(SESSION_META)
    assert schema.meta_columns == header[:n_meta]


def test_seed_header_literal_start_and_end() -> None:
    header = seed_columns(Layout.HOLISTIC)
    assert header[:6] == ["class", "x1", "y1", "z1", "v1", "x2"]
    assert header[-1] == "v501"
    assert session_columns(Layout.POSE)[:6] == ["class", "session_id", "subject_id", "frame", "timestamp", "x1"]


def test_wrong_first_column() -> None:
    header = ["label", *landmark_columns(Layout.POSE)]
    with pytest.raises(SchemaError, match=r"first column must be 'class'.*label"):
        detect_schema(header)


def test_empty_header() -> None:
    with pytest.raises(SchemaError, match="first column"):
        detect_schema([])


def test_duplicated_columns_are_named() -> None:
    header = seed_columns(Layout.POSE)
    header[5] = "x1"  # x2 -> x1: x1 now twice
    with pytest.raises(SchemaError, match=r"duplicated columns: x1"):
        detect_schema(header)


def test_wrong_column_order_names_position_and_columns() -> None:
    header = seed_columns(Layout.POSE)
    header[1], header[2] = header[2], header[1]  # y1 before x1
    with pytest.raises(SchemaError, match=r"column 2 is 'y1', expected 'x1'"):
        detect_schema(header)


def test_wrong_order_deep_in_session_header() -> None:
    header = session_columns(Layout.HOLISTIC)
    header[-1], header[-2] = header[-2], header[-1]
    with pytest.raises(SchemaError, match=r"column 2008 is 'v501', expected 'z501'"):
        detect_schema(header)


def test_session_meta_order_checked() -> None:
    header = session_columns(Layout.POSE)
    header[2], header[3] = header[3], header[2]  # frame before subject_id
    with pytest.raises(SchemaError, match=r"column 3 is 'frame', expected 'subject_id'"):
        detect_schema(header)


def test_column_count_not_multiple_of_four() -> None:
    header = seed_columns(Layout.POSE)[:-1]  # 131 coordinate columns
    with pytest.raises(SchemaError, match=r"131 landmark columns is not a multiple of 4"):
        detect_schema(header)


def test_label_only_header() -> None:
    with pytest.raises(SchemaError, match="0 landmark columns"):
        detect_schema(["class"])


def test_unknown_landmark_count() -> None:
    header = ["class", *[f"{c}{i}" for i in range(1, 11) for c in "xyzv"]]  # 10 landmarks
    with pytest.raises(SchemaError, match=r"10 landmarks match no known layout.*33.*501.*543"):
        detect_schema(header)


def test_schema_error_is_value_error() -> None:
    assert issubclass(SchemaError, ValueError)


def test_part_slices_cover_file_order() -> None:
    assert part_slice(Part.POSE) == slice(0, 33)
    assert part_slice(Part.FACE) == slice(33, 501)
    assert part_slice(Part.LEFT_HAND) == slice(501, 522)
    assert part_slice(Part.RIGHT_HAND) == slice(522, 543)
    sizes = [part_slice(p).stop - part_slice(p).start for p in Part]
    assert sizes == [POSE_N, FACE_N, HAND_N, HAND_N]


def test_layout_from_n_landmarks() -> None:
    assert Layout.from_n_landmarks(33) is Layout.POSE
    assert Layout.from_n_landmarks(501) is Layout.HOLISTIC
    assert Layout.from_n_landmarks(543) is Layout.HOLISTIC_HANDS
    for layout in Layout:
        assert Layout.from_n_landmarks(layout.n_landmarks) is layout
    with pytest.raises(ValueError, match="75 landmarks match no known layout"):
        Layout.from_n_landmarks(75)


def test_layout_parts_are_prefixes() -> None:
    assert Layout.POSE.parts == (Part.POSE,)
    assert Layout.HOLISTIC.parts == (Part.POSE, Part.FACE)
    assert Layout.HOLISTIC_HANDS.parts == tuple(Part)
    assert len(landmark_columns(Layout.HOLISTIC_HANDS)) == 543 * 4
