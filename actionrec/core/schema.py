"""Landmark layout of a recording: the one definition of columns and their order.

Two CSV formats are read and written:

* **seed** (the widespread ``coords.csv``): ``class, x1, y1, z1, v1, ..., xN, yN, zN, vN``.
  N is 33 (pose only, 133 columns) or 501 (pose 33 + face 468, 2,005 columns).
* **session** (ours): ``class, session_id, subject_id, frame, timestamp`` followed by the same
  landmark columns, optionally extended by the two hands (543 landmarks).

Landmarks are numbered from 1 in file order: pose 1-33, face 34-501, left hand 502-522,
right hand 523-543. In memory a recording is a float32 array ``(frames, landmarks, 4)`` with
channels x, y, z, visibility; a part that was not detected in a frame is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

POSE_N, FACE_N, HAND_N = 33, 468, 21
CHANNELS = ("x", "y", "z", "v")

LABEL_COL = "class"
SESSION_COL = "session_id"
SUBJECT_COL = "subject_id"
FRAME_COL = "frame"
TIMESTAMP_COL = "timestamp"
SESSION_META = (LABEL_COL, SESSION_COL, SUBJECT_COL, FRAME_COL, TIMESTAMP_COL)

# MediaPipe's names of the pose landmarks, in file order.
POSE_LANDMARKS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)  # fmt: skip

# MediaPipe pose indices (0-based) used by the body-centred features.
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_HIP, RIGHT_HIP = 23, 24


class Part(str, Enum):
    """A body part MediaPipe Holistic reports, in file order."""

    POSE = "pose"
    FACE = "face"
    LEFT_HAND = "left_hand"
    RIGHT_HAND = "right_hand"


PART_SIZES: dict[Part, int] = {
    Part.POSE: POSE_N,
    Part.FACE: FACE_N,
    Part.LEFT_HAND: HAND_N,
    Part.RIGHT_HAND: HAND_N,
}


class Layout(str, Enum):
    """Which parts a recording holds (always a prefix of the file order)."""

    POSE = "pose"
    HOLISTIC = "holistic"
    HOLISTIC_HANDS = "holistic_hands"

    @property
    def parts(self) -> tuple[Part, ...]:
        order = tuple(Part)
        return order[: {Layout.POSE: 1, Layout.HOLISTIC: 2, Layout.HOLISTIC_HANDS: 4}[self]]

    @property
    def n_landmarks(self) -> int:
        return sum(PART_SIZES[p] for p in self.parts)

    @classmethod
    def from_n_landmarks(cls, n: int) -> Layout:
        for layout in cls:
            if layout.n_landmarks == n:
                return layout
        known = ", ".join(f"{lay.n_landmarks} ({lay.value})" for lay in cls)
        raise ValueError(f"{n} landmarks match no known layout; expected one of {known}")


def part_slice(part: Part) -> slice:
    """Landmark index range of ``part`` in the full file order."""
    start = 0
    for p in Part:
        if p is part:
            return slice(start, start + PART_SIZES[p])
        start += PART_SIZES[p]
    raise KeyError(part)


def landmark_columns(layout: Layout) -> list[str]:
    """``x1, y1, z1, v1, ...`` for every landmark of ``layout``."""
    return [f"{c}{i}" for i in range(1, layout.n_landmarks + 1) for c in CHANNELS]


def seed_columns(layout: Layout) -> list[str]:
    """Header of a seed ``coords.csv`` file."""
    return [LABEL_COL, *landmark_columns(layout)]


def session_columns(layout: Layout) -> list[str]:
    """Header of one of our session CSV files."""
    return [*SESSION_META, *landmark_columns(layout)]


class CsvFormat(str, Enum):
    SEED = "seed"
    SESSION = "session"


@dataclass(frozen=True)
class CsvSchema:
    """The detected format and layout of a landmark CSV header."""

    format: CsvFormat
    layout: Layout

    @property
    def columns(self) -> list[str]:
        if self.format is CsvFormat.SEED:
            return seed_columns(self.layout)
        return session_columns(self.layout)

    @property
    def meta_columns(self) -> list[str]:
        return [LABEL_COL] if self.format is CsvFormat.SEED else list(SESSION_META)


class SchemaError(ValueError):
    """A header that matches none of the known layouts."""


def detect_schema(header: list[str]) -> CsvSchema:
    """Identify format and layout from a header, or explain exactly what is wrong."""
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise SchemaError(f"duplicated columns: {', '.join(dupes[:5])}")
    if not header or header[0] != LABEL_COL:
        raise SchemaError(f"first column must be '{LABEL_COL}', found {header[:1] or 'nothing'}")
    fmt = CsvFormat.SESSION if header[1:2] == [SESSION_COL] else CsvFormat.SEED
    n_meta = len(SESSION_META) if fmt is CsvFormat.SESSION else 1
    n_coord = len(header) - n_meta
    if n_coord <= 0 or n_coord % len(CHANNELS):
        raise SchemaError(f"{n_coord} landmark columns is not a multiple of {len(CHANNELS)} (x, y, z, v)")
    try:
        layout = Layout.from_n_landmarks(n_coord // len(CHANNELS))
    except ValueError as exc:
        raise SchemaError(str(exc)) from None
    schema = CsvSchema(fmt, layout)
    for i, (got, want) in enumerate(zip(header, schema.columns, strict=False)):
        if got != want:
            raise SchemaError(f"column {i + 1} is '{got}', expected '{want}'")
    return schema
