"""MediaPipe Holistic landmark and frame-clip extraction with a content-addressed cache.

Two DVC stages use :func:`run_extraction`: ``extract_landmarks`` (per-clip landmark
sequences) and ``extract_clips`` (fixed-length resized frame clips). ``dvc repro`` deletes a
stage's outputs before running it, so incremental work comes from a per-clip cache instead:

* **key** = sha256 of (the code of this module's import closure, kind, OpenCV (+ MediaPipe)
  version, the params that change the result, i.e. all but ``workers`` and ``executor``, and
  the sha256 of the clip's bytes). A changed clip, param, library or line of extraction code
  can never be served a stale entry (comments and docstrings do not count).
* **entries** are ``.npz`` files written atomically (temp file + ``os.replace``) with fixed
  zip timestamps, so the same arrays always give the same bytes (stable DVC hashes).
  Deterministic failures (``decode_error``, ``too_short``, ``no_person``) are cached too;
  unexpected exceptions (status ``error``) are not.
* **output**: ``out_dir`` is built in a hidden sibling directory and swapped in at the end,
  so an interrupted run leaves either the previous complete ``out_dir`` or none, and clips
  no longer in the input list disappear. Output files are hardlinks to cache entries
  (copies across file systems).

Misses are computed by the ``executor``: by default (``local``) in a ``spawn`` pool of
``params.workers`` processes; each worker creates ONE Holistic in the pool initializer and
calls ``reset()`` before every clip. With ``executor.kind: dask`` whole clips are tasks on a
Dask cluster (:mod:`actionrec.extraction.dask_executor`), each worker process keeping its own Holistic,
and the results come back into the same cache, so the output is identical. ``reset()``
restarts the graph, dropping the tracking state, so results are bit-identical to a fresh
Holistic per clip (checked) at ~35 ms instead of ~230 ms per clip. Without it, a clip starts
from the previous clip's tracked ROI and landmarks differ.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import secrets
import shutil
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, model_validator
from tqdm import tqdm

from actionrec.core.io import swap_dir, write_bytes
from actionrec.config.extraction import ClipParams, ExecutorParams, ExtractParams, Params
from actionrec.core.imports import source_digest
from actionrec.media.holistic import detection_rates, landmarks_from_results, make_holistic
from actionrec.core.recording import Recording
from actionrec.core.schema import Part, part_slice
from actionrec.media.video import (
    VideoError,
    count_frames,
    iter_frames,
    iter_indexed_frames,
    read_clip,
    sample_indices,
    video_fps,
)

__all__ = [
    "STATUSES",
    "VIDEO_SUFFIXES",
    "ClipParams",
    "ClipRef",
    "ExecutorParams",
    "ExtractParams",
    "Kind",
    "cache_key",
    "default_cache_dir",
    "discover_clips",
    "extract_video_landmarks",
    "landmarks_from_results",
    "make_holistic",
    "recording_from_npz",
    "run_extraction",
    "ucf_group",
]

log = logging.getLogger(__name__)

Kind = Literal["landmarks", "clips"]
STATUSES = ("ok", "decode_error", "no_person", "too_short", "error")
VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mov", ".mkv", ".webm", ".mpg", ".mpeg"})
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)





@dataclass(frozen=True)
class ClipRef:
    """One input video: its path, class label and split group (subject / UCF101 group)."""

    path: Path
    label: str
    group: str


# ---------------------------------------------------------------- clip names and discovery


_UCF_RE = re.compile(r"^v_(?P<cls>.+)_(?P<group>g\d+)_c\d+$")
_WEIZMANN_RE = re.compile(r"^(?P<actor>[A-Za-z]+)_(?P<action>[A-Za-z]+\d*)$")


def ucf_group(stem: str) -> str | None:
    """Group of a clip name: UCF101 ``v_<Class>_gNN_cNN`` -> ``gNN``; Weizmann
    ``<actor>_<action>`` -> actor (``daria_bend`` -> ``daria``); anything else -> None."""
    if m := _UCF_RE.match(stem):
        return m["group"]
    if m := _WEIZMANN_RE.match(stem):
        return m["actor"]
    return None


def discover_clips(root: Path) -> list[ClipRef]:
    """Videos under ``root/<Class>/``, sorted; group from :func:`ucf_group`, else the stem."""
    return [
        ClipRef(path, path.parent.name, ucf_group(path.stem) or path.stem)
        for path in sorted(Path(root).glob("*/*"))
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES
    ]


# ---------------------------------------------------------------- MediaPipe


def extract_video_landmarks(
    path: Path, params: ExtractParams, holistic: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks ``(T, 543, 4)`` float32 and source frame indices ``(T,)`` int32 of one clip.

    ``holistic`` is reset first, so no tracking state leaks in from a previous clip.
    Raises :class:`VideoError` when the clip cannot be decoded.
    """
    holistic.reset()
    if params.sampling == "uniform":
        frames = iter_indexed_frames(path, sample_indices(count_frames(path), params.max_frames))
    else:
        frames = iter_frames(path, stride=params.stride, max_frames=params.max_frames)
    coords, index = [], []
    for i, frame in frames:
        coords.append(landmarks_from_results(holistic.process(frame)))
        index.append(i)
    return np.stack(coords), np.asarray(index, np.int32)


