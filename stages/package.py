"""DVC stage package: the best model of each kind -> models/package/, a self-contained live bundle.

Picks, from reports/metrics.json, the best model per input kind (frame, sequence, clip) by
``package.min_metric``; refuses (exit 1, every candidate's number printed) when the best one
scores under ``package.quality_gate``. The bundle holds copies of the chosen models (skops /
torch state_dict + their manifests), a vendored copy of the light ``actionrec`` modules, exact
requirement pins (derived from what the bundled models' modules import: no torch for a
scikit-learn bundle), a ``manifest.json`` and a ``live.py`` entry point; it is built beside
``models/package`` and swapped in whole. The served model is registered in the MLflow Model
Registry (a version per run, tagged with its metric, test recordings and experiment); the alias
``champion`` moves only on the main line and only by the rules of :mod:`actionrec.packaging.registry`.
Registry state stays in the MLflow store, not in git-tracked files or the bundle (which stays
byte-identical across re-runs of the same inputs).
"""
from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from actionrec.packaging import registry
from actionrec.lineage import runrecord
from actionrec.lineage import tracking
from actionrec.lineage.dvcfiles import data_versions
from actionrec.lineage.tags import file_sha256, git_state
from actionrec.packaging.pins import CPU_INDEX_LINE, cuda_only, public_version
from actionrec.config.params import PackageParams, Params
from actionrec.models.predictors import model_key, read_manifest
from actionrec.packaging.registry import register
from actionrec.config.stage import StageError, run_stage
from actionrec.core.io import swap_dir, write_json, write_text

METRICS = Path("reports/metrics.json")
PREDICTIONS = Path("reports/predictions")
MODELS = Path("models")
OUT = MODELS / "package"
SOURCE = Path("actionrec")
KINDS = ("frame", "sequence", "clip")
LIVE_KINDS = ("frame", "sequence")  # what actionrec.serving.live runs on landmarks (not pixel clips)
# Safe on-disk formats only: skops for scikit-learn, a torch state_dict (loaded weights_only=True).
SAFE_SUFFIXES = (".skops", ".pt")  # skops for scikit-learn, a torch state_dict: never pickle
# The light modules live inference needs (no pandas, mlflow, dvc, GX, matplotlib); the models'
# own modules only for the formats bundled, so that a scikit-learn bundle needs no torch.
CORE_MODULES = (
    "__init__.py", "core/__init__.py", "core/schema.py", "core/features.py", "core/labels.py",
    "core/recording.py", "core/io.py", "media/__init__.py", "media/holistic.py", "media/video.py",
    "models/__init__.py", "models/predictors.py", "serving/__init__.py", "serving/live.py",
)
FORMAT_MODULES = {".skops": ("models/classical.py",),
                  ".pt": ("config/__init__.py", "config/training.py", "training/__init__.py", "training/ddp.py",
                          "models/lstm.py", "models/convlstm.py", "training/loop.py")}

ENTRY_POINT = '''\
"""Live action recognition with this bundle (no actionrec install needed).

    pip install -r requirements.txt
    python live.py --source 0                   # webcam
    python live.py --source clip.avi --headless # a video file, JSON lines on stdout
"""
import sys
from pathlib import Path

BUNDLE = Path(__file__).resolve().parent
sys.path.insert(0, str(BUNDLE))  # the vendored actionrec, before any installed one
sys.dont_write_bytecode = True  # no __pycache__ in the bundle (a DVC output)

from actionrec.serving.live import main  # noqa: E402

if __name__ == "__main__":
    argv = sys.argv[1:]
    if not any(a == "--bundle" or a.startswith("--bundle=") for a in argv):
        argv = ["--bundle", str(BUNDLE), *argv]
    sys.exit(main(argv))
'''

# Run in a fresh interpreter (-I -S: no .pth files, so no editable install of actionrec; -B: no
# __pycache__ in the bundle) with the bundle, then site-packages on sys.path: import every
# vendored module, load every model, run the entry point's --help.
_IMPORT_CHECK = '''\
import importlib, importlib.abc, json, sys
bundle, manifests, modules, site, unpinned = (json.loads(a) for a in sys.argv[1:6])
sys.path[:0] = [bundle]
sys.path += site
class Unpinned(importlib.abc.MetaPathFinder):  # installed here, but not in requirements.txt
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in unpinned:
            raise ModuleNotFoundError(f"{name} is not in the bundle's requirements.txt", name=name)
sys.meta_path.insert(0, Unpinned())
for name in modules:
    importlib.import_module(name)
from actionrec.models.predictors import load_predictor
for path in manifests:
    load_predictor(path)
for name, module in sorted(sys.modules.items()):
    if name.split(".")[0] == "actionrec" and not (getattr(module, "__file__", None) or bundle).startswith(bundle):
        sys.exit(f"{name} was imported from {module.__file__}, not from the bundle")
import contextlib, io, runpy
sys.argv = ["live.py", "--help"]
try:
    with contextlib.redirect_stdout(io.StringIO()):
        runpy.run_path(bundle + "/live.py", run_name="__main__")
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
'''


