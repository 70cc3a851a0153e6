"""LSTM, ConvLSTM and the shared training loop: shapes, maths, reproducibility, learning."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from actionrec.config.training import TrainConfig
from actionrec.core.manifests import ModelManifest
from actionrec.models.convlstm import ConvLSTMCell, ConvLSTMClassifier
from actionrec.models.lstm import LandmarkLSTM
from actionrec.models.torch_io import (
    ClipDataset,
    SequenceDataset,
    batch_to_inputs,
    build_model,
    load_checkpoint,
    model_spec,
    predict_proba,
    save_checkpoint,
)
from actionrec.training.curves import plot_history
from actionrec.training.loop import fit, resolve_device, seed_everything

TIMING_KEYS = {"seconds", "samples_per_s"}


# --------------------------------------------------------------------------- toy data


def ramp_sequences(n: int, n_features: int = 4, seed: int = 0) -> tuple[list[np.ndarray], list[int]]:
    """Class 0 ramps up, class 1 ramps down, with noise and lengths 6..15."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        label = i % 2
        t = int(rng.integers(6, 16))
        ramp = np.linspace(-1, 1, t, dtype=np.float32)[:, None] * (1 if label == 0 else -1)
        noise = rng.normal(0, 0.3, size=(t, n_features)).astype(np.float32)
        seqs.append(ramp + noise)
        labels.append(label)
    return seqs, labels


def moving_dot_clips(n: int, t: int = 4, size: int = 8, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """A bright 2x2 dot moving right (class 0) or left (class 1) on noise, uint8 NTHWC."""
    rng = np.random.default_rng(seed)
    clips = rng.integers(0, 60, size=(n, t, size, size, 3), dtype=np.uint8)
    labels = []
    for i in range(n):
        label = i % 2
        row = int(rng.integers(0, size - 1))
        for step in range(t):
            col = step * 2 if label == 0 else size - 2 - step * 2
            clips[i, step, row : row + 2, col : col + 2] = 255
        labels.append(label)
    return clips, labels


def tiny_lstm(seed: int = 0, n_features: int = 4) -> LandmarkLSTM:
    seed_everything(seed)
    return LandmarkLSTM(n_features, 2, hidden=16, layers=2, dropout=0.2)


def tiny_convlstm(seed: int = 0) -> ConvLSTMClassifier:
    seed_everything(seed)
    return ConvLSTMClassifier(2, hidden=(6, 6), dropout=0.1)


def cfg(**overrides: object) -> TrainConfig:
    base = dict(
        epochs=3,
        batch_size=8,
        lr=1e-2,
        weight_decay=0.0,
        patience=50,
        seed=0,
        device="cpu",
        amp=True,
        num_workers=0,
        nproc=1,
    )
    return TrainConfig(**{**base, **overrides})


def state_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in history]


