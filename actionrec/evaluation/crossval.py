"""`actionrec crossval`: leave-one-group-out cross-validation of the classical models.

The pipeline scores one held-out split. Published figures often use leave-one-group-out (e.g.
Weizmann: leave-one-actor-out), which needs one fit per group; this command does that on the
pipeline's own inputs (the split manifest, the recordings and extracted clips) with the same
feature transform, pipelines and clip-level scoring as ``evaluate``, including the
``evaluate.fusion`` entry. Every recording is tested exactly once; the report pools all folds.

``--nested`` picks the pooled models' features per fold from the grid of
:mod:`actionrec.evaluation.selection` by inner folds of the other groups only; ``--select`` picks
them once on the split's train + val rows and prints the params to use.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actionrec.config.paths import CROSSVAL_REPORTS, SPLIT

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from actionrec.config.params import Params

DEFAULT_MODELS = ("lr", "rf", "pooled-lr", "pooled-rf", "pooled-et", "appearance-rf")


def cross_validate(params: Params, models: list[str], split: pd.DataFrame) -> dict[str, Any]:
    """Per model: pooled clip accuracy / macro-F1 over all folds and the accuracy of each fold."""
    import numpy as np

    from actionrec.data.corpus import load_recordings
    from actionrec.models.classical import classical_models

    known = classical_models(params.classical, params.seed, params.features)
    unknown = sorted(set(models) - set(known))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(known)}")
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    groups = _groups(split)
    folds: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in models}
    for group in groups:
        fold = split.assign(subset=np.where(split["group"] == group, "test", "train"))
        for name, result in _score_fold(params, models, fold, by_id).items():
            folds[name][group] = result
        _progress(group, folds)
    return _pooled(params, groups, folds)


def nested_cross_validate(params: Params, models: list[str], split: pd.DataFrame) -> dict[str, Any]:
    """``cross_validate`` of the pooled models in ``models`` with each outer fold's features picked
    from the grid of :mod:`actionrec.evaluation.selection` by inner folds of the OTHER groups
    only; adds each fold's pick and inner scores."""
    import numpy as np

    from actionrec.data.corpus import load_recordings
    from actionrec.evaluation import selection

    pooled = _pooled_models(params, models, "--nested")
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    groups = _groups(split)
    grid = selection.candidates(params.features)
    data = {name: selection.group_data(params, split, by_id, spec) for name, spec in grid.items()}
    folds: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in pooled}
    picks: dict[str, dict[str, Any]] = {m: {} for m in pooled}
    for group in groups:
        inner = selection.restrict(data, [g for g in groups if g != group])
        fold = split.assign(subset=np.where(split["group"] == group, "test", "train"))
        for name in pooled:
            best, scores = selection.pick(_after_pooling(params, name), inner)
            picks[name][group] = {"pick": best, "inner_accuracy": scores}
            chosen = params.model_copy(update={"features": grid[best]})
            if name in (scored := _score_fold(chosen, [name], fold, by_id)):
                folds[name][group] = scored[name]
        _progress(group, folds)
    result = _pooled(params, groups, folds)
    result["grid"] = {name: selection.overrides(spec) for name, spec in grid.items()}
    for name in pooled:
        result["models"][name]["fold_pick"] = {g: p["pick"] for g, p in picks[name].items()}
        result["models"][name]["fold_inner_accuracy"] = {g: p["inner_accuracy"] for g, p in picks[name].items()}
    return result


def select_on_split(params: Params, models: list[str], split: pd.DataFrame) -> dict[str, Any]:
    """Per pooled model: the grid's pick by inner folds of the split's train and val groups
    (its test groups are never read), every candidate's inner score and the pick's
    ``dvc exp run -S`` options."""
    from actionrec.data.corpus import load_recordings
    from actionrec.evaluation import selection

    pooled = _pooled_models(params, models, "--select")
    fit = split[split["subset"].isin(["train", "val"])]
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    grid = selection.candidates(params.features)
    by = "subset" if (fit["method"] == "temporal").all() else "group"  # temporal: its train / val blocks
    data = {name: selection.group_data(params, fit, by_id, spec, by) for name, spec in grid.items()}
    out = {}
    for name in pooled:
        best, scores = selection.pick(_after_pooling(params, name), data)
        out[name] = {"pick": best, "inner_accuracy": scores, "set": selection.overrides(grid[best])}
    return {"folds_by": by, "groups": sorted(str(g) for g in fit[by].unique()), "models": out}


def _groups(split: pd.DataFrame) -> list[str]:
    groups = sorted(split["group"].unique())
    if len(groups) < 2:
        raise ValueError(f"{SPLIT}: cross-validation needs two or more groups, found {groups}")
    return groups


def _pooled_models(params: Params, models: list[str], option: str) -> list[str]:
    from actionrec.models.classical import classical_models

    known = classical_models(params.classical, params.seed, params.features)
    pooled = [m for m in models if known.get(m, ("",))[0] == "sequence"]
    if not pooled:
        choices = sorted(m for m, (kind, _) in known.items() if kind == "sequence")
        raise ValueError(f"{option} selects the pooled models' features; give one of {choices}")
    return pooled


