"""LSTM classifier over landmark feature sequences."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class LandmarkLSTM(nn.Module):
    """Stacked LSTM over ``(B, T, F)`` landmark features, padded frames masked out.

    Classifies from the top layer's hidden state at each sequence's last valid step. With
    packed sequences ``h_n`` is exactly that state, so padding never reaches the classifier
    and no unpacking is needed; it also matches the reference Keras model (last LSTM with
    ``return_sequences=False``). A masked mean would weight every frame equally, which
    blurs the short, late motion that often tells actions apart.

    Inputs are standardised by ``mean``/``std`` buffers (set from the training data with
    :meth:`set_normalization`), which travel in the ``state_dict`` so serving uses the same
    scaling; without them the LSTM barely learns on raw landmark scales.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: int = 128,
        layers: int = 2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        if min(n_features, n_classes, hidden, layers) < 1:
            raise ValueError("n_features, n_classes, hidden and layers must be >= 1")
        self.hparams = {
            "n_features": n_features,
            "n_classes": n_classes,
            "hidden": hidden,
            "layers": layers,
            "dropout": dropout,
        }
        self.lstm = nn.LSTM(
            n_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden, n_classes))
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def set_normalization(self, frames: torch.Tensor, min_std: float = 1e-3) -> None:
        """Standardise inputs by the per-feature mean/std of ``frames`` (N, F): training frames."""
        self.mean.copy_(frames.mean(dim=0))
        self.std.copy_(frames.std(dim=0).clamp_min(min_std))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` (B, T, F) float, ``lengths`` (B,) valid frames per row -> logits (B, C)."""
        lengths = lengths.to("cpu", torch.int64)
        if lengths.numel() and (lengths.min() < 1 or lengths.max() > x.shape[1]):
            raise ValueError(f"lengths must lie in [1, {x.shape[1]}], got {lengths.tolist()}")
        x = (x - self.mean) / self.std
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.head(h_n[-1])
