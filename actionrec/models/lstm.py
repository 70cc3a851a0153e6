"""LSTM classifier over landmark feature sequences."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from actionrec.models.standardised import StandardisedSequenceModel


class LandmarkLSTM(StandardisedSequenceModel):
    """Stacked LSTM over ``(B, T, F)`` landmark features, padded frames masked out.

    Classifies from the top layer's hidden state at each sequence's last valid step. With
    packed sequences ``h_n`` is exactly that state, so padding never reaches the classifier
    and no unpacking is needed; it also matches the reference Keras model (last LSTM with
    ``return_sequences=False``). A masked mean would weight every frame equally, which
    blurs the short, late motion that often tells actions apart.

    Inputs are standardised by the training frames' mean/std
    (:class:`~actionrec.models.standardised.StandardisedSequenceModel`).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: int = 128,
        layers: int = 2,
        dropout: float = 0.3,
    ) -> None:
        super().__init__(n_features)
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

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` (B, T, F) float, ``lengths`` (B,) valid frames per row -> logits (B, C)."""
        lengths = lengths.to("cpu", torch.int64)
        if lengths.numel() and (lengths.min() < 1 or lengths.max() > x.shape[1]):
            raise ValueError(f"lengths must lie in [1, {x.shape[1]}], got {lengths.tolist()}")
        x = self.standardise(x)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        return self.head(h_n[-1])
