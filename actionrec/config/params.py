"""Typed view of params.yaml: a wrong, missing or unknown key fails at once, naming the key.

params.yaml is the only source of values: :func:`load_params` refuses a file that leaves any
key out, so no code default ever reaches a stage. Models used with more than one set of values
(forests, training loops) or only by the pipeline have no defaults; the few small models that
library callers build by hand (features, extraction, validation, split) keep defaults, and a
test checks that each equals params.yaml.
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from actionrec.config.extraction import ClipParams, ExtractParams
from actionrec.config.training import AugmentConfig, TrainConfig
from actionrec.config.validation import ClipValidationParams, ValidationParams
from actionrec.core.features import FeatureSpec
from actionrec.core.schema import Part


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataParams(Strict):
    landmarks_dir: Path
    videos_dir: Path
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
    C: float = Field(gt=0)
    max_iter: int = Field(ge=1)


class RidgeParams(Strict):
    alpha: float = Field(gt=0)


class ForestParams(Strict):
    n_estimators: int = Field(ge=1)
    max_depth: int | None = Field(ge=1)
    min_samples_leaf: int = Field(ge=1)


class BoostingParams(Strict):
    n_estimators: int = Field(ge=1)
    learning_rate: float = Field(gt=0)
    max_depth: int = Field(ge=1)
    subsample: float = Field(gt=0, le=1)


class OpenSetParams(Strict):
    score: Literal["max_prob"] | None = Field(description="'unknown' score; none: off")
    quantile: float = Field(ge=0, le=0.5, description="share of in-set validation samples called unknown")


class ClassicalParams(Strict):
    lr: LogRegParams
    ridge: RidgeParams
    rf: ForestParams
    gb: BoostingParams
    pooled_rf: ForestParams = Field(description="forest of pooled-rf")
    pooled_et: ForestParams = Field(description="extremely randomised trees of pooled-et")
    appearance: ForestParams = Field(description="forest of appearance-rf")
    max_train_frames: int | None = Field(ge=1)
    pooled_window: int = Field(ge=2)
    open_set: OpenSetParams = Field(description="pooled models' 'unknown' decision")
    pooled_stride: int = Field(ge=1)


class LstmParams(Strict):
    window: Literal[20, 30, 60]
    stride: int = Field(ge=1)
    hidden: int = Field(ge=1)
    layers: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    open_set: OpenSetParams = Field(description="'unknown' decision, calibrated on the validation windows")
    augment: AugmentConfig
    train: TrainConfig


class TcnParams(Strict):
    window: Literal[20, 30, 60]
    stride: int = Field(ge=1)
    channels: int = Field(ge=1, description="channels of every temporal block")
    levels: int = Field(ge=1, description="residual blocks, dilations 1, 2, 4, ...")
    kernel: int = Field(ge=3, description="odd temporal kernel size")
    dropout: float = Field(ge=0, lt=1)
    open_set: OpenSetParams = Field(description="'unknown' decision, calibrated on the validation windows")
    augment: AugmentConfig
    train: TrainConfig

    @field_validator("kernel")
    @classmethod
    def _odd(cls, kernel: int) -> int:
        if kernel % 2 == 0:
            raise ValueError(f"kernel must be odd (centred convolutions), got {kernel}")
        return kernel


class ConvLstmAugmentParams(Strict):
    """Random views of the training clips (:mod:`actionrec.training.clip_augment`)."""

    crop_scale: float = Field(gt=0, le=1, description="smallest share of the frame area a crop keeps (1: no crops)")
    flip: bool = Field(description="mirror half the views left-right")
    brightness: float = Field(ge=0, lt=1, description="scale the pixels by 1 +- up to this")
    copies: int = Field(ge=1, description="views of every training clip per epoch")


class ConvLstmProfile(Strict):
    """The model and training sizes of one device profile (``convlstm.cpu`` / ``convlstm.gpu``)."""

    hidden: list[int] = Field(min_length=1)
    kernel: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)
    motion: bool
    norm: bool
    downsample: int = Field(ge=1, description="average-pool the frames by this factor first")
    augment: ConvLstmAugmentParams
    train: TrainConfig


ProfileName = Literal["cpu", "gpu"]


class ConvLstmParams(Strict):
    profile: Literal["auto", "cpu", "gpu"] = Field(description="auto: gpu when torch sees CUDA, else cpu")
    cpu: ConvLstmProfile
    gpu: ConvLstmProfile

    @model_validator(mode="after")
    def _devices(self) -> ConvLstmParams:
        for name in ("cpu", "gpu"):
            device, want = getattr(self, name).train.device, {"cpu": "cpu", "gpu": "cuda"}[name]
            if device != want:
                raise ValueError(f"convlstm.{name}.train.device must be {want}, got {device}")
        return self

    def choose(self, cuda_available: bool) -> tuple[ProfileName, ConvLstmProfile]:
        """The profile to train with: ``profile``, or for ``auto`` gpu when CUDA is available."""
        name: ProfileName = ("gpu" if cuda_available else "cpu") if self.profile == "auto" else self.profile
        return name, getattr(self, name)


SEQUENCE_SECTIONS = ("lstm", "tcn")  # torch models on windows of landmark features

Metric = Literal["clip_accuracy", "clip_macro_f1", "sample_accuracy", "sample_macro_f1"]


class EvaluateParams(Strict):
    rank_by: Metric
    fusion: list[str] = Field(
        description="leaderboard keys whose clip probabilities are averaged into the model 'fusion'",
    )

    @field_validator("fusion")
    @classmethod
    def _at_least_two(cls, keys: list[str]) -> list[str]:
        if len(keys) == 1 or len(set(keys)) != len(keys):
            raise ValueError(f"fusion needs two or more distinct models (or none), got {keys}")
        return keys


class MlflowParams(Strict):
    experiment: str


class PackageLiveParams(Strict):
    """How the packaged bundle recognises live: which model, how much smoothing, when to say 'unsure'."""

    default_model: Literal["auto", "frame", "sequence"]  # live runs on landmarks
    smoothing: int = Field(ge=1)
    threshold: float = Field(ge=0, le=1)


class PackageParams(Strict):
    min_metric: Metric
    quality_gate: float = Field(ge=0, le=1)
    live: PackageLiveParams
    registered_model: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ReproduceParams(Strict):
    """``actionrec reproduce``: runs trained on the CPU must agree exactly; on a GPU within this."""

    tolerance: float = Field(ge=0)


class Params(Strict):
    """All of params.yaml. ``validate.*.labels`` is filled from ``data.labels`` (one label map) and
    each ``<torch section>.train.seed`` (``convlstm.{cpu,gpu}.train.seed``) from the top-level ``seed``
    (one seed)."""

    seed: int = Field(description="drives every stage's randomness")
    data: DataParams
    validate_: ValidateParams = Field(alias="validate")
    split: SplitParams
    features: FeatureSpec
    extract_landmarks: ExtractParams
    extract_clips: ClipParams
    classical: ClassicalParams
    lstm: LstmParams
    tcn: TcnParams
    convlstm: ConvLstmParams
    evaluate: EvaluateParams
    mlflow: MlflowParams
    package: PackageParams
    reproduce: ReproduceParams

    @model_validator(mode="before")
    @classmethod
    def _fill_shared(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        labels = (raw.get("data") or {}).get("labels")
        for section in ("landmarks", "clips"):
            checks = (raw.get("validate") or {}).get(section)
            if isinstance(checks, dict):
                if "labels" in checks:
                    raise ValueError(f"validate.{section}.labels: remove it; labels come from data.labels")
                raw["validate"][section] = {**checks, "labels": labels}
        blocks: dict[str, Any] = {section: raw.get(section) for section in SEQUENCE_SECTIONS}
        if isinstance(convlstm := raw.get("convlstm"), dict):  # one train block per device profile
            blocks |= {f"convlstm.{profile}": convlstm.get(profile) for profile in ("cpu", "gpu")}
        for name, block in blocks.items():
            train = block.get("train") if isinstance(block, dict) else None
            if isinstance(train, dict):
                if "seed" in train:
                    raise ValueError(f"{name}.train.seed: remove it; every stage uses the top-level seed")
                block["train"] = {**train, "seed": raw.get("seed")}
        return raw

    @model_validator(mode="after")
    def _augment_fits_features(self) -> Params:
        for section in SEQUENCE_SECTIONS:
            aug: AugmentConfig = getattr(self, section).augment
            hands = {Part.LEFT_HAND, Part.RIGHT_HAND} & set(self.features.parts)
            if aug.mirror > 0 and (Part.FACE in self.features.parts or len(hands) == 1):
                raise ValueError(
                    f"{section}.augment.mirror: features.parts {[p.value for p in self.features.parts]} has "
                    "landmarks without their left/right mirror (face, or one hand alone); set "
                    f"{section}.augment.mirror to 0 or use pose and both hands only"
                )
            if aug.geometric and self.features.kind == "none":
                raise ValueError(
                    f"{section}.augment.{aug.geometric[0]}: moves body-centred coordinates but features.kind "
                    f"is none; set {', '.join(f'{section}.augment.{k}' for k in aug.geometric)} to 0 or "
                    "features.kind to body_centred or body_aligned"
                )
        return self


class ParamsError(ValueError):
    """params.yaml is missing, unparsable, or has a wrong key or value."""


def _describe(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid parameters"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<top level>"
        lines.append(f"  {key}: {e['msg']} (got {reprlib.repr(e.get('input'))})")
    return "\n".join(lines)


def unset_keys(model: BaseModel, prefix: str = "") -> list[str]:
    """Dotted keys that ``model`` took from a code default instead of the file, at any depth."""
    missing = []
    for name, field in type(model).model_fields.items():
        key = f"{prefix}{field.alias or name}"
        if name not in model.model_fields_set:
            missing.append(key)
        elif isinstance(value := getattr(model, name), BaseModel):
            missing += unset_keys(value, f"{key}.")
    return missing


def load_params(path: Path | str = "params.yaml") -> Params:
    """Read and check params.yaml: every key known, well typed and present."""
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
        params = Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_describe(err, path)) from None
    if missing := unset_keys(params):
        raise ParamsError(
            f"{path}: missing key(s) {', '.join(missing)}: add them with their values "
            "(params.yaml is the only source of parameters)"
        )
    return params
