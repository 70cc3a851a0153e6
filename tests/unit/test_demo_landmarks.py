"""Demo landmark sessions: deterministic, valid session CSVs, and learnable across subjects."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from actionrec.config.params import ClassicalParams, SplitParams, load_params
from actionrec.core.features import FeatureSpec
from actionrec.core.schema import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER, CsvFormat, Layout
from actionrec.data.corpus import frame_samples
from actionrec.data.demo.landmarks import CLASSES, generate_demo_landmarks
from actionrec.data.landmarks import read_landmark_csv, recordings_from_file
from actionrec.data.split import check_no_leak, make_split
from actionrec.models.classical import build_pipelines

SUBJECTS = 5


def digests(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> list[Path]:
    return generate_demo_landmarks(tmp_path_factory.mktemp("demo"), seed=0, subjects=SUBJECTS)


@pytest.fixture(scope="module")
def parsed(demo: list[Path]):
    return [read_landmark_csv(p) for p in demo]


@pytest.fixture(scope="module")
def recordings(parsed):
    return [r for lf in parsed for r in recordings_from_file(lf)]


def test_byte_identical_across_runs(tmp_path: Path) -> None:
    a = generate_demo_landmarks(tmp_path / "a", seed=3, subjects=2, n_frames=20)
    b = generate_demo_landmarks(tmp_path / "b", seed=3, subjects=2, n_frames=20)
    assert [p.name for p in a] == [p.name for p in b]
    assert digests(a) == digests(b)
    c = generate_demo_landmarks(tmp_path / "c", seed=4, subjects=2, n_frames=20)
    assert digests(c) != digests(a)
    assert not list((tmp_path / "a").glob("*.tmp"))


def test_files_are_valid_session_csvs(demo: list[Path], parsed) -> None:
    assert len(demo) == SUBJECTS * len(CLASSES)
    assert len({p.name for p in demo}) == len(demo)
    for lf in parsed:
        assert lf.schema.format is CsvFormat.SESSION
        assert lf.schema.layout is Layout.HOLISTIC
        assert lf.rejected == [], lf.path.name
        assert 80 <= len(lf.table) < 110


def test_every_class_and_one_subject_per_session(recordings) -> None:
    assert {r.label for r in recordings} == set(CLASSES)
    assert len({r.session_id for r in recordings}) == len(recordings)
    subjects = {r.subject_id for r in recordings}
    assert len(subjects) == SUBJECTS
    for rec in recordings:
        assert rec.subject_id and rec.group == rec.subject_id
        assert rec.subject_id in rec.session_id  # demo-sNN-<action>
        np.testing.assert_array_equal(rec.frames, np.arange(len(rec)))
        assert not np.isnan(rec.coords[:, :33]).any()  # the pose is never lost
    for subject in subjects:
        assert {r.label for r in recordings if r.subject_id == subject} == set(CLASSES)


def test_subject_faces_the_camera_as_mediapipe_reports_it(recordings) -> None:
    # MediaPipe names landmarks from the subject's side: facing the camera, the subject's left
    # shoulder and hip are on the image's right (larger x), as in the landmarks it extracts from
    # the demo videos; a mirrored template would teach the models a mirrored body
    for rec in recordings:
        for left, right in ((LEFT_SHOULDER, RIGHT_SHOULDER), (LEFT_HIP, RIGHT_HIP)):
            assert (rec.coords[:, left, 0] > rec.coords[:, right, 0]).mean() > 0.95, rec.session_id


def test_some_face_frames_missing(recordings) -> None:
    face_lost = np.concatenate([np.isnan(r.coords[:, 33:, 0]).all(axis=1) for r in recordings])
    assert 0 < face_lost.mean() < 0.1


@pytest.fixture(scope="module")
def subject_split(recordings):
    split = make_split(recordings, SplitParams(test_size=0.3, val_size=0.2, purge_frames=10), seed=0)
    check_no_leak(split)
    test_subjects = set(split.loc[split["subset"] == "test", "group"])
    assert 0 < len(test_subjects) < SUBJECTS
    return split


def accuracy(model, split, recordings, spec: FeatureSpec) -> float:
    by_id = {r.session_id: r for r in recordings}
    x_train, y_train, _ = frame_samples(split, "train", by_id, spec)
    x_test, y_test, _ = frame_samples(split, "test", by_id, spec)
    assert set(y_train) == set(y_test) == set(CLASSES)
    model.fit(x_train, y_train)
    return float((model.predict(x_test) == np.array(y_test)).mean())


CHANCE = 1 / len(CLASSES)
POSE_CENTRED = FeatureSpec(kind="body_centred", parts=["pose"])


def test_linear_model_learns_across_subjects(recordings, subject_split, record_property) -> None:
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    acc = accuracy(lr, subject_split, recordings, POSE_CENTRED)
    record_property("demo_lr_frame_accuracy", acc)
    print(f"demo landmarks, unseen subjects: LogisticRegression frame accuracy {acc:.3f}")
    # per frame, an oscillating head is linearly ambiguous: ~0.37-0.43 over split seeds 0-3
    assert acc > CHANCE + 0.10


def test_forest_learns_across_subjects_but_not_perfectly(recordings, subject_split, record_property) -> None:
    params = ClassicalParams.model_validate(
        {
            **load_params(Path(__file__).resolve().parents[2] / "params.yaml").classical.model_dump(),
            "rf": {"n_estimators": 60, "max_depth": 12, "min_samples_leaf": 2},
        }
    )
    centred = accuracy(build_pipelines(params, 0)["rf"], subject_split, recordings, POSE_CENTRED)
    raw = accuracy(build_pipelines(params, 0)["rf"], subject_split, recordings, FeatureSpec(kind="none"))
    record_property("demo_rf_frame_accuracy", centred)
    record_property("demo_rf_raw_frame_accuracy", raw)
    print(f"demo landmarks, unseen subjects: RandomForest frame accuracy {centred:.3f} (raw features {raw:.3f})")
    assert CHANCE + 0.15 < centred < 0.98
    # subjects differ in size and position: only body-centred features carry over to new ones
    assert centred > raw + 0.15
