"""The ConvLSTM stage's set-up from params.yaml: its device profile, model, training clips and
the params its MLflow run logs."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from actionrec.config.params import ConvLstmProfile, Params, ProfileName
from actionrec.models.convlstm import ConvLSTMClassifier
from actionrec.training.clip_augment import AugmentedClips


def choose_profile(params: Params) -> tuple[ProfileName, ConvLstmProfile]:
    """``convlstm.profile``; ``auto`` is gpu when torch sees CUDA, else cpu."""
    return params.convlstm.choose(cuda_available=torch.cuda.is_available())


def build_model(n_classes: int, p: ConvLstmProfile) -> ConvLSTMClassifier:
    """An untrained ConvLSTM of the profile's sizes (seed torch first for reproducible weights)."""
    return ConvLSTMClassifier(
        n_classes,
        hidden=p.hidden,
        kernel=p.kernel,
        dropout=p.dropout,
        motion=p.motion,
        norm=p.norm,
        downsample=p.downsample,
    )


def training_views(clips: Dataset, p: ConvLstmProfile) -> AugmentedClips:
    """The training set: the profile's random views of ``clips``, seeded by its train seed."""
    return AugmentedClips(clips, p.augment, p.train.seed)


def logged_params(params: Params, profile: ProfileName, p: ConvLstmProfile) -> dict[str, Any]:
    """What the run logs: the profile used (``convlstm.profile``), the one asked for and its sizes."""
    return {
        "convlstm": {"profile": profile, "profile_asked": params.convlstm.profile, **p.model_dump(mode="json")},
        "extract_clips": params.extract_clips.model_dump(),
        "seed": params.seed,
    }


def manifest_fields(params: Params, labels: list[str], profile: ProfileName) -> dict[str, Any]:
    """The manifest fields serving needs (:class:`~actionrec.core.manifests.ModelManifest`) and the profile."""
    clip = params.extract_clips
    fields = {"kind": "clip", "labels": labels, "features": params.features, "profile": profile}
    return {**fields, "n_frames": clip.n_frames, "size": clip.size}
