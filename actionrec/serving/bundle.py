"""Which model a live run loads: a bundle directory, a bundle manifest or a model manifest,
resolved into the model manifest and the live settings (manifests read by
:mod:`actionrec.core.manifests`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from actionrec.core.manifests import (
    BundleManifest,
    LiveKind,
    LiveSettings,
    ManifestError,
    ModelManifest,
    is_bundle,
    read_bundle,
    read_model,
)

Bundle = Path | str | Mapping[str, Path | str]


class BundleError(Exception):
    """A live bundle or model manifest that is missing or unusable; the message says why."""


@dataclass(frozen=True)
class ResolvedModel:
    """The model manifest to load (``path``, read as ``manifest``), the live defaults and the
    bundle manifest it came from (None for a model manifest or a mapping)."""

    path: Path
    manifest: ModelManifest
    settings: LiveSettings
    bundle: BundleManifest | None = None


def _model(path: Path) -> ModelManifest:
    try:
        return read_model(path)
    except ManifestError as exc:
        raise BundleError(str(exc)) from None


def _from_bundle(path: Path, model: LiveKind | None) -> ResolvedModel:
    try:
        bundle = read_bundle(path)
    except ManifestError as exc:
        raise BundleError(str(exc)) from None
    name = model or bundle.live.default_model
    if name not in bundle.models:
        raise BundleError(f"{path}: no {name!r} model in the bundle (has {sorted(bundle.models)})")
    manifest_path = path.parent / bundle.models[name]
    return ResolvedModel(manifest_path, _model(manifest_path), bundle.live, bundle)


def resolve_model(bundle: Bundle, model: LiveKind | None = None) -> ResolvedModel:
    """The model to load and the live defaults.

    ``bundle`` is a bundle directory (``manifest.json`` inside), a bundle manifest, a model
    manifest (``models/classical/gb.json``) or a mapping ``{"frame": path, "sequence": path}``.
    ``model`` picks ``frame`` or ``sequence`` (default: the bundle's ``live.default_model``).
    """
    if isinstance(bundle, Mapping):
        name = model or "frame"
        if name not in bundle:
            raise BundleError(f"no {name!r} model among {sorted(bundle)}")
        return ResolvedModel(Path(bundle[name]), _model(Path(bundle[name])), LiveSettings())
    path = Path(bundle)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise BundleError(
            f"{path}: no such live bundle; build it with `dvc repro` (the package stage "
            "writes models/package), or pass a model manifest such as models/classical/gb.json"
        )
    if is_bundle(path):
        return _from_bundle(path, model)
    manifest = _model(path)
    if model is not None and manifest.kind != model:
        raise BundleError(f"{path}: a {manifest.kind!r} model, not {model!r}")
    return ResolvedModel(path, manifest, LiveSettings())
