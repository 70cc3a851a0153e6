"""DVC stage evaluate: every trained model on the held-out split, one leaderboard."""

from __future__ import annotations

from actionrec.config import paths
from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.core.io import write_json, write_text
from actionrec.core.labels import LabelMap
from actionrec.data.split import read_split
from actionrec.evaluation.leaderboard import leaderboard_markdown, split_note
from actionrec.evaluation.run import evaluate_models, headline, summary_line, write_model_reports


@run_stage("evaluate")
def main(params: Params) -> str:
    split = read_split(paths.SPLIT)
    evaluation = evaluate_models(params, split)
    write_model_reports(evaluation, LabelMap(params.data.labels))
    rank_by = params.evaluate.rank_by
    ranked = evaluation.ranked(rank_by)
    write_json(paths.METRICS, evaluation.metrics)
    write_json(paths.SUMMARY, headline(ranked[0] if ranked else None))
    note = split_note(set(split["method"]))
    write_text(paths.LEADERBOARD, leaderboard_markdown(evaluation.common, evaluation.own, rank_by, note))
    return summary_line(evaluation, rank_by)


if __name__ == "__main__":
    main()
