"""Augmentation of training windows of landmark features, which knows what each column is.

:class:`Augmenter` reads the column layout from the :class:`~actionrec.core.features.FeatureSpec`
(per part, per landmark x, y, z[, v]; then body_x, body_y, body_scale; then one detected flag
per part) and applies, each with its strength from :class:`~actionrec.config.training.AugmentConfig`:

* temporal crop and speed change (nearest-frame resampling, so detected flags stay 0/1), on the
  valid frames only: the result has between 1 and ``window`` frames;
* mirror: left and right joints swap (pose ``left_*``/``right_*`` by name, the two hands and
  their detected flags), body-centred x is negated and the image position body_x mirrored;
* scaling and a small in-plane rotation of the body-centred coordinates (missing parts stay 0);
* joint dropout: a landmark's coordinates and visibility set to 0 in the whole window.

:class:`AugmentedWindows` draws each item's transforms from a generator seeded with
``(seed, epoch, index)``, the epoch set by the training loop, so runs are reproducible.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from actionrec.config.training import AugmentConfig
from actionrec.core.features import FeatureSpec
from actionrec.core.schema import CHANNELS, POSE_LANDMARKS, Part, part_slice
from actionrec.models.torch_io import SequenceDataset

_SWAP = {"left": "right", "right": "left"}
_HANDS = {Part.LEFT_HAND: Part.RIGHT_HAND, Part.RIGHT_HAND: Part.LEFT_HAND}


def _mirror_name(name: str) -> str:
    return "_".join(_SWAP.get(token, token) for token in name.split("_"))


def _mirror_landmark(part: Part, j: int) -> tuple[Part, int]:
    """The landmark that ``part``'s landmark ``j`` (0-based within the part) becomes in a mirror."""
    if part is Part.POSE:
        return part, POSE_LANDMARKS.index(_mirror_name(POSE_LANDMARKS[j]))
    if part in _HANDS:
        return _HANDS[part], j
    raise ValueError(f"{part.value} landmarks have no left/right map to mirror with")


class Augmenter:
    """The transforms of :mod:`actionrec.training.augment` for windows of ``spec``'s features."""

    def __init__(self, spec: FeatureSpec, cfg: AugmentConfig) -> None:
        self.cfg = cfg
        n_chan = len(CHANNELS) if spec.visibility else 3
        base, offset = {}, 0
        for part in spec.parts:
            base[part] = offset
            offset += (part_slice(part).stop - part_slice(part).start) * n_chan
        n_coords = offset
        #: column of channel 0 (x) of every landmark, in feature order
        self.landmarks = np.arange(0, n_coords, n_chan)
        self.n_chan = n_chan
        self.body_x = n_coords if spec.trajectory else None
        self.body_scale = n_coords + 2 if spec.trajectory else None
        flags = n_coords + (3 if spec.trajectory else 0)
        self.perm = np.arange(spec.n_features)
        if cfg.mirror > 0:
            self.perm = self._mirror_permutation(spec, base, n_chan, flags)

    @staticmethod
    def _mirror_permutation(spec: FeatureSpec, base: dict[Part, int], n_chan: int, flags: int) -> np.ndarray:
        perm = np.arange(spec.n_features)
        for part in spec.parts:
            for j in range(part_slice(part).stop - part_slice(part).start):
                other, k = _mirror_landmark(part, j)
                if other not in base:
                    raise ValueError(f"mirroring {part.value} needs {other.value} in features.parts")
                dst, src = base[part] + j * n_chan, base[other] + k * n_chan
                perm[dst : dst + n_chan] = np.arange(src, src + n_chan)
            perm[flags + spec.parts.index(part)] = flags + spec.parts.index(_HANDS.get(part, part))
        return perm

    def mirror(self, seq: np.ndarray) -> np.ndarray:
        """Left/right mirror of ``seq`` (T, F): joints swapped, x negated, body_x mirrored."""
        out = seq[:, self.perm]
        out[:, self.landmarks] *= -1
        if self.body_x is not None:
            seen = seq[:, self.body_scale] > 0  # no body frame: the trajectory stays 0
            out[:, self.body_x] = np.where(seen, 1.0 - seq[:, self.body_x], 0.0)
        return out

    def __call__(self, seq: np.ndarray, window: int, rng: np.random.Generator) -> np.ndarray:
        """An augmented copy of the valid frames ``seq`` (T, F), 1 to ``window`` frames long."""
        cfg = self.cfg
        out = np.array(seq, dtype=np.float32)
        if cfg.crop > 0 and len(out) > 1:
            keep = max(1, round(len(out) * (1.0 - rng.uniform(0.0, cfg.crop))))
            start = int(rng.integers(0, len(out) - keep + 1))
            out = out[start : start + keep]
        if cfg.speed > 0:
            n = max(1, round(len(out) / rng.uniform(1.0 - cfg.speed, 1.0 + cfg.speed)))
            out = out[np.rint(np.linspace(0, len(out) - 1, n)).astype(int)]
        if len(out) > window:
            start = int(rng.integers(0, len(out) - window + 1))
            out = out[start : start + window]
        if cfg.mirror > 0 and rng.random() < cfg.mirror:
            out = self.mirror(out)
        x, y = self.landmarks, self.landmarks + 1
        if cfg.scale > 0:
            factor = rng.uniform(1.0 - cfg.scale, 1.0 + cfg.scale)
            out[:, np.concatenate([x, y, x + 2])] *= factor
        if cfg.rotate > 0:
            angle = np.deg2rad(rng.uniform(-cfg.rotate, cfg.rotate))
            cos, sin = np.cos(angle), np.sin(angle)
            out[:, x], out[:, y] = cos * out[:, x] - sin * out[:, y], sin * out[:, x] + cos * out[:, y]
        if cfg.joint_dropout > 0:
            for col in self.landmarks[rng.random(len(self.landmarks)) < cfg.joint_dropout]:
                out[:, col : col + self.n_chan] = 0.0
        return out


class AugmentedWindows(Dataset):
    """``base``'s items, augmented afresh in every epoch (:meth:`set_epoch`, called by the loop).

    Items keep ``base``'s shape ``(x (window, F), length, label)``; rows past the new length
    are zeros.
    """

    def __init__(self, base: SequenceDataset, augmenter: Augmenter, seed: int) -> None:
        self.base, self.augmenter, self.seed, self.epoch = base, augmenter, seed % 2**32, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        i = range(len(self.base))[i]
        rng = np.random.default_rng((self.seed, self.epoch, i))
        x, length = self.base.x[i], int(self.base.lengths[i])
        seq = self.augmenter(x[:length], x.shape[0], rng)
        out = np.zeros_like(x)
        out[: len(seq)] = seq
        return torch.from_numpy(out), len(seq), int(self.base.y[i])
