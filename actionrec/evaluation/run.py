"""The evaluate stage's work: every trained model on the test recordings, fused, scored, logged.

Each model's predictions CSV, confusion PNG and per-class JSON go to ``reports/``; its test
figures are added to the MLflow run that trained it, when that run is in the store.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.core.io import write_json, write_text
from actionrec.core.labels import LabelMap
from actionrec.core.manifests import model_key
from actionrec.data.corpus import load_recordings, model_inputs
from actionrec.evaluation.leaderboard import score_tables
from actionrec.evaluation.metrics import FLAT, evaluate_predictions, fuse
from actionrec.evaluation.plots import plot_confusion
from actionrec.lineage import runrecord, tracking
from actionrec.models.predictors import Predictor, load_predictor

SUMMARY = {"clip_acc": "clip_accuracy", "clip_f1": "clip_macro_f1", "sample_acc": "sample_accuracy"}
log = logging.getLogger("actionrec.evaluate")


@dataclass
class Evaluation:
    """Per model key: its scores (:func:`evaluate_predictions`), input kind and MLflow run; the
    tables of :func:`score_tables` (``metrics`` is reports/metrics.json)."""

    results: dict[str, dict]
    kinds: dict[str, str]
    runs: dict[str, str]
    metrics: dict[str, dict]
    own: list[dict]
    common: list[dict]

    def ranked(self, rank_by: str) -> list[dict]:
        """Leaderboard rows, best first: on the shared recordings when there are any."""
        return sorted(self.common or self.own, key=lambda r: (-r[rank_by], r["model"]))


def model_manifests(models_dir: Path = paths.MODELS) -> list[Path]:
    """The trained models' manifests ``models/<family>/<name>.json`` (not the live bundle's)."""
    return [
        p for p in runrecord.manifests(models_dir) if p.parent.name != "package" and "kind" in json.loads(p.read_text())
    ]


def _input_signature(pred: Predictor) -> str:
    """Models with the same signature take the same inputs (kind, features, window)."""
    m = pred.manifest
    return json.dumps([pred.kind, m.features.model_dump(mode="json"), m.window, m.stride], sort_keys=True)


def _training_run(client: mlflow.MlflowClient, manifest: Path) -> str | None:
    """The id of the MLflow run that trained the model of ``manifest``, if the store has it."""
    run_id = runrecord.read(manifest).get("mlflow_run_id")
    try:
        return client.get_run(run_id).info.run_id if run_id else None
    except mlflow.exceptions.MlflowException:
        log.warning(
            "%s: MLflow run %s is not in %s; test metrics not logged to MLflow",
            manifest,
            run_id,
            tracking.tracking_uri(),
        )
        return None


def evaluate_models(params: Params, split: pd.DataFrame, models_dir: Path = paths.MODELS) -> Evaluation:
    """Score every model of ``models_dir`` on the ``test`` rows of ``split``, plus ``evaluate.fusion``."""
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    tracking.setup(params.mlflow.experiment)
    client = mlflow.MlflowClient()
    labels = LabelMap(params.data.labels)
    results: dict[str, dict] = {}
    kinds: dict[str, str] = {}
    runs: dict[str, str] = {}
    cached: dict[str, tuple] = {}
    for manifest in model_manifests(models_dir):
        pred = load_predictor(manifest)
        same = _input_signature(pred)  # models that take the same inputs share one read/transform
        if same not in cached:
            cached[same] = model_inputs(pred, split, "test", by_id)
        inputs, y, clip_ids = cached[same]
        if len(y) == 0:
            continue
        key = str(model_key(manifest, pred.manifest))
        results[key] = evaluate_predictions(pred.predict_proba(inputs), y, clip_ids, pred.labels)
        kinds[key] = pred.kind
        if run_id := _training_run(client, manifest):
            runs[key] = run_id
    fused = params.evaluate.fusion
    if fused and all(k in results for k in fused):
        results["fusion"], kinds["fusion"] = fuse([results[k] for k in fused], labels), " + ".join(fused)
    elif fused:
        log.info("evaluate.fusion: %s not all evaluated (no clips?); no fusion entry", ", ".join(fused))
    return Evaluation(results, kinds, runs, *score_tables(results, kinds, labels))


def write_model_reports(evaluation: Evaluation, labels: LabelMap) -> None:
    """Each model's predictions CSV, confusion PNG and per-class JSON in ``reports/``; its test
    figures and the PNG are added to its training run."""
    client = mlflow.MlflowClient()
    for key, result in evaluation.results.items():
        table = result["predictions"]
        write_text(paths.PREDICTIONS / f"{key}.csv", table.to_csv(index=False))
        png = paths.CONFUSION / f"{key}.png"
        plot_confusion(list(table["actual"]), list(table["predicted"]), labels, f"{key} (test clips)", png)
        per_class = {"sample": result["sample"]["per_class"], "clip": result["clip"]["per_class"]}
        write_json(paths.PER_CLASS / f"{key}.json", per_class)
        if key in evaluation.runs:
            entry = evaluation.metrics[key]
            common = entry.get("common", {})
            logged = {f"test_{k}": v for k, v in entry.items() if k in FLAT}
            logged |= {f"test_common_{k}": v for k, v in common.items() if k in FLAT}
            test_tags = {"test.set": entry["test_set"], "test.common_set": common.get("test_set", "")}
            tracking.add_to_finished_run(client, evaluation.runs[key], logged, test_tags, {png: "evaluation"})


def headline(best: dict | None) -> dict:
    """reports/summary.json, the DVC metric (``dvc metrics show``, ``dvc exp show`` columns): the
    best model on the test recordings that every model scores."""
    return {
        "best": best["model"] if best else "",
        "test_clips": best["n_clips"] if best else 0,
        **({short: best[key] for short, key in SUMMARY.items()} if best else {}),
    }


def summary_line(evaluation: Evaluation, rank_by: str) -> str:
    """The stage's one-line summary: how many models, and the best one."""
    ranked = evaluation.ranked(rank_by)
    if not ranked:
        return "no models"
    best = ranked[0]
    where = f"on the {best['n_clips']} test recordings {'all models share' if evaluation.common else 'of its set'}"
    return f"{len(evaluation.results)} models; best {best['model']} {rank_by}={best[rank_by]:.3f} {where}"
