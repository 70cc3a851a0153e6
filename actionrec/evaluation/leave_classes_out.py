"""`actionrec crossval --leave-classes-out K`: how well the pooled models say "unknown".

For each of ``n_subsets`` seeded sets of ``K`` held-out classes: every pooled model is trained as
train_classical trains it, on the split's train + val rows of the other (in-set) classes, with its
open-set threshold calibrated the same way (out-of-fold by group,
:mod:`actionrec.models.openset_fit`). It then scores the in-set classes' test rows (clip accuracy
without and with "unknown": a clip called unknown counts as wrong) and every clip of the held-out
classes (the share called unknown). Figures pool all subsets. With ``classical.open_set.score``
empty (off in training), the protocol measures ``max_prob`` at ``classical.open_set.quantile``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from actionrec.config.params import Params


def held_out_sets(labels: list[str], k: int, n_subsets: int, seed: int) -> list[list[str]]:
    """``n_subsets`` distinct seeded sets of ``k`` classes (fewer if fewer exist)."""
    from math import comb

    if not 1 <= k <= len(labels) - 2:
        raise ValueError(f"--leave-classes-out {k}: keep at least 2 of the {len(labels)} classes in the set")
    rng, out = np.random.default_rng(seed), list[list[str]]()
    while len(out) < min(n_subsets, comb(len(labels), k)):
        held = sorted(str(c) for c in rng.choice(labels, k, replace=False))
        if held not in out:
            out.append(held)
    return out


def leave_classes_out(params: Params, models: list[str], split: pd.DataFrame, k: int, n_subsets: int) -> dict[str, Any]:
    """Per pooled model: in-set clip accuracy without / with unknown, the drop, the share of
    out-of-set clips called unknown, and the clip counts; pooled over the held-out sets."""
    from sklearn.base import clone

    from actionrec.core.labels import LabelMap
    from actionrec.core.manifests import ModelManifest
    from actionrec.data.corpus import load_recordings, model_inputs, training_inputs, window_samples
    from actionrec.evaluation.metrics import clip_probabilities
    from actionrec.models.classical import classical_models
    from actionrec.models.openset_fit import calibrate_open_set
    from actionrec.models.predictors import Predictor

    known = classical_models(params.classical, params.seed, params.features)
    pooled = [m for m in models if known.get(m, ("",))[0] == "sequence"]
    if not pooled:
        choices = sorted(m for m, (kind, _) in known.items() if kind == "sequence")
        raise ValueError(f"--leave-classes-out needs a pooled model (one of {choices})")
    spec = params.classical.open_set.model_copy(update={"score": params.classical.open_set.score or "max_prob"})
    c = params.classical
    by_id = {r.session_id: r for r in load_recordings(params.data.landmarks_dir)}
    sets = held_out_sets(list(params.data.labels), k, n_subsets, params.seed)
    counts = {m: np.zeros(5, dtype=int) for m in pooled}  # in-set: clips, right, right & known; out: clips, unknown
    for held in sets:
        inset = [label for label in params.data.labels if label not in held]
        labels = LabelMap(inset)
        ins = split[split["label"].isin(inset)]
        fit = ins[ins["subset"].isin(["train", "val"])].assign(subset="train")
        parts = [(g, training_inputs("sequence", p, by_id, params)) for g, p in fit.groupby("group", sort=True)]
        x = np.concatenate([xg for _, (xg, _) in parts])
        y = np.concatenate([labels.encode(n) for _, (_, n) in parts])
        groups = np.concatenate([np.full(len(n), str(g), dtype=object) for g, (_, n) in parts])
        outside = split[~split["label"].isin(inset)].drop_duplicates("session_id").assign(subset="test")
        seqs, _, ids = window_samples(outside, "test", by_id, params.features, c.pooled_window, c.pooled_stride)
        for name in pooled:
            model = clone(known[name][1]).fit(x, y)
            manifest = ModelManifest(
                name=name, kind="sequence", model_file=f"{name}.skops", labels=inset, features=params.features,
                window=c.pooled_window, stride=c.pooled_stride,
                open_set=calibrate_open_set(spec, known[name][1], x, y, groups, len(inset)),
            )  # fmt: skip
            pred = Predictor(name, "sequence", labels, manifest, model)
            inputs, y_test, test_ids = model_inputs(pred, ins, "test", by_id)
            if len(y_test):
                clip_p, clips = clip_probabilities(pred.predict_proba(inputs), test_ids)
                first = {cid: int(y_test[i]) for i, cid in reversed(list(enumerate(test_ids)))}
                right = clip_p.argmax(axis=1) == np.array([first[cid] for cid in clips])
                counts[name][:3] += [len(clips), right.sum(), (right & ~pred.unknown(clip_p)).sum()]
            if seqs:
                out_p, _ = clip_probabilities(pred.predict_proba(seqs), ids)
                counts[name][3:] += [len(out_p), pred.unknown(out_p).sum()]
    return {"k": k, "held_out": sets, "score": spec.score, "quantile": spec.quantile, "models": _figures(counts)}


def _figures(counts: dict[str, np.ndarray]) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    for name, (n_in, right, right_known, n_out, unknown) in counts.items():
        acc, acc_u = right / max(n_in, 1), right_known / max(n_in, 1)
        out[name] = {
            "in_set_clips": int(n_in),
            "in_set_accuracy": round(float(acc), 4),
            "in_set_accuracy_with_unknown": round(float(acc_u), 4),
            "drop": round(float(acc - acc_u), 4),
            "out_of_set_clips": int(n_out),
            "out_of_set_unknown": round(float(unknown / max(n_out, 1)), 4),
        }
    return out


def report_markdown(result: dict[str, Any]) -> str:
    """The open-set table (crossval's folder: openset.md)."""
    sets = "; ".join(", ".join(h) for h in result["held_out"])
    lines = [
        f"# Open set: leave {result['k']} classes out ({len(result['held_out'])} held-out sets)\n",
        f"Score `{result['score']}`, quantile {result['quantile']}. Held out: {sets}. Each model is trained on the "
        "train + val rows of the other classes; in-set figures are on their test rows (a clip called unknown "
        "counts as wrong), out-of-set figures on every clip of the held-out classes.\n",
        "| model | in-set clips | in-set acc | with unknown | drop | out-of-set clips | out-of-set unknown |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in sorted(result["models"].items()):
        lines.append(
            f"| {name} | {m['in_set_clips']} | {m['in_set_accuracy']:.3f} | {m['in_set_accuracy_with_unknown']:.3f} "
            f"| {m['drop']:.3f} | {m['out_of_set_clips']} | {m['out_of_set_unknown']:.3f} |"
        )
    return "\n".join(lines) + "\n"
