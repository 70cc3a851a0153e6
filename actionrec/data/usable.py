"""The usable corpus: the extracted clips that validation keeps, materialised as the split stage's output.

``data/processed/corpus/<kind>/`` holds hard links (copies across file systems) of exactly the
usable ``<label>/<stem>.npz`` of ``data/interim/<kind>/`` plus an ``index.csv`` of only their rows.
It is byte-identical while the usable set is unchanged, so a clip that is excluded (undecodable,
too short, no person) changes no input of training or evaluation, and DVC retrains nothing.
"""

from __future__ import annotations

import logging
import secrets
import shutil
from pathlib import Path

import pandas as pd

from actionrec.config.validation import ClipValidationParams
from actionrec.core.io import link_or_copy, swap_dir, write_text
from actionrec.data.validation.clips import usable_clips

__all__ = ["usable_ids", "write_corpus"]

log = logging.getLogger(__name__)


def usable_ids(index: pd.DataFrame, params: ClipValidationParams) -> set[str]:
    """Clip ids of a landmark index that :func:`usable_clips` keeps (warns about the others)."""
    if index.empty:
        return set()
    keep = usable_clips(index, params)
    excluded = sorted(index.loc[~keep, "clip"])
    if excluded:
        log.warning("excluding %d clips that failed validation: %s", len(excluded), ", ".join(excluded[:10]))
    return set(index.loc[keep, "clip"])


def write_corpus(src: Path, dst: Path, keep: set[str]) -> int:
    """Rebuild ``dst`` from the ok rows of ``src/index.csv`` whose clip is in ``keep`` (swapped in
    whole, rows in index order); return how many clips it holds."""
    staging = dst.with_name(f".{dst.name}.partial-{secrets.token_hex(4)}")
    try:
        staging.mkdir(parents=True)
        index = pd.read_csv(src / "index.csv", dtype=str, keep_default_na=False)
        rows = index[(index["status"] == "ok") & index["clip"].isin(keep)]
        for rel in rows["path"]:
            link_or_copy(src / rel, staging / rel)
        write_text(staging / "index.csv", rows.to_csv(index=False))
        swap_dir(staging, dst)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(rows)
