"""An extraction stage's output: ``out_dir/<label>/<stem>.npz`` plus ``index.csv``, swapped in whole.

``out_dir`` is built in a hidden sibling directory and swapped in at the end, so an interrupted
run leaves either the previous complete ``out_dir`` or none, and clips no longer in the input
list disappear. Output files are hardlinks to cache entries (copies across file systems).
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from actionrec.core.io import link_or_copy, swap_dir, write_text
from actionrec.core.schema import Part
from actionrec.data.clips import ClipRef
from actionrec.extraction.cache import Kind, entry_path
from actionrec.extraction.compute import Failure
from actionrec.media.holistic import detection_rates
from actionrec.media.video import VideoError

__all__ = ["check_unique", "write_outputs"]


def _columns(kind: Kind) -> list[str]:
    rates = [f"{p.value}_rate" for p in Part] if kind == "landmarks" else []
    head = ["clip", "label", "group", "path", "status", "message", "n_frames"]
    return [*head, *rates, "source", "sha256"]


def _row(clip: ClipRef, sha: str, kind: Kind, entry: Any, failure: Failure) -> dict[str, Any]:
    """Index row of one clip from its cache entry, or from an uncached ``(status, message)``."""
    row: dict[str, Any] = {"clip": clip.path.stem, "label": clip.label, "group": clip.group, "path": ""}
    if failure is not None:
        row.update(status=failure[0], message=failure[1], n_frames=0)
    elif "status" in entry.files:
        row.update(
            status=str(entry["status"]), message=f"{clip.path}: {entry['problem']}", n_frames=int(entry["n_frames"])
        )
    else:
        row.update(
            status="ok", message="", n_frames=len(entry["frame_index"]), path=f"{clip.label}/{clip.path.stem}.npz"
        )
    if kind == "landmarks":
        rates = detection_rates(entry["coords"]) if row["status"] == "ok" else dict.fromkeys(Part, 0.0)
        row.update({f"{p.value}_rate": round(r, 6) for p, r in rates.items()})
    row.update(source=str(clip.path), sha256=sha)
    return row


def check_unique(clips: Iterable[ClipRef]) -> None:
    """Two inputs must not write the same ``<label>/<stem>.npz``."""
    seen: dict[tuple[str, str], Path] = {}
    for clip in clips:
        other = seen.setdefault((clip.label, clip.path.stem), clip.path)
        if other != clip.path:
            raise ValueError(f"two clips map to {clip.label}/{clip.path.stem}.npz: {other} and {clip.path}")


def _output(
    clip: ClipRef, sha: str, key: str, kind: Kind, cache_dir: Path, staging: Path, failure: Failure
) -> dict[str, Any]:
    """Index row of one clip; links its npz into ``staging`` when it succeeded."""
    if not key:  # missing file: nothing to hash, nothing to cache
        failure = ("decode_error", str(VideoError(clip.path, "no such file")))
    if failure is not None:
        return _row(clip, sha, kind, None, failure)
    path = entry_path(cache_dir, key)
    with np.load(path) as entry:
        row = _row(clip, sha, kind, entry, None)
    if row["status"] == "ok":
        link_or_copy(path, staging / row["path"])
    return row


def write_outputs(
    clips: list[ClipRef],
    shas: list[str],
    keys: list[str],
    kind: Kind,
    cache_dir: Path,
    out_dir: Path,
    failures: dict[str, Failure],
) -> pd.DataFrame:
    """Build ``out_dir`` from the cache entries of ``keys`` (``""``: missing clip) and the
    uncached ``failures``, swap it in, and return its index."""
    staging = out_dir.with_name(f".{out_dir.name}.partial-{secrets.token_hex(4)}")
    try:
        staging.mkdir(parents=True)
        rows = [
            _output(clip, sha, key, kind, cache_dir, staging, failures.get(key))
            for clip, sha, key in zip(clips, shas, keys, strict=True)
        ]
        index = pd.DataFrame(rows, columns=_columns(kind))
        write_text(staging / "index.csv", index.to_csv(index=False))
        swap_dir(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return index
