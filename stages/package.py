"""DVC stage package: the best model of each kind -> models/package/, a self-contained live bundle.

Picks, from reports/metrics.json, the best model per input kind (frame, sequence, clip) by
``package.min_metric``; refuses (exit 1, every candidate's number printed) when the best one
scores under ``package.quality_gate``. The bundle holds copies of the chosen models (skops /
torch state_dict + their manifests), a vendored copy of the light ``actionrec`` modules, exact
requirement pins, a ``manifest.json`` and a ``live.py`` entry point; it is built beside
``models/package`` and swapped in whole. The served model is registered in the MLflow Model
Registry with the alias ``champion``; its version goes to reports/registry.json (not into the
bundle, which stays byte-identical across re-runs of the same inputs).
"""
from __future__ import annotations

import ast
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

import mlflow
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from actionrec import tracking
from actionrec.params import PackageParams, Params
from actionrec.predictors import model_key, read_manifest
from actionrec.stage import StageError, run_stage, write_json, write_text

METRICS = Path("reports/metrics.json")
REGISTRY = Path("reports/registry.json")
MODELS = Path("models")
OUT = MODELS / "package"
SOURCE = Path("actionrec")
KINDS = ("frame", "sequence", "clip")
LIVE_KINDS = ("frame", "sequence")  # what actionrec.live runs on landmarks (not pixel clips)
ALIAS = "champion"
# Safe on-disk formats only: skops for scikit-learn, a torch state_dict (loaded weights_only=True).
SAFE_SUFFIXES = (".skops", ".pt")  # skops for scikit-learn, a torch state_dict: never pickle
# The light modules live inference needs (no pandas, mlflow, dvc, GX, matplotlib).
VENDORED = (
    "__init__.py", "schema.py", "features.py", "labels.py", "predictors.py", "recording.py",
    "holistic.py", "live.py", "video.py", "ddp.py",
    "models/__init__.py", "models/classical.py", "models/lstm.py", "models/convlstm.py", "models/train.py",
)
# What the vendored modules import; requirements.txt pins these and everything they depend on.
DIRECT = ("numpy", "opencv-contrib-python", "mediapipe", "protobuf", "scikit-learn", "skops", "torch",
          "pydantic", "tqdm")

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

from actionrec.live import main  # noqa: E402

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
import importlib, json, sys
bundle, manifests, modules, site = (json.loads(a) for a in sys.argv[1:5])
sys.path[:0] = [bundle]
sys.path += site
for name in modules:
    importlib.import_module(name)
from actionrec.predictors import load_predictor
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


def _requirement_closure(direct: tuple[str, ...]) -> dict[str, str]:
    """Installed version of every distribution ``direct`` needs, transitively (extras excluded)."""
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
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return pins


def requirements_txt(pins: dict[str, str]) -> str:
    direct = {canonicalize_name(d) for d in DIRECT}
    lines = [
        "# Exact pins for the live bundle (installed versions when it was packaged).",
        "# Direct: " + ", ".join(sorted(direct)) + "; the rest are their dependencies.",
        *(f"{metadata.distribution(name).metadata['Name']}=={version}" for name, version in sorted(pins.items())),
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


def check_imports(bundle: Path, manifests: list[Path], pins: dict[str, str]) -> None:
    """Every package the vendored modules import is pinned in requirements.txt, and with only
    the bundle (no installed actionrec) on top of sys.path they import and load every model."""
    owners = metadata.packages_distributions()
    outside = []
    for rel in VENDORED:
        for name in sorted(_third_party_imports(bundle / "actionrec" / rel)):
            dists = {canonicalize_name(d) for d in owners.get(name, [])}
            if not dists & pins.keys():
                origin = f"from {', '.join(sorted(dists))}" if dists else "not installed"
                outside.append(f"actionrec/{rel} imports {name} ({origin})")
    if outside:
        raise StageError("the vendored modules import packages outside requirements.txt:\n  " + "\n  ".join(outside))
    modules = [("actionrec." + rel[:-3].replace("/", ".")).removesuffix(".__init__") for rel in VENDORED]
    args = [str(bundle.resolve()), [str(m.resolve()) for m in manifests], modules, site.getsitepackages()]
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
        "sha256": tracking.file_sha256(model_file),
        "metrics": c.metrics,
        "mlflow_run_id": c.manifest.get("mlflow_run_id"),
    }


