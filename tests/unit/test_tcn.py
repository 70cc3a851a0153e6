"""LandmarkTCN: shapes, masking of padded frames, checkpoints, serving, and learning demo-like data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from actionrec.config.training import AugmentConfig, TrainConfig
from actionrec.core.features import FeatureSpec, transform
from actionrec.core.labels import LabelMap
from actionrec.core.manifests import ModelManifest
from actionrec.data.demo.landmarks import CLASSES, _face_template, make_session
from actionrec.models.predictors import Predictor
from actionrec.models.tcn import LandmarkTCN
from actionrec.models.torch_io import SequenceDataset, load_checkpoint, model_spec, predict_proba, save_checkpoint
from actionrec.training.augment import AugmentedWindows, Augmenter
from actionrec.training.loop import fit, seed_everything
from actionrec.training.torch_runs import batch_proba


@pytest.fixture(autouse=True, scope="module")
def torch_state():
    """One thread; the global deterministic flag that ``fit`` sets is restored afterwards."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)


def tiny_tcn(seed: int = 0, n_features: int = 5, n_classes: int = 3) -> LandmarkTCN:
    seed_everything(seed)
    return LandmarkTCN(n_features, n_classes, channels=8, levels=2, kernel=3, dropout=0.1)


def cfg(**overrides: object) -> TrainConfig:
    base = dict(epochs=3, batch_size=16, lr=3e-3, weight_decay=1e-4, patience=50, seed=0, device="cpu")
    return TrainConfig(**{**base, "amp": False, "num_workers": 0, "nproc": 1, **overrides})


def test_shapes_and_length_checks() -> None:
    model = tiny_tcn().eval()
    out = model(torch.randn(4, 9, 5), torch.tensor([9, 3, 1, 5]))
    assert out.shape == (4, 3) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="lengths"):
        model(torch.randn(2, 9, 5), torch.tensor([0, 9]))
    with pytest.raises(ValueError, match="lengths"):
        model(torch.randn(2, 9, 5), torch.tensor([10, 9]))
    with pytest.raises(ValueError, match="odd"):
        LandmarkTCN(5, 3, kernel=4)


def test_padded_frames_do_not_change_the_output() -> None:
    model = tiny_tcn().eval()
    model.set_normalization(torch.randn(50, 5) * 3 + 1)  # padding must be masked after scaling too
    x, lengths = torch.randn(3, 12, 5), torch.tensor([12, 4, 1])
    noisy = x.clone()
    noisy[1, 4:] = 100.0
    noisy[2, 1:] = torch.randn(11, 5) * 50
    assert torch.equal(model(x, lengths), model(noisy, lengths))
    # and a padded row scores as its unpadded sequence does alone
    alone = model(x[1:2, :4], torch.tensor([4]))
    torch.testing.assert_close(model(x, lengths)[1:2], alone, rtol=1e-5, atol=1e-6)


def test_normalization_buffers_travel_in_the_checkpoint(tmp_path) -> None:
    model = tiny_tcn()
    model.set_normalization(torch.randn(40, 5) * 2 + 3)
    manifest = ModelManifest(
        **model_spec(model),
        name="tcn",
        kind="sequence",
        model_file="model.pt",
        labels=["a", "b", "c"],
        features=FeatureSpec(),
        window=9,
        stride=3,
    )
    assert manifest.arch == "tcn"
    save_checkpoint(model, tmp_path / "model.pt", manifest)
    loaded, read = load_checkpoint(tmp_path / "model.pt")
    assert isinstance(loaded, LandmarkTCN) and read.hparams == model.hparams
    assert torch.equal(loaded.mean, model.mean) and torch.equal(loaded.std, model.std)
    x = np.random.default_rng(0).normal(size=(2, 9, 5)).astype(np.float32)
    want = torch.softmax(model.eval()(torch.as_tensor(x), torch.tensor([9, 9])), dim=1).detach().numpy()
    np.testing.assert_allclose(batch_proba(loaded, read.kind, x), want, rtol=1e-6)
    pred = Predictor("tcn", "sequence", LabelMap(read.labels), read, loaded)
    np.testing.assert_allclose(pred.predict_proba(list(x)), want, rtol=1e-5)  # what live and web call


