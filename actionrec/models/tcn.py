"""Temporal convolution network (TCN) over landmark feature sequences."""

from __future__ import annotations

import torch
from torch import nn

from actionrec.models.standardised import StandardisedSequenceModel


class _Block(nn.Module):
    """Two dilated, centred 1-D convolutions with a residual connection over ``(B, C, T)``.

    Padded frames are zeroed before every convolution, so a valid frame sees exactly what it
    would see at the end of an unpadded sequence (the convolution's own zero padding).
    """

    def __init__(self, channels: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        pad = dilation * (kernel - 1) // 2
        self.conv1 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, kernel, padding=pad, dilation=dilation)
        self.norm1 = nn.LayerNorm(channels)
        self.norm2 = nn.LayerNorm(channels)
        self.drop = nn.Dropout(dropout)

    def _conv(self, conv: nn.Conv1d, norm: nn.LayerNorm, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = norm(conv(h).transpose(1, 2)).transpose(1, 2)  # per-frame norm: frames never mix
        return self.drop(torch.relu(y)) * mask

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        y = self._conv(self.conv2, self.norm2, self._conv(self.conv1, self.norm1, h, mask), mask)
        return torch.relu(h + y) * mask


class LandmarkTCN(StandardisedSequenceModel):
    """Dilated residual temporal convolutions over ``(B, T, F)`` landmark features.

    A 1x1 convolution projects the features to ``channels``; ``levels`` residual blocks with
    dilations 1, 2, 4, ... (kernel ``kernel``, centred) follow, so the receptive field grows to
    ``1 + 2 (kernel - 1) (2^levels - 1)`` frames. The masked mean and max over valid frames feed
    the classifier: padded frames never change the output.

    Inputs are standardised as in :class:`~actionrec.models.lstm.LandmarkLSTM`
    (:class:`~actionrec.models.standardised.StandardisedSequenceModel`).
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        channels: int = 64,
        levels: int = 3,
        kernel: int = 5,
        dropout: float = 0.2,
    ) -> None:
        super().__init__(n_features)
        if min(n_features, n_classes, channels, levels) < 1:
            raise ValueError("n_features, n_classes, channels and levels must be >= 1")
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel must be odd and >= 1, got {kernel}")
        self.hparams = {
            "n_features": n_features,
            "n_classes": n_classes,
            "channels": channels,
            "levels": levels,
            "kernel": kernel,
            "dropout": dropout,
        }
        self.inp = nn.Conv1d(n_features, channels, 1)
        self.blocks = nn.ModuleList(_Block(channels, kernel, 2**i, dropout) for i in range(levels))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels, n_classes))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` (B, T, F) float, ``lengths`` (B,) valid frames per row -> logits (B, C)."""
        lengths = lengths.to(x.device, torch.int64)
        if lengths.numel() and (lengths.min() < 1 or lengths.max() > x.shape[1]):
            raise ValueError(f"lengths must lie in [1, {x.shape[1]}], got {lengths.tolist()}")
        valid = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]  # (B, T)
        mask = valid[:, None, :].to(x.dtype)  # (B, 1, T)
        h = self.inp(self.standardise(x).transpose(1, 2) * mask) * mask
        for block in self.blocks:
            h = block(h, mask)
        mean = h.sum(dim=2) / lengths[:, None].to(h.dtype)
        peak = h.masked_fill(~valid[:, None, :], float("-inf")).amax(dim=2)
        return self.head(torch.cat([mean, peak], dim=1))
