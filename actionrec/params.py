"""Typed view of params.yaml: a wrong key or value fails at once, naming the key."""
from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from actionrec.extract import ClipParams, ExtractParams
from actionrec.features import FeatureSpec
from actionrec.models.train import TrainConfig
from actionrec.validation import ClipValidationParams, ValidationParams


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataParams(Strict):
    landmarks_dir: Path = Path("data/raw/landmarks")
    videos_dir: Path = Path("data/raw/videos")
    labels: list[str] = Field(min_length=2)

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: list[str]) -> list[str]:
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels must be unique, got {labels}")
        return labels


class SplitParams(Strict):
    strategy: Literal["group", "random_frames"] = "group"
    test_size: float = Field(0.3, gt=0, lt=1)
    val_size: float = Field(0.2, gt=0, lt=1)
    purge_frames: int = Field(10, ge=0)
    official_split: int | None = Field(1, ge=1, le=3)


class ValidateParams(Strict):
    landmarks: ValidationParams
    clips: ClipValidationParams


class LogRegParams(Strict):
    C: float = Field(1.0, gt=0)
    max_iter: int = Field(1000, ge=1)


class RidgeParams(Strict):
    alpha: float = Field(1.0, gt=0)


class ForestParams(Strict):
    n_estimators: int = Field(200, ge=1)
    max_depth: int | None = Field(None, ge=1)
    min_samples_leaf: int = Field(1, ge=1)


class BoostingParams(Strict):
    n_estimators: int = Field(100, ge=1)
    learning_rate: float = Field(0.1, gt=0)
    max_depth: int = Field(3, ge=1)
    subsample: float = Field(1.0, gt=0, le=1)


class ClassicalParams(Strict):
    lr: LogRegParams = LogRegParams()
    ridge: RidgeParams = RidgeParams()
    rf: ForestParams = ForestParams()
    gb: BoostingParams = BoostingParams()
    pooled_rf: ForestParams = Field(ForestParams(n_estimators=100), description="forest of pooled-rf")
    appearance: ForestParams = Field(ForestParams(n_estimators=300), description="forest of appearance-rf")
    max_train_frames: int | None = Field(None, ge=1)
    pooled_window: int = Field(30, ge=2)
    pooled_stride: int = Field(5, ge=1)


class LstmParams(Strict):
    window: Literal[20, 30, 60] = 30
    stride: int = Field(10, ge=1)
    hidden: int = Field(128, ge=1)
    layers: int = Field(2, ge=1)
    dropout: float = Field(0.3, ge=0, lt=1)
    train: TrainConfig


class ConvLstmParams(Strict):
    hidden: list[int] = Field(default_factory=lambda: [16, 16, 16, 16], min_length=1)
    kernel: int = Field(3, ge=1)
    dropout: float = Field(0.25, ge=0, lt=1)
    train: TrainConfig


class EvaluateParams(Strict):
    rank_by: Literal["clip_accuracy", "clip_macro_f1", "sample_accuracy", "sample_macro_f1"] = (
        "clip_macro_f1"
    )
    fusion: list[str] = Field(
        default_factory=list,
        description="leaderboard keys whose clip probabilities are averaged into the model 'fusion'",
    )

    @field_validator("fusion")
    @classmethod
    def _at_least_two(cls, keys: list[str]) -> list[str]:
        if len(keys) == 1 or len(set(keys)) != len(keys):
            raise ValueError(f"fusion needs two or more distinct models (or none), got {keys}")
        return keys


class MlflowParams(Strict):
    experiment: str = "actionrec"


class PackageLiveParams(Strict):
    """How the packaged bundle recognises live: which model, how much smoothing, when to say 'unsure'."""

    default_model: Literal["auto", "frame", "sequence"] = "auto"  # live runs on landmarks
    smoothing: int = Field(5, ge=1)
    threshold: float = Field(0.5, ge=0, le=1)


class PackageParams(Strict):
    min_metric: Literal["clip_accuracy", "clip_macro_f1", "sample_accuracy", "sample_macro_f1"] = "clip_accuracy"
    quality_gate: float = Field(0.5, ge=0, le=1)
    live: PackageLiveParams = PackageLiveParams()
    registered_model: str = Field("actionrec-live", min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ReproduceParams(Strict):
    """``actionrec reproduce``: runs trained on the CPU must agree exactly; on a GPU within this."""

    tolerance: float = Field(1.0e-6, ge=0)


class Params(Strict):
    """All of params.yaml. ``validate.*.labels`` is filled from ``data.labels`` (one label map)."""

    seed: int = 42
    data: DataParams
    validate_: ValidateParams = Field(alias="validate")
    split: SplitParams = SplitParams()
    features: FeatureSpec = FeatureSpec()
    extract_landmarks: ExtractParams = ExtractParams()
    extract_clips: ClipParams = ClipParams()
    classical: ClassicalParams = ClassicalParams()
    lstm: LstmParams
    convlstm: ConvLstmParams
    evaluate: EvaluateParams = EvaluateParams()
    mlflow: MlflowParams = MlflowParams()
    package: PackageParams = PackageParams()
    reproduce: ReproduceParams = ReproduceParams()

    @model_validator(mode="before")
    @classmethod
    def _labels_from_data(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        labels = (raw.get("data") or {}).get("labels")
        for section in ("landmarks", "clips"):
            checks = (raw.get("validate") or {}).get(section)
            if isinstance(checks, dict):
                if "labels" in checks:
                    raise ValueError(f"validate.{section}.labels: remove it; labels come from data.labels")
                raw["validate"][section] = {**checks, "labels": labels}
        return raw


class ParamsError(ValueError):
    """params.yaml is missing, unparsable, or has a wrong key or value."""


def _describe(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid parameters"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<top level>"
        lines.append(f"  {key}: {e['msg']} (got {reprlib.repr(e.get('input'))})")
    return "\n".join(lines)


def load_params(path: Path | str = "params.yaml") -> Params:
    """Read and check params.yaml."""
    path = Path(path)
    try:
        raw: Any = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: not found") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_describe(err, path)) from None