@dataclass(frozen=True)
class Candidate:
    key: str  # the model's key in reports/metrics.json
    kind: str
    manifest_path: Path
    manifest: dict[str, Any]
    metrics: dict[str, float]
    value: float

    def line(self, metric: str) -> str:
        return f"  {self.key} ({self.kind}): {metric}={self.value:.3f}"


def _candidates(metrics: dict[str, dict[str, float]], metric: str) -> list[Candidate]:
    out = []
    for path in sorted(MODELS.glob("*/*.json")):
        if path.parent.name == OUT.name:
            continue
        manifest = read_manifest(path)
        if manifest.get("kind") not in KINDS:
            continue
        key = model_key(path, manifest)
        if key in metrics:
            out.append(Candidate(key, manifest["kind"], path, manifest, metrics[key], float(metrics[key][metric])))
    # ties go to the better per-sample accuracy: each live prediction is one sample
    return sorted(out, key=lambda c: (-c.value, -c.metrics.get("sample_accuracy", 0.0), c.key))


def select(metrics: dict[str, dict[str, float]], p: PackageParams) -> tuple[dict[str, Candidate], str]:
    """Best candidate per kind and the kind live serves by default (the best frame or sequence
    model for ``auto``); StageError when the best model, or the served one, is below the gate."""
    candidates = _candidates(metrics, p.min_metric)
    if not candidates:
        raise StageError(f"{METRICS}: no evaluated model has a manifest under {MODELS}/ (run `dvc repro evaluate`)")
    table = "\n".join(c.line(p.min_metric) for c in candidates)
    chosen = {kind: next(c for c in candidates if c.kind == kind) for kind in KINDS if any(c.kind == kind for c in candidates)}
    best = candidates[0]
    if best.value < p.quality_gate:
        raise StageError(
            f"quality gate: the best model {best.key} has {p.min_metric}={best.value:.3f} < "
            f"package.quality_gate={p.quality_gate}; nothing packaged. Candidates:\n{table}"
        )
    live = [c for c in candidates if c.kind in LIVE_KINDS]
    default = p.live.default_model
    if default == "auto":
        default = live[0].kind if live else "frame"
    if default not in chosen:
        raise StageError(f"package.live.default_model={default!r}: no evaluated {default} model. Candidates:\n{table}")
    if chosen[default].value < p.quality_gate:
        raise StageError(
            f"quality gate: package.live.default_model={default!r} serves {chosen[default].key} with "
            f"{p.min_metric}={chosen[default].value:.3f} < package.quality_gate={p.quality_gate}. Candidates:\n{table}"
        )
    labels = {json.dumps(c.manifest["labels"]) for c in chosen.values()}
    if len(labels) != 1:
        raise StageError(f"the chosen models disagree on the label map: {sorted(labels)}")
    features = {json.dumps(c.manifest["features"], sort_keys=True) for k, c in chosen.items() if k != "clip"}
    if len(features) > 1:
        raise StageError(f"the chosen landmark models disagree on the feature spec: {sorted(features)}")
    return chosen, default


# --------------------------------------------------------------------------- requirements


def vendored_modules(model_suffixes: set[str]) -> tuple[str, ...]:
    """The actionrec modules (paths under actionrec/) a bundle of models in these formats needs."""
    return CORE_MODULES + tuple(m for suffix in SAFE_SUFFIXES if suffix in model_suffixes for m in FORMAT_MODULES[suffix])


def direct_requirements(modules: tuple[str, ...], root: Path = SOURCE) -> tuple[str, ...]:
    """The distributions that ``modules`` (paths under ``root``) import, found from their code."""
    owners = metadata.packages_distributions()
    direct, missing = set(), []
    for rel in modules:
        for name in sorted(_third_party_imports(root / rel)):
            if name not in owners:
                missing.append(f"{root / rel} imports {name}, which no installed distribution provides")
            direct |= {canonicalize_name(d) for d in owners.get(name, [])}
    if missing:
        raise StageError("the bundle's requirements cannot be derived:\n  " + "\n  ".join(missing) + "\n(install it or drop the import)")
    return tuple(sorted(direct))


