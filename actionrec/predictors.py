"""Trained models behind one interface: load from a manifest, predict class probabilities.

Manifests (JSON beside each model file) hold everything needed to serve the model: its kind
(``frame``: one landmark frame; ``sequence``: a window of frames; ``clip``: video frames),
the label list, the feature spec, the window length and lineage.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from actionrec.features import FeatureSpec
from actionrec.labels import LabelMap

Kind = Literal["frame", "sequence", "clip"]


@dataclass
class Predictor:
    """A loaded model: ``predict_proba`` returns ``(N, len(labels))`` in label-map order."""

    name: str
    kind: Kind
    labels: LabelMap
    manifest: dict[str, Any]
    model: Any

    @property
    def features(self) -> FeatureSpec:
        return FeatureSpec.model_validate(self.manifest["features"])

    def predict_proba(self, inputs: Any) -> np.ndarray:
        if self.kind == "frame":
            from actionrec.models.classical import predict_proba

            proba = predict_proba(self.model, inputs)
            full = np.zeros((len(proba), len(self.labels)), dtype=np.float64)
            full[:, self.model.classes_.astype(int)] = proba
            return full
        from actionrec.models.train import predict_proba as torch_proba

        return torch_proba(self.model, inputs, device="cpu", batch_size=64)


def read_manifest(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def load_predictor(manifest_path: Path) -> Predictor:
    """Load the model that ``manifest_path`` describes (skops or a torch state_dict)."""
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    kind: Kind = manifest["kind"]
    model_file = manifest_path.parent / manifest["model_file"]
    if kind == "frame":
        from actionrec.models.classical import load_skops

        model = load_skops(model_file)
    else:
        from actionrec.models.train import load_checkpoint

        model, _ = load_checkpoint(model_file)
    return Predictor(manifest["name"], kind, LabelMap(manifest["labels"]), manifest, model)