# ---------------------------------------------------------------- cache


def default_cache_dir(kind: Kind) -> Path:
    """``$ACTIONREC_CACHE_DIR/<kind>``, else ``.cache/actionrec/<kind>`` under the repo root
    (the checkout holding this package, or the working directory for an installed package)."""
    if env := os.environ.get("ACTIONREC_CACHE_DIR"):
        return Path(env) / kind
    checkout = Path(__file__).resolve().parents[2]
    root = checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()
    return root / ".cache" / "actionrec" / kind


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@cache
def code_digest() -> str:
    """Digest of the extraction code: this module and every project module it imports."""
    return source_digest(Path(__file__).resolve().parents[2], Path(__file__).resolve())


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


def _entry_path(cache_dir: Path, key: str) -> Path:
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


def _failure(status: str, problem: str, n_frames: int) -> dict[str, np.ndarray]:
    return {
        "status": np.array(status),
        "problem": np.array(problem),
        "n_frames": np.array(n_frames),
    }


# ---------------------------------------------------------------- per-clip computation


def _landmark_entry(path: Path, params: ExtractParams, holistic: Any) -> dict[str, np.ndarray]:
    try:
        coords, frame_index = extract_video_landmarks(path, params, holistic)
        fps = video_fps(path)
    except VideoError as exc:
        return _failure("decode_error", exc.problem, 0)
    n = len(frame_index)
    if n < params.min_frames:
        return _failure(
            "too_short", f"{n} frame(s) sampled, fewer than min_frames={params.min_frames}", n
        )
    if not np.any(~np.isnan(coords[:, part_slice(Part.POSE).start, 0])):
        return _failure("no_person", f"no person detected in any of {n} sampled frames", n)
    return {"coords": coords, "frame_index": frame_index, "fps": np.array(fps)}


def _clip_entry(path: Path, params: ClipParams) -> dict[str, np.ndarray]:
    try:
        n_total = count_frames(path)
        if n_total < params.min_frames:
            return _failure(
                "too_short",
                f"{n_total} frame(s), fewer than min_frames={params.min_frames}",
                n_total,
            )
        frames = read_clip(path, params.n_frames, (params.size, params.size), n_total=n_total)
        fps = video_fps(path)
    except VideoError as exc:
        return _failure("decode_error", exc.problem, 0)
    frame_index = sample_indices(n_total, params.n_frames).astype(np.int32)
    return {"frames": frames, "frame_index": frame_index, "fps": np.array(fps)}


_WORKER: dict[str, Any] = {}
# MediaPipe's native info/warning lines (absl/glog, TFLite), printed at every graph start.
_NATIVE_LOG = re.compile(
    rb"^(?:[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\]|WARNING: All log messages before absl::"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate)"
)


def _filter_native_logs() -> None:
    """Drop MediaPipe's native info/warning lines from this (worker) process's stderr.

    They bypass Python and cannot be switched off (mediapipe#5737), so fd 2 goes through a
    pipe whose reader forwards every other line (errors, Python tracebacks) unchanged.
    """
    read_fd, write_fd = os.pipe()
    original = os.dup(2)
    os.dup2(write_fd, 2)
    os.close(write_fd)

    def pump() -> None:
        with os.fdopen(read_fd, "rb") as src, os.fdopen(original, "wb", buffering=0) as dst:
            for line in src:
                if not _NATIVE_LOG.match(line):
                    dst.write(line)

    threading.Thread(target=pump, name="stderr-filter", daemon=True).start()


