"""Real-time action recognition from a webcam, a video file or a stream: the run loop and
its command line (``actionrec live`` and the bundle's ``python live.py``).

Frames come from :class:`~actionrec.serving.capture.FrameSource` (a capture thread that drops
frames when inference is slower), go through :class:`~actionrec.serving.recognizer.Recognizer`
and are shown or written with :func:`~actionrec.serving.overlay.draw_overlay`.

Light on purpose (the live bundle vendors the serving package): numpy, OpenCV, MediaPipe,
pydantic and the model libraries behind :mod:`actionrec.models.predictors`; no pandas,
MLflow, DVC or plotting.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from actionrec.core.manifests import LiveKind
from actionrec.media.quiet import quiet_native_stderr
from actionrec.media.video import VideoError, write_video
from actionrec.serving.bundle import Bundle, BundleError
from actionrec.serving.capture import FrameSource, Source, parse_source
from actionrec.serving.options import positive_int, probability
from actionrec.serving.overlay import draw_overlay
from actionrec.serving.recognizer import UNCERTAIN, Recognizer
from actionrec.serving.runtime import require_display, stop_on_signals

__all__ = ["build_parser", "main", "run"]

log = logging.getLogger(__name__)

WINDOW_TITLE = "actionrec live (q quits)"
# --output codec by suffix: VP8 in WebM is what browsers play and OpenCV's wheels can write
# (they have no H.264 encoder); other suffixes get mp4v, which players such as VLC play.
BROWSER_FOURCC = {".webm": "VP80"}


def output_fourcc(path: Path) -> str:
    """The codec ``--output path`` is written with (see :data:`BROWSER_FOURCC`)."""
    fourcc = BROWSER_FOURCC.get(path.suffix.lower())
    if fourcc is None:
        log.warning("%s: written as mp4v, which browsers do not play; a .webm name gives VP8, which they do", path)
    return fourcc or "mp4v"


@dataclass
class _Stats:
    processed: int = 0
    max_lag_frames: int = 0
    labels: Counter = field(default_factory=Counter)
    durations: deque = field(default_factory=lambda: deque(maxlen=30))
    busy_s: float = 0.0

    @property
    def inference_fps(self) -> float:
        return len(self.durations) / sum(self.durations) if self.durations else 0.0


def _live_frames(
    src: FrameSource,
    rec: Recognizer,
    stats: _Stats,
    stop: threading.Event,
    *,
    headless: bool,
    draw: bool,
    max_frames: int | None,
) -> Iterator[np.ndarray]:
    """Process frames until the end, ``max_frames``, ``stop`` or q; yield annotated frames."""
    while max_frames is None or stats.processed < max_frames:
        frame = src.read(stop)
        if frame is None or stop.is_set():
            break
        stats.max_lag_frames = max(stats.max_lag_frames, src.captured - 1 - frame.index)
        start = time.perf_counter()
        rgb = cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB)
        landmarks, pred = rec.process(rgb, frame.index, frame.time)
        elapsed = time.perf_counter() - start
        stats.durations.append(elapsed)
        stats.busy_s += elapsed
        stats.processed += 1
        if pred is not None:
            stats.labels[pred.label] += 1
            if headless:
                print(pred.to_json(), flush=True)
        if not draw:
            continue
        image = draw_overlay(frame.image, landmarks, pred, src.capture_fps, stats.inference_fps, banner=rec.status())
        if not headless:
            cv2.imshow(WINDOW_TITLE, image)
            if cv2.waitKey(1) & 0xFF == ord("q"):
                break
        yield image


def run(
    source: Source,
    bundle: Bundle,
    *,
    model: LiveKind | None = None,
    headless: bool = False,
    output: Path | None = None,
    smoothing: int | None = None,
    threshold: float | None = None,
    max_frames: int | None = None,
    realtime: bool | None = None,
) -> dict[str, Any]:
    """Recognise actions on ``source`` until it ends, ``max_frames``, q or Ctrl-C.

    Window mode shows the annotated frames; ``headless`` prints one JSON line per prediction
    to stdout instead. ``output`` also writes the annotated video (atomically; VP8 for ``.webm``, else mp4v).
    Returns a summary: frame counts (captured, dropped, processed, without a person),
    predictions per label, FPS figures and the worst lag behind the newest captured frame.
    """
    if not headless:
        require_display()
    with (
        quiet_native_stderr(),
        FrameSource(source, realtime=realtime) as src,
        Recognizer(bundle, model, smoothing, threshold) as rec,
        stop_on_signals() as stop,
    ):
        stats = _Stats()
        draw = not headless or output is not None
        frames = _live_frames(src, rec, stats, stop, headless=headless, draw=draw, max_frames=max_frames)
        try:
            if output is not None:
                rgb = (cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames)
                write_video(output, rgb, src.fps, output_fourcc(output))
            else:
                for _ in frames:
                    pass
        finally:
            if not headless:
                cv2.destroyAllWindows()
        return {
            "source": src.name,
            "model": rec.name,
            "frames": stats.processed,
            "captured": src.captured,
            "dropped": src.dropped,
            "frames_without_person": rec.frames_without_person,
            "predictions": dict(stats.labels),
            "capture_fps": round(src.mean_capture_fps, 2),
            "inference_fps": round(stats.processed / stats.busy_s, 2) if stats.busy_s else 0.0,
            "max_lag_frames": stats.max_lag_frames,
            "output": str(output) if output is not None else None,
        }


def build_parser(prog: str = "live.py") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Recognise actions live from a webcam, a video file or a stream. The window "
        "shows the annotated video (q quits); --headless prints one JSON line per prediction on "
        "stdout (logs go to stderr).",
    )
    parser.add_argument(
        "--source",
        type=parse_source,
        default=0,
        help="webcam index, video file or stream URL (rtsp://, http://) (default: %(default)s)",
    )
    parser.add_argument(
        "--bundle",
        type=Path,
        default=Path("models/package"),
        help="live bundle directory (written by the package stage of dvc repro), or one model "
        "manifest such as models/classical/gb.json (default: %(default)s)",
    )
    parser.add_argument(
        "--model",
        choices=("frame", "sequence"),
        help="the bundle's per-frame or sliding-window model (default: the bundle's default_model)",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no window; one JSON line per prediction on stdout (time, frame, label, probability, probabilities)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="also write the annotated video: .webm is VP8 (browsers play it), other names mp4v; e.g. out.webm",
    )
    parser.add_argument(
        "--smoothing",
        type=positive_int,
        metavar="N",
        help="average the last N probability vectors (default: the bundle's, else 5)",
    )
    parser.add_argument(
        "--threshold",
        type=probability,
        metavar="P",
        help=f"label '{UNCERTAIN}' below this smoothed probability (default: the bundle's, else 0.5)",
    )
    parser.add_argument(
        "--max-frames",
        type=positive_int,
        metavar="N",
        help="stop after N processed frames (default: the end of the source)",
    )
    parser.add_argument(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        help="video files: play at the file's frame rate, dropping frames when inference is slower, "
        "like a camera (default: every frame in order)",
    )
    return parser


def _summary_text(summary: dict[str, Any]) -> str:
    labels = ", ".join(f"{k} {v}" for k, v in sorted(summary["predictions"].items())) or "none"
    lines = [
        f"{summary['source']} with {summary['model']}: {summary['frames']} frames processed "
        f"({summary['captured']} captured, {summary['dropped']} dropped, "
        f"{summary['frames_without_person']} without a person)",
        f"predictions: {labels}",
        f"capture {summary['capture_fps']} fps, inference {summary['inference_fps']} fps",
    ]
    if summary["output"]:
        lines.append(f"annotated video: {summary['output']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None, prog: str = "live.py") -> int:
    """Command-line entry point (``actionrec live`` and the bundle's ``live.py``)."""
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        summary = run(
            args.source,
            args.bundle,
            model=args.model,
            headless=args.headless,
            output=args.output,
            smoothing=args.smoothing,
            threshold=args.threshold,
            max_frames=args.max_frames,
            realtime=args.realtime,
        )
    except (BundleError, VideoError, ValueError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    if args.headless:
        log.info("summary: %s", json.dumps(summary))
    else:
        print(_summary_text(summary))
    return 0
