"""Train one torch model, log it to MLflow and write it to models/ (shared by LSTM, TCN and ConvLSTM)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.models import infer_signature
from mlflow.pyfunc import PythonModel
from torch import nn
from torch.utils.data import Dataset

from actionrec.config import paths
from actionrec.config.params import OpenSetParams
from actionrec.config.training import TrainConfig
from actionrec.core.io import write_text
from actionrec.core.manifests import Kind, ModelManifest, OpenSet
from actionrec.data.split import split_tags
from actionrec.lineage import runrecord, tracking
from actionrec.lineage.tags import flatten, lineage_tags
from actionrec.models.openset import max_prob_score
from actionrec.models.openset_decision import from_scores
from actionrec.models.torch_io import load_checkpoint, model_spec, predict_proba, save_checkpoint
from actionrec.training import ddp
from actionrec.training.curves import plot_history
from actionrec.training.loop import dataset_size, fit, resolve_device

WALL_CLOCK = ("seconds", "samples_per_s")  # history columns logged to MLflow only

PIP = ("torch", "numpy")


class _Wrapped(PythonModel):
    """pyfunc wrapper: float32 array in (sequence windows or clips), class probabilities out."""

    def load_context(self, context: Any) -> None:
        self.model, self.manifest = load_checkpoint(context.artifacts["weights"])

    def predict(self, context: Any, model_input: np.ndarray, params: dict | None = None) -> np.ndarray:
        return batch_proba(self.model, self.manifest.kind, model_input)


def batch_proba(model: nn.Module, kind: Kind, batch: np.ndarray) -> np.ndarray:
    """Probabilities for a full-length float32 batch (sequence windows or clips)."""
    x = torch.as_tensor(np.asarray(batch, dtype=np.float32))
    with torch.no_grad():
        if kind == "sequence":
            logits = model(x, torch.full((x.shape[0],), x.shape[1], dtype=torch.long))
        else:
            logits = model(x)
    return torch.softmax(logits, dim=1).numpy()


def validation_open_set(params: OpenSetParams | None, model: nn.Module, val_ds: Dataset) -> OpenSet | None:
    """The open-set decision of trained ``model``, calibrated on the ``max_prob`` scores of the
    validation windows ``val_ds`` (None: no ``params`` or its score off; :func:`fit` refuses an
    empty ``val_ds`` before training)."""
    if params is None or params.score is None:
        return None
    scores = max_prob_score(predict_proba(model, val_ds, device="cpu"))
    return from_scores(params, scores, f"max_prob of {len(scores)} validation windows")


def _log_epoch(row: dict[str, float]) -> None:
    """One row of the training history as MLflow metrics at step ``epoch``."""
    mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))


def train_and_log(
    *,
    name: str,
    model: nn.Module,
    train_ds: Dataset,
    val_ds: Dataset,
    cfg: TrainConfig,
    manifest: dict[str, Any],
    params: dict[str, Any],
    out_dir: Path,
    curves_csv: Path,
    example: np.ndarray,
    experiment: str,
    inputs: list[Path],
    open_set: OpenSetParams | None = None,
) -> dict[str, Any]:
    """Fit with the shared loop; MLflow run with curves, params, model; state_dict + manifest.

    ``manifest`` holds the :class:`ModelManifest` fields that serving needs (kind, labels,
    features, window/stride or n_frames/size); name, weights file, architecture, device and
    best epoch are added here, and with ``open_set.score`` set the decision calibrated on
    ``val_ds`` (:func:`validation_open_set`; its threshold: the run's metric ``open_set.threshold``).

    Under torchrun only rank 0 tracks and writes; the other ranks just train their replica.
    """
    if not ddp.is_main_process():
        result = fit(model, train_ds, val_ds, cfg)
        best = next(row for row in result.history if row["epoch"] == result.best_epoch)
        return {
            "best_epoch": result.best_epoch,
            "epochs": len(result.history),
            "val_acc": float(best["val_acc"]),
            "device": result.device,
        }
    tracking.setup(experiment)
    device = str(resolve_device(cfg.device))
    tags = {
        **lineage_tags(f"train_{name}", inputs, device),
        **(split_tags() if paths.SPLIT in inputs else {}),
        "model.kind": manifest["kind"],
        "model.name": name,
        "train.world_size": str(ddp.world_size()),
    }
    with mlflow.start_run(run_name=name, tags=tags) as run:
        mlflow.log_params(flatten(params))
        mlflow.log_input(tracking.training_dataset(tags, f"train_{manifest['kind']}s"), context="training")
        mlflow.log_metrics({"train_samples": dataset_size(train_ds), "val_samples": dataset_size(val_ds)})
        result = fit(model, train_ds, val_ds, cfg, on_epoch=_log_epoch)
        history = pd.DataFrame(result.history)
        # the curves file is git-tracked: only what training decides, not the machine's wall clock
        write_text(curves_csv, history.drop(columns=list(WALL_CLOCK)).to_csv(index=False))
        png = curves_csv.with_suffix(".png")
        plot_history(result.history, png)
        mlflow.log_artifact(str(png), artifact_path="curves")
        best = history.loc[history["epoch"] == result.best_epoch].iloc[0]
        mlflow.log_metrics(
            {
                "best_epoch": result.best_epoch,
                "best_val_acc": float(best["val_acc"]),
                "best_val_loss": float(best["val_loss"]),
            }
        )
        model = model.cpu().eval()
        unknown = validation_open_set(open_set, model, val_ds)
        tracking.log_open_set(unknown)
        full = ModelManifest(
            **manifest,
            **model_spec(model),
            name=name,
            model_file="model.pt",
            device=result.device,
            best_epoch=result.best_epoch,
            open_set=unknown,
        )
        weights = out_dir / "model.pt"
        save_checkpoint(model, weights, full)
        runrecord.write(weights.with_suffix(".json"), run.info.run_id, tags)
        out = batch_proba(model, full.kind, example)
        mlflow.pyfunc.log_model(
            name="model",
            python_model=_Wrapped(),
            artifacts={"weights": str(weights), "manifest": str(weights.with_suffix(".json"))},
            signature=infer_signature(example, out),
            input_example=example,
            pip_requirements=tracking.pip_requirements(*PIP),
            code_paths=[str(Path(__file__).resolve().parents[1])],
        )
    return {
        "best_epoch": result.best_epoch,
        "epochs": len(history),
        "val_acc": float(best["val_acc"]),
        "device": result.device,
    }


def describe(result: dict[str, Any], n_train: int, n_val: int, items: str) -> str:
    """The stage's one-line summary of :func:`train_and_log`'s ``result``."""
    return (
        f"{n_train} train / {n_val} val {items}, best epoch {result['best_epoch']} "
        f"of {result['epochs']}, val acc {result['val_acc']:.3f} on {result['device']}"
    )
