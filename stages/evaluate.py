"""DVC stage evaluate: every trained model on the held-out split, one leaderboard."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import pandas as pd

from actionrec import tracking
from actionrec.corpus import load_recordings, model_inputs
from actionrec.evaluation import evaluate_predictions, fuse, leaderboard_markdown, plot_confusion
from actionrec.labels import LabelMap
from actionrec.params import Params
from actionrec.predictors import load_predictor, model_key
from actionrec.stage import run_stage, write_json, write_text

SPLIT = Path("data/processed/split.csv")
MODELS = Path("models")
REPORTS = Path("reports")
log = logging.getLogger("actionrec.evaluate")


def _run_exists(run_id: str) -> bool:
    try:
        mlflow.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return False
    return True


def _manifests() -> list[Path]:
    paths = sorted(MODELS.glob("*/*.json"))
    return [p for p in paths if p.parent.name != "package" and "kind" in json.loads(p.read_text())]


def _report(key: str, kind: str, result: dict, labels: LabelMap, metrics: dict, rows: list) -> tuple[dict, Path]:
    """One model's entry in metrics/rows, its predictions CSV, confusion PNG and per-class JSON."""
    flat = {
        "sample_accuracy": result["sample"]["accuracy"],
        "sample_macro_f1": result["sample"]["macro_f1"],
        "clip_accuracy": result["clip"]["accuracy"],
        "clip_macro_f1": result["clip"]["macro_f1"],
    }
    metrics[key] = {**flat, "n_samples": result["n_samples"], "n_clips": result["n_clips"]}
    rows.append({"model": key, "kind": kind, "n_clips": result["n_clips"], **flat})
    table = result["predictions"]
    write_text(REPORTS / "predictions" / f"{key}.csv", table.to_csv(index=False))
    png = REPORTS / "confusion" / f"{key}.png"
    plot_confusion(list(table["actual"]), list(table["predicted"]), labels, f"{key} (test clips)", png)
    write_json(REPORTS / "per_class" / f"{key}.json", {"sample": result["sample"]["per_class"], "clip": result["clip"]["per_class"]})
    return flat, png


@run_stage("evaluate")
def main(params: Params) -> str:
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    split = pd.read_csv(SPLIT, dtype={"session_id": str, "group": str, "label": str})
    tracking.setup(params.mlflow.experiment)
    metrics, rows, results, cached = {}, [], {}, {}
    for manifest in _manifests():
        pred = load_predictor(manifest)
        # models that take the same inputs (kind, features, window) share one read/transform
        same = json.dumps([pred.kind, pred.manifest.get("features"), pred.manifest.get("window"),
                           pred.manifest.get("stride")], sort_keys=True)
        if same not in cached:
            cached[same] = model_inputs(pred, split, "test", by_id)
        inputs, y, clip_ids = cached[same]
        if len(y) == 0:
            continue
        key = model_key(manifest, pred.manifest)
        results[key] = result = evaluate_predictions(pred.predict_proba(inputs), y, clip_ids, pred.labels)
        flat, png = _report(key, pred.kind, result, pred.labels, metrics, rows)
        run_id = pred.manifest.get("mlflow_run_id")
        if run_id and not _run_exists(run_id):
            log.warning("%s: MLflow run %s is not in %s; test metrics not logged to MLflow", manifest, run_id, tracking.tracking_uri())
        elif run_id:
            with mlflow.start_run(run_id=run_id):
                mlflow.log_metrics({f"test_{k}": v for k, v in flat.items()})
                mlflow.log_artifact(str(png), artifact_path="evaluation")
    fused = params.evaluate.fusion
    if fused and all(k in results for k in fused):
        labels = LabelMap(params.data.labels)
        _report("fusion", " + ".join(fused), fuse([results[k] for k in fused], labels), labels, metrics, rows)
    elif fused:
        log.info("evaluate.fusion: %s not all evaluated (no clips?); no fusion entry", ", ".join(fused))
    rows.sort(key=lambda r: (-r[params.evaluate.rank_by], r["model"]))
    split_note = "Split methods: " + ", ".join(sorted(set(split["method"]))) + " (see reports/split.json)."
    write_json(REPORTS / "metrics.json", metrics)
    write_text(REPORTS / "leaderboard.md", leaderboard_markdown(rows, params.evaluate.rank_by, split_note))
    best = rows[0] if rows else None
    return f"{len(rows)} models; best {best['model']} {params.evaluate.rank_by}={best[params.evaluate.rank_by]:.3f}" if best else "no models"


if __name__ == "__main__":
    main()
