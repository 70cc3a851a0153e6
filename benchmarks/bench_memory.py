"""Peak memory (RSS) of extraction and of ConvLSTM training at 1x and 4x the clips.

Each measurement runs in a fresh subprocess that reports the peak resident set of itself and
its children (``getrusage`` ``ru_maxrss``), so one measurement never inherits another's peak.

* extraction: ``run_extraction`` of landmarks (MediaPipe) and of frame clips over N vs 4N
  real clips, one worker (in-process, so the peak is that of the process doing the work);
* ConvLSTM training: one epoch over N vs 4N clips of 16 x 64 x 64 x 3 uint8 stored as the
  extract_clips stage stores them (npz per clip), loaded as the train_convlstm stage loads them
  (streamed into a ``.npy``, memory-mapped by ClipDataset) and, for comparison, the old way
  (every clip stacked into one in-memory array).

A flat line reads 4N/N ~ 1.0x; memory that grows with the data set reads up to ~4x on the
part of the peak the data makes up.

    python benchmarks/bench_memory.py [--clips DIR] [--n-extract 8] [--n-train 128]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ucf101"


def peak_mb() -> float:
    usage = [resource.getrusage(w).ru_maxrss for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return max(usage) / 1024  # ru_maxrss is in KiB on Linux


# ------------------------------------------------------------------ the measured work (child)


def child_extract(kind: str, clips_root: Path, n: int, max_frames: int) -> dict:
    from actionrec.config.extraction import ClipParams, ExtractParams
    from actionrec.data.clips import discover_clips
    from actionrec.extraction.run import run_extraction

    clips = discover_clips(clips_root)
    step = max(1, len(clips) // n)
    clips = clips[::step][:n]
    params = ExtractParams(max_frames=max_frames, workers=1) if kind == "landmarks" else ClipParams(workers=1)
    with tempfile.TemporaryDirectory() as tmp:
        index = run_extraction(clips, Path(tmp) / "out", Path(tmp) / "cache", params, kind)
    return {"clips": len(clips), "frames": int(index["n_frames"].sum())}


def child_train(mode: str, data_dir: Path, n: int) -> dict:
    import pandas as pd

    from actionrec.config.training import TrainConfig
    from actionrec.data.corpus import clip_files, clip_samples, write_clip_array
    from actionrec.models.convlstm import ConvLSTMClassifier
    from actionrec.models.torch_io import ClipDataset
    from actionrec.training.loop import fit, seed_everything

    clips_dir = data_dir / f"clips-{n}"
    split = pd.read_csv(clips_dir / "split.csv", dtype={"session_id": str, "label": str})
    data = {}
    with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
        for subset in ("train", "val"):
            if mode == "memmap":  # what stages/train_convlstm.py does
                paths, names, _ = clip_files(split, subset, clips_dir)
                write_clip_array(paths, Path(tmp) / f"{subset}.npy")
                data[subset] = ClipDataset(Path(tmp) / f"{subset}.npy", [int(x) for x in names])
            else:  # the old way: every clip stacked in RAM
                clips, names, _ = clip_samples(split, subset, clips_dir)
                data[subset] = ClipDataset(clips, [int(x) for x in names])
        cfg = TrainConfig(
            epochs=1,
            batch_size=8,
            lr=1e-3,
            weight_decay=0.0,
            patience=5,
            seed=0,
            device="cpu",
            amp=False,
            num_workers=0,
            nproc=1,
        )
        seed_everything(0)
        model = ConvLSTMClassifier(2, hidden=[8], kernel=3, dropout=0.0)
        fit(model, data["train"], data["val"], cfg)
    return {"clips": n, "bytes": int(n * 16 * 64 * 64 * 3)}


# ------------------------------------------------------------------ the driver


def make_clip_set(data_dir: Path, n: int) -> None:
    """``n`` random clips stored like data/interim/clips (npz + index.csv) + a split manifest."""
    import numpy as np
    import pandas as pd

    from actionrec.extraction.cache import save_npz

    out = data_dir / f"clips-{n}"
    rng = np.random.default_rng(n)
    rows, split = [], []
    for i in range(n):
        label = str(i % 2)
        rel = f"{label}/c{i:05d}.npz"
        frames = rng.integers(0, 256, (16, 64, 64, 3), dtype=np.uint8)
        save_npz(out / rel, {"frames": frames, "frame_index": np.arange(16, dtype=np.int32), "fps": np.array(25.0)})
        rows.append({"clip": f"c{i:05d}", "label": label, "group": f"g{i}", "path": rel, "status": "ok"})
        split.append({"session_id": f"c{i:05d}", "label": label, "subset": "val" if i % 8 == 0 else "train"})
    pd.DataFrame(rows).to_csv(out / "index.csv", index=False)
    pd.DataFrame(split).to_csv(out / "split.csv", index=False)


def measure(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="<Class>/<clip> root (extraction)")
    parser.add_argument("--n-extract", type=int, default=8, help="N for extraction (4N clips at 4x)")
    parser.add_argument("--max-frames", type=int, default=24, help="landmark frames per clip")
    parser.add_argument("--n-train", type=int, default=128, help="N for ConvLSTM training")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, *rest = args.child
        if what == "extract":
            info = child_extract(rest[0], Path(rest[1]), int(rest[2]), int(rest[3]))
        else:
            info = child_train(rest[0], Path(rest[1]), int(rest[2]))
        print(json.dumps({**info, "peak_mb": peak_mb()}))
        return

    print(f"CPUs={os.cpu_count()}, load average {os.getloadavg()[0]:.1f}; peak RSS per fresh subprocess")
    for kind in ("landmarks", "clips"):
        peaks = []
        for n in (args.n_extract, 4 * args.n_extract):
            r = measure(["extract", kind, str(args.clips), str(n), str(args.max_frames)])
            peaks.append(r["peak_mb"])
            print(f"extract {kind:<9} {r['clips']:4d} clips ({r['frames']:5d} frames): peak RSS {r['peak_mb']:7.1f} MB")
        print(f"extract {kind:<9} 4x/1x: {peaks[1] / peaks[0]:.2f}x")
    scratch = Path(__file__).resolve().parents[1] / ".cache"  # on disk (a tmpfs /tmp would be RAM)
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=scratch) as tmp:
        for n in (args.n_train, 4 * args.n_train):
            make_clip_set(Path(tmp), n)
        for mode in ("memmap", "in-RAM"):
            peaks = []
            for n in (args.n_train, 4 * args.n_train):
                r = measure(["train", mode, tmp, str(n)])
                peaks.append(r["peak_mb"])
                print(
                    f"ConvLSTM train {mode:<6} {n:4d} clips ({r['bytes'] / 2**20:6.1f} MB of uint8): "
                    f"peak RSS {r['peak_mb']:7.1f} MB"
                )
            print(f"ConvLSTM train {mode:<6} 4x/1x: {peaks[1] / peaks[0]:.2f}x (+{peaks[1] - peaks[0]:.0f} MB)")


if __name__ == "__main__":
    main()