def demo_windows(subjects: list[int], spec: FeatureSpec, window: int = 30, stride: int = 5) -> SequenceDataset:
    """Windows of the demo generator's sessions (one per subject and class)."""
    face = _face_template(np.random.default_rng(0))
    seqs, labels = [], []
    for s in subjects:
        for k, action in enumerate(CLASSES):
            feats = transform(make_session(action, s, 80, np.random.default_rng([0, s, k]), face), spec)
            for start in range(0, len(feats) - window + 1, stride):
                seqs.append(feats[start : start + window])
                labels.append(k)
    return SequenceDataset(seqs, labels, window)


def train_tcn_on_demo(augment: AugmentConfig, epochs: int) -> list[dict]:
    spec = FeatureSpec()
    train, val = demo_windows([1, 2, 3], spec), demo_windows([4, 5], spec)
    seed_everything(0)
    model = LandmarkTCN(spec.n_features, len(CLASSES), channels=32, levels=2, kernel=5, dropout=0.1)
    model.set_normalization(
        torch.as_tensor(np.concatenate([x[:n] for x, n in zip(train.x, train.lengths, strict=True)]))
    )
    ds = AugmentedWindows(train, Augmenter(spec, augment), seed=0) if augment.active else train
    return fit(model, ds, val, cfg(epochs=epochs, batch_size=32)).history


def test_tcn_learns_demo_like_data_with_augmentation() -> None:
    """Unseen subjects, 4 classes (chance 0.25): the TCN with mirror/scale/temporal augmentation."""
    augment = AugmentConfig(mirror=0.5, scale=0.1, rotate=0.0, crop=0.2, speed=0.2, joint_dropout=0.0)
    history = train_tcn_on_demo(augment, epochs=12)
    assert max(row["val_acc"] for row in history) > 0.7


def test_fit_is_bit_reproducible_with_augmentation() -> None:
    spec = FeatureSpec()
    train, val = demo_windows([1], spec), demo_windows([2], spec)
    augment = AugmentConfig(mirror=0.5, scale=0.1, rotate=10.0, crop=0.2, speed=0.2, joint_dropout=0.05)
    runs = []
    for _ in range(2):
        model = tiny_tcn(n_features=spec.n_features, n_classes=4)
        runs.append(fit(model, AugmentedWindows(train, Augmenter(spec, augment), seed=3), val, cfg(epochs=2)))
    a, b = (r.best_state for r in runs)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    drop = lambda h: [{k: v for k, v in row.items() if k not in ("seconds", "samples_per_s")} for row in h]  # noqa: E731
    assert drop(runs[0].history) == drop(runs[1].history)


def test_predict_proba_serves_the_tcn() -> None:
    model = tiny_tcn()
    ds = SequenceDataset([np.zeros((n, 5), np.float32) + n for n in (2, 9, 5)], [0, 1, 2], window=9)
    proba = predict_proba(model, ds, batch_size=2)
    assert proba.shape == (3, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_the_loop_tells_the_training_set_each_epoch() -> None:
    spec = FeatureSpec()
    train, val = demo_windows([1], spec), demo_windows([2], spec)
    augment = AugmentConfig(mirror=0.5, scale=0.0, rotate=0.0, crop=0.0, speed=0.0, joint_dropout=0.0)

    class Recording(AugmentedWindows):
        seen: list[int] = []

        def set_epoch(self, epoch: int) -> None:
            self.seen.append(epoch)
            super().set_epoch(epoch)

    ds = Recording(train, Augmenter(spec, augment), seed=0)
    fit(tiny_tcn(n_features=spec.n_features, n_classes=4), ds, val, cfg(epochs=3))
    assert ds.seen == [0, 1, 2]
