"""`actionrec reproduce RUN_ID`: re-run what produced an MLflow run and compare its metrics.

What a run records (:func:`actionrec.lineage.tags.lineage_tags`) is enough to rebuild it:

1. ``git.commit`` (or, for a ``dvc exp run``, the experiment's commit, found from
   ``dvc.exp_name``): checked out in a temporary ``git worktree``; the user's working tree is
   never touched. A run made from uncommitted changes (``git.dirty``) cannot be reproduced
   exactly: refused unless ``--allow-dirty``.
2. The data version: the worktree uses the repository's DVC cache (``cache.dir``) and remotes, so
   ``dvc checkout``/``dvc pull`` restore the data and stage outputs of that commit; stages
   upstream of the run's stage are brought up to date with a plain ``dvc repro`` (DVC's run
   cache restores what was computed before). The inputs are then hashed the way DVC does and
   compared with the run's ``dvc.lock.*`` tags (its lock entry as of the run).
3. The stage that produced the run (``dvc.stage``) is re-run with ``dvc repro --force
   --single-item`` (``--force`` also bypasses the run cache), then ``evaluate`` when the run
   holds test metrics (that stage logs them into the training runs).
4. The reproduction logs to a throw-away MLflow store in the temporary directory (the user's
   runs are left alone); its runs carry ``reproduction.of=<run id>``.
5. Recorded and reproduced metrics are printed side by side (timings left out). Exit 0 only when
   the inputs and every metric agree: exactly when both runs trained on the CPU with the same
   kernel fingerprint (``kernels.*`` tags: the stages pin AVX2 kernels and thread counts, see
   ``actionrec.core.kernels``, so any x86-64 machine with AVX2 qualifies), else within
   ``reproduce.tolerance`` (params.yaml): a GPU, native kernels of another CPU, other library
   versions. Which comparison applied, and why, is printed per run. A run trained with
   ``ACTIONREC_NATIVE_KERNELS=1`` is reproduced with it too.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actionrec.lineage import dvcfiles, git, worktree
from actionrec.lineage.agreement import Out, Row, comparable_metrics, compare_runs, format_table
from actionrec.lineage.worktree import ReproduceError

EVALUATE_STAGE = "evaluate"  # logs test_* metrics into the runs of the training stages
EXIT_OK, EXIT_MISMATCH, EXIT_REFUSED = 0, 1, 2
EPILOG = """\
how:
  1. The run's git commit (for a dvc exp run: its experiment's commit) is checked out in a
     temporary git worktree; your working tree is never touched. A run made from uncommitted
     changes cannot be reproduced exactly: refused unless --allow-dirty.
  2. The worktree shares the repository's DVC cache and remotes: dvc checkout / dvc pull
     restore that commit's data and outputs, upstream stages are brought up to date with
     dvc repro (the run cache restores what was computed before), and the stage's inputs
     are compared with what the run recorded.
  3. The run's stage is re-run (dvc repro --force --single-item), then evaluate when the run
     holds test metrics; they log to a throw-away MLflow store (your runs are left alone).
  4. Recorded and reproduced metrics are printed side by side (timings left out).