def _requirement_closure(direct: tuple[str, ...]) -> dict[str, str]:
    """Installed version of every distribution ``direct`` needs, transitively (extras excluded;
    without torch's CUDA packages: the bundle takes torch's CPU build, see requirements_txt)."""
    env = {**default_environment(), "extra": ""}
    pins: dict[str, str] = {}
    todo = list(direct)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in pins:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name in map(canonicalize_name, direct):
                raise StageError(f"the bundle needs {name}, which is not installed") from None
            continue  # an optional dependency this platform does not use
        pins[name] = dist.version
        for spec in dist.requires or []:
            req = Requirement(spec)
            if (req.marker is None or req.marker.evaluate(env)) and not cuda_only(req.name):
                todo.append(req.name)
    return pins


def requirements_txt(pins: dict[str, str], direct: tuple[str, ...]) -> str:
    """Exact pins, installable from PyPI: torch as its CPU build (``torch==X`` + the PyTorch CPU
    index, like requirements/lock-cpu.txt); any other local version (``X+local``) is refused."""
    local = [f"{n}=={v}" for n, v in sorted(pins.items()) if n != "torch" and public_version(v) != v]
    if local:
        raise StageError(f"the bundle would pin local builds that no public index serves: {', '.join(local)}; "
                         "install the public releases of these packages and re-run")
    lines = [
        "# Exact pins for the live bundle (installed versions when it was packaged).",
        "# Direct (what the vendored modules import): " + ", ".join(direct) + "; the rest are their dependencies.",
        *(["# torch: its CPU build from the PyTorch CPU index (PyPI's Linux wheel is the CUDA build).", CPU_INDEX_LINE]
          if "torch" in pins else []),
        *(f"{metadata.distribution(name).metadata['Name']}=={public_version(version)}" for name, version in sorted(pins.items())),
    ]
    return "\n".join(lines) + "\n"


def _third_party_imports(path: Path) -> set[str]:
    """Top-level names of every import in a module (also inside functions), except the
    ``if TYPE_CHECKING:`` ones, the standard library and actionrec itself."""
    tree = ast.parse(path.read_text(), str(path))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                   for stmt in node.body for n in ast.walk(stmt)}
    names = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "actionrec"}


