"""`make clean` removes the untracked pipeline outputs and nothing git tracks."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.pipeline.conftest import copy_repo, run

OUTPUTS = (
    "models/classical/lr.skops",
    "models/tcn/model.pt",
    "models/package/manifest.json",
    "data/interim/landmarks/index.csv",
    "data/processed/split.csv",
    "reports/validation/summary.json",
    "reports/confusion/lstm.png",
    "mlflow.db",
    "mlruns/1/abc/artifacts/model.pt",
    "dvc_plots/index.html",
)
KEPT = ("data/raw/landmarks/demo-s01-nod.csv", ".venv/bin/python", ".dvc/cache/files/md5/ab/cdef")


def test_make_clean_removes_outputs_and_keeps_tracked_files(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path)
    for rel in OUTPUTS + KEPT:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("x")
    tracked = run(["git", "ls-files"], repo).stdout.split()
    proc = subprocess.run(["make", "clean"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not run(["git", "ls-files", "--deleted"], repo).stdout, "make clean deleted tracked files"
    assert all((repo / rel).is_file() for rel in tracked)
    assert run(["git", "status", "--porcelain"], repo).stdout == ""
    assert [rel for rel in OUTPUTS if (repo / rel).exists()] == []
    assert [rel for rel in KEPT if not (repo / rel).exists()] == []
