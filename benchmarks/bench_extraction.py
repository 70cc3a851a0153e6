"""Landmark extraction throughput: ``run_extraction`` (worker pool, empty cache) vs one process.

The baseline is the plain loop a notebook would write: one Holistic, every sampled frame of
every clip in order. Both sides decode, sample and run MediaPipe on the same frames; the
pool side also hashes the clips and writes the cache, the npz files and the index.

    python benchmarks/bench_extraction.py [--clips DIR] [--limit 12] [--max-frames 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from actionrec.config.extraction import ExtractParams
from actionrec.data.clips import ClipRef, discover_clips
from actionrec.extraction.compute import extract_video_landmarks
from actionrec.extraction.run import run_extraction
from actionrec.media.holistic import make_holistic

DEFAULT_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ucf101"


def pick(clips: list[ClipRef], limit: int) -> list[ClipRef]:
    """``limit`` clips spread evenly over the sorted list (so over the classes)."""
    step = max(1, len(clips) // limit)
    return clips[::step][:limit]


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (pool workers)."""
    return sum(
        r.ru_utime + r.ru_stime
        for r in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def sequential(clips: list[ClipRef], params: ExtractParams) -> dict[str, np.ndarray]:
    """Landmarks of the one-process loop."""
    coords = {}
    with make_holistic(params) as holistic:
        for clip in clips:
            key = f"{clip.label}/{clip.path.stem}"
            coords[key], _ = extract_video_landmarks(clip.path, params, holistic)
    return coords


def pooled(clips: list[ClipRef], params: ExtractParams) -> dict[str, np.ndarray]:
    """Landmarks of ``run_extraction`` with an empty cache."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        index = run_extraction(clips, out, Path(tmp) / "cache", params, "landmarks")
        ok = index.loc[index["status"] == "ok", "path"]
        return {p.removesuffix(".npz"): np.load(out / p)["coords"] for p in ok}


def measure(name: str, run: Callable[[], dict[str, np.ndarray]]) -> tuple[float, dict[str, np.ndarray]]:
    """Run once; print frames/s (wall) and CPU ms per frame; return frames/s and landmarks."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    coords = run()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    n = sum(len(c) for c in coords.values())
    print(f"{name:<40} {n:5d} frames in {wall:6.1f} s = {n / wall:6.1f} frames/s, {1000 * cpu / n:5.1f} CPU ms/frame")
    return n / wall, coords


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="<Class>/<clip> root")
    parser.add_argument("--limit", type=int, default=12, help="clips, spread over classes")
    parser.add_argument("--max-frames", type=int, default=64, help="frames per clip (0: all)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    clips = pick(discover_clips(args.clips), args.limit)
    if not clips:
        raise SystemExit(f"no videos under {args.clips}/<Class>/")
    params = ExtractParams(max_frames=args.max_frames or None, workers=args.workers)
    print(
        f"{len(clips)} clips from {args.clips}, max_frames={params.max_frames}, "
        f"CPUs={os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (busy machine: skewed times)"
    )

    seq_fps, seq = measure("sequential (1 process, 1 Holistic)", lambda: sequential(clips, params))
    pool_fps, pool = measure(f"run_extraction ({args.workers} workers, cold cache)", lambda: pooled(clips, params))
    same = seq.keys() == pool.keys() and all(np.array_equal(seq[k], pool[k], equal_nan=True) for k in seq)
    print(
        f"speed-up: {pool_fps / seq_fps:.2f}x; identical landmarks: {same}; load average now {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