def _init_worker(kind: Kind, params_json: str, cache_dir: str, in_pool: bool = True) -> None:
    """Pool initializer: parse params once and create this process's one Holistic."""
    if in_pool:
        _filter_native_logs()
        cv2.setNumThreads(1)  # the processes already fill the cores
    params = (ExtractParams if kind == "landmarks" else ClipParams).model_validate_json(params_json)
    _WORKER.update(kind=kind, params=params, cache_dir=Path(cache_dir))
    _WORKER["holistic"] = make_holistic(params) if kind == "landmarks" else None


def _entry(path: Path, kind: Kind, params: Params, holistic: Any) -> dict[str, np.ndarray]:
    """The cache entry of one clip (any executor)."""
    if kind == "landmarks":
        return _landmark_entry(path, params, holistic)
    return _clip_entry(path, params)


def _compute(task: tuple[str, str]) -> tuple[str, tuple[str, str] | None]:
    """Compute one clip into the cache; return ``(key, None)``, or ``(key, (status, message))``
    for an unexpected (so uncached) failure."""
    key, path = task
    try:
        entry = _entry(Path(path), _WORKER["kind"], _WORKER["params"], _WORKER["holistic"])
        save_npz(_entry_path(_WORKER["cache_dir"], key), entry)
    except Exception as exc:  # one bad clip must never abort the others
        log.exception("extraction failed for %s", path)
        return key, ("error", f"{path}: unexpected {type(exc).__name__}: {exc}")
    return key, None


def _run_tasks(
    tasks: list[tuple[str, str]], kind: Kind, params: Params, cache_dir: Path
) -> Iterator[tuple[str, tuple[str, str] | None]]:
    """Compute ``tasks`` into the cache with the configured executor, yielding ``(key,
    failure)`` as each clip completes (``failure``: see :func:`_compute`)."""
    if params.executor.kind == "dask" and tasks:
        from actionrec.extraction.dask_executor import run_dask

        return run_dask(tasks, kind, params, cache_dir)
    return _run_local(tasks, kind, params, cache_dir)


def _run_local(
    tasks: list[tuple[str, str]], kind: Kind, params: Params, cache_dir: Path
) -> Iterator[tuple[str, tuple[str, str] | None]]:
    """``_compute`` over ``tasks``: in this process for one worker (or task), else in a pool."""
    init = (kind, params.model_dump_json(), str(cache_dir))
    n_proc = min(params.workers, len(tasks))
    if n_proc == 1:
        _init_worker(*init, in_pool=False)
        try:
            yield from map(_compute, tasks)
        finally:
            if _WORKER["holistic"] is not None:
                _WORKER["holistic"].close()
            _WORKER.clear()
        return
    if n_proc == 0:
        return
    with get_context("spawn").Pool(n_proc, initializer=_init_worker, initargs=init) as pool:
        yield from pool.imap_unordered(_compute, tasks)


# ---------------------------------------------------------------- index rows and output


def _columns(kind: Kind) -> list[str]:
    rates = [f"{p.value}_rate" for p in Part] if kind == "landmarks" else []
    head = ["clip", "label", "group", "path", "status", "message", "n_frames"]
    return [*head, *rates, "source", "sha256"]


def _row(
    clip: ClipRef, sha: str, kind: Kind, entry: Any, failure: tuple[str, str] | None
) -> dict[str, Any]:
    """Index row of one clip from its cache entry, or from an uncached ``(status, message)``."""
    row: dict[str, Any] = {
        "clip": clip.path.stem,
        "label": clip.label,
        "group": clip.group,
        "path": "",
    }
    if failure is not None:
        row.update(status=failure[0], message=failure[1], n_frames=0)
    elif "status" in entry.files:
        row.update(
            status=str(entry["status"]),
            message=f"{clip.path}: {entry['problem']}",
            n_frames=int(entry["n_frames"]),
        )
    else:
        row.update(
            status="ok",
            message="",
            n_frames=len(entry["frame_index"]),
            path=f"{clip.label}/{clip.path.stem}.npz",
        )
    if kind == "landmarks":
        rates = (
            detection_rates(entry["coords"]) if row["status"] == "ok" else dict.fromkeys(Part, 0.0)
        )
        row.update({f"{p.value}_rate": round(r, 6) for p, r in rates.items()})
    row.update(source=str(clip.path), sha256=sha)
    return row


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _check_unique(clips: Iterable[ClipRef]) -> None:
    """Two inputs must not write the same ``<label>/<stem>.npz``."""
    seen: dict[tuple[str, str], Path] = {}
    for clip in clips:
        other = seen.setdefault((clip.label, clip.path.stem), clip.path)
        if other != clip.path:
            raise ValueError(
                f"two clips map to {clip.label}/{clip.path.stem}.npz: {other} and {clip.path}"
            )


