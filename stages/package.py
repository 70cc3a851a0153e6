"""DVC stage package: the best model of each kind -> models/package/, a self-contained live bundle.

Picks the best model per input kind by ``package.min_metric`` behind ``package.quality_gate``
(:mod:`actionrec.packaging.selection`), builds the bundle beside ``models/package`` and swaps it
in whole (:mod:`actionrec.packaging.bundle`), and registers the served model in the MLflow Model
Registry, where ``champion`` moves only by the rules of :mod:`actionrec.packaging.registry`.
Registry state stays in the MLflow store, not in the bundle (byte-identical across re-runs).
"""

from __future__ import annotations

import json

from actionrec.config.params import Params
from actionrec.config.paths import PACKAGE
from actionrec.config.stage import run_stage
from actionrec.lineage import runrecord, tags
from actionrec.packaging import registry
from actionrec.packaging.bundle import build_bundle, staging
from actionrec.packaging.selection import read_metrics, select


@run_stage("package")
def main(params: Params) -> str:
    p = params.package
    choice = select(read_metrics(), p)
    recordings = registry.test_recordings(choice.served.key)
    with staging(PACKAGE) as tmp:
        manifest = build_bundle(tmp, choice, p)
        git = tags.git_state()
        registered = registry.register_served(choice, p, recordings, git["git.commit"])
        runs = {kind: runrecord.read(c.manifest_path).get("mlflow_run_id") for kind, c in choice.models.items()}
        run_id = registered["mlflow_run_id"] if registered else ""
        runrecord.write(tmp / "manifest.json", run_id, {**git, **manifest.data}, models=json.dumps(runs))
    picks = ", ".join(f"{k}={c.key} ({c.value:.3f})" for k, c in choice.models.items())
    summary = f"{picks} by {p.min_metric}; serving {choice.default}; {len(manifest.vendored)} modules vendored"
    return f"{summary}; {registry.settle(choice, p, registered)}"


if __name__ == "__main__":
    main()
