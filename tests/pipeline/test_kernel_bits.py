"""The classical and LSTM stages give the same bytes on this machine as on an AVX2-only x86-64 one
(simulated by the variables such a machine's libraries would pick natively), and other bytes here
under the speed switch (`ACTIONREC_NATIVE_KERNELS=1`, which is what every stage did before the
kernels were pinned)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from actionrec.core import kernels
from tests.pipeline import shared_runs
from tests.pipeline.shared_runs import PipelineRun, env_for, workspace

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]

AVX2_MACHINE = {
    "OPENBLAS_CORETYPE": "Haswell",
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    **kernels.NUMPY_AVX512_OFF,  # numpy finds no AVX-512 there
}
KERNEL_VARS = {*kernels.PINNED, *AVX2_MACHINE, kernels.NATIVE_SWITCH}
OUTS = {"train_classical": ["models/classical"], "train_lstm": ["models/lstm", "reports/curves/lstm.csv"]}
WALL_CLOCK = {"fit_seconds", "seconds", "samples_per_s"}


@pytest.fixture(scope="module")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    return shared_runs.run_a(tmp_path_factory)


def _digest(ws: Path, stage: str) -> dict[str, str]:
    """sha256 of each weight file and of the learning curves without wall-clock columns."""
    out = {}
    for rel in OUTS[stage]:
        path = ws / rel
        if path.suffix == ".csv":
            curves = pd.read_csv(path).drop(columns=["seconds", "samples_per_s"], errors="ignore")
            out[rel] = hashlib.sha256(curves.to_csv(index=False).encode()).hexdigest()
        for f in sorted(path.glob("*.skops")) + sorted(path.glob("*.pt")):
            out[f.relative_to(ws).as_posix()] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def _metrics(store: str) -> dict[str, list[tuple[int, float]]]:
    client = mlflow.MlflowClient(tracking_uri=store)
    out = {}
    for exp in client.search_experiments():
        for r in client.search_runs([exp.experiment_id]):
            for key in r.data.metrics:
                if key not in WALL_CLOCK:
                    out[f"{r.info.run_name}/{key}"] = [
                        (m.step, m.value) for m in client.get_metric_history(r.info.run_id, key)
                    ]
    return out


def _train(ws: Path, stage: str, label: str, env: dict[str, str], tmp: Path) -> dict:
    """Run the stage's command (what `dvc repro` runs) in the workspace with ``env`` as the only
    kernel variables; its outputs, MLflow metrics and kernel fingerprint."""
    for rel in OUTS[stage]:  # never write through a file that DVC checked out
        target = ws / rel
        shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    store = f"sqlite:///{tmp / f'{stage}-{label}.db'}"
    base = {k: v for k, v in os.environ.items() if k not in KERNEL_VARS | {"MLFLOW_TRACKING_URI"}}
    full = {
        **base,
        **env_for(ws),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MLFLOW_TRACKING_URI": store,
        **env,
    }
    proc = subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=ws, env=full, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    client = mlflow.MlflowClient(tracking_uri=store)
    runs = [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]
    return {
        "files": _digest(ws, stage),
        "metrics": _metrics(store),
        "kernels": runs[0].data.tags.get("kernels.fingerprint"),
    }


@pytest.fixture(scope="module")
def trained(run_a: PipelineRun, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict]:
    tmp = tmp_path_factory.mktemp("kernel-bits")
    ws = workspace(run_a, tmp / "ws", store=False)
    out = {}
    for stage, label, env in (
        ("train_classical", "here", {}),
        ("train_classical", "avx2", AVX2_MACHINE),
        ("train_lstm", "here", {}),
        ("train_lstm", "avx2", AVX2_MACHINE),
        ("train_lstm", "native", {kernels.NATIVE_SWITCH: "1"}),
    ):
        out[stage, label] = _train(ws, stage, label, env, tmp)
    return out


@pytest.mark.parametrize("stage", ["train_classical", "train_lstm"])
def test_same_bytes_here_and_on_an_avx2_machine(trained: dict, stage: str) -> None:
    here, avx2 = trained[stage, "here"], trained[stage, "avx2"]
    assert len(here["files"]) >= (7 if stage == "train_classical" else 2), here["files"]
    assert here["files"] == avx2["files"]
    assert here["metrics"] == avx2["metrics"] and here["metrics"]
    assert here["kernels"] == avx2["kernels"], "same fingerprint: reproduce compares exactly"


@pytest.mark.skipif(
    kernels._cpu_isa() != "avx512", reason="native kernels differ from AVX2 ones only on an AVX-512 CPU"
)
def test_without_pinning_this_machine_gives_other_bytes(trained: dict) -> None:
    here, native = trained["train_lstm", "here"], trained["train_lstm", "native"]
    assert native["files"]["models/lstm/model.pt"] != here["files"]["models/lstm/model.pt"]
    assert native["metrics"]["lstm/train_loss"] != here["metrics"]["lstm/train_loss"]
    assert native["kernels"] != here["kernels"], "other fingerprint: reproduce compares within tolerance"
