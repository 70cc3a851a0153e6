"""The one way to run git (and the pipeline's other commands) in a repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

from actionrec.lineage import dvcfiles


class CommandError(RuntimeError):
    """A command failed; the message names it, where it ran, and the tail of its output."""


def run(
    cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` capturing its output; raises :class:`CommandError` if it fails and ``check``."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise CommandError(
            f"`{' '.join(cmd)}` failed ({proc.returncode}) in {cwd}:\n{(proc.stdout + proc.stderr)[-3000:]}"
        )
    return proc


def git(repo: Path | None, *args: str, check: bool = True) -> str:
    """Stripped stdout of ``git args`` in ``repo`` (None: the current directory)."""
    return run(["git", *args], repo, check=check).stdout.strip()


def output(repo: Path | None, *args: str) -> str:
    """Stripped stdout of ``git args``; empty when git fails or is missing (never raises)."""
    try:
        return git(repo, *args)
    except (OSError, CommandError):
        return ""


def toplevel(repo: Path | None = None) -> Path | None:
    """The root of the working tree holding ``repo``; None outside git."""
    top = output(repo, "rev-parse", "--show-toplevel")
    return Path(top) if top else None


def head(repo: Path | None = None) -> str:
    """The commit checked out; empty outside git."""
    return output(repo, "rev-parse", "HEAD")


def branch(repo: Path | None = None) -> str:
    """The branch checked out; empty on a detached HEAD or outside git."""
    return output(repo, "branch", "--show-current")


def has_commit(repo: Path, commit: str) -> bool:
    """Whether ``commit`` is in ``repo``."""
    return run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], repo, check=False).returncode == 0


def changed(repo: Path, *paths: str, untracked: bool = False) -> list[str]:
    """Paths (under ``paths``, default all) whose working-tree state differs from HEAD."""
    status = run(
        [
            "git",
            "status",
            "--porcelain",
            "-z",
            "--no-renames",
            f"--untracked-files={'all' if untracked else 'no'}",
            "--",
            *paths,
        ],
        repo,
    ).stdout
    return [entry[3:] for entry in status.split("\0") if entry]  # "XY path"; X may be a space: not stripped


def dirty_files(repo: Path | None = None) -> list[str]:
    """Tracked files that differ from HEAD, except what ``dvc repro`` writes (dvc.lock and
    git-tracked stage outputs such as reports/metrics.json): those change between the stages of
    every run and are results, not inputs. Untracked files are not counted; [] outside git."""
    top = toplevel(repo)
    if top is None:
        return []
    outputs = dvcfiles.pipeline_outputs(top)
    try:
        paths = changed(top)
    except (OSError, CommandError):
        return []
    return [p for p in paths if not any(p == out or p.startswith(f"{out}/") for out in outputs)]


def commit_paths(repo: Path, message: str, paths: list[str]) -> str:
    """``git commit`` of exactly ``paths`` (added first); returns the new HEAD."""
    git(repo, "add", "--", *paths)
    git(repo, "commit", "-q", "-m", message, "--", *paths)
    return git(repo, "rev-parse", "HEAD")


def experiment_refs(repo: Path) -> list[tuple[str, str]]:
    """``(commit, ref)`` of every DVC experiment ref (``refs/exps/...``), in git's order."""
    refs = git(repo, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps", check=False)
    return [(sha, ref) for sha, ref in (line.split(" ", 1) for line in refs.splitlines())]
