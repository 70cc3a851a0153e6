"""Parameters of the two extraction stages (``extract_landmarks``, ``extract_clips``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class ExecutorParams(BaseModel, extra="forbid"):
    """Where cache misses are computed; never part of the cache key (same results either way).

    ``local``: a process pool of ``workers`` on this machine. ``dask``: whole clips as tasks on
    the Dask scheduler at ``address`` (``$ACTIONREC_DASK_ADDRESS`` overrides it), or, with
    neither, on a local Dask cluster of ``workers`` processes. Workers must read the clips at
    the same absolute paths (a shared file system) and import the same ``actionrec``.
    """

    kind: Literal["local", "dask"] = "local"
    address: str | None = Field(None, description="Dask scheduler, e.g. tcp://10.0.0.5:8786")
    retries: int = Field(2, ge=0, description="re-runs of a clip whose task raised")


class ExtractParams(BaseModel, extra="forbid"):
    """Landmark extraction (``extract_landmarks`` stage)."""

    sampling: Literal["stride", "uniform"] = Field(
        "stride",
        description="stride: every stride-th frame from the start, at most max_frames; "
        "uniform: max_frames frames spread over the whole clip (stride unused)",
    )
    stride: int = Field(1, ge=1)
    max_frames: int | None = Field(64, ge=1)
    min_detection_confidence: float = Field(0.5, ge=0.0, le=1.0)
    min_tracking_confidence: float = Field(0.5, ge=0.0, le=1.0)
    min_frames: int = Field(2, ge=1, description="fewer sampled frames -> status too_short")
    workers: int = Field(2, ge=1)
    executor: ExecutorParams = ExecutorParams()

    @model_validator(mode="after")
    def _uniform_needs_max_frames(self) -> ExtractParams:
        if self.sampling == "uniform" and self.max_frames is None:
            raise ValueError("sampling 'uniform' needs max_frames (how many frames to spread over the clip)")
        return self


class ClipParams(BaseModel, extra="forbid"):
    """Frame-clip extraction (``extract_clips`` stage); frames are ``size`` x ``size``."""

    n_frames: int = Field(16, ge=1)
    size: int = Field(64, ge=8)
    min_frames: int = Field(2, ge=1, description="fewer decoded frames -> status too_short")
    workers: int = Field(2, ge=1)
    executor: ExecutorParams = ExecutorParams()


Params = ExtractParams | ClipParams
