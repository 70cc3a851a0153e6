"""The live bundle (``models/package``): the chosen models, the vendored served code, exact
requirement pins, a typed manifest and the ``live.py`` entry point, checked to work on its own.

The bundle vendors the modules of the served packages (``actionrec/__init__.py``, ``core``,
``media``, ``models``, ``serving`` but not ``serving/web``) that its entry point imports,
transitively (function-level imports too). The modules of a model format no bundled model uses
are not entered, so a scikit-learn bundle holds no torch module and needs no torch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from actionrec.config.params import PackageParams
from actionrec.core.imports import imported_modules, module_file
from actionrec.core.io import swap_dir, write_text
from actionrec.core.manifests import (
    BundledModel,
    BundleManifest,
    ClipShape,
    Format,
    LiveSettings,
    Selection,
    write_bundle,
)
from actionrec.lineage import dvcfiles, tags
from actionrec.packaging.requirements import check_imports, direct_requirements, requirement_closure, requirements_txt
from actionrec.packaging.selection import Candidate, Choice

# Paths relative to the repository root; codedeps reads these ".py" constants (the package
# stage's DVC deps are their import closures, which hold every file a bundle may vendor).
ENTRY_POINT = "actionrec/serving/bundle_entry.py"  # copied to <bundle>/live.py
FORMAT_MODULES: dict[Format, str] = {"skops": "actionrec/models/classical.py", "torch": "actionrec/models/torch_io.py"}
SERVED = ("actionrec/core/", "actionrec/media/", "actionrec/models/", "actionrec/serving/")
NOT_SERVED = ("actionrec/serving/web/",)


def is_served(rel: Path) -> bool:
    """Whether the module at ``rel`` belongs to the packages a bundle may vendor."""
    path = rel.as_posix()
    return path == "actionrec/__init__.py" or (path.startswith(SERVED) and not path.startswith(NOT_SERVED))


def vendored_modules(formats: set[Format], root: Path = Path(".")) -> list[Path]:
    """The served modules (paths relative to ``root``) that the entry point imports, transitively,
    without entering the modules of the formats not in ``formats``."""
    skipped = {root / rel for fmt, rel in FORMAT_MODULES.items() if fmt not in formats}
    todo, seen = [root / ENTRY_POINT], set()
    while todo:
        path = todo.pop()
        if path in seen or path in skipped:
            continue
        seen.add(path)
        for dotted in imported_modules(root, path):
            parts = dotted.split(".")
            found = (module_file(root, ".".join(parts[:i])) for i in range(1, len(parts) + 1))
            todo += [p for p in found if p is not None and is_served(p.relative_to(root))]
    return sorted(p.relative_to(root) for p in seen if is_served(p.relative_to(root)))


def _copy_model(c: Candidate, dest: Path, gate: float) -> BundledModel:
    model_file = c.manifest_path.parent / c.manifest.model_file
    dest.mkdir(parents=True)
    shutil.copyfile(c.manifest_path, dest / c.manifest_path.name)
    shutil.copyfile(model_file, dest / model_file.name)
    return BundledModel(
        key=c.key,
        name=c.manifest.name,
        model_file=f"{dest.name}/{model_file.name}",
        sha256=tags.file_sha256(model_file),
        metrics=c.metrics,
        passes_gate=c.value >= gate,
    )


def build_bundle(dest: Path, choice: Choice, p: PackageParams, root: Path = Path(".")) -> BundleManifest:
    """Write the whole bundle into the empty folder ``dest`` from the checkout at ``root``."""
    chosen = choice.models
    models = {kind: f"{kind}/{c.manifest_path.name}" for kind, c in chosen.items()}
    details = {kind: _copy_model(c, dest / kind, p.quality_gate) for kind, c in chosen.items()}
    vendored = vendored_modules({c.manifest.format for c in chosen.values()}, root)
    for rel in vendored:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, dest / rel)
    shutil.copyfile(root / ENTRY_POINT, dest / "live.py")
    direct = direct_requirements([root / rel for rel in vendored])
    pins = requirement_closure(direct)
    write_text(dest / "requirements.txt", requirements_txt(pins, direct))
    check_imports(dest, [dest / m for m in models.values()], pins, vendored)
    any_model = next(iter(chosen.values())).manifest
    landmark = chosen.get("sequence") or chosen.get("frame")
    clip = chosen.get("clip")
    manifest = BundleManifest(
        labels=any_model.labels,
        features=landmark.manifest.features if landmark else any_model.features,
        window=chosen["sequence"].manifest.window if "sequence" in chosen else None,
        clip=ClipShape(n_frames=clip.manifest.n_frames, size=clip.manifest.size) if clip else None,
        live=LiveSettings(default_model=choice.default, smoothing=p.live.smoothing, threshold=p.live.threshold),
        models=models,
        model_details=details,
        selection=Selection(
            metric=p.min_metric, quality_gate=p.quality_gate, candidates={c.key: c.value for c in choice.candidates}
        ),
        registered_model=p.registered_model,
        data=dvcfiles.data_versions(root),
        vendored=[rel.as_posix() for rel in vendored],
    )
    write_bundle(dest / "manifest.json", manifest)
    for path in dest.rglob("*"):  # modes that do not depend on the umask
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return manifest


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """An empty folder beside ``out`` to build in; it replaces ``out`` whole when the block
    succeeds and is removed when it fails (``out`` then stays as it was)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        os.chmod(tmp, 0o755)
        yield tmp
        swap_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
