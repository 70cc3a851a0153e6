"""Training throughput of the LSTM and the ConvLSTM through the real loop (:func:`fit`).

CPU always; on CUDA also fp32 vs mixed precision side by side with the speed-up.
Run: ``python benchmarks/bench_training.py [--batches N]``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from actionrec.config.training import TrainConfig
from actionrec.models.convlstm import ConvLSTMClassifier
from actionrec.models.lstm import LandmarkLSTM
from actionrec.models.torch_io import ClipDataset, SequenceDataset
from actionrec.training.loop import fit, seed_everything

Case = tuple[Callable[[], nn.Module], Dataset, int]


def lstm_case(batches: int) -> Case:
    """Batch 32 x 30 frames x 258 features (pose + hands), 2 x 128 units."""
    n, rng = 32 * batches, np.random.default_rng(0)
    seqs = list(rng.normal(size=(n, 30, 258)).astype(np.float32))
    ds = SequenceDataset(seqs, rng.integers(0, 10, n), window=30)
    return lambda: LandmarkLSTM(258, 10, hidden=128), ds, 32


def convlstm_case(batches: int) -> Case:
    """Batch 8 x 16 frames x 3 x 64 x 64, default 4 x 16-channel ConvLSTM."""
    n, rng = 8 * batches, np.random.default_rng(0)
    clips = rng.integers(0, 256, size=(n, 16, 64, 64, 3), dtype=np.uint8)
    return lambda: ConvLSTMClassifier(10), ClipDataset(clips, rng.integers(0, 10, n)), 8


def samples_per_s(build: Callable[[], nn.Module], ds: Dataset, batch: int, device: str, amp: bool) -> float:
    """Training-phase throughput of the second epoch (the first one warms up)."""
    seed_everything(0, deterministic=device == "cpu")
    cfg = TrainConfig(
        epochs=2,
        batch_size=batch,
        lr=1e-3,
        weight_decay=0.0,
        patience=2,
        seed=0,
        device=device,
        amp=amp,
        num_workers=0,
        nproc=1,
    )
    val = torch.utils.data.Subset(ds, range(batch))
    return fit(build(), ds, val, cfg).history[-1]["samples_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=8, help="timed steps per case on CPU")
    parser.add_argument("--gpu-batches", type=int, default=50, help="timed steps on CUDA")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)

    runs = [("cpu", False, args.batches)]
    if torch.cuda.is_available():
        runs += [("cuda", False, args.gpu_batches), ("cuda", True, args.gpu_batches)]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    )
    print(f"{'model':<9} {'device':<6} {'precision':<9} {'batch':>5} {'samples/s':>10} {'ms/step':>8} {'vs fp32':>8}")
    for name, case in (("lstm", lstm_case), ("convlstm", convlstm_case)):
        fp32: dict[str, float] = {}
        for device, amp, batches in runs:
            build, ds, batch = case(batches)
            rate = samples_per_s(build, ds, batch, device, amp)
            fp32.setdefault(device, rate)
            ratio = f"{rate / fp32[device]:.2f}x" if amp else "-"
            print(
                f"{name:<9} {device:<6} {'amp fp16' if amp else 'fp32':<9} {batch:>5} "
                f"{rate:>10.1f} {1000 * batch / rate:>8.1f} {ratio:>8}"
            )


if __name__ == "__main__":
    main()