def check_imports(bundle: Path, manifests: list[Path], pins: dict[str, str], vendored: tuple[str, ...]) -> None:
    """Every package the vendored modules import is pinned in requirements.txt, and with only
    the bundle (no installed actionrec) on top of sys.path and every installed package outside
    requirements.txt made unimportable, they import and load every model."""
    owners = metadata.packages_distributions()
    outside = []
    for rel in vendored:
        for name in sorted(_third_party_imports(bundle / "actionrec" / rel)):
            dists = {canonicalize_name(d) for d in owners.get(name, [])}
            if not dists & pins.keys():
                origin = f"from {', '.join(sorted(dists))}" if dists else "not installed"
                outside.append(f"actionrec/{rel} imports {name} ({origin})")
    if outside:
        raise StageError("the vendored modules import packages outside requirements.txt:\n  " + "\n  ".join(outside))
    modules = [("actionrec." + rel[:-3].replace("/", ".")).removesuffix(".__init__") for rel in vendored]
    unpinned = sorted(top for top, dists in owners.items()
                      if top != "actionrec" and not {canonicalize_name(d) for d in dists} & pins.keys())
    args = [str(bundle.resolve()), [str(m.resolve()) for m in manifests], modules, site.getsitepackages(), unpinned]
    proc = subprocess.run(
        [os.path.abspath(sys.executable), "-I", "-S", "-B", "-c", _IMPORT_CHECK, *map(json.dumps, args)],
        capture_output=True, text=True, cwd=bundle,
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
        raise StageError(f"the bundle does not work on its own (its modules first on sys.path, no actionrec installed):\n{tail}")


# --------------------------------------------------------------------------- bundle


def _copy_model(c: Candidate, dest: Path) -> dict[str, Any]:
    model_file = c.manifest_path.parent / c.manifest["model_file"]
    if model_file.suffix not in SAFE_SUFFIXES:
        raise StageError(f"{model_file}: models are packaged only in safe formats {SAFE_SUFFIXES}")
    dest.mkdir(parents=True)
    shutil.copyfile(c.manifest_path, dest / c.manifest_path.name)
    shutil.copyfile(model_file, dest / model_file.name)
    kind_dir = dest.name
    return {
        "key": c.key,
        "name": c.manifest["name"],
        "model_file": f"{kind_dir}/{model_file.name}",
        "sha256": file_sha256(model_file),
        "metrics": c.metrics,
    }


def build_bundle(dest: Path, chosen: dict[str, Candidate], default: str, p: PackageParams,
                 candidates: dict[str, float]) -> dict[str, Any]:
    """Write the whole bundle into the empty folder ``dest``; returns its manifest."""
    models = {kind: f"{kind}/{c.manifest_path.name}" for kind, c in chosen.items()}
    details = {kind: {**_copy_model(c, dest / kind), "passes_gate": c.value >= p.quality_gate}
               for kind, c in chosen.items()}
    vendored = vendored_modules({Path(c.manifest["model_file"]).suffix for c in chosen.values()})
    for rel in vendored:
        src = SOURCE / rel
        if not src.is_file():
            raise StageError(f"{src}: missing; the bundle vendors it")
        (dest / "actionrec" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / "actionrec" / rel)
    write_text(dest / "live.py", ENTRY_POINT)
    direct = direct_requirements(vendored)
    pins = _requirement_closure(direct)
    write_text(dest / "requirements.txt", requirements_txt(pins, direct))
    check_imports(dest, [dest / m for m in models.values()], pins, vendored)
    any_model = next(iter(chosen.values())).manifest
    landmark = chosen.get("sequence") or chosen.get("frame")
    clip = chosen.get("clip")
    manifest = {
        "format_version": 1,
        "labels": any_model["labels"],
        "features": landmark.manifest["features"] if landmark else any_model["features"],
        "window": chosen["sequence"].manifest["window"] if "sequence" in chosen else None,
        "clip": {"n_frames": clip.manifest["n_frames"], "size": clip.manifest["size"]} if clip else None,
        "live": {"default_model": default, "smoothing": p.live.smoothing, "threshold": p.live.threshold},
        "models": models,
        "model_details": details,
        "selection": {"metric": p.min_metric, "quality_gate": p.quality_gate, "candidates": candidates},
        "registered_model": p.registered_model,
        "data": data_versions(),
        "requirements": "requirements.txt",
        "entry_point": "live.py",
        "vendored": [f"actionrec/{rel}" for rel in vendored],
    }
    write_json(dest / "manifest.json", manifest)
    for path in dest.rglob("*"):  # the temp files behind write_text are private (0600)
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return manifest


# --------------------------------------------------------------------------- registry


def test_recordings(key: str) -> list[str]:
    """The test recordings ``key`` was scored on (the ``clip`` column of its evaluate predictions)."""
    path = PREDICTIONS / f"{key}.csv"
    if not path.is_file():
        raise StageError(f"{path}: not found; the served model's test recordings are unknown (run `dvc repro evaluate`)")
    with path.open(newline="") as fh:
        return [row["clip"] for row in csv.DictReader(fh)]


@run_stage("package")
def main(params: Params) -> str:
    p = params.package
    if not METRICS.is_file():
        raise FileNotFoundError(f"{METRICS}: not found (run `dvc repro evaluate`)")
    metrics = json.loads(METRICS.read_text())
    chosen, default = select(metrics, p)
    candidates = {c.key: c.value for c in _candidates(metrics, p.min_metric)}
    served = chosen[default]
    served_run = runrecord.read(served.manifest_path).get("mlflow_run_id")
    recordings = test_recordings(served.key)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=OUT.parent, prefix=f".{OUT.name}.tmp-"))
    try:
        os.chmod(tmp, 0o755)
        manifest = build_bundle(tmp, chosen, default, p, candidates)
        git = git_state()
        tags = {"model.key": served.key, "model.kind": served.kind, registry.METRIC: p.min_metric,
                registry.VALUE: repr(served.value), registry.TEST_SET: registry.test_set_digest(recordings),
                registry.TEST_N: str(len(set(recordings))), "git.commit": git["git.commit"]}
        if exp := registry.experiment_name():
            tags["dvc.exp_name"] = exp
        registered = register(served_run, p.registered_model, tags) if served_run else None
        runrecord.write(tmp / "manifest.json", served_run or "", {**git, **manifest["data"]}, models=json.dumps(
            {kind: runrecord.read(c.manifest_path).get("mlflow_run_id") for kind, c in chosen.items()}))
        swap_dir(tmp, OUT)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    picks = ", ".join(f"{k}={c.key} ({c.value:.3f})" for k, c in chosen.items())
    summary = f"{picks} by {p.min_metric}; serving {default}; {len(manifest['vendored'])} modules vendored"
    if registered is None:  # restored from the DVC cache or remote: its run is in another store
        return (f"{summary}; not registered: {runrecord.path_for(served.manifest_path)} is missing, so the served "
                f"model's MLflow run is not in {tracking.tracking_uri()} (champion unchanged; retrain it here to "
                f"register it: dvc repro --force {served.manifest_path.parent.name})")
    version = str(registered["version"])
    if why := registry.not_main_line():
        decision = (registry.record_skip(p.registered_model, version, why) if registered["new"]
                    else f"champion unchanged: {why}; v{version} was registered before")
    else:
        decision = registry.promote(p.registered_model, version, p.quality_gate, p.min_metric).line
    return f"{summary}; registered {p.registered_model} v{version}; {decision}"


if __name__ == "__main__":
    main()
