"""Run records: which MLflow run made a model, kept beside its manifest but outside DVC's hashes.

A model's manifest (``<name>.json``) is a DVC output and must be the same bytes on every machine
that trains the same inputs. The MLflow run id and the git commit are not: they belong to one
checkout's MLflow store. They go to ``<name>.run.json`` beside the manifest, which ``.dvcignore``
keeps out of the output's hash, the DVC cache and ``dvc.lock``. A model restored from the DVC
cache or remote has no run record: its runs live in another store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from actionrec.core.io import write_json

SUFFIX = ".run.json"  # matched by the pattern in .dvcignore


def path_for(manifest: Path) -> Path:
    """The run record of the model whose manifest is ``manifest``."""
    return manifest.with_name(manifest.stem + SUFFIX)


def write(manifest: Path, run_id: str, lineage: dict[str, str], **extra: str) -> None:
    """Record (atomically) that ``run_id`` with ``lineage`` tags made the model of ``manifest``."""
    write_json(path_for(manifest), {"mlflow_run_id": run_id, "lineage": lineage, **extra})


def read(manifest: Path) -> dict[str, Any]:
    """The run record of ``manifest``'s model; empty when there is none (restored from a cache)."""
    try:
        record = json.loads(path_for(manifest).read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def manifests(models: Path) -> list[Path]:
    """The model manifests ``models/<kind>/<name>.json`` (not their run records), sorted."""
    return sorted(p for p in models.glob("*/*.json") if not p.name.endswith(SUFFIX))
