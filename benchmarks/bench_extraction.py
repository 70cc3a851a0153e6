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
import tempfile
import time
from pathlib import Path

import numpy as np

from actionrec.extract import (
    ClipRef,
    ExtractParams,
    discover_clips,
    extract_video_landmarks,
    make_holistic,
    run_extraction,
)

DEFAULT_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ucf101"


def pick(clips: list[ClipRef], limit: int) -> list[ClipRef]:
    """``limit`` clips spread evenly over the sorted list (so over the classes)."""
    step = max(1, len(clips) // limit)
    return clips[::step][:limit]


def sequential(
    clips: list[ClipRef], params: ExtractParams
) -> tuple[int, float, dict[str, np.ndarray]]:
    """Frames, seconds and landmarks of the one-process loop."""
    start = time.perf_counter()
    coords = {}
    with make_holistic(params) as holistic:
        for clip in clips:
            coords[f"{clip.label}/{clip.path.stem}"], _ = extract_video_landmarks(
                clip.path, params, holistic
            )
    return sum(len(c) for c in coords.values()), time.perf_counter() - start, coords


def pooled(clips: list[ClipRef], params: ExtractParams) -> tuple[int, float, dict[str, np.ndarray]]:
    """Frames, seconds and landmarks of ``run_extraction`` with an empty cache."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        index = run_extraction(clips, Path(tmp) / "out", Path(tmp) / "cache", params, "landmarks")
        seconds = time.perf_counter() - start
        ok = index[index["status"] == "ok"]
        coords = {p[: -len(".npz")]: np.load(Path(tmp) / "out" / p)["coords"] for p in ok["path"]}
    return int(index["n_frames"].sum()), seconds, coords


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--clips", type=Path, default=DEFAULT_CLIPS, help="root of <Class>/<clip> videos"
    )
    parser.add_argument(
        "--limit", type=int, default=12, help="number of clips (spread over classes)"
    )
    parser.add_argument("--max-frames", type=int, default=64, help="frames per clip (0: all)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    clips = pick(discover_clips(args.clips), args.limit)
    if not clips:
        raise SystemExit(f"no videos under {args.clips}/<Class>/")
    params = ExtractParams(max_frames=args.max_frames or None, workers=args.workers)
    print(
        f"{len(clips)} clips from {args.clips}, max_frames={params.max_frames},"
        f" CPUs={os.cpu_count()}"
    )

    n_seq, t_seq, seq = sequential(clips, params)
    n_pool, t_pool, pool = pooled(clips, params)
    same = seq.keys() == pool.keys() and all(
        np.array_equal(seq[k], pool[k], equal_nan=True) for k in seq
    )
    for name, n, t in (
        ("sequential (1 process, 1 Holistic)", n_seq, t_seq),
        (f"run_extraction ({args.workers} workers, cold cache)", n_pool, t_pool),
    ):
        print(f"{name:<40} {n:5d} frames in {t:6.1f} s = {n / t:6.1f} frames/s")
    print(f"speed-up: {(n_pool / t_pool) / (n_seq / t_seq):.2f}x; identical landmarks: {same}")


if __name__ == "__main__":
    main()