exit status: 0 when the inputs and every metric agree, 1 on a mismatch, 2 when refused.
Metrics must agree exactly when both runs trained on the CPU with the same kernel
fingerprint (the stages pin AVX2 kernels and thread counts, so any x86-64 machine with AVX2
qualifies), else within --tolerance (a GPU, native kernels, other library versions)."""


@dataclass
class Outcome:
    """What a reproduction found (also returned to tests)."""

    ok: bool
    inputs_match: bool | None = None
    input_diffs: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    comparisons: list[str] = field(default_factory=list)  # per run: exact or within tolerance, and why


# --------------------------------------------------------------------------- what to reproduce


def _recorded_runs(client: Any, run: Any) -> list[Any]:
    """The run itself, or the child runs of a parent (train_classical): those with metrics."""
    run_id, tags = run.info.run_id, run.data.tags
    if not tags.get("dvc.stage") or "git.commit" not in tags:
        raise ReproduceError(f"run {run_id} has no lineage tags (dvc.stage, git.commit): not made by a pipeline stage")
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    recorded = [r for r in [run, *children] if comparable_metrics(r)]
    if not recorded:
        raise ReproduceError(f"run {run_id} (and its child runs) recorded no metrics to compare")
    return recorded


def _experiment_commit(repo: Path, tags: dict[str, str]) -> str | None:
    """Commit of the DVC experiment a run belongs to (``refs/exps/.../<name>``), if it still exists."""
    name = tags.get("dvc.exp_name")
    if not name:
        return None
    baseline = tags.get("dvc.exp_baseline", "")
    for sha, ref in git.experiment_refs(repo):
        if ref.rsplit("/", 1)[-1] == name and (not baseline or f"/{baseline[:2]}/{baseline[2:]}/" in ref):
            return sha
    return None


def _commit_to_reproduce(
    repo: Path, run_id: str, tags: dict[str, str], allow_dirty: bool, out: Out
) -> tuple[str, str | None]:
    """``(commit, refusal)``: the commit to check out, and why not when the run is refused."""
    commit = tags["git.commit"]
    exp_commit = _experiment_commit(repo, tags)
    if exp_commit:
        out(f"run {run_id} belongs to DVC experiment {tags['dvc.exp_name']}: reproducing its commit {exp_commit[:12]}")
        commit = exp_commit
    elif tags.get("git.dirty") == "true":
        files = tags.get("git.dirty_files", "unknown files")
        msg = (
            f"run {run_id} was made from a working tree with uncommitted changes ({files}): "
            "it cannot be reproduced exactly"
        )
        if not allow_dirty:
            out(
                f"REFUSED: {msg}. Commit your changes before training, or pass --allow-dirty to reproduce "
                f"from commit {commit[:12]} anyway."
            )
            return commit, msg
        out(f"WARNING: {msg}; reproducing from commit {commit[:12]} as asked (--allow-dirty)")
    if tags.get("data.dirty") == "true":
        changed = [k.split(".")[1] for k in tags if k.endswith(".workspace_md5")]
        out(
            f"WARNING: the run read data/raw/{{{','.join(changed)}}} in a state that was never `dvc add`ed "
            "(differs from the .dvc file of its commit): it cannot be reproduced exactly"
        )
    if not git.has_commit(repo, commit):
        raise ReproduceError(f"commit {commit} is not in {repo} (git fetch it first)")
    return commit, None


def _tolerance(repo: Path) -> float:
    """``reproduce.tolerance`` of the repository's params.yaml (default 1e-6)."""
    try:
        from actionrec.config.params import load_params

        return float(load_params(repo / "params.yaml").reproduce.tolerance)
    except Exception:  # noqa: BLE001 - an older or broken params.yaml: use the default
        return 1.0e-6


# --------------------------------------------------------------------------- comparing


def _input_diffs(tags: dict[str, str], entry: dict[str, Any]) -> list[str]:
    """Which recorded inputs (``dvc.lock.deps``/``params`` tags) differ from the worktree's."""
    diffs = []
    for key in ("deps", "params"):
        raw = tags.get(f"dvc.lock.{key}")
        if not raw or raw.startswith("(too long"):
            continue
        recorded = json.loads(raw)
        now = json.loads(json.dumps(entry[key], default=str))
        if key == "params":
            recorded = {f"{f}:{k}": v for f, values in recorded.items() for k, v in values.items()}
            now = {f"{f}:{k}": v for f, values in now.items() for k, v in values.items()}
        for path in sorted(set(recorded) | set(now)):
            if recorded.get(path) != now.get(path):
                kind = "dep" if key == "deps" else "param"
                diffs.append(f"{kind} {path}: recorded {recorded.get(path)}, now {now.get(path)}")
    return diffs


def _check_inputs(outcome: Outcome, stage: str, tags: dict[str, str], entry: dict[str, Any], out: Out) -> None:
    """Compare the worktree's lock entry of ``stage`` with the recorded one (``dvc.lock.md5``)."""
    recorded_fp = tags.get("dvc.lock.md5")
    if not recorded_fp:
        out("the run recorded no dvc.lock entry (older run): inputs not compared")
        return
    outcome.inputs_match = dvcfiles.lock_fingerprint(entry) == recorded_fp
    if outcome.inputs_match:
        out(f"inputs of {stage} match the recorded run (dvc.lock entry {recorded_fp})")
        return
    outcome.input_diffs = _input_diffs(tags, entry) or ["(lock entry differs)"]
    out(f"INPUTS DIFFER from the recorded run ({stage}):\n  " + "\n  ".join(outcome.input_diffs))


