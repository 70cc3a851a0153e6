"""Native start-up noise off stderr: MediaPipe/TFLite (C++) print warnings straight to file
descriptor 2 that say nothing to a user ("Feedback manager requires a model with a single
signature inference", about ten per Holistic). :func:`quiet_native_stderr` drops exactly the
lines in :data:`NATIVE_NOISE` and passes every other line (our own log lines, real errors) on."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

NATIVE_NOISE = (
    b"inference_feedback_manager.cc",  # Feedback manager requires a model with a single signature inference
    b"All log messages before absl::InitializeLog() is called",
    b"Created TensorFlow Lite XNNPACK delegate for CPU",
    b"landmark_projection_calculator.cc",  # Using NORM_RECT without IMAGE_DIMENSIONS ... square ROIs
    b"/'VP80' is not supported with codec id",  # OpenCV: the WebM writer maps the tag itself
)


@contextmanager
def quiet_native_stderr(noise: tuple[bytes, ...] = NATIVE_NOISE) -> Iterator[None]:
    """Within the block, fd 2 goes through a pipe; a thread forwards each line not matching ``noise``."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump() -> None:
        with os.fdopen(read_end, "rb") as lines:
            for line in lines:
                if not any(n in line for n in noise):
                    os.write(saved, line)

    thread = threading.Thread(target=pump, name="stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last write end closes: the pump reads to the end and stops
        thread.join(timeout=10)
        os.close(saved)
