"""Both neural models train on CUDA with mixed precision and agree with the CPU afterwards."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from actionrec.config.training import TrainConfig
from actionrec.models.convlstm import ConvLSTMClassifier
from actionrec.models.lstm import LandmarkLSTM
from actionrec.models.torch_io import ClipDataset, SequenceDataset, predict_proba
from actionrec.training.loop import fit, seed_everything

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def sequence_data(n: int, seed: int) -> SequenceDataset:
    rng = np.random.default_rng(seed)
    labels = [i % 2 for i in range(n)]
    seqs = [rng.normal(y - 0.5, 1.0, size=(int(rng.integers(8, 30)), 16)).astype(np.float32) for y in labels]
    return SequenceDataset(seqs, labels, window=24)


def clip_data(n: int, seed: int) -> ClipDataset:
    rng = np.random.default_rng(seed)
    labels = [i % 2 for i in range(n)]
    clips = rng.integers(0, 128, size=(n, 6, 32, 32, 3), dtype=np.uint8)
    clips[np.array(labels) == 1] += 100  # class 1 is brighter
    return ClipDataset(clips, labels)


def build(kind: str) -> nn.Module:
    seed_everything(0, deterministic=False)
    if kind == "lstm":
        return LandmarkLSTM(16, 2, hidden=64)
    return ConvLSTMClassifier(2, hidden=(8, 8, 8))


@pytest.mark.parametrize("kind", ["lstm", "convlstm"])
def test_amp_training_on_cuda(kind: str) -> None:
    make_data = sequence_data if kind == "lstm" else clip_data
    train, val = make_data(128, seed=1), make_data(32, seed=2)
    model = build(kind)
    dtypes: set[torch.dtype] = set()
    head = model.head[-1] if kind == "lstm" else model.head
    head.register_forward_hook(lambda _m, _i, out: dtypes.add(out.dtype))

    cfg = TrainConfig(
        epochs=6,
        batch_size=16,
        lr=3e-3,
        weight_decay=0.0,
        patience=10,
        seed=0,
        device="cuda",
        amp=True,
        num_workers=0,
        nproc=1,
    )
    result = fit(model, train, val, cfg)

    assert result.device.startswith("cuda")
    assert torch.float16 in dtypes, "autocast was not active"
    losses = [row["train_loss"] for row in result.history]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]

    on_gpu = predict_proba(model, val, "cuda")
    on_cpu = predict_proba(model.cpu(), val, "cpu")
    np.testing.assert_allclose(on_gpu, on_cpu, atol=2e-3)