# --------------------------------------------------------------------------- the flow


def reproduce(
    run_id: str,
    *,
    repo: Path = Path("."),
    tracking_uri: str | None = None,
    allow_dirty: bool = False,
    tolerance: float | None = None,
    keep: bool = False,
    out: Out = print,
) -> tuple[int, Outcome]:
    """Reproduce ``run_id``; returns ``(exit code, outcome)`` and prints as it goes."""
    import mlflow

    from actionrec.lineage import tracking

    repo = Path(git.git(Path(repo), "rev-parse", "--show-toplevel"))
    client = mlflow.MlflowClient(tracking_uri=tracking_uri or tracking.tracking_uri(repo))
    run = client.get_run(run_id)
    tags, outcome = run.data.tags, Outcome(ok=False)
    recorded_runs = _recorded_runs(client, run)
    commit, refusal = _commit_to_reproduce(repo, run_id, tags, allow_dirty, out)
    if refusal:
        outcome.notes.append(refusal)
        return EXIT_REFUSED, outcome
    stage = tags["dvc.stage"]
    targets = [stage]
    if any(k.startswith("test_") for r in recorded_runs for k in r.data.metrics) and stage != EVALUATE_STAGE:
        targets.append(EVALUATE_STAGE)
    with worktree.checkout(repo, commit, run_id, tags, keep, out) as wt:
        out(f"worktree {wt.path} at {commit[:12]}; stages to re-run: {', '.join(targets)}")
        worktree.configure_dvc(repo, wt.path)
        outcome.notes += worktree.restore_data(wt.path, wt.env)
        worktree.update_upstream(wt, targets, out)
        _check_inputs(outcome, stage, tags, dvcfiles.stage_lock_entry(stage, root=wt.path), out)
        worktree.rerun(wt, targets, out)
        tol = tolerance if tolerance is not None else _tolerance(repo)
        outcome.rows, ok, outcome.comparisons = compare_runs(recorded_runs, wt.store, tol, out)
        out(format_table(outcome.rows))
        outcome.ok = ok and outcome.inputs_match is not False
    if outcome.ok:
        out(f"REPRODUCED: run {run_id} ({len(outcome.rows)} metrics agree)")
        return EXIT_OK, outcome
    out(
        f"MISMATCH: run {run_id} was not reproduced"
        + (" (its inputs differ: see above)" if outcome.inputs_match is False else "")
    )
    return EXIT_MISMATCH, outcome


def main(args: argparse.Namespace) -> int:
    try:
        code, _ = reproduce(
            args.run_id,
            repo=args.repo,
            tracking_uri=args.tracking_uri,
            allow_dirty=args.allow_dirty,
            tolerance=args.tolerance,
            keep=args.keep,
        )
    except (ReproduceError, git.CommandError) as exc:
        print(f"actionrec reproduce: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except Exception as exc:  # noqa: BLE001 - e.g. an unknown run id: one clear line
        if type(exc).__name__ == "MlflowException" or "RESOURCE_DOES_NOT_EXIST" in str(exc):
            print(f"actionrec reproduce: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        raise
    return code


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds ``reproduce``."""
    p = sub.add_parser(
        "reproduce",
        help="re-run what produced an MLflow run (its commit, data, stage) and compare metrics",
        description="Re-run what produced an MLflow run (its commit, data version and stage)\n"
        "in a throw-away worktree and compare the metrics.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_id", help="MLflow run id (a training run, or the parent run of train_classical)")
    p.add_argument("--allow-dirty", action="store_true", help="reproduce a run made from uncommitted changes anyway")
    p.add_argument(
        "--tolerance",
        type=float,
        help="allowed difference when the kernel fingerprints differ "
        "(GPU, other kernels; default: reproduce.tolerance of params.yaml)",
    )
    p.add_argument(
        "--tracking-uri", help="store holding the run (default: MLFLOW_TRACKING_URI, else mlflow.db of the repository)"
    )
    p.add_argument("--repo", type=Path, default=Path("."), help="the git+DVC repository (default: %(default)s)")
    p.add_argument("--keep", action="store_true", help="keep the worktree and the throw-away store")
    p.set_defaults(func=main)
    return p
