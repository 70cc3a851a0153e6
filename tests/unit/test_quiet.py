"""actionrec.media.quiet: native noise dropped from fd 2, every other line kept, fd 2 restored."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = r"""
import logging, os, sys
from actionrec.media.quiet import quiet_native_stderr
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
with quiet_native_stderr():
    os.write(2, b"W0000 00:00:1.2 99 inference_feedback_manager.cc:114] Feedback manager requires a model\n")
    logging.getLogger("actionrec.x").info("our own line")
    os.write(2, b"E0000 something real went wrong\n")
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
print("after", file=sys.stderr)
os.write(2, b"W0000 inference_feedback_manager.cc: outside the block\n")
"""


def test_noise_is_dropped_and_the_rest_kept() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True)
    assert done.stderr.splitlines() == [
        "INFO actionrec.x: our own line",
        "E0000 something real went wrong",
        "after",
        "W0000 inference_feedback_manager.cc: outside the block",
    ]
