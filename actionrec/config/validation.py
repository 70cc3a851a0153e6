"""Thresholds of the validation stage (``params.yaml: validate``)."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator


class ValidationParams(BaseModel, extra="forbid"):
    """Thresholds for landmark tables (``params.yaml: validate``)."""

    labels: list[str] = Field(min_length=1)
    min_rows_per_class: int = Field(20, ge=0)
    min_rows_per_session: int = Field(5, ge=0)
    xy_range: tuple[float, float] = (-3.0, 4.0)
    z_range: tuple[float, float] = (-10.0, 10.0)
    max_missing_pose_share: float = Field(0.0, ge=0.0, le=1.0)
    max_missing_face_share: float = Field(0.5, ge=0.0, le=1.0)
    max_bad_row_share: float = Field(0.05, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ranges_ordered(self) -> ValidationParams:
        for name in ("xy_range", "z_range"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"{name}: lower bound {lo} is above upper bound {hi}")
        return self


class ClipValidationParams(BaseModel, extra="forbid"):
    """Thresholds for the clip index written by extraction."""

    labels: list[str] = Field(min_length=1)
    max_bad_clip_share: float = Field(0.2, ge=0.0, le=1.0)
    min_frames: int = Field(8, ge=0)
    min_pose_rate: float = Field(0.5, ge=0.0, le=1.0)