def build_bundle(dest: Path, chosen: dict[str, Candidate], default: str, p: PackageParams,
                 candidates: dict[str, float]) -> dict[str, Any]:
    """Write the whole bundle into the empty folder ``dest``; returns its manifest."""
    models = {kind: f"{kind}/{c.manifest_path.name}" for kind, c in chosen.items()}
    details = {kind: {**_copy_model(c, dest / kind), "passes_gate": c.value >= p.quality_gate}
               for kind, c in chosen.items()}
    for rel in VENDORED:
        src = SOURCE / rel
        if not src.is_file():
            raise StageError(f"{src}: missing; the bundle vendors it")
        (dest / "actionrec" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest / "actionrec" / rel)
    write_text(dest / "live.py", ENTRY_POINT)
    pins = _requirement_closure(DIRECT)
    write_text(dest / "requirements.txt", requirements_txt(pins))
    check_imports(dest, [dest / m for m in models.values()], pins)
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
        "lineage": {**tracking.git_state(), **tracking.data_versions()},
        "requirements": "requirements.txt",
        "entry_point": "live.py",
        "vendored": [f"actionrec/{rel}" for rel in VENDORED],
    }
    write_json(dest / "manifest.json", manifest)
    for path in dest.rglob("*"):  # the temp files behind write_text are private (0600)
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return manifest


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` with two renames (the old bundle is removed afterwards)."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.replace(out, old / out.name)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old)


# --------------------------------------------------------------------------- registry


def register(run_id: str, name: str, tags: dict[str, str]) -> dict[str, Any]:
    """Register the run's logged model under ``name`` (re-using a version of the same run) and
    point the alias ``champion`` at it."""
    mlflow.set_tracking_uri(tracking.tracking_uri())
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    logged = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}' AND name = 'model'"
    )
    source = f"models:/{logged[0].model_id}" if logged else f"runs:/{run_id}/model"
    same = [v for v in client.search_model_versions(f"name = '{name}' AND run_id = '{run_id}'") if v.source == source]
    version = max(same, key=lambda v: int(v.version)) if same else mlflow.register_model(source, name, tags=tags)
    client.set_registered_model_alias(name, ALIAS, version.version)
    return {"registered_model": name, "alias": ALIAS, "version": int(version.version), "mlflow_run_id": run_id,
            "source": source}


@run_stage("package")
def main(params: Params) -> str:
    p = params.package
    if not METRICS.is_file():
        raise FileNotFoundError(f"{METRICS}: not found (run `dvc repro evaluate`)")
    metrics = json.loads(METRICS.read_text())
    chosen, default = select(metrics, p)
    candidates = {c.key: c.value for c in _candidates(metrics, p.min_metric)}
    served = chosen[default]
    if not served.manifest.get("mlflow_run_id"):
        raise StageError(f"{served.manifest_path}: no mlflow_run_id; cannot register the packaged model")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=OUT.parent, prefix=f".{OUT.name}.tmp-"))
    try:
        os.chmod(tmp, 0o755)
        manifest = build_bundle(tmp, chosen, default, p, candidates)
        registry = register(served.manifest["mlflow_run_id"], p.registered_model, {
            "model.key": served.key, "model.kind": served.kind, p.min_metric: f"{served.value:.6f}",
            "git.commit": manifest["lineage"]["git.commit"],
        })
        _swap_in(tmp, OUT)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    write_json(REGISTRY, {**registry, "model_key": served.key, "kind": served.kind})
    picks = ", ".join(f"{k}={c.key} ({c.value:.3f})" for k, c in chosen.items())
    return (f"{picks} by {p.min_metric}; serving {default}; {len(VENDORED)} modules vendored; "
            f"registered {p.registered_model} v{registry['version']} @{ALIAS}")


if __name__ == "__main__":
    main()
