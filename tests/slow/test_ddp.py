"""torchrun DDP (gloo, CPU): 2 processes x batch 4 train the LSTM through the real
``train_and_log``/``fit`` path like 1 process x batch 8, and only rank 0 tracks and writes.

Why the weights agree: ``fit`` shuffles every epoch with ``randperm`` seeded ``seed + epoch``
in both modes and rank r takes items r, r+2, ... of it, so at every step the two ranks' local
batches together are exactly the single process's batch; DDP averages the two local mean
gradients, which equals the mean gradient of the union (equal local batch sizes: 48 training
items). Dropout is 0 (each rank draws its own dropout masks, which cannot match one process's
masks). What remains is floating-point summation order (gradient averaging across ranks vs one
backward over the batch), a relative error of ~1e-7 per step that Adam carries through 18
steps: the weights agree within 1e-4 (absolute; observed 9e-8) and the metrics within 1e-4.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path

    import numpy as np

    from actionrec.training import ddp
    from actionrec.models.lstm import LandmarkLSTM
    from actionrec.models.torch_io import SequenceDataset
    from actionrec.training.loop import seed_everything
    from actionrec.config.training import TrainConfig
    from actionrec.training.torch_runs import train_and_log

    out, batch, nproc = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    ddp.relaunch_with_torchrun(nproc)  # exactly what the stages do with train.nproc

    def dataset(n, seed):
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 3, n)
        lengths = rng.integers(6, 13, n)
        seqs = [(rng.normal(0, 1, (int(t), 6)) + 0.7 * c).astype(np.float32) for c, t in zip(y, lengths)]
        return SequenceDataset(seqs, y.tolist(), window=12)

    train, val = dataset(48, 1), dataset(20, 2)
    cfg = TrainConfig(epochs=3, batch_size=batch, lr=1e-2, weight_decay=0.0, patience=5, seed=7, device="cpu",
                      amp=False, num_workers=0, nproc=nproc)
    seed_everything(cfg.seed)
    model = LandmarkLSTM(6, 3, hidden=16, layers=2, dropout=0.0)
    result = train_and_log(
        name="lstm", model=model, train_ds=train, val_ds=val, cfg=cfg,
        manifest={"kind": "sequence", "labels": ["a", "b", "c"], "features": {}, "window": 12, "stride": 1},
        params={"batch_size": batch, "nproc": nproc}, out_dir=out / "model", curves_csv=out / "curves.csv",
        example=val[0][0].numpy()[None], experiment="ddp-test", inputs=[],
    )
    (out / f"result-rank{ddp.rank()}.json").write_text(json.dumps(result))
    """
)


def _train(tmp: Path, name: str, batch: int, nproc: int) -> tuple[Path, float]:
    from tests.pipeline.conftest import run

    out = tmp / name
    out.mkdir()
    script = tmp / "train_script.py"
    script.write_text(SCRIPT)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{out / 'mlflow.db'}", "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    run([sys.executable, str(script), str(out), str(batch), str(nproc)], tmp, env=env)
    return out, time.perf_counter() - start


def _runs(store: Path) -> list:
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("ddp-test")
    return client.search_runs([experiment.experiment_id]) if experiment else []


def test_torchrun_two_processes_match_one_with_the_global_batch(tmp_path: Path) -> None:
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        assert key not in os.environ
    single, _ = _train(tmp_path, "single", batch=8, nproc=1)
    multi, _ = _train(tmp_path, "ddp", batch=4, nproc=2)

    # Both ranks trained (rank 1 wrote its summary) and agree with each other on the history.
    results = [json.loads((multi / f"result-rank{r}.json").read_text()) for r in (0, 1)]
    assert results[0] == results[1]
    # Exactly one MLflow run, from rank 0, tagged with the world size; one checkpoint.
    (run,) = _runs(multi / "mlflow.db")
    assert run.data.tags["train.world_size"] == "2"
    assert run.data.params["nproc"] == "2"
    assert len(_runs(single / "mlflow.db")) == 1

    a = torch.load(single / "model" / "model.pt", weights_only=True)
    b = torch.load(multi / "model" / "model.pt", weights_only=True)
    assert a.keys() == b.keys()
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
    print(f"max |w_single - w_ddp| = {worst:.3g}")
    assert worst < 1e-4, worst
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-4)

    curves = [
        [line.split(",") for line in (out / "curves.csv").read_text().splitlines()[1:]] for out in (single, multi)
    ]
    header = (single / "curves.csv").read_text().splitlines()[0].split(",")
    for row_a, row_b in zip(*curves, strict=True):
        for name, x, y in zip(header, row_a, row_b, strict=True):
            if name in ("train_loss", "train_acc", "val_loss", "val_acc", "epoch"):
                assert abs(float(x) - float(y)) < 1e-4, (name, x, y)
    assert results[0]["best_epoch"] == json.loads((single / "result-rank0.json").read_text())["best_epoch"]
