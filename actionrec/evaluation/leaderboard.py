"""Every model's figures on its own and on the shared test recordings, and reports/leaderboard.md."""

from __future__ import annotations

from actionrec.config import paths
from actionrec.core.labels import LabelMap
from actionrec.data.split import leak_warning
from actionrec.evaluation.metrics import flat_scores, recording_set_id, restrict


def score_tables(
    results: dict[str, dict], kinds: dict[str, str], labels: LabelMap
) -> tuple[dict, list[dict], list[dict]]:
    """Every model's figures on its own test recordings and on those that every model scores.

    Returns ``(metrics, own, common)``: ``metrics[model]`` is its reports/metrics.json entry (own
    figures, ``n_samples``, ``n_clips``, ``test_set`` and, when the models share recordings,
    ``common``: the figures on the shared ones); ``own`` and ``common`` are leaderboard rows."""
    shared = set.intersection(*(set(r["clip_proba"]) for r in results.values())) if results else set()
    shared_id = recording_set_id(sorted(shared))
    metrics, own, common = {}, [], []
    for key, result in results.items():
        flat, set_id = flat_scores(result), recording_set_id(list(result["clip_proba"]))
        row = {"model": key, "kind": kinds[key], "test_set": set_id, "n_clips": result["n_clips"]}
        own.append({**row, **flat})
        metrics[key] = {**flat, "n_samples": result["n_samples"], "n_clips": result["n_clips"], "test_set": set_id}
        if shared:
            on_shared = flat_scores(restrict(result, shared, labels))
            common.append({**row, "test_set": shared_id, "n_clips": len(shared), **on_shared})
            metrics[key]["common"] = {**on_shared, "n_clips": len(shared), "test_set": shared_id}
    return metrics, own, common


OPEN_SET_NOTE = (
    '\nOpen set ("unknown" for actions outside the label set): the pooled models\' in-set accuracy without / '
    "with unknown and the share of held-out classes' clips called unknown are in "
    f"`{paths.CROSSVAL_REPORTS}/openset.md`, written by `actionrec crossval --leave-classes-out K` "
    "(not a pipeline stage: it refits every pooled model per held-out set).\n"
)

_HEAD = (
    "| rank | model | input | test set | test clips | clip acc | clip macro-F1 | sample acc | sample macro-F1 |\n"
    "|---:|---|---|---|---:|---:|---:|---:|---:|\n"
)


def _table(rows: list[dict], rank_by: str) -> str:
    rows = sorted(rows, key=lambda r: (-r[rank_by], r["model"]))
    return _HEAD + "".join(
        f"| {i} | {r['model']} | {r['kind']} | `{r['test_set']}` | {r['n_clips']} | {r['clip_accuracy']:.3f} "
        f"| {r['clip_macro_f1']:.3f} | {r['sample_accuracy']:.3f} | {r['sample_macro_f1']:.3f} |\n"
        for i, r in enumerate(rows, start=1)
    )


def split_note(methods: set[str]) -> str:
    """The leaderboard's line on the split: its methods, and the leak warning of a frame split."""
    note = f"Split methods: {', '.join(sorted(methods))} (see {paths.SPLIT_REPORT})."
    if warning := leak_warning(methods):
        note += f"\n\n**Warning: {warning}.**"
    return note


def leaderboard_markdown(common: list[dict], own: list[dict], rank_by: str, split_note: str) -> str:
    """reports/leaderboard.md: one ranking of every model on the test recordings they all score
    (``common`` rows), then one table per test set (``own`` rows: each model on all the test
    recordings it can score; models whose inputs cover the same recordings share a table)."""
    text = f"# Leaderboard\n\nRanked by `{rank_by}`; every figure names the test set it is on. {split_note}\n\n"
    if common:
        first = common[0]
        text += (
            f"## Every model on the same {first['n_clips']} test recordings (set `{first['test_set']}`)\n\n"
            "The recordings that every model below can score: the one ranking that compares all of them.\n\n"
            + _table(common, rank_by)
            + "\n"
        )
    else:
        text += (
            "## Every model on the same test recordings\n\n"
            "No test recording is scored by every model: no common ranking.\n\n"
        )
    text += "## Each test set on its own\n\n"
    by_set: dict[str, list[dict]] = {}
    for r in own:
        by_set.setdefault(r["test_set"], []).append(r)
    for set_id in sorted(by_set, key=lambda s: (-max(r["n_clips"] for r in by_set[s]), s)):
        rows = by_set[set_id]
        kinds = ", ".join(sorted({r["kind"] for r in rows}))
        text += f"### Set `{set_id}`: {rows[0]['n_clips']} test recordings ({kinds})\n\n" + _table(rows, rank_by) + "\n"
    return text + (
        "Samples are frames (classical), windows (LSTM) or clips (ConvLSTM, appearance); clip-level scores "
        "average the sample probabilities of each test recording. `fusion` averages the clip probabilities "
        "of the models in its input column (`evaluate.fusion`). A set's id is a digest of its recordings' ids.\n"
        + OPEN_SET_NOTE
    )
