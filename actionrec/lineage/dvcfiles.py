"""The one reader of DVC's files: dvc.yaml (stages, outputs, the stage graph), dvc.lock entries
(computed the way DVC writes them) and the ``.dvc`` files of the raw data; and the ``dvc`` command."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import yaml


def executable() -> str:
    """The ``dvc`` beside this interpreter (the project's venv), else the one on PATH."""
    local = Path(sys.executable).with_name("dvc")
    return str(local) if local.exists() else "dvc"


def stages(root: Path) -> dict[str, dict[str, Any]]:
    """The ``stages`` of ``root/dvc.yaml`` as written (raises if it is missing or broken)."""
    return (yaml.safe_load((root / "dvc.yaml").read_text()) or {}).get("stages") or {}


def _outputs(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(path, flags)`` of every stage output in ``root/dvc.yaml`` (none if it is missing or broken)."""
    try:
        spec = stages(root)
    except (OSError, yaml.YAMLError):
        return []
    found = []
    for stage in spec.values():
        for key in ("outs", "metrics", "plots"):
            for out in (stage or {}).get(key) or []:
                path, flags = next(iter(out.items())) if isinstance(out, dict) else (str(out), {})
                found.append((path.rstrip("/"), flags or {}))
    return found


def pipeline_outputs(root: Path) -> set[str]:
    """Paths that ``dvc repro`` itself rewrites: dvc.lock and every stage output in dvc.yaml."""
    return {"dvc.lock"} | {path for path, _ in _outputs(root)}


def git_tracked_outputs(root: Path) -> list[str]:
    """Stage outputs kept in git, not in DVC's cache (``cache: false``): what a results commit carries."""
    return sorted({path for path, flags in _outputs(root) if flags.get("cache") is False})


def data_versions(root: Path = Path(".")) -> dict[str, str]:
    """``data.<name>.md5`` tags: the DVC hash of every tracked raw data folder (its ``.dvc`` file)."""
    tags = {}
    for dvc_file in sorted((root / "data" / "raw").glob("*.dvc")):
        outs = (yaml.safe_load(dvc_file.read_text()) or {}).get("outs", [])
        if outs:
            tags[f"data.{dvc_file.stem}.md5"] = str(outs[0].get("md5", ""))
    return tags


def stage_lock_entry(stage: str, root: Path | None = None) -> dict[str, Any]:
    """The inputs side of the ``dvc.lock`` entry DVC writes for ``stage`` once it succeeds.

    dvc.lock is written only after the stage command finishes, so while a stage runs its lock
    entry is the previous run's. This computes the entry of *this* run the way DVC does (its
    dependency objects and hash cache): ``{"cmd", "deps": {path: md5}, "params": {file: {key:
    value}}}``; its :func:`lock_fingerprint` is what ``actionrec reproduce`` compares.
    """
    from contextlib import chdir, nullcontext

    from dvc.repo import Repo
    from dvc.stage.utils import split_params_deps

    # DVC resolves a stage name against the current directory's dvc.yaml: be in the repository.
    with chdir(root) if root else nullcontext(), Repo(str(root) if root else None) as repo:
        (dvc_stage,) = repo.stage.collect(stage)
        dvc_stage.save_deps()
        params, deps = split_params_deps(dvc_stage)
        return {
            "cmd": dvc_stage.cmd,
            "deps": {d.def_path: str(d.hash_info.value) for d in sorted(deps, key=lambda d: d.def_path)},
            "params": {p.def_path: p.hash_info.value for p in sorted(params, key=lambda p: p.def_path)},
        }


def lock_fingerprint(entry: dict[str, Any]) -> str:
    """md5 of a canonical JSON of a :func:`stage_lock_entry` (same inputs <=> same fingerprint)."""
    return hashlib.md5(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()


def upstream_stages(root: Path, targets: list[str]) -> list[str]:
    """Pipeline stages upstream of ``targets`` (what they read), not ``targets`` themselves;
    raises ValueError when a target is not a stage of ``root/dvc.yaml``."""
    import networkx as nx
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    with Repo(str(root)) as repo:
        graph = repo.index.graph
        by_name = {s.name: s for s in repo.index.stages if isinstance(s, PipelineStage)}
        if missing := [s for s in targets if s not in by_name]:
            raise ValueError(f"stage(s) {missing} are not in dvc.yaml at this commit")
        upstream: set[str] = set()
        for name in targets:
            upstream |= {s.name for s in nx.descendants(graph, by_name[name]) if isinstance(s, PipelineStage)}
    return sorted(upstream - set(targets))


def cache_and_remotes(root: Path) -> tuple[str, dict[str, dict[str, Any]], str | None]:
    """``(cache dir, {remote: config}, default remote)`` of the repository at ``root``."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        cache_dir = repo.cache.local_cache_dir if hasattr(repo.cache, "local_cache_dir") else None
        cache_dir = cache_dir or repo.config["cache"].get("dir") or str(Path(repo.dvc_dir) / "cache")
        remotes = {name: dict(conf) for name, conf in repo.config["remote"].items()}
        return cache_dir, remotes, repo.config["core"].get("remote")
