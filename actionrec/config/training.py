"""Hyper-parameters of the torch training loop and of sequence augmentation (``params.yaml``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TrainConfig(BaseModel, extra="forbid"):
    """Training hyper-parameters (``params.yaml``; no defaults: the LSTM and ConvLSTM differ); an
    unknown, missing or invalid key fails by name."""

    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    patience: int = Field(ge=1, description="epochs without a lower val loss before stopping")
    seed: int = Field(description="in the pipeline: the top-level seed of params.yaml")
    device: Literal["auto", "cpu", "cuda"]
    amp: bool = Field(description="fp16 autocast + GradScaler; used on CUDA only")
    num_workers: int = Field(ge=0)
    nproc: int = Field(ge=1, description="training processes (torchrun, one GPU each); batch_size is per process")


class AugmentConfig(BaseModel, extra="forbid"):
    """Augmentation of training windows (:mod:`actionrec.training.augment`), each transform's
    strength; 0 turns it off. No defaults: the LSTM and TCN differ."""

    mirror: float = Field(ge=0, le=1, description="probability of a left/right mirror (joints swapped)")
    scale: float = Field(ge=0, lt=1, description="body size scaled by a factor in [1 - s, 1 + s]")
    rotate: float = Field(ge=0, le=45, description="in-plane rotation by up to this many degrees")
    crop: float = Field(ge=0, lt=1, description="temporal crop: up to this share of the frames cut")
    speed: float = Field(ge=0, lt=1, description="speed change: resampled by a factor in [1 - s, 1 + s]")
    joint_dropout: float = Field(ge=0, lt=1, description="probability that a landmark is zeroed in a window")

    @property
    def active(self) -> bool:
        return any(v > 0 for v in self.model_dump().values())

    @property
    def geometric(self) -> list[str]:
        """The transforms that move coordinates (they need body-centred features)."""
        return [k for k in ("mirror", "scale", "rotate") if getattr(self, k) > 0]