@pytest.fixture(autouse=True, scope="module")
def torch_state():
    """One thread (tiny models gain nothing from two and slow down badly on a busy machine);
    the global deterministic flag that ``fit`` sets is restored for other test modules."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(scope="module")
def seq_data() -> tuple[SequenceDataset, SequenceDataset]:
    return (
        SequenceDataset(*ramp_sequences(64, seed=1), window=12),
        SequenceDataset(*ramp_sequences(32, seed=2), window=12),
    )


@pytest.fixture(scope="module")
def clip_data() -> tuple[ClipDataset, ClipDataset]:
    return ClipDataset(*moving_dot_clips(48, seed=1)), ClipDataset(*moving_dot_clips(24, seed=2))


# --------------------------------------------------------------------------- models


def test_lstm_shapes_and_masking() -> None:
    model = tiny_lstm().eval()
    x = torch.randn(3, 10, 4)
    assert model(x, torch.tensor([10, 4, 7])).shape == (3, 2)

    short = torch.randn(1, 5, 4)
    padded = torch.cat([short, torch.full((1, 5, 4), 99.0)], dim=1)  # garbage past the end
    batch = torch.cat([torch.randn(1, 10, 4), padded])
    expected = model(short, torch.tensor([5]))
    torch.testing.assert_close(model(batch, torch.tensor([10, 5]))[1:], expected)

    with pytest.raises(ValueError, match="lengths"):
        model(x, torch.tensor([0, 4, 7]))


def test_convlstm_shapes() -> None:
    x = torch.rand(2, 3, 3, 17, 17)
    assert ConvLSTMClassifier(5)(x).shape == (2, 5)  # 4 layers, odd size pools with ceil
    assert ConvLSTMClassifier(4, hidden=(4, 4, 4), pool_every=2)(x).shape == (2, 4)
    with pytest.raises(ValueError, match="expected"):
        ConvLSTMClassifier(5)(torch.rand(2, 3, 1, 8, 8))
    with pytest.raises(ValueError, match="odd"):
        ConvLSTMCell(3, 4, kernel=2)


def test_convlstm_motion_input_is_the_frame_difference() -> None:
    """With ``motion`` the first cell sees (frames, frame - previous frame; zero first)."""
    seed_everything(0)
    model = ConvLSTMClassifier(2, hidden=(4,), motion=True)
    assert model.cells[0].in_ch == 6 and model.hparams["motion"] is True
    seen: list[torch.Tensor] = []
    model.cells[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    x = torch.rand(1, 3, 3, 8, 8)
    assert model(x).shape == (1, 2)
    frames = torch.stack(seen[:3], dim=1)  # the first cell's input at each step
    torch.testing.assert_close(frames[:, :, :3], x)
    torch.testing.assert_close(frames[:, 0, 3:], torch.zeros(1, 3, 8, 8))
    torch.testing.assert_close(frames[:, 1:, 3:], x[:, 1:] - x[:, :-1])
    with pytest.raises(ValueError, match=r"expected \(B, T, 3, H, W\)"):
        model(torch.rand(1, 3, 6, 8, 8))  # the motion channels are the model's, not the input's


def test_convlstm_cell_matches_hand_computation() -> None:
    cell = ConvLSTMCell(1, 1, kernel=1)
    # Gates i, f, o, g each get w_x * x + w_h * h + b.
    w_x, w_h, b = [0.5, -1.0, 2.0, 1.5], [0.25, 0.5, -0.5, 1.0], [0.1, 0.2, 0.3, -0.4]
    with torch.no_grad():
        cell.conv.weight.copy_(torch.tensor([[[[wx]], [[wh]]] for wx, wh in zip(w_x, w_h, strict=True)]))
        cell.conv.bias.copy_(torch.tensor(b))
    x, h, c = 0.8, -0.3, 0.6
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    pre = [wx * x + wh * h + bb for wx, wh, bb in zip(w_x, w_h, b, strict=True)]
    i, f, o, g = sig(pre[0]), sig(pre[1]), sig(pre[2]), math.tanh(pre[3])
    c_want = f * c + i * g
    h_want = o * math.tanh(c_want)

    full = lambda v: torch.full((1, 1, 2, 2), v)  # noqa: E731
    h_got, c_got = cell(full(x), (full(h), full(c)))
    torch.testing.assert_close(c_got, full(c_want))
    torch.testing.assert_close(h_got, full(h_want))


def test_convlstm_sequence_is_stepwise_cell() -> None:
    torch.manual_seed(0)
    cell = ConvLSTMCell(2, 3, kernel=3)
    x = torch.rand(2, 4, 2, 5, 5)
    state = None
    for t in range(4):
        state = cell(x[:, t], state)
    torch.testing.assert_close(cell.sequence(x)[:, -1], state[0])


# --------------------------------------------------------------------------- datasets


def test_sequence_dataset_pads_and_centre_crops() -> None:
    long = np.arange(20, dtype=np.float32).reshape(10, 2)
    short = np.ones((3, 2), dtype=np.float32)
    ds = SequenceDataset([long, short], [0, 1], window=4)
    x, length, y = ds[0]
    assert length == 4 and y == 0 and x[:, 0].tolist() == [6.0, 8.0, 10.0, 12.0]  # frames 3-6
    x, length, y = ds[1]
    assert length == 3 and x[:3].eq(1).all() and x[3].eq(0).all()
    with pytest.raises(ValueError, match="NaN"):
        SequenceDataset([np.full((3, 2), np.nan, dtype=np.float32)], [0], window=4)


def test_clip_dataset_from_memmap(tmp_path) -> None:
    clips, labels = moving_dot_clips(3)
    np.save(tmp_path / "clips.npy", clips)
    ds = ClipDataset(tmp_path / "clips.npy", labels)
    x, y = ds[1]
    assert x.shape == (4, 3, 8, 8) and x.dtype == torch.float32 and x.is_contiguous()
    assert y == 1 and 0.0 <= x.min() and x.max() == 1.0
    torch.testing.assert_close(x, torch.from_numpy(clips[1]).permute(0, 3, 1, 2).float() / 255)
    with pytest.raises(ValueError, match="uint8"):
        ClipDataset(clips.astype(np.float32), labels)


def test_batch_to_inputs_tells_sequences_from_clips() -> None:
    cpu = torch.device("cpu")
    batch = (torch.zeros(2, 5, 3), torch.tensor([5, 2]), torch.tensor([0, 1]))
    (x, lengths), y = batch_to_inputs(batch, cpu)
    assert x.shape == (2, 5, 3) and lengths.tolist() == [5, 2] and y.tolist() == [0, 1]
    inputs, y = batch_to_inputs((torch.zeros(2, 4, 3, 8, 8), torch.tensor([0, 1])), cpu)
    assert len(inputs) == 1


# --------------------------------------------------------------------------- config


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ValidationError, match="learning_rate"):
        cfg(learning_rate=0.1)
    with pytest.raises(ValidationError, match="device"):
        cfg(device="tpu")
    with pytest.raises(ValidationError, match="patience"):
        cfg(patience=0)
    assert resolve_device("cpu").type == "cpu"


# --------------------------------------------------------------------------- the loop


@pytest.mark.parametrize("kind", ["lstm", "convlstm"])
def test_fit_is_bit_reproducible(kind: str, seq_data, clip_data) -> None:
    train, val = seq_data if kind == "lstm" else clip_data
    make = tiny_lstm if kind == "lstm" else tiny_convlstm
    runs = [fit(make(seed=0), train, val, cfg(epochs=2)) for _ in range(2)]
    assert state_equal(runs[0].best_state, runs[1].best_state)
    assert without_timing(runs[0].history) == without_timing(runs[1].history)


def test_fit_seed_changes_result(seq_data) -> None:
    train, val = seq_data
    model = tiny_lstm(seed=0)
    a = fit(copy.deepcopy(model), train, val, cfg(epochs=2, seed=0))
    b = fit(copy.deepcopy(model), train, val, cfg(epochs=2, seed=1))
    assert not state_equal(a.best_state, b.best_state)


def test_early_stopping_and_best_weights(seq_data) -> None:
    train, _ = seq_data
    flipped = copy.copy(train)
    flipped.y = 1 - train.y  # the better it fits train, the worse on val
    model = tiny_lstm()
    seen: list[dict] = []
    result = fit(model, train, flipped, cfg(epochs=30, patience=2, lr=3e-2), on_epoch=seen.append)
    assert len(result.history) == result.best_epoch + 2 < 30
    assert seen == result.history
    best_row = result.history[result.best_epoch - 1]
    assert best_row["val_loss"] == min(row["val_loss"] for row in result.history)
    assert state_equal(model.state_dict(), result.best_state)
    assert set(best_row) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", *TIMING_KEYS}


def test_lstm_learns_toy_problem(seq_data) -> None:
    train, val = seq_data
    result = fit(tiny_lstm(), train, val, cfg(epochs=8))
    assert result.history[result.best_epoch - 1]["val_acc"] > 0.9


def test_convlstm_learns_toy_problem(clip_data) -> None:
    train, val = clip_data
    # Both classes light the same pixels over a clip: only the order of frames tells them apart.
    result = fit(tiny_convlstm(), train, val, cfg(epochs=12))
    assert result.history[result.best_epoch - 1]["val_acc"] > 0.9


def test_checkpoint_round_trip(tmp_path, clip_data) -> None:
    _, val = clip_data
    model = tiny_convlstm().eval()
    manifest = ModelManifest(
        **model_spec(model),
        name="convlstm",
        kind="clip",
        model_file="model.pt",
        labels=["right", "left"],
        features={},
        n_frames=4,
        size=8,
    )
    save_checkpoint(model, tmp_path / "model.pt", manifest)
    assert ModelManifest.model_validate_json((tmp_path / "model.json").read_text()) == manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.pt"]

    loaded, got = load_checkpoint(tmp_path / "model.pt", build_model)
    assert got == manifest
    np.testing.assert_array_equal(predict_proba(loaded, val), predict_proba(model, val))
    raw = torch.load(tmp_path / "model.pt", weights_only=True)
    assert state_equal(raw, model.state_dict())


def test_build_model_rejects_unknown_arch() -> None:
    with pytest.raises(ValueError, match="arch"):
        build_model(
            ModelManifest(
                name="t",
                kind="clip",
                model_file="t.pt",
                labels=["a"],
                features={},
                n_frames=4,
                size=8,
                arch="transformer",
                hparams={},
            )
        )


def test_predict_proba_rows_sum_to_one(seq_data) -> None:
    _, val = seq_data
    proba = predict_proba(tiny_lstm(), val, "cpu", batch_size=5)
    assert proba.shape == (len(val), 2) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_plot_history(tmp_path) -> None:
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_acc": 0.5 + e / 10, "val_acc": 0.4 + e / 10}
        for e in (1, 2, 3)
    ]
    plot_history(history, tmp_path / "plots" / "history.png")
    assert (tmp_path / "plots" / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


FEATURES = {"kind": "body_centred", "parts": ["pose", "left_hand"], "visibility": True, "trajectory": False}
LABELS = ["jump", "walk", "wave"]
MANIFESTS = {  # what train_classical and train_lstm/train_convlstm wrote before the typed manifests
    "classical-frame": {
        "name": "rf",
        "kind": "frame",
        "model_file": "rf.skops",
        "labels": LABELS,
        "features": FEATURES,
    },
    "classical-sequence": {
        "name": "pooled-lr",
        "kind": "sequence",
        "model_file": "pooled-lr.skops",
        "labels": LABELS,
        "features": FEATURES,
        "window": 30,
        "stride": 10,
    },
    "classical-clip": {
        "name": "appearance-rf",
        "kind": "clip",
        "model_file": "appearance-rf.skops",
        "labels": LABELS,
        "features": FEATURES,
        "n_frames": 16,
        "size": 64,
    },
    "lstm": {
        "kind": "sequence",
        "labels": LABELS,
        "features": FEATURES,
        "window": 30,
        "stride": 5,
        "arch": "lstm",
        "hparams": {"n_features": 132, "n_classes": 3, "hidden": 128, "layers": 2, "dropout": 0.3},
        "name": "lstm",
        "model_file": "model.pt",
        "device": "cpu",
        "best_epoch": 7,
    },
    "convlstm": {
        "kind": "clip",
        "labels": LABELS,
        "features": FEATURES,
        "n_frames": 16,
        "size": 64,
        "arch": "convlstm",
        "hparams": {"n_classes": 3, "in_ch": 3, "hidden": [16, 32], "kernel": 3, "pool_every": 1, "dropout": 0.25},
        "name": "convlstm",
        "model_file": "model.pt",
        "device": "cuda:0",
        "best_epoch": 12,
    },
}


@pytest.mark.parametrize("which", sorted(MANIFESTS))
def test_model_manifest_bytes_are_unchanged(tmp_path, which: str) -> None:
    from actionrec.core.manifests import read_model, write_model

    old = json.dumps(MANIFESTS[which], indent=2, sort_keys=True) + "\n"
    (tmp_path / "old.json").write_text(old)
    write_model(tmp_path / "new.json", read_model(tmp_path / "old.json"))
    assert (tmp_path / "new.json").read_bytes() == old.encode()
