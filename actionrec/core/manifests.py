"""The typed contracts between training, evaluation, packaging and serving.

A trained model is ``models/<family>/<name>.json`` (a :class:`ModelManifest`) beside its
weights; the live bundle is ``models/package/manifest.json`` (a :class:`BundleManifest`).
Both are written and read only here, so a field cannot be spelled two ways, and a manifest
that breaks the contract fails on load with the file and the field named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError, model_validator

from actionrec.core.features import FeatureSpec, PoolingSpec
from actionrec.core.io import write_json

Kind = Literal["frame", "sequence", "clip"]
LiveKind = Literal["frame", "sequence"]  # what runs on landmarks (a clip model needs pixels)
Family = Literal["classical", "lstm", "tcn", "convlstm"]
Format = Literal["skops", "torch"]
FAMILIES: tuple[Family, ...] = ("classical", "lstm", "tcn", "convlstm")
SUFFIXES: dict[Format, str] = {"skops": ".skops", "torch": ".pt"}  # safe formats only: never pickle


class ManifestError(ValueError):
    """A manifest that is missing, not JSON or breaks its contract; the message names the file."""


@dataclass(frozen=True, order=True)
class ModelKey:
    """A model's name in reports, on the leaderboard and in the registry: its family, and the
    model's own name where a family holds several (``classical-gb``; ``lstm``)."""

    family: Family
    name: str

    def __str__(self) -> str:
        return self.family if self.name == self.family else f"{self.family}-{self.name}"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenSet(_Strict):
    """The calibrated "unknown" decision (:mod:`actionrec.models.openset`): one threshold on a
    class-independent score (``max_prob``), or, in manifests written before those,
    per-class thresholds on the winning probability (``class_prob``, label order)."""

    score: Literal["class_prob", "max_prob"] = Field("class_prob", description="absent: class_prob")
    thresholds: list[float] | None = Field(None, min_length=1, description="class_prob: one per label")
    threshold: float | None = Field(None, description="max_prob: above it -> unknown")
    quantile: float = Field(ge=0, le=1, description="share of in-set validation samples called unknown")
    calibrated_on: str = Field(description="the data the threshold comes from")

    @model_validator(mode="after")
    def _complete(self) -> OpenSet:
        if (self.score == "class_prob") != (self.thresholds is not None):
            raise ValueError("open_set: thresholds go with score class_prob (and only with it)")
        if (self.score == "class_prob") == (self.threshold is not None):
            raise ValueError(f"open_set: score {self.score} needs one threshold (class_prob: thresholds)")
        return self


class ModelManifest(_Strict):
    """What serving a trained model needs: its input kind, labels, features and weights file."""

    name: str
    kind: Kind
    model_file: str
    labels: list[str] = Field(min_length=1)
    features: FeatureSpec
    window: int | None = Field(None, ge=1, description="frames per window (sequence models)")
    stride: int | None = Field(None, ge=1, description="frames between windows (sequence models)")
    n_frames: int | None = Field(None, ge=1, description="frames per clip (clip models)")
    size: int | None = Field(None, ge=8, description="clip frame side in pixels (clip models)")
    profile: Literal["cpu", "gpu"] | None = Field(None, description="the device profile it was trained with (ConvLSTM)")
    arch: str | None = Field(None, description="torch architecture; absent for scikit-learn")
    hparams: dict[str, Any] | None = None
    device: str | None = None
    best_epoch: int | None = None
    open_set: OpenSet | None = Field(None, description="calibrated 'unknown' decision; absent: none")

    @property
    def format(self) -> Format:
        return "torch" if self.arch is not None else "skops"

    @model_validator(mode="after")
    def _consistent(self) -> ModelManifest:
        suffix = SUFFIXES[self.format]
        if not self.model_file.endswith(suffix):
            raise ValueError(f"model_file {self.model_file!r}: a {self.format} model is stored as *{suffix}")
        if (self.arch is None) != (self.hparams is None):
            raise ValueError("arch and hparams go together (a torch model has both)")
        if self.kind == "sequence" and (self.window is None or self.stride is None):
            raise ValueError("a sequence model needs window and stride")
        if self.kind == "clip" and (self.n_frames is None or self.size is None):
            raise ValueError("a clip model needs n_frames and size")
        thresholds = self.open_set.thresholds if self.open_set is not None else None
        if thresholds is not None and len(thresholds) != len(self.labels):
            raise ValueError("open_set.thresholds needs one threshold per label")
        return self


