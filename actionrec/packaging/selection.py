"""Which models the live bundle holds: the best evaluated model of each input kind, and the one
quality gate (``package.quality_gate``) that both the package stage and ``make retrain`` apply."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actionrec.config.params import PackageParams
from actionrec.config.paths import METRICS, MODELS, PACKAGE
from actionrec.config.stage import StageError
from actionrec.core.manifests import Kind, LiveKind, ModelManifest, model_key, read_model
from actionrec.lineage import runrecord

KINDS: tuple[Kind, ...] = ("frame", "sequence", "clip")
LIVE_KINDS: tuple[LiveKind, ...] = ("frame", "sequence")  # what live runs on landmarks (not pixel clips)


@dataclass(frozen=True)
class Candidate:
    """An evaluated model with a manifest: its key in reports/metrics.json and its score."""

    key: str
    kind: Kind
    manifest_path: Path
    manifest: ModelManifest
    metrics: dict[str, Any]  # its entry of reports/metrics.json
    value: float  # by package.min_metric

    def line(self, metric: str) -> str:
        return f"  {self.key} ({self.kind}): {metric}={self.value:.3f}"


@dataclass(frozen=True)
class Choice:
    """What :func:`select` picked: the best model per kind and the kind live serves by default."""

    models: dict[Kind, Candidate]
    default: LiveKind
    candidates: list[Candidate]  # every candidate, best first

    @property
    def served(self) -> Candidate:
        return self.models[self.default]


def read_metrics(path: Path = METRICS) -> dict[str, dict[str, Any]]:
    """reports/metrics.json: model key -> its test metrics."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (run `dvc repro evaluate`)")
    metrics: dict[str, dict[str, Any]] = json.loads(path.read_text())
    return metrics


def candidates(metrics: dict[str, dict[str, Any]], metric: str, models: Path = MODELS) -> list[Candidate]:
    """Every evaluated model with a manifest under ``models/``, best first by ``metric``; ties go
    to the better per-sample accuracy (each live prediction is one sample), then the key."""
    out = []
    for path in runrecord.manifests(models):
        if path.parent.name == PACKAGE.name:
            continue
        manifest = read_model(path)
        key = str(model_key(path, manifest))
        if key in metrics:
            out.append(Candidate(key, manifest.kind, path, manifest, metrics[key], float(metrics[key][metric])))
    return sorted(out, key=lambda c: (-c.value, -c.metrics.get("sample_accuracy", 0.0), c.key))


def select(metrics: dict[str, dict[str, Any]], p: PackageParams, models: Path = MODELS) -> Choice:
    """Best candidate per kind and the kind live serves by default (the best frame or sequence
    model for ``auto``); StageError when the best model, or the served one, is below the gate."""
    ranked = candidates(metrics, p.min_metric, models)
    if not ranked:
        raise StageError(f"{METRICS}: no evaluated model has a manifest under {models}/ (run `dvc repro evaluate`)")
    table = "\n".join(c.line(p.min_metric) for c in ranked)
    chosen = {kind: next(c for c in ranked if c.kind == kind) for kind in KINDS if any(c.kind == kind for c in ranked)}
    best = ranked[0]
    if best.value < p.quality_gate:
        raise StageError(
            f"quality gate: the best model {best.key} has {p.min_metric}={best.value:.3f} < "
            f"package.quality_gate={p.quality_gate}; nothing packaged. Candidates:\n{table}"
        )
    live = [c for c in ranked if c.kind in LIVE_KINDS]
    default = p.live.default_model
    if default == "auto":
        default = "sequence" if live and live[0].kind == "sequence" else "frame"
    if default not in chosen:
        raise StageError(f"package.live.default_model={default!r}: no evaluated {default} model. Candidates:\n{table}")
    if chosen[default].value < p.quality_gate:
        raise StageError(
            f"quality gate: package.live.default_model={default!r} serves {chosen[default].key} with "
            f"{p.min_metric}={chosen[default].value:.3f} < package.quality_gate={p.quality_gate}. Candidates:\n{table}"
        )
    labels = {json.dumps(c.manifest.labels) for c in chosen.values()}
    if len(labels) != 1:
        raise StageError(f"the chosen models disagree on the label map: {sorted(labels)}")
    features = {
        json.dumps(c.manifest.features.model_dump(mode="json"), sort_keys=True)
        for k, c in chosen.items()
        if k != "clip"
    }
    if len(features) > 1:
        raise StageError(f"the chosen landmark models disagree on the feature spec: {sorted(features)}")
    return Choice(chosen, default, ranked)
