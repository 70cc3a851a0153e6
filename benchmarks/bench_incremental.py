"""Incremental extraction: adding one clip after a full run costs a small fraction of the run.

Runs the extract_landmarks code path (``run_extraction``, the worker pool, the per-clip
cache) over N real clips with an empty cache, then again with one more clip, and prints both
wall times and their ratio (target: <= 10% with the 280 UCF101 clips).

    python benchmarks/bench_incremental.py [--clips ../shared/data/ucf101] [--limit 280] [--max-frames 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from actionrec.config.extraction import ExtractParams
from actionrec.data.clips import discover_clips
from actionrec.extraction.run import run_extraction

DEFAULT_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ucf101"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="folder with <Class>/<clip> videos")
    parser.add_argument("--limit", type=int, default=280, help="clips in the full run (one more is added)")
    parser.add_argument("--max-frames", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    clips = discover_clips(args.clips)
    if len(clips) < args.limit + 1:
        parser.error(f"{args.clips}: {len(clips)} clips, need {args.limit + 1}")
    params = ExtractParams(max_frames=args.max_frames, workers=args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        out, cache = Path(tmp) / "out", Path(tmp) / "cache"
        start = time.perf_counter()
        run_extraction(clips[: args.limit], out, cache, params, kind="landmarks")
        full = time.perf_counter() - start
        start = time.perf_counter()
        index = run_extraction(clips[: args.limit + 1], out, cache, params, kind="landmarks")
        added = time.perf_counter() - start
    computed = int((~index["cached"]).sum())
    print(f"full run, {args.limit} clips:          {full:8.1f} s")
    print(f"after adding 1 clip ({computed} computed): {added:8.1f} s")
    print(f"ratio incremental/full:           {added / full:8.3f}  (target <= 0.10)")


if __name__ == "__main__":
    main()
