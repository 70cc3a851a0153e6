"""The MLflow Model Registry: register served models, and move ``champion`` only by the rules.

Every package run registers the served model as a version (experiments too, tagged with the
experiment's name). The alias ``champion`` (what production serves) moves only on the main line
(clean git tree on branch ``main``, not inside ``dvc exp run``) or by ``actionrec promote``, and
only when the candidate passes ``package.quality_gate`` and scores at least as well as the
current champion by the same metric on the same test recordings. The decision and both numbers
are printed and recorded as ``promotion.*`` tags on the candidate version.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actionrec.config.params import PackageParams
from actionrec.config.paths import PREDICTIONS
from actionrec.config.stage import StageError
from actionrec.lineage import git, runrecord
from actionrec.packaging.selection import Choice

ALIAS = "champion"
MAIN_BRANCH = "main"
# Tags every registered version carries (set by the package stage from reports/metrics.json).
METRIC, VALUE, TEST_SET, TEST_N = "metric", "metric.value", "test.recordings.md5", "test.recordings.n"


def test_set_digest(recordings: list[str]) -> str:
    """md5 of the sorted, distinct test recording ids a model was scored on."""
    return hashlib.md5("\n".join(sorted(set(recordings))).encode()).hexdigest()


def experiment_name() -> str | None:
    """The experiment this process runs for: DVC sets ``DVC_EXP_NAME`` and
    ``DVC_EXP_BASELINE_REV`` in the environment of every stage of a ``dvc exp run``."""
    if os.environ.get("DVC_EXP_NAME") or os.environ.get("DVC_EXP_BASELINE_REV"):
        return os.environ.get("DVC_EXP_NAME") or f"(unnamed, baseline {os.environ['DVC_EXP_BASELINE_REV'][:7]})"
    return None


def not_main_line() -> str | None:
    """Why this run is not on the main line (None when it is: branch main, clean tree, no experiment)."""
    if exp := experiment_name():
        return f"experiment {exp} (dvc exp run)"
    branch = git.branch()
    if branch != MAIN_BRANCH:
        return f"git branch {branch or '(detached HEAD)'}, not {MAIN_BRANCH}"
    if dirty := git.dirty_files():
        return f"uncommitted changes ({', '.join(dirty[:5])})"
    return None


def register(run_id: str, name: str, tags: dict[str, str]) -> dict[str, Any]:
    """Register the run's logged model under ``name`` with ``tags``, or re-use (untouched) the
    version of the same run and model; never moves an alias. Returns the version's coordinates."""
    import mlflow

    from actionrec.lineage import tracking

    mlflow.set_tracking_uri(tracking.tracking_uri())
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    logged = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string=f"source_run_id = '{run_id}' AND name = 'model'"
    )
    source = f"models:/{logged[0].model_id}" if logged else f"runs:/{run_id}/model"
    same = [v for v in client.search_model_versions(f"name = '{name}' AND run_id = '{run_id}'") if v.source == source]
    version = max(same, key=lambda v: int(v.version)) if same else mlflow.register_model(source, name, tags=tags)
    return {
        "registered_model": name,
        "version": int(version.version),
        "mlflow_run_id": run_id,
        "source": source,
        "new": not same,
    }


def test_recordings(key: str, predictions: Path = PREDICTIONS) -> list[str]:
    """The test recordings ``key`` was scored on (the ``clip`` column of its evaluate predictions)."""
    path = predictions / f"{key}.csv"
    if not path.is_file():
        raise StageError(
            f"{path}: not found; the served model's test recordings are unknown (run `dvc repro evaluate`)"
        )
    with path.open(newline="") as fh:
        return [row["clip"] for row in csv.DictReader(fh)]


def register_served(choice: Choice, p: PackageParams, recordings: list[str], commit: str) -> dict[str, Any] | None:
    """Register the served model (tagged with its metric, test recordings, commit and experiment);
    None when it has no run record (restored from the DVC cache: its run is in another store)."""
    served = choice.served
    run_id = runrecord.read(served.manifest_path).get("mlflow_run_id")
    if not run_id:
        return None
    tags = {
        "model.key": served.key,
        "model.kind": served.kind,
        METRIC: p.min_metric,
        VALUE: repr(served.value),
        TEST_SET: test_set_digest(recordings),
        TEST_N: str(len(set(recordings))),
        "git.commit": commit,
    }
    if exp := experiment_name():
        tags["dvc.exp_name"] = exp
    return register(run_id, p.registered_model, tags)


def settle(choice: Choice, p: PackageParams, registered: dict[str, Any] | None) -> str:
    """Apply the champion rules to what :func:`register_served` registered; the line to print."""
    from actionrec.lineage import tracking

    if registered is None:
        manifest = choice.served.manifest_path
        return (
            f"not registered: {runrecord.path_for(manifest)} is missing, so the served model's MLflow run is "
            f"not in {tracking.tracking_uri()} (champion unchanged; retrain it here to register it: "
            f"dvc repro --force {manifest.parent.name})"
        )
    version = str(registered["version"])
    if why := not_main_line():
        decision = (
            record_skip(p.registered_model, version, why)
            if registered["new"]
            else f"champion unchanged: {why}; v{version} was registered before"
        )
    else:
        decision = promote(p.registered_model, version, p.quality_gate, p.min_metric).line
    return f"registered {p.registered_model} v{version}; {decision}"


