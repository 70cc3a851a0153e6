"""Trained models behind one interface: load from a manifest, predict class probabilities.

A model's :class:`~actionrec.core.manifests.ModelManifest` (JSON beside its weights) holds
everything needed to serve it: its kind (``frame``: one landmark frame; ``sequence``: a window
of frames; ``clip``: video frames), the label list, the feature spec and the window length.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from actionrec.core.features import FeatureSpec
from actionrec.core.labels import LabelMap
from actionrec.core.manifests import Kind, ModelManifest, read_model


@dataclass
class Predictor:
    """A loaded model: ``predict_proba`` returns ``(N, len(labels))`` in label-map order."""

    name: str
    kind: Kind
    labels: LabelMap
    manifest: ModelManifest
    model: Any

    @property
    def features(self) -> FeatureSpec:
        return self.manifest.features

    @property
    def window(self) -> int:
        """Frames per window of a sequence model (:class:`ModelManifest` requires one there)."""
        if self.manifest.window is None:
            raise ValueError(f"model {self.manifest.name!r}: its manifest has no window; retrain it")
        return self.manifest.window

    @property
    def is_sklearn(self) -> bool:
        return self.manifest.format == "skops"

    def unknown(self, proba: np.ndarray) -> np.ndarray:
        """Whether each probability row is "unknown" under the model's calibrated open-set
        decision (all False for a model without one)."""
        from actionrec.models import openset

        proba = np.atleast_2d(proba)
        spec = self.manifest.open_set
        if spec is None:
            return np.zeros(len(proba), dtype=bool)
        if spec.thresholds is not None:  # class_prob (manifests written before max_prob)
            return openset.unknown_mask(proba, spec.thresholds)
        return openset.max_prob_score(proba) > float(spec.threshold or 0.0)

    def predict_proba(self, inputs: Any) -> np.ndarray:
        """Probabilities for frame features ``(N, F)``, a list of windows ``(T_i, F)`` (sequence
        models) or uint8 clips ``(N, T, H, W, 3)`` (clip models)."""
        if self.is_sklearn:
            from actionrec.core.features import pad_windows
            from actionrec.models.classical import predict_proba

            x = pad_windows(inputs, self.window) if self.kind == "sequence" else inputs
            proba = predict_proba(self.model, x)
            full = np.zeros((len(proba), len(self.labels)), dtype=np.float64)
            full[:, self.model.classes_.astype(int)] = proba
            return full
        from actionrec.models.torch_io import ClipDataset, SequenceDataset
        from actionrec.models.torch_io import predict_proba as torch_proba

        zeros = np.zeros(len(inputs), dtype=np.int64)
        dataset: SequenceDataset | ClipDataset
        if self.kind == "sequence":
            dataset = SequenceDataset(list(inputs), zeros, self.window)
        else:
            dataset = ClipDataset(np.asarray(inputs), zeros)
        return torch_proba(self.model, dataset, device="cpu", batch_size=64)


def load_predictor(manifest_path: Path) -> Predictor:
    """Load the model that ``manifest_path`` describes (skops or a torch state_dict)."""
    manifest_path = Path(manifest_path)
    manifest = read_model(manifest_path)
    model_file = manifest_path.parent / manifest.model_file
    if manifest.format == "skops":
        from actionrec.models.classical import load_skops

        model = load_skops(model_file)
    else:
        from actionrec.models.torch_io import load_checkpoint

        model, _ = load_checkpoint(model_file)
    return Predictor(manifest.name, manifest.kind, LabelMap(manifest.labels), manifest, model)
