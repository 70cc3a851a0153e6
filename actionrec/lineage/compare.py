"""``actionrec compare A B``: the params and metrics that differ between two runs or experiments
(see :data:`EPILOG`)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from actionrec.lineage import git
from actionrec.lineage.agreement import comparable_metrics

PARAMS_FILE = "params.yaml"
METRICS_FILE = "reports/metrics.json"
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
EPILOG = """\
A and B are each one of:
  - an MLflow run id (32 hex digits, looked up in --tracking-uri): its params and latest
    metrics (wall-clock timings left out);
  - a DVC experiment name (dvc exp show), a git revision (branch, tag, commit) or
    'workspace': params.yaml and reports/metrics.json at that revision, flattened
    (classical.lr.C, lstm.clip_accuracy).
Only what differs is printed, as one table per section."""


class CompareError(ValueError):
    """An identifier is neither a run nor a revision; the message says which."""


@dataclass
class Side:
    label: str
    params: dict[str, str]
    metrics: dict[str, float]


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(_flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: data}


def _exp_commit(repo: Path, name: str) -> str | None:
    hits = [sha for sha, ref in git.experiment_refs(repo) if ref.rsplit("/", 1)[-1] == name]
    return hits[-1] if hits else None


def _from_revision(repo: Path, ident: str) -> Side | None:
    if ident == "workspace":
        read = lambda rel: (repo / rel).read_text() if (repo / rel).is_file() else None  # noqa: E731
        label = "workspace"
    else:
        sha = _exp_commit(repo, ident)
        kind = "experiment"
        if sha is None:
            proc = git.run(["git", "rev-parse", "--verify", "--quiet", f"{ident}^{{commit}}"], repo, check=False)
            if proc.returncode != 0:
                return None
            sha, kind = proc.stdout.strip(), "revision"

        def read(rel: str) -> str | None:
            proc = git.run(["git", "show", f"{sha}:{rel}"], repo, check=False)
            return proc.stdout if proc.returncode == 0 else None

        label = f"{ident} ({kind} {sha[:7]})"
    params = _flatten(yaml.safe_load(read(PARAMS_FILE) or "{}") or {})
    metrics_text = read(METRICS_FILE)
    metrics = {
        k: v
        for k, v in _flatten(json.loads(metrics_text) if metrics_text else {}).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
    return Side(label, {k: json.dumps(v) if isinstance(v, list) else str(v) for k, v in params.items()}, metrics)


def _from_run(ident: str, repo: Path, tracking_uri: str | None) -> Side | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    from actionrec.lineage import tracking

    client = mlflow.MlflowClient(tracking_uri=tracking_uri or tracking.tracking_uri(repo.resolve()))
    try:
        run = client.get_run(ident)
    except MlflowException:
        return None
    metrics = comparable_metrics(run)
    name = run.info.run_name or ident[:8]
    exp = run.data.tags.get("dvc.exp_name")
    return Side(f"{name} ({ident[:8]}{', exp ' + exp if exp else ''})", dict(run.data.params), metrics)


def resolve(ident: str, repo: Path = Path("."), tracking_uri: str | None = None) -> Side:
    """A run id, an experiment name, a git revision or ``workspace`` -> its params and metrics."""
    side = _from_run(ident, repo, tracking_uri) if _RUN_ID.match(ident) else None
    side = side or _from_revision(repo, ident)
    if side is None:
        raise CompareError(f"{ident!r} is neither an MLflow run id nor a DVC experiment or git revision here")
    return side


def differences(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, a value, b value)`` for every key whose values differ (missing on one side counts)."""
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _table(title: str, rows: list[tuple[str, Any, Any]], a: str, b: str) -> str:
    if not rows:
        return f"{title}: no differences"
    cells = [(k, "-" if x is None else str(x), "-" if y is None else str(y)) for k, x, y in rows]
    header = (title, a, b)
    widths = [max(len(r[i]) for r in [header, *cells]) for i in range(3)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def compare(ident_a: str, ident_b: str, repo: Path = Path("."), tracking_uri: str | None = None) -> str:
    a, b = resolve(ident_a, repo, tracking_uri), resolve(ident_b, repo, tracking_uri)
    return "\n\n".join(
        [
            _table("param", differences(a.params, b.params), a.label, b.label),
            _table("metric", differences(a.metrics, b.metrics), a.label, b.label),
        ]
    )


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds ``compare``."""
    p = sub.add_parser(
        "compare",
        help="params and metrics that differ between two MLflow runs or DVC experiments",
        description="Print the params and metrics that differ between two MLflow runs,\n"
        "DVC experiments or git revisions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("a", help="MLflow run id, DVC experiment name, git revision or 'workspace'")
    p.add_argument("b", help="the same, for the other side")
    p.add_argument("--tracking-uri", help="MLflow store (default: MLFLOW_TRACKING_URI, else mlflow.db of --repo)")
    p.add_argument(
        "--repo",
        type=Path,
        default=Path("."),
        help="git+DVC repository for experiments and revisions (default: %(default)s)",
    )
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    try:
        print(compare(args.a, args.b, args.repo, args.tracking_uri))
    except CompareError as exc:
        print(f"actionrec compare: {exc}", file=sys.stderr)
        return 2
    return 0