def run_extraction(
    clips: list[ClipRef], out_dir: Path, cache_dir: Path | None, params: Params, kind: Kind
) -> pd.DataFrame:
    """Extract every clip into ``out_dir/<label>/<stem>.npz`` plus ``out_dir/index.csv``.

    Landmark npz: ``coords`` (T, 543, 4) float32, ``frame_index`` (T,) int32, ``fps``.
    Clip npz: ``frames`` (n_frames, size, size, 3) uint8 RGB, ``frame_index``, ``fps``.
    Failed clips get an index row (status + message naming the file) and no npz. Returns
    the index with one extra column ``cached`` (True when served from the cache), which
    is not written to ``index.csv`` so the file only changes when the data does.
    """
    expected = ExtractParams if kind == "landmarks" else ClipParams
    if kind not in ("landmarks", "clips") or not isinstance(params, expected):
        raise TypeError(f"kind {kind!r} needs {expected.__name__}, got {type(params).__name__}")
    _check_unique(clips)
    start = time.perf_counter()
    out_dir, cache_dir = Path(out_dir), Path(cache_dir or default_cache_dir(kind))
    shas = [file_sha256(c.path) if c.path.is_file() else "" for c in clips]
    keys = [cache_key(sha, params, kind) if sha else "" for sha in shas]
    todo = {
        k: str(c.path)
        for c, k in zip(clips, keys, strict=True)
        if k and not _entry_path(cache_dir, k).is_file()
    }
    tasks = sorted(todo.items(), key=lambda t: -Path(t[1]).stat().st_size)  # longest first
    failures: dict[str, tuple[str, str] | None] = {}
    with tqdm(
        total=len(clips), initial=len(clips) - len(todo), desc=f"extract {kind}", unit="clip"
    ) as bar:
        for key, failure in _run_tasks(tasks, kind, params, cache_dir):
            failures[key] = failure
            bar.update(1)
    staging = out_dir.with_name(f".{out_dir.name}.partial-{secrets.token_hex(4)}")
    try:
        staging.mkdir(parents=True)
        rows = [
            _output(clip, sha, key, kind, cache_dir, staging, failures.get(key))
            for clip, sha, key in zip(clips, shas, keys, strict=True)
        ]
        index = pd.DataFrame(rows, columns=_columns(kind))
        index.to_csv(staging / "index.csv", index=False)
        swap_dir(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    index["cached"] = [bool(k) and k not in todo for k in keys]
    log.info(
        "extract %s: %d clips, %d cache hits, %d computed, %d errors, %.1f s",
        kind,
        len(clips),
        int(index["cached"].sum()),
        len(todo),
        int((index["status"] != "ok").sum()),
        time.perf_counter() - start,
    )
    return index


def _output(
    clip: ClipRef,
    sha: str,
    key: str,
    kind: Kind,
    cache_dir: Path,
    staging: Path,
    failure: tuple[str, str] | None,
) -> dict[str, Any]:
    """Index row of one clip; links its npz into ``staging`` when it succeeded."""
    if not key:  # missing file: nothing to hash, nothing to cache
        failure = ("decode_error", str(VideoError(clip.path, "no such file")))
    if failure is not None:
        return _row(clip, sha, kind, None, failure)
    entry_path = _entry_path(cache_dir, key)
    with np.load(entry_path) as entry:
        row = _row(clip, sha, kind, entry, None)
    if row["status"] == "ok":
        _link_or_copy(entry_path, staging / row["path"])
    return row


# ---------------------------------------------------------------- loading


def recording_from_npz(path: Path, label: str, group: str | None) -> Recording:
    """A :class:`Recording` from an extracted landmark npz (session = clip stem, subject = group).

    Timestamps are ``frame_index / fps`` in seconds (NaN when the container gave no fps).
    """
    path = Path(path)
    with np.load(path) as data:
        coords = data["coords"].astype(np.float32, copy=False)
        frames = data["frame_index"].astype(np.int64)
        fps = float(data["fps"])
    return Recording(
        session_id=path.stem,
        label=label,
        coords=coords,
        frames=frames,
        timestamps=frames / fps if fps > 0 else np.full(len(frames), np.nan),
        source=str(path),
        subject_id=group,
    )
