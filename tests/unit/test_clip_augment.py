"""ConvLSTM training augmentation: labels and shapes kept, reproducible from the seed, views vary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from actionrec.config.params import ConvLstmAugmentParams
from actionrec.models.convlstm import ConvLSTMClassifier
from actionrec.models.torch_io import ClipDataset
from actionrec.training.clip_augment import AugmentedClips, augment_clip
from actionrec.training.loop import fit, seed_everything
from tests.unit.test_models import cfg, moving_dot_clips

ON = ConvLstmAugmentParams(crop_scale=0.5, flip=True, brightness=0.3, copies=3)
OFF = ConvLstmAugmentParams(crop_scale=1, flip=False, brightness=0, copies=1)


@pytest.fixture
def clips() -> ClipDataset:
    rng = np.random.default_rng(0)
    return ClipDataset(rng.integers(0, 256, (5, 4, 12, 10, 3), dtype=np.uint8), [0, 1, 2, 1, 0])


def test_views_keep_labels_shapes_and_range(clips: ClipDataset) -> None:
    views = AugmentedClips(clips, ON, seed=1)
    assert len(views) == 3 * len(clips)
    for j in range(len(views)):
        x, y = views[j]
        assert y == clips.y[j % len(clips)]
        assert x.shape == (4, 3, 12, 10) and x.dtype == torch.float32
        assert 0 <= float(x.min()) and float(x.max()) <= 1


def test_off_is_the_clip_itself(clips: ClipDataset) -> None:
    views = AugmentedClips(clips, OFF, seed=1)
    for i in range(len(clips)):
        torch.testing.assert_close(views[i][0], clips[i][0], rtol=0, atol=0)


def test_same_seed_same_views_and_each_load_a_new_view(clips: ClipDataset) -> None:
    a, b, c = (AugmentedClips(clips, ON, seed=s) for s in (1, 1, 2))
    first = [a[j][0] for j in range(len(a))]
    assert all(torch.equal(x, b[j][0]) for j, x in enumerate(first))  # reproducible
    assert not all(torch.equal(x, c[j][0]) for j, x in enumerate(first))  # the seed matters
    again = [a[j][0] for j in range(len(a))]  # the next epoch's loads
    assert not all(torch.equal(x, y) for x, y in zip(first, again, strict=True))
    copies = [first[j] for j in range(0, len(a), len(clips))]  # clip 0's three views of one epoch
    assert not torch.equal(copies[0], copies[1])


def test_one_view_treats_every_frame_alike() -> None:
    frame = torch.rand(1, 3, 16, 16)
    x = frame.expand(6, 3, 16, 16).clone()
    out = augment_clip(x, ON, np.random.default_rng(3))
    for t in range(1, 6):
        torch.testing.assert_close(out[t], out[0])


def test_flip_mirrors_left_right() -> None:
    x = torch.zeros(2, 3, 4, 4)
    x[..., 0] = 1.0
    flip = ConvLstmAugmentParams(crop_scale=1, flip=True, brightness=0, copies=1)
    outs = [augment_clip(x, flip, np.random.default_rng(s)) for s in range(20)]
    assert any(torch.equal(o, x) for o in outs) and any(torch.equal(o, x.flip(-1)) for o in outs)


def test_convlstm_learns_from_augmented_clips() -> None:
    # the moving-dot toy of test_models (no flips there: a mirrored clip is the other class)
    mild = ConvLstmAugmentParams(crop_scale=0.8, flip=False, brightness=0.2, copies=2)
    train = AugmentedClips(ClipDataset(*moving_dot_clips(48, seed=1)), mild, seed=0)
    val = ClipDataset(*moving_dot_clips(24, seed=2))
    seed_everything(0)
    model = ConvLSTMClassifier(2, hidden=(6, 6), dropout=0.1, motion=True, norm=True)
    result = fit(model, train, val, cfg(epochs=12))
    assert result.history[result.best_epoch - 1]["val_acc"] > 0.9


def test_downsample_pools_the_frames_first() -> None:
    seed_everything(0)
    model = ConvLSTMClassifier(3, hidden=(4,), downsample=2).eval()
    x = torch.rand(2, 3, 3, 8, 8)
    pooled = torch.nn.functional.avg_pool2d(x.flatten(0, 1), 2).unflatten(0, (2, 3))
    reference = ConvLSTMClassifier(3, hidden=(4,)).eval()
    reference.load_state_dict(model.state_dict())
    torch.testing.assert_close(model(x), reference(pooled))