@dataclass(frozen=True)
class Decision:
    promoted: bool
    line: str  # what is printed
    tags: dict[str, str]  # what is recorded on the candidate version


def decide(client: Any, name: str, version: str, gate: float, metric: str) -> Decision:
    """Whether ``version`` may replace the current champion: it passes the gate and scores at least
    as well as the champion by ``metric`` on the same test recordings."""
    cand = client.get_model_version(name, version).tags
    if cand.get(METRIC) != metric or VALUE not in cand:
        return _decision(
            False, f"v{version} has no {metric} recorded (tags {METRIC}/{VALUE}: {cand.get(METRIC)!r})", cand, None
        )
    value = float(cand[VALUE])
    champ_mv = client.get_model_version(name, v) if (v := _champion_version(client, name)) else None
    if value < gate:
        return _decision(False, f"v{version} {metric}={value:.4f} < package.quality_gate={gate}", cand, champ_mv)
    if champ_mv is None:
        return _decision(True, f"v{version} {metric}={value:.4f} >= gate {gate}; no champion yet", cand, None)
    champ = champ_mv.tags
    if champ.get(METRIC) != metric or VALUE not in champ:
        return _decision(
            False, f"champion v{champ_mv.version} has no {metric} recorded: not comparable", cand, champ_mv
        )
    if champ.get(TEST_SET) != cand.get(TEST_SET):
        return _decision(
            False,
            f"champion v{champ_mv.version} was scored on other test recordings "
            f"({champ.get(TEST_N)} recordings, md5 {champ.get(TEST_SET)}) than v{version} "
            f"({cand.get(TEST_N)}, md5 {cand.get(TEST_SET)}): not comparable",
            cand,
            champ_mv,
        )
    better = value >= float(champ[VALUE])
    verdict = ">=" if better else "<"
    return _decision(
        better,
        f"v{version} {metric}={value:.4f} {verdict} champion v{champ_mv.version} "
        f"{metric}={float(champ[VALUE]):.4f} on the same {cand.get(TEST_N)} test recordings",
        cand,
        champ_mv,
    )


def _champion_version(client: Any, name: str) -> str | None:
    import mlflow

    try:
        return str(client.get_model_version_by_alias(name, ALIAS).version)
    except mlflow.exceptions.MlflowException:  # no alias (or no model) yet
        return None


def _decision(promoted: bool, reason: str, cand: dict[str, str], champ_mv: Any) -> Decision:
    tags = {
        "promotion.decision": "promoted" if promoted else "refused",
        "promotion.reason": reason,
        "promotion.candidate_value": cand.get(VALUE, ""),
        "promotion.champion_version": str(champ_mv.version) if champ_mv is not None else "",
        "promotion.champion_value": champ_mv.tags.get(VALUE, "") if champ_mv is not None else "",
    }
    return Decision(promoted, f"champion {'<- promoted' if promoted else 'unchanged'}: {reason}", tags)


def promote(name: str, version: str, gate: float, metric: str) -> Decision:
    """Apply :func:`decide`: record its tags on ``version`` and move ``champion`` when it allows."""
    import mlflow

    from actionrec.lineage import tracking

    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri())
    if _champion_version(client, name) == str(version):  # its promotion record stays as it was
        return Decision(True, f"champion unchanged: v{version} is already the champion", {})
    decision = decide(client, name, version, gate, metric)
    for key, value in decision.tags.items():
        client.set_model_version_tag(name, version, key, value)
    if decision.promoted:
        client.set_registered_model_alias(name, ALIAS, version)
    return decision


def record_skip(name: str, version: str, why: str) -> str:
    """Tag a version that a non-main-line run registered (the alias is not considered)."""
    import mlflow

    from actionrec.lineage import tracking

    client = mlflow.MlflowClient(tracking_uri=tracking.tracking_uri())
    reason = f"{why}: only the main line or `actionrec promote {version}` moves {ALIAS}"
    client.set_model_version_tag(name, version, "promotion.decision", "not considered")
    client.set_model_version_tag(name, version, "promotion.reason", reason)
    return f"champion unchanged: {reason}"


def _promote(args: argparse.Namespace) -> int:
    from actionrec.config.params import load_params

    p = load_params(args.params).package
    name = args.registered_model or p.registered_model
    try:
        decision = promote(name, str(args.version), p.quality_gate, p.min_metric)
    except Exception as exc:  # noqa: BLE001 - one line for an unknown model/version or store
        print(f"actionrec promote: {name} v{args.version}: {exc}", file=sys.stderr)
        return 1
    print(decision.line)
    return 0 if decision.promoted else 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "promote",
        help=f"move the registry alias {ALIAS} to a version, if it passes the gate and beats the champion",
        description=f"Move the registry alias {ALIAS} to a model version, if it passes "
        "package.quality_gate and is at least as good as the champion on the same test recordings.",
    )
    p.add_argument("version", type=int, help="model version (see the MLflow UI, Models)")
    p.add_argument("--registered-model", help="registered model name (default: package.registered_model of --params)")
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.set_defaults(func=_promote)
