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

from actionrec.core.features import FeatureSpec
from actionrec.core.labels import LabelMap

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

    @property
    def is_sklearn(self) -> bool:
        return str(self.manifest["model_file"]).endswith(".skops")

    def predict_proba(self, inputs: Any) -> np.ndarray:
        """Probabilities for frame features ``(N, F)``, a list of windows ``(T_i, F)`` (sequence
        models) or uint8 clips ``(N, T, H, W, 3)`` (clip models)."""
        if self.is_sklearn:
            from actionrec.models.classical import pad_windows, predict_proba

            x = pad_windows(inputs, int(self.manifest["window"])) if self.kind == "sequence" else inputs
            proba = predict_proba(self.model, x)
            full = np.zeros((len(proba), len(self.labels)), dtype=np.float64)
            full[:, self.model.classes_.astype(int)] = proba
            return full
        from actionrec.training.loop import ClipDataset, SequenceDataset
        from actionrec.training.loop import predict_proba as torch_proba

        zeros = np.zeros(len(inputs), dtype=np.int64)
        if self.kind == "sequence":
            dataset = SequenceDataset(list(inputs), zeros, int(self.manifest["window"]))
        else:
            dataset = ClipDataset(np.asarray(inputs), zeros)
        return torch_proba(self.model, dataset, device="cpu", batch_size=64)


def model_key(manifest_path: Path, manifest: dict[str, Any]) -> str:
    """The name a model has in reports/metrics.json and on the leaderboard."""
    folder = Path(manifest_path).parent.name
    return f"{folder}-{manifest['name']}" if folder == "classical" else manifest["name"]


def read_manifest(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def load_predictor(manifest_path: Path) -> Predictor:
    """Load the model that ``manifest_path`` describes (skops or a torch state_dict)."""
    manifest_path = Path(manifest_path)
    manifest = read_manifest(manifest_path)
    kind: Kind = manifest["kind"]
    model_file = manifest_path.parent / manifest["model_file"]
    if model_file.suffix == ".skops":
        from actionrec.models.classical import load_skops

        model = load_skops(model_file)
    else:
        from actionrec.training.loop import load_checkpoint

        model, _ = load_checkpoint(model_file)
    return Predictor(manifest["name"], kind, LabelMap(manifest["labels"]), manifest, model)
