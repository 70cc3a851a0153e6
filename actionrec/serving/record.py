"""Record labelled landmark sessions (webcam or video file) into our session CSV format.

Every recording take becomes a NEW file ``<out_dir>/<session_id>.csv`` (session id
``rec-YYYYmmdd-HHMMSS-<label>``; an existing file is never overwritten) with the columns of
``schema.session_columns(Layout.HOLISTIC_HANDS)``: class, session_id, subject_id, frame (the
source's frame number), timestamp (seconds since the take started), then x, y, z, v of all
543 landmarks, NaN written as an empty cell.

Crash safety: the file is created at the first row with the header; each row is ONE
``write()`` on an unbuffered descriptor, so even a killed process leaves only whole rows, and
the file is fsynced every few rows and at the end. SIGINT/SIGTERM finish the current row and
close the file. Frames without a person are counted and reported, never written.

Window mode: SPACE starts/stops a take, 1-9 switch among ``labels``, q quits. Headless mode
records the frames ``start_frame <= frame < stop_frame`` of the source.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from actionrec.core.schema import Layout, session_columns
from actionrec.media.holistic import landmarks_from_results, make_holistic, pose_detected
from actionrec.media.video import VideoError
from actionrec.serving.capture import Frame, FrameSource, RateMeter, Source, parse_source
from actionrec.serving.options import positive_int
from actionrec.serving.overlay import draw_overlay
from actionrec.serving.runtime import require_display, stop_on_signals

__all__ = ["RecordSummary", "SessionWriter", "build_parser", "main", "new_session_id", "record"]

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("data/raw/landmarks")
LAYOUT = Layout.HOLISTIC_HANDS
WINDOW_TITLE = "actionrec record (SPACE start/stop, 1-9 label, q quits)"


def new_session_id(label: str, now: float | None = None) -> str:
    """``rec-YYYYmmdd-HHMMSS-<label>`` (label reduced to letters, digits, ``-`` and ``_``)."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "_", label).strip("_") or "label"
    return f"rec-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}-{slug}"


