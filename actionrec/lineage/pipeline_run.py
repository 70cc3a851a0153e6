"""``actionrec run``: from "I changed params or code" to runs that ``actionrec reproduce`` accepts."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from contextlib import chdir
from pathlib import Path

from actionrec.lineage import dvcfiles, git

EXIT_OK, EXIT_REFUSED = 0, 2
EPILOG = """\
steps:
  1. dvc commit of the raw data folders (an edited recording gets its new version in its
     .dvc file), then one commit of every changed tracked input (params.yaml, code, .dvc
     files; not the pipeline's outputs): the commit the runs record, clean;
  2. dvc repro (--force: also the stages that are up to date);
  3. one commit of what it wrote to git (dvc.lock, metrics, reports): "<message> (results)";
  4. --push: dvc push --run-cache, so that other clones get the outputs (and, the bits
     being the same on any AVX2 machine, reproduce there is served from the run cache)."""


def commit_inputs(repo: Path, message: str, out: Callable[[str], object]) -> str:
    """Step 1: the new data versions, then every changed input in one commit; returns the commit."""
    dvc = dvcfiles.executable()
    data = [
        str(p.relative_to(repo)) for p in sorted((repo / "data" / "raw").glob("*.dvc")) if p.with_suffix("").exists()
    ]
    if data:
        git.run([dvc, "commit", "-f", "-q", *data], repo)
    with chdir(repo):
        inputs = git.dirty_files()
    if inputs:
        commit = git.commit_paths(repo, message, inputs)
        out(f"inputs committed: {commit[:12]} {message!r} ({', '.join(inputs)})")
    else:
        commit = git.git(repo, "rev-parse", "HEAD")
        out(f"no changed inputs: the runs record {commit[:12]}")
    return commit


def run_pipeline(
    repo: Path,
    message: str,
    targets: list[str],
    force: bool = False,
    push: bool = False,
    out: Callable[[str], object] = print,
) -> int:
    """Commit the inputs, ``dvc repro``, commit the results, optionally push (see :data:`EPILOG`)."""
    repo = Path(git.git(repo, "rev-parse", "--show-toplevel"))
    commit = commit_inputs(repo, message, out)
    dvc = dvcfiles.executable()
    proc = subprocess.run([dvc, "repro", *(["--force"] if force else []), *targets], cwd=repo)
    if proc.returncode != 0:
        out(
            f"actionrec run: dvc repro failed ({proc.returncode}); the inputs stay committed as {commit[:12]} "
            "(fix and run again: the fix becomes the next commit)"
        )
        return proc.returncode
    written = git.changed(repo, *sorted(dvcfiles.pipeline_outputs(repo)), untracked=True)
    if written:
        results = git.commit_paths(repo, f"{message} (results)", written)
        out(f"results committed: {results[:12]} ({len(written)} files)")
    else:
        out("dvc repro changed nothing tracked by git (up to date: `actionrec run --force STAGE` retrains)")
    if push:
        git.run([dvc, "push", "--run-cache", "-q"], repo)
        out("pushed the outputs and the run cache to the DVC remote")
    out(f"the runs of this `dvc repro` record commit {commit[:12]}, clean: `actionrec reproduce RUN_ID` accepts them")
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    try:
        return run_pipeline(args.repo, args.message, args.targets, force=args.force, push=args.push)
    except git.CommandError as exc:
        print(f"actionrec run: {exc}", file=sys.stderr)
        return EXIT_REFUSED


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds ``run``: the way to make runs that ``reproduce`` accepts."""
    r = sub.add_parser(
        "run",
        help="commit changed inputs, dvc repro, commit the results: runs that reproduce accepts",
        description="Commit the changed inputs, run dvc repro, then commit its results, so that\n"
        "every run records a clean commit that 'actionrec reproduce' accepts.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("targets", nargs="*", help="stages to bring up to date (default: all)")
    r.add_argument(
        "-m", "--message", default="actionrec run", help="commit message of the inputs (default: %(default)s)"
    )
    r.add_argument("--force", action="store_true", help="re-run the targets even when up to date (dvc repro --force)")
    r.add_argument("--push", action="store_true", help="dvc push --run-cache afterwards")
    r.add_argument("--repo", type=Path, default=Path("."), help="the git+DVC repository (default: %(default)s)")
    r.set_defaults(func=main)
    return r
