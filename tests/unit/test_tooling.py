"""The developer commands: bare `make` prints the targets, the pre-commit hook is `make lint`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_bare_make_prints_every_documented_target_and_installs_nothing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}  # a user's shell
    out = subprocess.run(["make", "-n"], cwd=REPO, capture_output=True, text=True, check=True, env=env).stdout
    assert "pip install" not in out and "venv" not in out  # a dry run: what `make` alone would do
    shown = subprocess.run(["make"], cwd=REPO, capture_output=True, text=True, check=True, env=env).stdout
    documented = re.findall(r"^([a-z-]+):.*## ", (REPO / "Makefile").read_text(), re.M)
    assert documented and [line.split()[0] for line in shown.splitlines()] == documented


def test_pre_commit_hook_runs_make_lint() -> None:
    config = REPO / ".pre-commit-config.yaml"
    pre_commit = Path(sys.executable).with_name("pre-commit")
    subprocess.run([str(pre_commit), "validate-config", str(config)], check=True, capture_output=True)
    hooks = [h for repo in yaml.safe_load(config.read_text())["repos"] for h in repo["hooks"]]
    assert [h["entry"] for h in hooks] == ["make lint"]
    lint = re.search(r"^lint:.*\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.M)
    assert lint, "no lint target"
    commands = lint.group(1)
    for tool in ("ruff check", "ruff format --check", "mypy", "lint-imports", "actionrec.lineage.codedeps --check"):
        assert tool in commands, f"make lint does not run {tool}"
    assert re.search(r"^test: .*\blint\b", (REPO / "Makefile").read_text(), re.M), "make test must run make lint"
