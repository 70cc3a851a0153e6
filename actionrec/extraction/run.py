"""MediaPipe Holistic landmark and frame-clip extraction with a content-addressed cache.

Two DVC stages use :func:`run_extraction`: ``extract_landmarks`` (per-clip landmark
sequences) and ``extract_clips`` (fixed-length resized frame clips). ``dvc repro`` deletes a
stage's outputs before running it, so incremental work comes from a per-clip cache instead
(:mod:`~actionrec.extraction.cache`): only the misses are computed
(:mod:`~actionrec.extraction.compute`), by the configured executor
(:mod:`~actionrec.extraction.executors`, ``local`` or ``dask``: the same results), and the
output is swapped in whole (:mod:`~actionrec.extraction.outputs`). Unexpected exceptions
(status ``error``) are not cached.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from actionrec.config.extraction import ClipParams, ExtractParams, Params
from actionrec.data.clips import ClipRef
from actionrec.extraction.cache import Kind, cache_key, default_cache_dir, entry_path, file_sha256
from actionrec.extraction.compute import Failure
from actionrec.extraction.executors import run_tasks
from actionrec.extraction.outputs import check_unique, write_outputs

__all__ = ["run_extraction"]

log = logging.getLogger(__name__)


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
    check_unique(clips)
    start = time.perf_counter()
    out_dir, cache_dir = Path(out_dir), Path(cache_dir or default_cache_dir(kind))
    shas = [file_sha256(c.path) if c.path.is_file() else "" for c in clips]
    keys = [cache_key(sha, params, kind) if sha else "" for sha in shas]
    todo = {k: str(c.path) for c, k in zip(clips, keys, strict=True) if k and not entry_path(cache_dir, k).is_file()}
    tasks = sorted(todo.items(), key=lambda t: -Path(t[1]).stat().st_size)  # longest first
    failures: dict[str, Failure] = {}
    with tqdm(total=len(clips), initial=len(clips) - len(todo), desc=f"extract {kind}", unit="clip") as bar:
        for key, failure in run_tasks(tasks, kind, params, cache_dir):
            failures[key] = failure
            bar.update(1)
    index = write_outputs(clips, shas, keys, kind, cache_dir, out_dir, failures)
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
