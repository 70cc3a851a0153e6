"""`actionrec crossval`: leave-one-group-out cross-validation of the classical models.

The pipeline scores one held-out split. Published figures often use leave-one-group-out (e.g.
Weizmann: leave-one-actor-out), which needs one fit per group; this command does that on the
pipeline's own inputs (the split manifest, the recordings and extracted clips) with the same
feature transform, pipelines and clip-level scoring as ``evaluate``, including the
``evaluate.fusion`` entry. Every recording is tested exactly once; the report pools all folds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actionrec.config.paths import CROSSVAL_REPORTS, SPLIT

if TYPE_CHECKING:
    import pandas as pd

    from actionrec.config.params import Params

DEFAULT_MODELS = ("lr", "rf", "pooled-lr", "pooled-rf", "pooled-et", "appearance-rf")


def cross_validate(params: Params, models: list[str], split: pd.DataFrame) -> dict[str, Any]:
    """Per model: pooled clip accuracy / macro-F1 over all folds and the accuracy of each fold."""
    import numpy as np
    from sklearn.base import clone

    from actionrec.core.labels import LabelMap
    from actionrec.core.manifests import ModelKey, ModelManifest
    from actionrec.data.corpus import load_recordings, model_inputs, training_inputs
    from actionrec.evaluation.metrics import evaluate_predictions, fuse
    from actionrec.models.classical import classical_models
    from actionrec.models.predictors import Predictor

    labels = LabelMap(params.data.labels)
    known = classical_models(params.classical, params.seed, params.features)
    unknown = sorted(set(models) - set(known))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(known)}")
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    groups = sorted(split["group"].unique())
    if len(groups) < 2:
        raise ValueError(f"{SPLIT}: cross-validation needs two or more groups, found {groups}")
    probs: dict[str, dict[str, np.ndarray]] = {m: {} for m in models}
    truth: dict[str, int] = {}
    per_fold: dict[str, dict[str, float]] = {m: {} for m in models}
    for group in groups:
        fold = split.assign(subset=np.where(split["group"] == group, "test", "train"))
        for kind in dict.fromkeys(known[m][0] for m in models):  # each kind's inputs once per fold
            x, names = training_inputs(kind, fold, by_id, params)
            if not names:
                continue
            y_fit = labels.encode(names, str(SPLIT))
            shape: dict[str, int] = {}  # what serving the model needs beyond its features
            if kind == "sequence":
                shape = {"window": params.classical.pooled_window, "stride": params.classical.pooled_stride}
            elif kind == "clip":
                shape = {"n_frames": int(x.shape[1]), "size": int(x.shape[2])}
            for name in (m for m in models if known[m][0] == kind):
                model = clone(known[name][1]).fit(x, y_fit)
                manifest = ModelManifest(
                    name=name,
                    kind=kind,
                    model_file=f"{name}.skops",
                    labels=labels.labels,
                    features=params.features,
                    **shape,
                )
                pred = Predictor(name, manifest.kind, labels, manifest, model)
                inputs, y, ids = model_inputs(pred, fold, "test", by_id)
                if len(y) == 0:
                    continue
                result = evaluate_predictions(pred.predict_proba(inputs), y, ids, labels)
                probs[name].update(result["clip_proba"])
                truth.update(result["clip_y"])
                per_fold[name][group] = result["clip"]["accuracy"]
        print(
            f"fold {group}: " + ", ".join(f"{m} {a[group]:.3f}" for m, a in per_fold.items() if group in a),
            file=sys.stderr,
            flush=True,
        )
    pooled = {}
    for name, p in probs.items():
        if p:
            clips = list(p)
            pooled[name] = evaluate_predictions(
                np.stack([p[c] for c in clips]), np.array([truth[c] for c in clips]), clips, labels
            )
    by_key = {str(ModelKey("classical", name)): result for name, result in pooled.items()}
    fused = list(params.evaluate.fusion)
    if fused and all(k in by_key for k in fused):
        pooled["fusion"] = fuse([by_key[k] for k in fused], labels)
    return {
        "groups": groups,
        "models": {
            name: {
                "clip_accuracy": r["clip"]["accuracy"],
                "clip_macro_f1": r["clip"]["macro_f1"],
                "n_clips": r["n_clips"],
                "fold_accuracy": per_fold.get(name, {}),
            }
            for name, r in pooled.items()
        },
    }


def report_markdown(result: dict[str, Any]) -> str:
    import numpy as np

    rows = sorted(result["models"].items(), key=lambda kv: -kv[1]["clip_accuracy"])
    lines = [
        f"# Leave-one-group-out cross-validation ({len(result['groups'])} folds)\n",
        "Each recording is tested once, by the model fitted on every other group; scores pool all folds.\n",
        "| model | clips | clip acc | clip macro-F1 | fold acc min / mean / max |",
        "|---|---:|---:|---:|---|",
    ]
    for name, m in rows:
        folds = list(m["fold_accuracy"].values())
        spread = f"{min(folds):.2f} / {np.mean(folds):.2f} / {max(folds):.2f}" if folds else "(fused)"
        lines.append(f"| {name} | {m['n_clips']} | {m['clip_accuracy']:.3f} | {m['clip_macro_f1']:.3f} | {spread} |")
    return "\n".join(lines) + "\n"


def _run(args: argparse.Namespace) -> int:
    from actionrec.core import kernels

    kernels.pin()  # the stages' kernels and threads (before numpy loads): the same fits as train_classical
    from actionrec.config.params import ParamsError, load_params
    from actionrec.core.io import write_json, write_text
    from actionrec.data.split import read_split

    try:
        params = load_params(args.params)
    except ParamsError as exc:
        print(f"actionrec crossval: {exc}", file=sys.stderr)
        return 2
    if not SPLIT.is_file():
        print(f"actionrec crossval: {SPLIT} not found: run `dvc repro split` first", file=sys.stderr)
        return 1
    split = read_split(SPLIT)
    try:
        if args.leave_classes_out:
            from actionrec.evaluation import leave_classes_out as lco

            result = lco.leave_classes_out(params, args.models, split, args.leave_classes_out, args.subsets)
            stem, text = "openset", lco.report_markdown(result)
        else:
            result = cross_validate(params, args.models, split)
            stem, text = "crossval", report_markdown(result)
    except ValueError as exc:
        print(f"actionrec crossval: {exc}", file=sys.stderr)
        return 2
    write_json(args.out / f"{stem}.json", result)
    write_text(args.out / f"{stem}.md", text)
    print(text)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "crossval",
        help="leave-one-group-out cross-validation of the classical models (e.g. leave-one-actor-out)",
        description="Leave-one-group-out cross-validation of the classical models on the pipeline's own inputs "
        f"({SPLIT}, the recordings and the extracted clips): one fit per group, each recording tested "
        "once, with the feature transform, pipelines and clip-level scoring of the evaluate stage. "
        "The report pools all folds.",
        epilog="The pipeline scores one held-out split; published figures often use leave-one-group-out "
        "(e.g. Weizmann: leave-one-actor-out).",
    )
    p.add_argument(
        "--models",
        nargs="+",
        default=list(DEFAULT_MODELS),
        metavar="MODEL",
        help=f"classical model names (default: {' '.join(DEFAULT_MODELS)}); fusion is added "
        "when the models of evaluate.fusion are among them",
    )
    p.add_argument(
        "--leave-classes-out",
        type=int,
        default=0,
        metavar="K",
        help="instead: the open-set protocol of the pooled models, K classes held out per set "
        "(writes openset.json / openset.md)",
    )
    p.add_argument("--subsets", type=int, default=5, help="held-out class sets (seeded; default: %(default)s)")
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: %(default)s)")
    p.add_argument(
        "--out",
        type=Path,
        default=CROSSVAL_REPORTS,
        help="folder for crossval.json / crossval.md or openset.json / openset.md (default: %(default)s)",
    )
    p.set_defaults(func=_run)
