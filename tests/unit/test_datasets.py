"""Reading landmark CSVs (seed and session format): recordings, and clear errors for bad input."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pytest

from actionrec.core.schema import CsvFormat, Layout, seed_columns
from actionrec.data.landmarks import DataError, landmark_csvs, read_landmark_csv, recordings_from_file


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_recordings(path: Path):
    return recordings_from_file(read_landmark_csv(path))


def edit_lines(path: Path, edit) -> None:
    """Apply ``edit(lines)`` to the text lines of a file (header is line 0)."""
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- good files


def test_seed_pose_file_contiguous_runs_become_sessions(write_csv, random_landmarks) -> None:
    coords = random_landmarks(10)
    labels = ["Wave"] * 4 + ["Clap"] * 3 + ["Wave"] * 3
    path = write_csv(coords, labels, fmt="seed", name="coords.csv")
    lf = read_landmark_csv(path)
    assert lf.schema.format is CsvFormat.SEED and lf.schema.layout is Layout.POSE
    assert lf.rejected == []
    recs = recordings_from_file(lf)
    assert [r.session_id for r in recs] == ["coords#01", "coords#02", "coords#03"]
    assert [r.label for r in recs] == ["Wave", "Clap", "Wave"]
    assert [len(r) for r in recs] == [4, 3, 3]
    for rec in recs:
        assert rec.subject_id is None and rec.group == rec.session_id
        assert rec.coords.dtype == np.float32 and rec.coords.shape[1:] == (33, 4)
        np.testing.assert_array_equal(rec.frames, np.arange(len(rec)))
        assert rec.source == str(path)
        assert rec.layout is Layout.POSE
    np.testing.assert_allclose(np.concatenate([r.coords for r in recs]), coords, atol=1e-6)


def test_seed_holistic_file_keeps_missing_face_as_nan(write_csv, random_landmarks) -> None:
    coords = random_landmarks(6, 501)
    coords[2, 33:] = np.nan  # face lost in one frame
    path = write_csv(coords, "Happy", fmt="seed")
    lf = read_landmark_csv(path)
    assert lf.schema.layout is Layout.HOLISTIC and lf.rejected == []
    (rec,) = recordings_from_file(lf)
    assert rec.coords.shape == (6, 501, 4)
    assert np.isnan(rec.coords[2, 33:]).all()
    assert not np.isnan(rec.coords[[0, 1, 3, 4, 5]]).any()
    assert not np.isnan(rec.coords[2, :33]).any()


def test_session_file_subject_becomes_group(write_csv, random_landmarks) -> None:
    coords = random_landmarks(9, 501)
    sessions = ["s1-nod"] * 5 + ["s2-nod"] * 4
    subjects = ["alice"] * 5 + ["bob"] * 4
    path = write_csv(coords, "Nod", fmt="session", sessions=sessions, subjects=subjects)
    lf = read_landmark_csv(path)
    assert lf.schema.format is CsvFormat.SESSION and lf.schema.layout is Layout.HOLISTIC
    recs = recordings_from_file(lf)
    assert [(r.session_id, r.subject_id, r.group, len(r)) for r in recs] == [
        ("s1-nod", "alice", "alice", 5),
        ("s2-nod", "bob", "bob", 4),
    ]
    np.testing.assert_array_equal(recs[1].frames, np.arange(4))
    np.testing.assert_allclose(recs[1].timestamps, np.arange(4) / 30, atol=1e-4)
    np.testing.assert_allclose(recs[1].coords, coords[5:], atol=1e-6)


def test_session_file_without_subject_groups_by_session(write_csv, random_landmarks) -> None:
    path = write_csv(random_landmarks(4), "Nod", fmt="session", sessions="sess-a")
    (rec,) = read_recordings(path)
    assert rec.subject_id is None
    assert rec.group == "sess-a"


def test_numeric_looking_ids_stay_strings(write_csv, random_landmarks) -> None:
    path = write_csv(random_landmarks(4), "1", fmt="session", sessions="007", subjects="01")
    (rec,) = read_recordings(path)
    assert (rec.label, rec.session_id, rec.subject_id) == ("1", "007", "01")


@pytest.mark.parametrize("fmt", ["seed", "session"])
def test_pose_only_files(write_csv, random_landmarks, fmt: str) -> None:
    path = write_csv(random_landmarks(5), "Lunge", fmt=fmt)
    lf = read_landmark_csv(path)
    assert lf.schema.layout is Layout.POSE
    assert lf.coords().shape == (5, 33, 4)


def test_session_file_with_hands(write_csv, random_landmarks) -> None:
    path = write_csv(random_landmarks(3, 543), "Wave", fmt="session")
    lf = read_landmark_csv(path)
    assert lf.schema.layout is Layout.HOLISTIC_HANDS
    assert lf.coords().shape == (3, 543, 4)


@pytest.mark.parametrize("fmt", ["seed", "session"])
def test_reading_does_not_modify_the_file(write_csv, random_landmarks, fmt: str) -> None:
    path = write_csv(random_landmarks(8), ["A"] * 4 + ["B"] * 4, fmt=fmt, sessions=["a"] * 4 + ["b"] * 4)
    edit_lines(path, lambda lines: lines.__setitem__(3, lines[3] + ",extra"))  # one bad row
    before, mtime = sha256(path), path.stat().st_mtime_ns
    lf = read_landmark_csv(path)
    recordings_from_file(lf)
    assert len(lf.rejected) == 1
    assert sha256(path) == before
    assert path.stat().st_mtime_ns == mtime


def test_landmark_csvs_sorted_and_missing_dir(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    for name in ("b/z.csv", "a.csv", "c.txt"):
        (tmp_path / name).write_text("x")
    assert landmark_csvs(tmp_path) == [tmp_path / "a.csv", tmp_path / "b" / "z.csv"]
    assert landmark_csvs(tmp_path / "nope") == []


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"
    with pytest.raises(DataError, match=r"absent\.csv: no such file"):
        read_landmark_csv(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.csv: empty file"):
        read_landmark_csv(path)


@pytest.mark.parametrize("fmt", ["seed", "session"])
def test_header_only(write_csv, random_landmarks, fmt: str) -> None:
    path = write_csv(random_landmarks(0), [], fmt=fmt, name="header.csv")
    with pytest.raises(DataError, match=r"header\.csv: no usable data rows"):
        read_landmark_csv(path)


def test_wrong_first_column(write_csv, random_landmarks) -> None:
    path = write_csv(random_landmarks(3), "A", name="wrong.csv")
    edit_lines(path, lambda lines: lines.__setitem__(0, lines[0].replace("class", "label", 1)))
    with pytest.raises(DataError, match=r"wrong\.csv: first column must be 'class'"):
        read_landmark_csv(path)


def test_duplicated_columns(write_csv, random_landmarks) -> None:
    path = write_csv(random_landmarks(3), "A", name="dupes.csv")
    edit_lines(path, lambda lines: lines.__setitem__(0, lines[0].replace(",x2,", ",x1,", 1)))
    with pytest.raises(DataError, match=r"dupes\.csv: duplicated columns: x1"):
        read_landmark_csv(path)


def test_wrong_column_order(write_csv, random_landmarks) -> None:
    path = write_csv(random_landmarks(3), "A", name="order.csv")
    header = seed_columns(Layout.POSE)
    header[1], header[2] = header[2], header[1]
    edit_lines(path, lambda lines: lines.__setitem__(0, ",".join(header)))
    with pytest.raises(DataError, match=r"order\.csv: column 2 is 'y1', expected 'x1'"):
        read_landmark_csv(path)


def test_wrong_column_count(write_csv, random_landmarks) -> None:
    path = write_csv(random_landmarks(3), "A", name="count.csv")
    edit_lines(path, lambda lines: lines.__setitem__(0, lines[0].rsplit(",", 1)[0]))
    with pytest.raises(DataError, match=r"count\.csv: 131 landmark columns is not a multiple of 4"):
        read_landmark_csv(path)


@pytest.mark.parametrize("fmt", ["seed", "session"])
def test_short_row_rejected_with_its_row_number(write_csv, random_landmarks, caplog, fmt: str) -> None:
    coords = random_landmarks(6)
    path = write_csv(coords, "A", fmt=fmt, name="short.csv")
    # data row 3 (file line 4) loses all but its first 10 fields
    edit_lines(path, lambda lines: lines.__setitem__(3, ",".join(lines[3].split(",")[:10])))
    with caplog.at_level(logging.WARNING, logger="actionrec.data.landmarks"):
        lf = read_landmark_csv(path)
    assert [r["line"] for r in lf.rejected] == [3]
    assert "10 fields" in lf.rejected[0]["reason"]
    assert list(lf.table.index) == [1, 2, 4, 5, 6]
    np.testing.assert_allclose(lf.coords(), coords[[0, 1, 3, 4, 5]], atol=1e-6)
    assert "short.csv" in caplog.text and "rejected" in caplog.text
    (rec,) = recordings_from_file(lf)
    assert len(rec) == 5


def test_non_numeric_value_rejected_naming_the_column(write_csv, random_landmarks) -> None:
    coords = random_landmarks(5)
    path = write_csv(coords, "A", name="text.csv")

    def poison(lines: list[str]) -> None:
        fields = lines[2].split(",")
        fields[1 + 4 * 6 + 1] = "oops"  # y7 of data row 2
        lines[2] = ",".join(fields)

    edit_lines(path, poison)
    lf = read_landmark_csv(path)
    assert len(lf.rejected) == 1
    assert lf.rejected[0]["line"] == 2
    assert "'oops'" in lf.rejected[0]["reason"] and "y7" in lf.rejected[0]["reason"]
    assert list(lf.table.index) == [1, 3, 4, 5]
    assert lf.coords().dtype == np.float32
    np.testing.assert_allclose(lf.coords(), coords[[0, 2, 3, 4]], atol=1e-6)


def test_non_numeric_frame_rejected(write_csv, random_landmarks) -> None:
    path = write_csv(random_landmarks(4), "A", fmt="session", name="frame.csv")

    def poison(lines: list[str]) -> None:
        fields = lines[4].split(",")
        fields[3] = "four"
        lines[4] = ",".join(fields)

    edit_lines(path, poison)
    lf = read_landmark_csv(path)
    assert [(r["line"], "frame" in r["reason"]) for r in lf.rejected] == [(4, True)]
    (rec,) = recordings_from_file(lf)
    np.testing.assert_array_equal(rec.frames, [0, 1, 2])


def test_all_rows_bad(write_csv, random_landmarks) -> None:
    path = write_csv(random_landmarks(2), "A", name="allbad.csv")
    edit_lines(path, lambda lines: lines.__setitem__(slice(1, 3), ["A,1,2", "A,3"]))
    with pytest.raises(DataError, match=r"allbad\.csv: no usable data rows \(2 rejected\)"):
        read_landmark_csv(path)


def test_session_mixing_labels(write_csv, random_landmarks) -> None:
    path = write_csv(random_landmarks(6), ["Nod"] * 3 + ["Shake"] * 3, fmt="session", sessions="s1", name="mixed.csv")
    lf = read_landmark_csv(path)
    with pytest.raises(DataError, match=r"mixed\.csv: session s1 mixes labels \['Nod', 'Shake'\]"):
        recordings_from_file(lf)


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
class TestRealCoords:
    def test_ebigdon_holistic_short_rows_rejected(self, shared_data: Path) -> None:
        path = shared_data / "mediapipe_coords" / "ebigdon_hci_project" / "coords.csv"
        before = sha256(path)
        lf = read_landmark_csv(path)
        assert lf.schema.format is CsvFormat.SEED and lf.schema.layout is Layout.HOLISTIC
        assert len(lf.schema.columns) == 2005
        assert len(lf.rejected) == 36
        assert all("43 fields" in r["reason"] for r in lf.rejected)
        assert len(lf.table) == 65
        assert set(lf.table["class"]) == {"Happy", "Sad"}
        recs = recordings_from_file(lf)
        assert [(r.label, len(r)) for r in recs] == [("Happy", 26), ("Sad", 39)]
        assert [r.session_id for r in recs] == ["coords#01", "coords#02"]
        assert sha256(path) == before

    def test_fencing_pose_only(self, shared_data: Path) -> None:
        path = shared_data / "mediapipe_coords" / "liulawrence45_fencing_pose" / "coords.csv"
        lf = read_landmark_csv(path)
        assert lf.schema.layout is Layout.POSE and len(lf.schema.columns) == 133
        assert lf.rejected == []
        assert len(lf.table) == 772
        recs = recordings_from_file(lf)
        assert len(recs) == 2
        assert sum(len(r) for r in recs) == 772
        assert {r.label for r in recs} == {"Lunge", "En Garde"}
        assert not np.isnan(np.concatenate([r.coords for r in recs])).any()