def _after_pooling(params: Params, name: str) -> Pipeline:
    """Pooled model ``name`` without its pooling step (selection pools each candidate once)."""
    from actionrec.models.classical import classical_models

    return classical_models(params.classical, params.seed, params.features)[name][1][1:]


def _score_fold(params: Params, models: list[str], fold: pd.DataFrame, by_id: dict) -> dict[str, dict[str, Any]]:
    """Each model fitted on ``fold``'s train rows, as ``evaluate`` scores it on its test rows."""
    from sklearn.base import clone

    from actionrec.core.labels import LabelMap
    from actionrec.core.manifests import ModelManifest
    from actionrec.data.corpus import model_inputs, training_inputs
    from actionrec.evaluation.metrics import evaluate_predictions
    from actionrec.models.classical import classical_models
    from actionrec.models.predictors import Predictor

    labels = LabelMap(params.data.labels)
    known = classical_models(params.classical, params.seed, params.features)
    out = {}
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
                name=name, kind=kind, model_file=f"{name}.skops", labels=labels.labels, features=params.features,
                **shape,
            )  # fmt: skip
            pred = Predictor(name, manifest.kind, labels, manifest, model)
            inputs, y, ids = model_inputs(pred, fold, "test", by_id)
            if len(y):
                out[name] = evaluate_predictions(pred.predict_proba(inputs), y, ids, labels)
    return out


def _progress(group: str, folds: dict[str, dict[str, dict[str, Any]]]) -> None:
    scores = ", ".join(f"{m} {f[group]['clip']['accuracy']:.3f}" for m, f in folds.items() if group in f)
    print(f"fold {group}: {scores}", file=sys.stderr, flush=True)


def _pooled(params: Params, groups: list[str], folds: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The report of per-fold results: every model's clips pooled over its folds (+ fusion)."""
    import numpy as np

    from actionrec.core.labels import LabelMap
    from actionrec.core.manifests import ModelKey
    from actionrec.evaluation.metrics import evaluate_predictions, fuse

    labels = LabelMap(params.data.labels)
    pooled = {}
    for name, by_group in folds.items():
        probs = {c: p for r in by_group.values() for c, p in r["clip_proba"].items()}
        truth = {c: y for r in by_group.values() for c, y in r["clip_y"].items()}
        if probs:
            clips = list(probs)
            pooled[name] = evaluate_predictions(
                np.stack([probs[c] for c in clips]), np.array([truth[c] for c in clips]), clips, labels
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
                "fold_accuracy": {g: f["clip"]["accuracy"] for g, f in folds.get(name, {}).items()},
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
    if "grid" in result:
        lines += [
            "\nNested: each fold's features were picked by inner group folds of the other groups only "
            "(grid: actionrec.evaluation.selection).\n",
            "| model | fold | pick | inner accuracy of the pick |",
            "|---|---|---|---:|",
        ]
        for name, m in sorted(result["models"].items()):
            for group, best in m.get("fold_pick", {}).items():
                lines.append(f"| {name} | {group} | {best} | {m['fold_inner_accuracy'][group][best]:.3f} |")
    return "\n".join(lines) + "\n"


def selection_markdown(result: dict[str, Any]) -> str:
    """The ``--select`` report: each candidate's inner accuracy and the pick's params."""
    lines = [
        f"# Feature selection on the train + val rows (folds by {result['folds_by']}: "
        f"{', '.join(result['groups'])}; test rows unread)\n",
        "| model | candidate | inner window accuracy |",
        "|---|---|---:|",
    ]
    for name, m in sorted(result["models"].items()):
        lines += [
            f"| {name} | {c}{' (pick)' if c == m['pick'] else ''} | {a:.3f} |" for c, a in m["inner_accuracy"].items()
        ]
    for name, m in sorted(result["models"].items()):
        lines.append(f"\n{name}: `dvc exp run " + " ".join(f"-S {o}" for o in m["set"]) + "`")
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
        elif args.select:
            result = select_on_split(params, args.models, split)
            stem, text = "selection", selection_markdown(result)
        elif args.nested:
            result = nested_cross_validate(params, args.models, split)
            stem, text = "crossval_nested", report_markdown(result)
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
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--leave-classes-out",
        type=int,
        default=0,
        metavar="K",
        help="instead: the open-set protocol of the pooled models, K classes held out per set "
        "(writes openset.json / openset.md)",
    )
    mode.add_argument(
        "--nested",
        action="store_true",
        help="nested: each fold's pooled-model features picked from a small grid by inner group folds of "
        "the other groups only (writes crossval_nested.json / .md with the pick per fold)",
    )
    mode.add_argument(
        "--select",
        action="store_true",
        help="pick the pooled models' features from the grid by group folds of the split's train + val "
        "groups (never test) and print the `dvc exp run -S` options (writes selection.json / .md)",
    )
    p.add_argument("--subsets", type=int, default=5, help="held-out class sets (seeded; default: %(default)s)")
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="params file (default: %(default)s)")
    p.add_argument(
        "--out",
        type=Path,
        default=CROSSVAL_REPORTS,
        help="folder of the reports (crossval, crossval_nested, selection or openset .json / .md; "
        "default: %(default)s)",
    )
    p.set_defaults(func=_run)
