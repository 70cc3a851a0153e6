"""DVC stage evaluate: every trained model on the held-out split, one leaderboard."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import pandas as pd

from actionrec.lineage import runrecord
from actionrec.lineage import tracking
from actionrec.data.corpus import load_recordings, model_inputs
from actionrec.evaluation.metrics import FLAT, evaluate_predictions, fuse, leaderboard_markdown, plot_confusion, score_tables
from actionrec.core.labels import LabelMap
from actionrec.config.params import Params
from actionrec.models.predictors import load_predictor, model_key
from actionrec.config.stage import run_stage
from actionrec.core.io import write_json, write_text

SPLIT = Path("data/processed/split.csv")
MODELS = Path("models")
REPORTS = Path("reports")
SUMMARY = {"clip_acc": "clip_accuracy", "clip_f1": "clip_macro_f1", "sample_acc": "sample_accuracy"}
log = logging.getLogger("actionrec.evaluate")


def _manifests() -> list[Path]:
    paths = sorted(MODELS.glob("*/*.json"))
    return [p for p in paths if p.parent.name != "package" and "kind" in json.loads(p.read_text())]


def _write_outputs(key: str, result: dict, labels: LabelMap) -> Path:
    """A model's predictions CSV, confusion PNG and per-class JSON; returns the PNG."""
    table = result["predictions"]
    write_text(REPORTS / "predictions" / f"{key}.csv", table.to_csv(index=False))
    png = REPORTS / "confusion" / f"{key}.png"
    plot_confusion(list(table["actual"]), list(table["predicted"]), labels, f"{key} (test clips)", png)
    write_json(REPORTS / "per_class" / f"{key}.json", {"sample": result["sample"]["per_class"], "clip": result["clip"]["per_class"]})
    return png


@run_stage("evaluate")
def main(params: Params) -> str:
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    split = pd.read_csv(SPLIT, dtype={"session_id": str, "group": str, "label": str})
    tracking.setup(params.mlflow.experiment)
    client = mlflow.MlflowClient()
    results, kinds, runs, cached = {}, {}, {}, {}
    labels = LabelMap(params.data.labels)
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
        results[key] = evaluate_predictions(pred.predict_proba(inputs), y, clip_ids, pred.labels)
        kinds[key] = pred.kind
        run_id = runrecord.read(manifest).get("mlflow_run_id")
        try:
            runs[key] = client.get_run(run_id).info.run_id if run_id else None
        except mlflow.exceptions.MlflowException:
            log.warning("%s: MLflow run %s is not in %s; test metrics not logged to MLflow", manifest, run_id, tracking.tracking_uri())
    fused = params.evaluate.fusion
    if fused and all(k in results for k in fused):
        results["fusion"], kinds["fusion"] = fuse([results[k] for k in fused], labels), " + ".join(fused)
    elif fused:
        log.info("evaluate.fusion: %s not all evaluated (no clips?); no fusion entry", ", ".join(fused))
    metrics, own, common = score_tables(results, kinds, labels)
    for key, result in results.items():
        png = _write_outputs(key, result, labels)
        if runs.get(key):
            entry = metrics[key]
            logged = {f"test_{k}": v for k, v in entry.items() if k in FLAT}
            logged |= {f"test_common_{k}": v for k, v in entry.get("common", {}).items() if k in FLAT}
            test_tags = {"test.set": entry["test_set"], "test.common_set": entry.get("common", {}).get("test_set", "")}
            tracking.add_to_finished_run(client, runs[key], logged, test_tags, {png: "evaluation"})
    rank_by = params.evaluate.rank_by
    ranked = sorted(common or own, key=lambda r: (-r[rank_by], r["model"]))
    split_note = "Split methods: " + ", ".join(sorted(set(split["method"]))) + " (see reports/split.json)."
    write_json(REPORTS / "metrics.json", metrics)
    best = ranked[0] if ranked else None
    # The DVC metric (`dvc metrics show`, `dvc exp show` columns): the best model on the test
    # recordings that every model scores; per model figures are in metrics.json / leaderboard.md.
    write_json(REPORTS / "summary.json", {
        "best": best["model"] if best else "",
        "test_clips": best["n_clips"] if best else 0,
        **({short: best[key] for short, key in SUMMARY.items()} if best else {}),
    })
    write_text(REPORTS / "leaderboard.md", leaderboard_markdown(common, own, rank_by, split_note))
    where = f"on the {best['n_clips']} test recordings {'all models share' if common else 'of its set'}" if best else ""
    return f"{len(results)} models; best {best['model']} {rank_by}={best[rank_by]:.3f} {where}" if best else "no models"


if __name__ == "__main__":
    main()