def _create_exclusive(out_dir: Path, label: str) -> tuple[str, Path, int]:
    """Session id, path and descriptor of a file that did not exist (suffix -2, -3, ...)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    base = new_session_id(label)
    for n in range(1, 1000):
        session_id = base if n == 1 else f"{base}-{n}"
        path = out_dir / f"{session_id}.csv"
        try:
            return session_id, path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
    raise FileExistsError(f"{out_dir}: 999 sessions named {base}*.csv already exist")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _csv_line(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


class SessionWriter:
    """One take: rows appended to a new session CSV (see the module docstring)."""

    def __init__(self, out_dir: Path, label: str, subject: str = "", fsync_every: int = 10) -> None:
        self.out_dir, self.label, self.subject = Path(out_dir), label, subject
        self.fsync_every = fsync_every
        self.session_id: str | None = None
        self.path: Path | None = None
        self.rows = 0
        self._fd: int | None = None

    def write(self, frame: int, timestamp: float, landmarks: np.ndarray) -> None:
        """Append one row: landmarks ``(543, 4)``, NaN -> empty cell."""
        if self._fd is None:
            self.session_id, self.path, self._fd = _create_exclusive(self.out_dir, self.label)
            _write_all(self._fd, _csv_line(session_columns(LAYOUT)).encode())
            os.fsync(self._fd)
            log.info("recording %s into %s", self.label, self.path)
        meta = _csv_line([self.label, str(self.session_id), self.subject, str(frame), f"{timestamp:.4f}"])
        coords = ",".join(f"{v:.6f}" for v in landmarks.ravel()).replace("nan", "")
        _write_all(self._fd, f"{meta[:-1]},{coords}\n".encode())
        self.rows += 1
        if self.rows % self.fsync_every == 0:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None


@dataclass
class RecordSummary:
    """What a recording run wrote and skipped."""

    out_dir: Path
    sessions: list[SessionWriter] = field(default_factory=list)
    frames: int = 0
    frames_without_person: int = 0
    captured: int = 0
    dropped: int = 0

    def text(self) -> str:
        lines = [f"{self.frames} frames processed ({self.captured} captured, {self.dropped} dropped)"]
        lines += [f"  {s.path}: {s.rows} rows of {s.label}" for s in self.sessions]
        if not self.sessions:
            lines.append("  no rows recorded")
        lines.append(f"frames without a person while recording: {self.frames_without_person} (not written)")
        if self.sessions:
            labels = ", ".join(sorted({s.label for s in self.sessions}))
            lines += [
                f"next (labels {labels} must be in data.labels of params.yaml):",
                f"  dvc add {self.out_dir}",
                "  dvc repro",
            ]
        return "\n".join(lines)


@dataclass
class _Take:
    """The take in progress: its writer and the time of its first frame."""

    writer: SessionWriter
    start: float | None = None


class _Recorder:
    """State of one run: the current take, the finished ones and the counters."""

    def __init__(self, out_dir: Path, subject: str, summary: RecordSummary) -> None:
        self.out_dir, self.subject, self.summary = out_dir, subject, summary
        self.take: _Take | None = None

    def start(self, label: str) -> None:
        self.stop()
        self.take = _Take(SessionWriter(self.out_dir, label, self.subject))

    def stop(self) -> None:
        if self.take is None:
            return
        self.take.writer.close()
        if self.take.writer.rows:
            self.summary.sessions.append(self.take.writer)
        self.take = None

    def add(self, frame: Frame, landmarks: np.ndarray) -> None:
        if self.take is None:
            return
        if not pose_detected(landmarks):
            self.summary.frames_without_person += 1
            return
        if self.take.start is None:
            self.take.start = frame.time
        self.take.writer.write(frame.index, frame.time - self.take.start, landmarks)


def _banner(recorder: _Recorder, label: str) -> str:
    if recorder.take is not None:
        return f"REC {label}: {recorder.take.writer.rows} rows"
    return f"{label}: SPACE records"


def _handle_key(key: int, recorder: _Recorder, labels: list[str], label: str) -> str | None:
    """Apply a key press; returns the (new) current label, or None to quit."""
    if key == ord("q"):
        return None
    if key == ord(" "):
        if recorder.take is None:
            recorder.start(label)
        else:
            recorder.stop()
    elif ord("1") <= key <= ord("9") and key - ord("1") < len(labels):
        label = labels[key - ord("1")]
        log.info("label: %s", label)
        if recorder.take is not None:
            recorder.start(label)
    return label


def record(
    label: str,
    *,
    source: Source = 0,
    out_dir: Path = DEFAULT_OUT,
    subject: str = "",
    labels: list[str] | None = None,
    headless: bool = False,
    max_frames: int | None = None,
    start_frame: int = 0,
    stop_frame: int | None = None,
    realtime: bool | None = None,
) -> RecordSummary:
    """Record sessions from ``source`` (see the module docstring); returns what was written."""
    if not label.strip() or "\n" in label:
        raise ValueError(f"label must be a non-empty single line, got {label!r}")
    if not headless:
        require_display()
    labels = [label, *[x for x in labels or [] if x != label]] if labels else [label]
    out_dir = Path(out_dir)
    summary = RecordSummary(out_dir)
    recorder = _Recorder(out_dir, subject, summary)
    meter = RateMeter()
    with FrameSource(source, realtime=realtime) as src, stop_on_signals() as stop:
        holistic = make_holistic()
        try:
            if headless:
                recorder.start(label)
            elif len(labels) > 1:
                log.info("keys: %s", ", ".join(f"{i} {x}" for i, x in enumerate(labels[:9], 1)))
            while max_frames is None or summary.frames < max_frames:
                frame = src.read(stop)
                if frame is None or stop.is_set():
                    break
                if headless and stop_frame is not None and frame.index >= stop_frame:
                    break
                rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
                landmarks = landmarks_from_results(holistic.process(rgb))
                meter.tick()
                summary.frames += 1
                if not headless:
                    draw_overlay(
                        frame.image, landmarks, None, src.capture_fps, meter.rate, banner=_banner(recorder, label)
                    )
                    cv2.imshow(WINDOW_TITLE, frame.image)
                    next_label = _handle_key(cv2.waitKey(1) & 0xFF, recorder, labels, label)
                    if next_label is None:
                        break
                    label = next_label
                if not headless or frame.index >= start_frame:
                    recorder.add(frame, landmarks)
        finally:
            recorder.stop()
            holistic.close()
            if not headless:
                cv2.destroyAllWindows()
        summary.captured, summary.dropped = src.captured, src.dropped
    if summary.frames_without_person:
        log.warning("%d frames without a person were not written", summary.frames_without_person)
    return summary


def build_parser(prog: str = "record") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Record labelled landmark sessions into new session CSVs for training. "
        "Window mode: SPACE starts/stops a take, 1-9 switch label, q quits. Headless: "
        "records --start-frame..--stop-frame of the source.",
    )
    parser.add_argument("--label", required=True, help="the action being recorded, e.g. waving")
    parser.add_argument(
        "--labels",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        help="comma-separated labels that keys 1-9 switch to (window mode), e.g. waving,nodding",
    )
    parser.add_argument(
        "--source", type=parse_source, default=0, help="webcam index or video file (default: %(default)s)"
    )
    parser.add_argument(
        "--out-dir", type=Path, default=DEFAULT_OUT, help="where session CSVs go (default: %(default)s)"
    )
    parser.add_argument("--subject", default="", help="subject id: who is recorded (keeps splits leak-free)")
    parser.add_argument("--headless", action="store_true", help="no window; record the frame span")
    parser.add_argument(
        "--max-frames", type=positive_int, metavar="N", help="stop after N processed frames (default: the end)"
    )
    parser.add_argument(
        "--start-frame",
        type=int,
        default=0,
        metavar="S",
        help="headless: first source frame to record (default: %(default)s)",
    )
    parser.add_argument(
        "--stop-frame", type=int, metavar="E", help="headless: stop before this source frame (default: the end)"
    )
    parser.add_argument(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        help="video files: play at the file's frame rate, dropping frames like a camera (default: every frame)",
    )
    return parser


def main(argv: list[str] | None = None, prog: str = "record") -> int:
    """Command-line entry point (``actionrec record``)."""
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = record(
            args.label,
            source=args.source,
            out_dir=args.out_dir,
            subject=args.subject,
            labels=args.labels,
            headless=args.headless,
            max_frames=args.max_frames,
            start_frame=args.start_frame,
            stop_frame=args.stop_frame,
            realtime=args.realtime,
        )
    except (VideoError, ValueError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    print(summary.text())
    return 0
