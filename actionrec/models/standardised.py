"""Landmark sequence models' input standardisation, shared by the LSTM and the TCN."""

from __future__ import annotations

import torch
from torch import nn


class StandardisedSequenceModel(nn.Module):
    """A classifier over ``(B, T, F)`` landmark features whose inputs are standardised by
    per-feature ``mean``/``std`` buffers (:meth:`set_normalization`, from the training frames).
    The buffers travel in the ``state_dict``, so serving scales inputs as training did; without
    them the networks barely learn on raw landmark scales."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def set_normalization(self, frames: torch.Tensor, min_std: float = 1e-3) -> None:
        """Standardise inputs by the per-feature mean/std of ``frames`` (N, F): training frames."""
        self.mean.copy_(frames.mean(dim=0))
        self.std.copy_(frames.std(dim=0).clamp_min(min_std))

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (..., F) in the training frames' units."""
        return (x - self.mean) / self.std
