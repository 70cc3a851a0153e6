"""The content-addressed per-clip cache: keys, entry paths and byte-deterministic ``.npz`` entries.

* **key** = sha256 of (the code of the extraction package's import closure, kind, OpenCV
  (+ MediaPipe) version, the params that change the result, i.e. all but ``workers`` and
  ``executor``, and the sha256 of the clip's bytes). A changed clip, param, library or line of
  extraction code can never be served a stale entry (comments and docstrings do not count).
* **entries** are ``.npz`` files written atomically with fixed zip timestamps, so the same
  arrays always give the same bytes (stable DVC hashes).
"""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from actionrec.config.extraction import Params
from actionrec.core.imports import source_digest
from actionrec.core.io import write_bytes

__all__ = [
    "Kind",
    "cache_key",
    "code_digest",
    "default_cache_dir",
    "entry_path",
    "file_sha256",
    "npz_bytes",
    "save_npz",
]

Kind = Literal["landmarks", "clips"]
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_PACKAGE = Path(__file__).resolve().parent
_ROOT = _PACKAGE.parents[1]


def default_cache_dir(kind: str) -> Path:
    """``$ACTIONREC_CACHE_DIR/<kind>``, else ``.cache/actionrec/<kind>`` under the repo root
    (the checkout holding this package, or the working directory for an installed package)."""
    if env := os.environ.get("ACTIONREC_CACHE_DIR"):
        return Path(env) / kind
    root = _ROOT if (_ROOT / "pyproject.toml").is_file() else Path.cwd()
    return root / ".cache" / "actionrec" / kind


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@cache
def code_digest() -> str:
    """Digest of the extraction code: every module of this package and every project module they import."""
    return source_digest(_ROOT, *sorted(_PACKAGE.glob("*.py")))


def _extractor_id(kind: Kind) -> str:
    """Version of everything but the inputs that shapes a result of ``kind``."""
    libs = f"opencv={cv2.__version__}"
    if kind == "landmarks":
        libs += f";mediapipe={version('mediapipe')}"
    return f"actionrec-extract={code_digest()};kind={kind};{libs}"


def cache_key(clip_sha256: str, params: Params, kind: Kind) -> str:
    """Key of one clip's result: clip bytes + result-affecting params + extractor version."""
    spec = params.model_dump_json(exclude={"workers", "executor"})
    return hashlib.sha256(f"{_extractor_id(kind)}|{spec}|{clip_sha256}".encode()).hexdigest()


def entry_path(cache_dir: Path, key: str) -> Path:
    """Where the entry of ``key`` lives in ``cache_dir``."""
    return cache_dir / key[:2] / f"{key}.npz"


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Byte-deterministic compressed ``.npz`` (fixed zip timestamps, sorted names)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())
    return out.getvalue()


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Atomic, byte-deterministic compressed ``.npz`` (see :func:`npz_bytes`)."""
    write_bytes(path, npz_bytes(arrays))
