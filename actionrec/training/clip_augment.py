"""Training-time augmentation of ConvLSTM clips: random resized crops, horizontal flips, brightness.

Every draw comes from a generator seeded with ``(seed, item, times the item was loaded)``, so a
run is reproducible from the seed alone (no global random state; with ``num_workers`` > 0 a
worker's own counts, fixed by the seeded sampler, are used). One draw covers the whole clip:
every frame gets the same crop, flip and brightness, so the motion between frames is kept.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from actionrec.config.params import ConvLstmAugmentParams


def augment_clip(x: torch.Tensor, params: ConvLstmAugmentParams, rng: np.random.Generator) -> torch.Tensor:
    """One random view of a clip ``x`` (T, C, H, W) in [0, 1], same shape and range."""
    _, _, h, w = x.shape
    if params.crop_scale < 1:
        side = math.sqrt(rng.uniform(params.crop_scale, 1.0))  # the kept share of the area
        ch, cw = max(1, round(h * side)), max(1, round(w * side))
        top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = x[:, :, top : top + ch, left : left + cw]
        x = F.interpolate(crop, size=(h, w), mode="bilinear", align_corners=False)
    if params.flip and rng.random() < 0.5:
        x = x.flip(-1)
    if params.brightness > 0:
        x = x * (1.0 + rng.uniform(-params.brightness, params.brightness))
    return x.clamp(0.0, 1.0)


class AugmentedClips(Dataset):
    """``copies`` random views (:func:`augment_clip`) of every clip of ``clips`` per epoch.

    Item ``j`` is a view of clip ``j % len(clips)`` with its label; its ``k``-th load draws from
    ``default_rng((seed, j, k))``.
    """

    def __init__(self, clips: Dataset, params: ConvLstmAugmentParams, seed: int) -> None:
        self.clips, self.params, self.seed = clips, params, seed
        self._n = len(clips)  # type: ignore[arg-type]
        self._loads: Counter[int] = Counter()

    def __len__(self) -> int:
        return self._n * self.params.copies

    def __getitem__(self, j: int) -> tuple[torch.Tensor, int]:
        j = range(len(self))[j]
        x, y = self.clips[j % self._n]
        rng = np.random.default_rng((self.seed, j, self._loads[j]))
        self._loads[j] += 1
        return augment_clip(x, self.params, rng), y
