"""Landmark extraction throughput: the local process pool vs a Dask cluster, 1 and 2 workers.

Every configuration extracts the same real clips into an empty cache with ``run_extraction``
(so it includes hashing, the cache writes and the output); the Dask side runs on a
``LocalCluster`` of single-threaded worker processes on 127.0.0.1, started beforehand (its
start-up is printed separately) and reached through its address like a remote cluster. The
outputs of all runs are compared byte for byte.

    python benchmarks/bench_dask_extraction.py [--clips DIR] [--limit 8] [--max-frames 48]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from actionrec.config.extraction import ExecutorParams, ExtractParams
from actionrec.data.clips import ClipRef, discover_clips
from actionrec.extraction.run import run_extraction

DEFAULT_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ucf101"


def pick(clips: list[ClipRef], limit: int) -> list[ClipRef]:
    """``limit`` clips spread evenly over the sorted list (so over the classes)."""
    step = max(1, len(clips) // limit)
    return clips[::step][:limit]


def extract(clips: list[ClipRef], params: ExtractParams) -> tuple[float, int, dict[str, bytes]]:
    """Seconds, frames and output bytes of one cold-cache extraction."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        start = time.perf_counter()
        index = run_extraction(clips, out, Path(tmp) / "cache", params, "landmarks")
        seconds = time.perf_counter() - start
        files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    return seconds, int(index["n_frames"].sum()), files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="<Class>/<clip> root")
    parser.add_argument("--limit", type=int, default=8, help="clips, spread over classes")
    parser.add_argument("--max-frames", type=int, default=48, help="frames per clip")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)  # (after the import: it sets INFO)

    clips = pick(discover_clips(args.clips), args.limit)
    if not clips:
        raise SystemExit(f"no videos under {args.clips}/<Class>/")
    print(
        f"{len(clips)} clips from {args.clips}, max_frames={args.max_frames}, CPUs={os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f} (busy machine: skewed times)"
    )
    fps: dict[tuple[str, int], float] = {}
    outputs = []
    for workers in (1, 2):
        params = ExtractParams(max_frames=args.max_frames, workers=workers)
        seconds, frames, files = extract(clips, params)
        fps["local", workers] = frames / seconds
        outputs.append(files)
        print(
            f"local pool   {workers} worker(s): {frames} frames in {seconds:6.1f} s = {frames / seconds:6.1f} frames/s"
        )

        start = time.perf_counter()
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        ) as cluster:
            started = time.perf_counter() - start
            dask = params.model_copy(
                update={"executor": ExecutorParams(kind="dask", address=cluster.scheduler_address)}
            )
            seconds, frames, files = extract(clips, dask)
        fps["dask", workers] = frames / seconds
        outputs.append(files)
        print(
            f"Dask cluster {workers} worker(s): {frames} frames in {seconds:6.1f} s = {frames / seconds:6.1f} frames/s"
            f"  (cluster start-up {started:.1f} s, not counted)"
        )
    identical = all(o == outputs[0] for o in outputs)
    print(f"identical outputs (npz bytes + index.csv) across all 4 runs: {identical}")
    for workers in (1, 2):
        print(f"Dask / local at {workers} worker(s): {fps['dask', workers] / fps['local', workers]:.2f}x")
    for kind in ("local", "dask"):
        print(f"{kind}: 2 workers / 1 worker: {fps[kind, 2] / fps[kind, 1]:.2f}x")
    print(f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
