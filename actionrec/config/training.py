"""Hyper-parameters of the torch training loop (LSTM and ConvLSTM sections of ``params.yaml``)."""

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
