"""What every DVC stage script shares: params, logging, clean errors, a one-line summary."""

from __future__ import annotations

import functools
import logging
import os
import sys
import time
from collections.abc import Callable

from actionrec.config.params import Params, ParamsError, load_params

log = logging.getLogger("actionrec")


class StageError(RuntimeError):
    """A stage cannot produce trustworthy outputs; the message says which file and why."""


def run_stage(name: str) -> Callable[[Callable[[Params], str]], Callable[[], None]]:
    """Wrap a stage body: load params.yaml, time it, turn known errors into a clean exit 1.

    The body returns a short summary, printed as ``[stage] summary (N.N s)``.
    """

    def wrap(body: Callable[[Params], str]) -> Callable[[], None]:
        @functools.wraps(body)
        def main() -> None:
            logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
            os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
            os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
            start = time.perf_counter()
            try:
                summary = body(load_params())
            except (ParamsError, StageError, ValueError, FileNotFoundError) as exc:
                print(f"[{name}] FAILED: {exc}", file=sys.stderr)
                sys.exit(1)
            if os.environ.get("RANK", "0") == "0":  # under torchrun: one summary, rank 0's
                print(f"[{name}] {summary} ({time.perf_counter() - start:.1f} s)")

        return main

    return wrap
