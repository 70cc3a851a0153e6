"""`actionrec reproduce RUN_ID`: re-run what produced an MLflow run and compare its metrics.

What a run records (:func:`actionrec.lineage.tracking.lineage_tags`) is enough to rebuild it:

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
import math
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import chdir
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actionrec.core import kernels

EVALUATE_STAGE = "evaluate"  # logs test_* metrics into the runs of the training stages
TIMING_METRICS = {"fit_seconds", "seconds", "samples_per_s"}  # wall-clock: never reproducible
EXIT_OK, EXIT_MISMATCH, EXIT_REFUSED = 0, 1, 2


class ReproduceError(RuntimeError):
    """The reproduction could not be set up or run; the message says why."""


@dataclass
class Outcome:
    """What a reproduction found (also returned to tests)."""

    ok: bool
    inputs_match: bool | None = None
    input_diffs: list[str] = field(default_factory=list)
    rows: list[tuple[str, str, float | None, float | None, bool]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    comparisons: list[str] = field(default_factory=list)  # per run: exact or within tolerance, and why


# --------------------------------------------------------------------------- helpers


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise ReproduceError(f"`{' '.join(cmd)}` failed ({proc.returncode}) in {cwd}:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return proc


def _git(repo: Path, *args: str, check: bool = True) -> str:
    return _run(["git", *args], repo, check=check).stdout.strip()


def _dvc() -> str:
    """The ``dvc`` beside this interpreter (the project's venv), else the one on PATH."""
    local = Path(sys.executable).with_name("dvc")
    return str(local) if local.exists() else "dvc"


def _latest_metrics(client: Any, run: Any) -> dict[str, float]:
    return {k: float(v) for k, v in run.data.metrics.items() if k not in TIMING_METRICS and not k.endswith("_seconds")}


def _experiment_commit(repo: Path, tags: dict[str, str]) -> str | None:
    """Commit of the DVC experiment a run belongs to (``refs/exps/.../<name>``), if it still exists."""
    name = tags.get("dvc.exp_name")
    if not name:
        return None
    baseline = tags.get("dvc.exp_baseline", "")
    refs = _git(repo, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps", check=False)
    for line in refs.splitlines():
        sha, ref = line.split(" ", 1)
        if ref.rsplit("/", 1)[-1] == name and (not baseline or f"/{baseline[:2]}/{baseline[2:]}/" in ref):
            return sha
    return None


def _tolerance(repo: Path) -> float:
    """``reproduce.tolerance`` of the repository's params.yaml (default 1e-6)."""
    try:
        from actionrec.config.params import load_params

        return float(load_params(repo / "params.yaml").reproduce.tolerance)
    except Exception:  # noqa: BLE001 - an older or broken params.yaml: use the default
        return 1.0e-6


# --------------------------------------------------------------------------- the worktree


def _configure_dvc(main: Path, wt: Path) -> None:
    """The worktree shares the repository's DVC cache and remotes (absolute paths)."""
    from dvc.repo import Repo

    with Repo(str(main)) as repo:
        cache_dir = repo.cache.local_cache_dir if hasattr(repo.cache, "local_cache_dir") else None
        cache_dir = cache_dir or repo.config["cache"].get("dir") or str(Path(repo.dvc_dir) / "cache")
        remotes = {name: dict(conf) for name, conf in repo.config["remote"].items()}
        default = repo.config["core"].get("remote")
    dvc = _dvc()
    _run([dvc, "config", "--local", "cache.dir", str(Path(cache_dir).resolve())], wt)
    for name, conf in remotes.items():
        url = conf.get("url", "")
        if url and "://" not in url:
            url = str(Path(url).resolve())
        _run([dvc, "remote", "add", "--local", "--force", name, url], wt)
    if default:
        _run([dvc, "remote", "default", "--local", default], wt)


def _restore_data(wt: Path, env: dict[str, str]) -> list[str]:
    """``dvc checkout`` from the shared cache; ``dvc pull`` what the cache lacks; the remote's run
    cache (``dvc push --run-cache``: entries only, outputs follow on use), so that upstream stages
    another machine ran are restored, not re-run (the pinned kernels make their bits the same
    here). -> notes."""
    dvc = _dvc()
    notes = []
    if _run([dvc, "fetch", "--run-cache", "-q"], wt, env, check=False).returncode != 0:
        notes.append("dvc fetch --run-cache: no run cache from the remote")
    proc = _run([dvc, "checkout", "--allow-missing"], wt, env, check=False)
    if proc.returncode != 0:
        notes.append("dvc checkout: some outputs are not in the cache; trying the remote")
        pull = _run([dvc, "pull", "--allow-missing"], wt, env, check=False)
        if pull.returncode != 0:
            notes.append("dvc pull: " + (pull.stdout + pull.stderr).strip().splitlines()[-1])
    for dvc_file in sorted((wt / "data" / "raw").glob("*.dvc")):
        if not dvc_file.with_suffix("").exists():
            raise ReproduceError(f"{dvc_file.relative_to(wt)}: the recorded data version is neither in the DVC cache "
                                 "nor on the remote (dvc push it from where it was made)")
    return notes


def _stage_graph(wt: Path, stages: list[str]) -> list[str]:
    """Pipeline stages upstream of ``stages`` (what they read), not ``stages`` themselves."""
    import networkx as nx
    from dvc.repo import Repo
    from dvc.stage import PipelineStage

    with Repo(str(wt)) as repo:
        graph = repo.index.graph
        by_name = {s.name: s for s in repo.index.stages if isinstance(s, PipelineStage)}
        missing = [s for s in stages if s not in by_name]
        if missing:
            raise ReproduceError(f"stage(s) {missing} are not in dvc.yaml at this commit")
        upstream: set[str] = set()
        for name in stages:
            upstream |= {s.name for s in nx.descendants(graph, by_name[name]) if isinstance(s, PipelineStage)}
    return sorted(upstream - set(stages))


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
                diffs.append(f"{key[:-1] if key == 'deps' else 'param'} {path}: recorded {recorded.get(path)}, now {now.get(path)}")
    return diffs


def _agree(a: float | None, b: float | None, exact: bool, tol: float) -> bool:
    if a is None or b is None:
        return False
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b if exact else math.isclose(a, b, rel_tol=0.0, abs_tol=tol)


def _fmt(v: float | None) -> str:
    return "-" if v is None else repr(v)


def format_table(rows: list[tuple[str, str, float | None, float | None, bool]]) -> str:
    header = ("run", "metric", "recorded", "reproduced", "")
    body = [(r, m, _fmt(a), _fmt(b), "ok" if same else "MISMATCH") for r, m, a, b, same in rows]
    widths = [max(len(str(x[i])) for x in [header, *body]) for i in range(5)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in body]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def reproduce(
    run_id: str,
    *,
    repo: Path = Path("."),
    tracking_uri: str | None = None,
    allow_dirty: bool = False,
    tolerance: float | None = None,
    keep: bool = False,
    out=print,
) -> tuple[int, Outcome]:
    """Reproduce ``run_id``; returns ``(exit code, outcome)`` and prints as it goes."""
    import mlflow

    from actionrec.lineage import tracking

    repo = Path(_git(Path(repo), "rev-parse", "--show-toplevel"))
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{repo / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    tags = run.data.tags
    stage = tags.get("dvc.stage")
    if not stage or "git.commit" not in tags:
        raise ReproduceError(f"run {run_id} has no lineage tags (dvc.stage, git.commit): not made by a pipeline stage")
    outcome = Outcome(ok=False)

    # What to compare: the run itself, or the child runs of a parent (train_classical).
    children = client.search_runs([run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'")
    recorded_runs = [r for r in [run, *children] if _latest_metrics(client, r)]
    if not recorded_runs:
        raise ReproduceError(f"run {run_id} (and its child runs) recorded no metrics to compare")

    commit = tags["git.commit"]
    exp_commit = _experiment_commit(repo, tags)
    if exp_commit:
        out(f"run {run_id} belongs to DVC experiment {tags['dvc.exp_name']}: reproducing its commit {exp_commit[:12]}")
        commit = exp_commit
    elif tags.get("git.dirty") == "true":
        files = tags.get("git.dirty_files", "unknown files")
        msg = (f"run {run_id} was made from a working tree with uncommitted changes ({files}): "
               "it cannot be reproduced exactly")
        if not allow_dirty:
            out(f"REFUSED: {msg}. Commit your changes before training, or pass --allow-dirty to reproduce "
                f"from commit {commit[:12]} anyway.")
            outcome.notes.append(msg)
            return EXIT_REFUSED, outcome
        out(f"WARNING: {msg}; reproducing from commit {commit[:12]} as asked (--allow-dirty)")
    if tags.get("data.dirty") == "true":
        changed = [k.split(".")[1] for k in tags if k.endswith(".workspace_md5")]
        out(f"WARNING: the run read data/raw/{{{','.join(changed)}}} in a state that was never `dvc add`ed "
            "(differs from the .dvc file of its commit): it cannot be reproduced exactly")
    if _run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], repo, check=False).returncode != 0:
        raise ReproduceError(f"commit {commit} is not in {repo} (git fetch it first)")

    targets = [stage]
    if any(k.startswith("test_") for r in recorded_runs for k in r.data.metrics) and stage != EVALUATE_STAGE:
        targets.append(EVALUATE_STAGE)

    tmp = Path(tempfile.mkdtemp(prefix="actionrec-reproduce-"))
    wt = tmp / "worktree"
    store = f"sqlite:///{tmp / 'mlflow.db'}"
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": store,
        "ACTIONREC_REPRODUCTION_OF": run_id,
        # the worktree's actionrec, not an editable install of the user's checkout
        "PYTHONPATH": os.pathsep.join(filter(None, [str(wt), os.environ.get("PYTHONPATH")])),
        # stage commands say `python`: the interpreter running this (the project's venv)
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "false",
    }
    for var in ("DVC_EXP_NAME", "DVC_EXP_BASELINE_REV", "DVC_ROOT", "DVC_STAGE", kernels.NATIVE_SWITCH):
        env.pop(var, None)
    if tags.get("kernels.pinned") == "false":  # trained with the speed switch: reproduce likewise
        env[kernels.NATIVE_SWITCH] = "1"
    if "ACTIONREC_CACHE_DIR" not in env and (repo / ".cache" / "actionrec").is_dir():
        env["ACTIONREC_CACHE_DIR"] = str(repo / ".cache" / "actionrec")  # content-addressed: safe to share
    try:
        _git(repo, "worktree", "add", "--detach", str(wt), commit)
        out(f"worktree {wt} at {commit[:12]}; stages to re-run: {', '.join(targets)}")
        _configure_dvc(repo, wt)
        outcome.notes += _restore_data(wt, env)
        dvc = _dvc()
        upstream = _stage_graph(wt, targets)
        if upstream:
            proc = _run([dvc, "repro", "--no-commit", "--pull", *upstream], wt, env)  # --pull: outputs of run-cache hits
            ran = [line for line in proc.stdout.splitlines() if line.startswith("Running stage")]
            out(f"upstream stages up to date ({len(ran)} re-run)")
        entry = tracking.stage_lock_entry(stage, root=wt)
        recorded_fp = tags.get("dvc.lock.md5")
        if recorded_fp:
            outcome.inputs_match = tracking.lock_fingerprint(entry) == recorded_fp
            if not outcome.inputs_match:
                outcome.input_diffs = _input_diffs(tags, entry) or ["(lock entry differs)"]
                out(f"INPUTS DIFFER from the recorded run ({stage}):\n  " + "\n  ".join(outcome.input_diffs))
            else:
                out(f"inputs of {stage} match the recorded run (dvc.lock entry {recorded_fp})")
        else:
            out("the run recorded no dvc.lock entry (older run): inputs not compared")
        for target in targets:
            proc = _run([dvc, "repro", "--force", "--single-item", "--no-commit", target], wt, env)
            for line in proc.stdout.splitlines():
                if line.startswith(f"[{target}]"):
                    out(line)
        rows, ok, outcome.comparisons = _compare(client, recorded_runs, store,
                                                 tolerance if tolerance is not None else _tolerance(repo), out)
        outcome.rows = rows
        out(format_table(rows))
        outcome.ok = ok and outcome.inputs_match is not False
    finally:
        if keep:
            out(f"kept {tmp} (worktree and throw-away MLflow store {store})")
        else:
            _git(repo, "worktree", "remove", "--force", str(wt), check=False)
            shutil.rmtree(tmp, ignore_errors=True)
            _git(repo, "worktree", "prune", check=False)
    if outcome.ok:
        out(f"REPRODUCED: run {run_id} ({len(rows)} metrics agree)")
        return EXIT_OK, outcome
    out(f"MISMATCH: run {run_id} was not reproduced"
        + (" (its inputs differ: see above)" if outcome.inputs_match is False else ""))
    return EXIT_MISMATCH, outcome


def comparison(recorded: dict[str, str], reproduced: dict[str, str] | None) -> tuple[bool, str]:
    """``(exact, why)``: metrics must agree exactly when both runs trained on the CPU with the same
    kernel fingerprint (``kernels.*`` tags: ISA of the kernels in use, BLAS/oneDNN/MKL, threads,
    library versions), else within ``reproduce.tolerance``."""
    if reproduced is None:
        return False, "no reproduced run to compare with"
    devices = {recorded.get("device", "cpu"), reproduced.get("device", "cpu")}
    if devices != {"cpu"}:
        return False, f"trained on {recorded.get('device', 'cpu')}, reproduced on {reproduced.get('device', 'cpu')}: GPU kernels are not bit-stable"
    fp_a, fp_b = recorded.get("kernels.fingerprint"), reproduced.get("kernels.fingerprint")
    if not fp_a or not fp_b:
        return False, f"the {'recorded' if not fp_a else 'reproduced'} run has no kernel fingerprint (kernels.* tags): bits not comparable"
    if fp_a != fp_b:
        return False, "kernel fingerprints differ (" + "; ".join(kernels.differences(recorded, reproduced)) + ")"
    how = "pinned AVX2 kernels" if recorded.get("kernels.pinned") == "true" else f"native kernels of a {recorded.get('kernels.cpu')} CPU"
    return True, f"same kernel fingerprint {fp_a[:12]} on the CPU ({how}, {recorded.get('kernels.threads')} threads, same library versions)"


def _compare(client: Any, recorded_runs: list[Any], store: str, tol: float,
             out: Any) -> tuple[list[tuple[str, str, float | None, float | None, bool]], bool, list[str]]:
    import mlflow

    new = mlflow.MlflowClient(tracking_uri=store)
    # Every run of the throw-away store is the reproduction's (models it did not retrain have no
    # run record there, so evaluate logs nothing for them).
    reproduced = [r for e in new.search_experiments() for r in new.search_runs([e.experiment_id])]
    by_name = {(r.info.run_name, r.data.tags.get("dvc.stage")): r for r in reproduced}
    rows, ok, how = [], True, []
    for rec in recorded_runs:
        twin = by_name.get((rec.info.run_name, rec.data.tags.get("dvc.stage")))
        got = _latest_metrics(new, twin) if twin else {}
        want = _latest_metrics(client, rec)
        exact, why = comparison(rec.data.tags, twin.data.tags if twin else None)
        line = f"{rec.info.run_name}: compared {'EXACTLY' if exact else f'within tolerance {tol:g}'}: {why}"
        out(line)
        how.append(line)
        for key in sorted(set(want) | set(got)):
            same = _agree(want.get(key), got.get(key), exact, tol)
            ok &= same
            rows.append((rec.info.run_name, key, want.get(key), got.get(key), same))
    return rows, ok, how


def _commit(repo: Path, message: str, paths: list[str]) -> str:
    """``git commit`` of exactly ``paths`` (added first); returns the new HEAD."""
    _git(repo, "add", "--", *paths)
    _git(repo, "commit", "-q", "-m", message, "--", *paths)
    return _git(repo, "rev-parse", "HEAD")


def run_pipeline(repo: Path, message: str, targets: list[str], force: bool = False, push: bool = False,
                 out: Any = print) -> int:
    """`actionrec run`: from "I changed params or code" to runs that ``reproduce`` accepts.

    1. ``dvc commit`` of the raw data folders (an edited recording gets its new version in its
       ``.dvc`` file), then one commit of every changed tracked input (params.yaml, code, ``.dvc``
       files; not the pipeline's outputs): the commit the runs record, clean;
    2. ``dvc repro`` (``--force``: also stages that are up to date);
    3. one commit of what it wrote to git (dvc.lock, metrics, reports): ``<message> (results)``;
    4. ``--push``: ``dvc push --run-cache``, so that other clones get the outputs (and, the bits
       being the same on any AVX2 machine, ``reproduce`` there is served from the run cache).
    """
    from actionrec.lineage import tracking

    repo = Path(_git(repo, "rev-parse", "--show-toplevel"))
    dvc = _dvc()
    data = [str(p.relative_to(repo)) for p in sorted((repo / "data" / "raw").glob("*.dvc")) if p.with_suffix("").exists()]
    if data:
        _run([dvc, "commit", "-f", "-q", *data], repo)
    with chdir(repo):
        inputs = tracking.dirty_files()
    if inputs:
        commit = _commit(repo, message, inputs)
        out(f"inputs committed: {commit[:12]} {message!r} ({', '.join(inputs)})")
    else:
        commit = _git(repo, "rev-parse", "HEAD")
        out(f"no changed inputs: the runs record {commit[:12]}")
    proc = subprocess.run([dvc, "repro", *(["--force"] if force else []), *targets], cwd=repo)
    if proc.returncode != 0:
        out(f"actionrec run: dvc repro failed ({proc.returncode}); the inputs stay committed as {commit[:12]} "
            "(fix and run again: the fix becomes the next commit)")
        return proc.returncode
    outputs = sorted(tracking._pipeline_outputs(repo))
    status = _run(["git", "status", "--porcelain", "-z", "--no-renames", "--untracked-files=all", "--", *outputs],
                  repo).stdout  # not stripped: each entry is "XY path", and X may be a space
    written = [entry[3:] for entry in status.split("\0") if entry]
    if written:
        results = _commit(repo, f"{message} (results)", written)
        out(f"results committed: {results[:12]} ({len(written)} files)")
    else:
        out("dvc repro changed nothing tracked by git (up to date: `actionrec run --force STAGE` retrains)")
    if push:
        _run([dvc, "push", "--run-cache", "-q"], repo)
        out("pushed the outputs and the run cache to the DVC remote")
    out(f"the runs of this `dvc repro` record commit {commit[:12]}, clean: `actionrec reproduce RUN_ID` accepts them")
    return EXIT_OK


def _run_main(args: argparse.Namespace) -> int:
    try:
        return run_pipeline(args.repo, args.message, args.targets, force=args.force, push=args.push)
    except ReproduceError as exc:
        print(f"actionrec run: {exc}", file=sys.stderr)
        return EXIT_REFUSED


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds ``reproduce`` and ``run`` (the way to make runs that ``reproduce`` accepts)."""
    r = sub.add_parser("run", help="commit changed inputs, dvc repro, commit the results: runs that reproduce accepts",
                       description=run_pipeline.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("targets", nargs="*", help="stages to bring up to date (default: all)")
    r.add_argument("-m", "--message", default="actionrec run", help="commit message of the inputs")
    r.add_argument("--force", action="store_true", help="re-run the targets even when up to date (dvc repro --force)")
    r.add_argument("--push", action="store_true", help="dvc push --run-cache afterwards")
    r.add_argument("--repo", type=Path, default=Path("."), help="the git+DVC repository (default: .)")
    r.set_defaults(func=_run_main)
    p = sub.add_parser("reproduce", help="re-run what produced an MLflow run (its commit, data, stage) and compare metrics",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_id", help="MLflow run id (a training run, or the parent run of train_classical)")
    p.add_argument("--allow-dirty", action="store_true", help="reproduce a run made from uncommitted changes anyway")
    p.add_argument("--tolerance", type=float, help="allowed difference when the kernel fingerprints differ (GPU, other kernels; default: reproduce.tolerance)")
    p.add_argument("--tracking-uri", help="store holding the run (default: MLFLOW_TRACKING_URI, else mlflow.db of the repository)")
    p.add_argument("--repo", type=Path, default=Path("."), help="the git+DVC repository (default: .)")
    p.add_argument("--keep", action="store_true", help="keep the worktree and the throw-away store")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    try:
        code, _ = reproduce(args.run_id, repo=args.repo, tracking_uri=args.tracking_uri, allow_dirty=args.allow_dirty,
                            tolerance=args.tolerance, keep=args.keep)
    except ReproduceError as exc:
        print(f"actionrec reproduce: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except Exception as exc:  # noqa: BLE001 - e.g. an unknown run id: one clear line
        if type(exc).__name__ == "MlflowException" or "RESOURCE_DOES_NOT_EXIST" in str(exc):
            print(f"actionrec reproduce: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        raise
    return code
