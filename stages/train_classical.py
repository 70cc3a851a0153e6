"""DVC stage train_classical: the four seed scikit-learn pipelines on per-frame features."""
from __future__ import annotations

import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature

from actionrec import tracking
from actionrec.corpus import frame_samples, load_recordings
from actionrec.labels import LabelMap
from actionrec.models.classical import TRUSTED_TYPES, build_pipelines, predict_proba, save_skops
from actionrec.params import Params
from actionrec.stage import run_stage, write_json

SPLIT = Path("data/processed/split.csv")
OUT = Path("models/classical")
PIP = ("scikit-learn", "skops", "numpy", "scipy")


@run_stage("train_classical")
def main(params: Params) -> str:
    recordings = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    split = pd.read_csv(SPLIT, dtype={"session_id": str, "group": str, "label": str})
    fit_rows = split[split["subset"].isin(["train", "val"])].assign(subset="train")
    x, names, _ = frame_samples(fit_rows, "train", recordings, params.features)
    labels = LabelMap(params.data.labels)
    y = labels.encode(names, str(SPLIT))
    cap = params.classical.max_train_frames
    if cap and len(x) > cap:
        keep = np.sort(np.random.default_rng(params.seed).choice(len(x), cap, replace=False))
        x, y = x[keep], y[keep]
    tracking.setup(params.mlflow.experiment)
    tags = tracking.lineage_tags("train_classical", [SPLIT])
    dataset = mlflow.data.from_numpy(x, targets=y, source=str(SPLIT), name="train_frames", digest=tags[f"input.{SPLIT.as_posix()}.sha256"][:16])
    summary = []
    with mlflow.start_run(run_name="train_classical", tags=tags) as parent:
        mlflow.log_params(tracking.flatten({"features": params.features.model_dump(mode="json"), "seed": params.seed}))
        for name, pipe in build_pipelines(params.classical, params.seed).items():
            with mlflow.start_run(run_name=f"classical-{name}", nested=True, tags={**tags, "model.kind": "frame", "model.name": name}) as run:
                start = time.perf_counter()
                pipe.fit(x, y)
                seconds = time.perf_counter() - start
                mlflow.log_params(tracking.flatten(getattr(params.classical, name).model_dump(), f"{name}."))
                mlflow.log_params(tracking.flatten({"features": params.features.model_dump(mode="json"), "seed": params.seed}))
                mlflow.log_input(dataset, context="training")
                train_acc = float((pipe.predict(x) == y).mean())
                mlflow.log_metrics({"train_accuracy": train_acc, "fit_seconds": seconds, "train_frames": len(x)})
                example = x[:2]
                mlflow.sklearn.log_model(
                    pipe,
                    name="model",
                    signature=infer_signature(example, predict_proba(pipe, example)),
                    input_example=example,
                    pip_requirements=tracking.pip_requirements(*PIP),
                    pyfunc_predict_fn="predict_proba" if hasattr(pipe, "predict_proba") else "predict",
                    skops_trusted_types=TRUSTED_TYPES,
                )
                save_skops(pipe, OUT / f"{name}.skops")
                write_json(
                    OUT / f"{name}.json",
                    {
                        "name": name,
                        "kind": "frame",
                        "model_file": f"{name}.skops",
                        "labels": labels.labels,
                        "features": params.features.model_dump(mode="json"),
                        "mlflow_run_id": run.info.run_id,
                        "mlflow_parent_run_id": parent.info.run_id,
                        "lineage": tags,
                    },
                )
                summary.append(f"{name} {seconds:.1f}s")
    return f"{len(x)} frames, {x.shape[1]} features: " + ", ".join(summary)


if __name__ == "__main__":
    main()