class LiveSettings(_Strict):
    """``live`` section of a bundle manifest: defaults of the live recognizer."""

    default_model: LiveKind = "frame"
    smoothing: int = Field(5, ge=1)
    threshold: float = Field(0.5, ge=0.0, le=1.0)


class ClipShape(_Strict):
    n_frames: int = Field(ge=1)
    size: int = Field(ge=8)


class BundledModel(_Strict):
    key: str
    name: str
    model_file: str
    sha256: str
    metrics: dict[str, JsonValue]  # its entry of reports/metrics.json, as written
    passes_gate: bool


class Selection(_Strict):
    metric: str
    quality_gate: float
    candidates: dict[str, float]


class BundleManifest(_Strict):
    """``<bundle>/manifest.json``: the models (manifests relative to the bundle) and how to serve them."""

    format_version: Literal[1] = 1
    labels: list[str] = Field(min_length=1)
    features: FeatureSpec
    window: int | None = None
    clip: ClipShape | None = None
    live: LiveSettings = LiveSettings()
    models: dict[Kind, str] = Field(min_length=1)
    model_details: dict[Kind, BundledModel]
    selection: Selection
    registered_model: str
    data: dict[str, str]
    requirements: str = "requirements.txt"
    entry_point: str = "live.py"
    vendored: list[str]


M = TypeVar("M", bound=BaseModel)


def _read(cls: type[M], path: Path, what: str) -> M:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ManifestError(f"{path}: no such {what}") from None
    except (OSError, ValueError) as exc:
        raise ManifestError(f"{path}: not a valid {what} (not JSON: {exc})") from None
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors())
        raise ManifestError(f"{path}: not a valid {what}: {problems}") from None


def _without_default_pooling(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with an all-off ``features.pooling`` left out (as manifests had it before pooling options)."""
    if data.get("features", {}).get("pooling") == PoolingSpec().model_dump(mode="json"):
        del data["features"]["pooling"]
    return data


def _dump(manifest: BaseModel) -> dict[str, Any]:
    """JSON fields of ``manifest``: absent fields and all-off pooling left out."""
    return _without_default_pooling(manifest.model_dump(mode="json", exclude_none=True))


def read_model(path: Path) -> ModelManifest:
    """The model manifest at ``path`` (``models/<family>/<name>.json``)."""
    return _read(ModelManifest, path, "model manifest")


def write_model(path: Path, manifest: ModelManifest) -> None:
    """Write ``manifest`` to ``path`` atomically (sorted keys; absent fields left out)."""
    write_json(path, _dump(manifest))


def read_bundle(path: Path) -> BundleManifest:
    """The bundle manifest at ``path`` (``<bundle>/manifest.json``)."""
    return _read(BundleManifest, path, "bundle manifest")


def write_bundle(path: Path, manifest: BundleManifest) -> None:
    write_json(path, _without_default_pooling(manifest.model_dump(mode="json")))


def is_bundle(path: Path) -> bool:
    """Whether the JSON file at ``path`` is a bundle manifest rather than a model manifest."""
    try:
        return isinstance(data := json.loads(Path(path).read_text()), dict) and "models" in data
    except (OSError, ValueError):
        return False


def model_key(manifest_path: Path, manifest: ModelManifest) -> ModelKey:
    """The key of the model at ``models/<family>/<name>.json``."""
    family = Path(manifest_path).parent.name
    if family not in FAMILIES:
        raise ManifestError(f"{manifest_path}: models live in models/<family>/ with family one of {FAMILIES}")
    return ModelKey(family, manifest.name)
