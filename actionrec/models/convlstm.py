"""ConvLSTM classifier over raw frame clips (Shi et al., 2015)."""
from __future__ import annotations

from collections.abc import Sequence

from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step: a single convolution over ``concat(x, h)`` gives the i, f, o, g gates.

    ``i, f, o = sigmoid(.)``, ``g = tanh(.)``, ``c' = f * c + i * g``, ``h' = o * tanh(c')``.
    No peephole terms (as in Keras ``ConvLSTM2D``). The zero state is used when none is given.
    With ``norm`` each gate's pre-activations are group-normalised over its channels and the
    frame (``GroupNorm`` with one group per gate, as in layer-normalised LSTMs).
    """

    def __init__(self, in_ch: int, hidden_ch: int, kernel: int = 3, norm: bool = False) -> None:
        super().__init__()
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError(f"kernel must be a positive odd number, got {kernel}")
        self.in_ch, self.hidden_ch = in_ch, hidden_ch
        self.conv = nn.Conv2d(in_ch + hidden_ch, 4 * hidden_ch, kernel, padding=kernel // 2)
        self.norm = nn.GroupNorm(4, 4 * hidden_ch) if norm else nn.Identity()

    def zero_state(self, x: torch.Tensor) -> State:
        b, _, h, w = x.shape
        zeros = x.new_zeros(b, self.hidden_ch, h, w)
        return zeros, zeros

    def forward(self, x: torch.Tensor, state: State | None = None) -> State:
        """``x`` (B, in_ch, H, W) -> new ``(h, c)``, each (B, hidden_ch, H, W)."""
        h, c = self.zero_state(x) if state is None else state
        i, f, o, g = self.norm(self.conv(torch.cat([x, h], dim=1))).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def sequence(self, x: torch.Tensor) -> torch.Tensor:
        """Run over a clip ``x`` (B, T, in_ch, H, W) -> hidden states (B, T, hidden, H, W)."""
        state: State | None = None
        out = []
        # unbind, not x[:, t]: each index's backward would allocate a whole-clip gradient.
        for frame in x.unbind(dim=1):
            state = self(frame, state)
            out.append(state[0])
        return torch.stack(out, dim=1)


class ConvLSTMClassifier(nn.Module):
    """Stacked ConvLSTM layers with spatial max pooling and dropout, then a linear head.

    Mirrors the reference Keras model (ConvLSTM2D + MaxPooling3D((1, 2, 2)) + Dropout per
    block). Every ``pool_every`` layers the frames are halved in H and W (ceil, like Keras
    ``padding="same"``). The top layer's hidden states are averaged over time and space
    (global average pooling), which keeps the head small and gives every step a short
    gradient path.

    With ``motion`` the first layer also sees each frame's difference to the previous one (zero for
    the first frame): a motion input beside the appearance, which a small CPU-sized network
    otherwise has to learn to compute itself. ``norm``: group-normalised gates
    (:class:`ConvLSTMCell`). ``downsample`` > 1: the frames are first average-pooled by that
    factor (a CPU-sized network on 64 px clips sees 32 px ones at a quarter of the cost).
    """

    def __init__(
        self,
        n_classes: int,
        in_ch: int = 3,
        hidden: Sequence[int] = (16, 16, 16, 16),
        kernel: int = 3,
        pool_every: int = 1,
        dropout: float = 0.2,
        motion: bool = False,
        norm: bool = False,
        downsample: int = 1,
    ) -> None:
        super().__init__()
        hidden = [int(h) for h in hidden]
        if not hidden or min(hidden) < 1 or n_classes < 1 or pool_every < 1 or downsample < 1:
            raise ValueError("need n_classes, pool_every, downsample >= 1 and non-empty hidden >= 1")
        self.hparams = {
            "n_classes": n_classes,
            "in_ch": in_ch,
            "hidden": hidden,
            "kernel": kernel,
            "pool_every": pool_every,
            "dropout": dropout,
            "motion": motion,
            "norm": norm,
            "downsample": downsample,
        }
        self.in_ch, self.motion, self.downsample = in_ch, motion, downsample
        chans = [in_ch * (2 if motion else 1), *hidden]
        self.cells = nn.ModuleList(
            ConvLSTMCell(cin, cout, kernel, norm) for cin, cout in zip(chans, chans[1:], strict=False)
        )
        self.pool_every = pool_every
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden[-1], n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, T, C, H, W) float in [0, 1] -> logits (B, n_classes)."""
        if x.ndim != 5 or x.shape[2] != self.in_ch:
            raise ValueError(f"expected (B, T, {self.in_ch}, H, W), got {tuple(x.shape)}")
        if self.downsample > 1:
            x = F.avg_pool2d(x.flatten(0, 1), self.downsample, ceil_mode=True).unflatten(0, x.shape[:2])
        if self.motion:
            x = torch.cat([x, torch.cat([torch.zeros_like(x[:, :1]), x.diff(dim=1)], dim=1)], dim=2)
        for n, cell in enumerate(self.cells, start=1):
            x = cast(ConvLSTMCell, cell).sequence(x)
            if n % self.pool_every == 0:
                x = F.max_pool2d(x.flatten(0, 1), 2, ceil_mode=True).unflatten(0, x.shape[:2])
            x = self.dropout(x)
        return self.head(x.mean(dim=(1, 3, 4)))
