"""The README's real-data results table says what reports/realdata/ holds: each row's best model,
best landmark-only model and their figures are recomputed here from the committed reports."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REPORTS = REPO / "reports" / "realdata"
HEADER = "| data, protocol | metric | best model | score | best landmark-only model | score |"
# row's first cell -> (report file, its model -> metrics mapping, the metric)
ROWS = {
    "UCF101-8, official split 1": ("ucf101_full.json", None, "clip_accuracy"),
    "Weizmann, leave-one-actor-out": ("weizmann_full_loao/crossval.json", "models", "clip_accuracy"),
    "Weizmann, leave-one-actor-out, features picked per fold": (
        "weizmann_full_loao/crossval_nested.json",
        "models",
        "clip_accuracy",
    ),
    "Weizmann, 3 held-out actors": ("weizmann_full.json", None, "clip_accuracy"),
    "fencing coords.csv, blocked temporal split": ("fencing.json", None, "sample_accuracy"),
}
METRIC_NAMES = {"clip_accuracy": "clip acc", "sample_accuracy": "window acc"}
NOT_LANDMARK_ONLY = ("appearance", "convlstm", "fusion")  # frames of the video, or fused with them


def _winners(scores: dict[str, float], names: list[str]) -> tuple[set[str], float]:
    best = max(scores[n] for n in names)
    return {n for n in names if round(scores[n], 3) == round(best, 3)}, best


def expected(reports: Path, report: str, section: str | None, metric: str) -> tuple[set[str], float, set[str], float]:
    """The names tied for best (3 decimals) and their score, over all models and landmark-only ones."""
    data = json.loads((reports / report).read_text())
    models = data[section] if section else data
    scores = {name: float(m[metric]) for name, m in models.items()}
    landmark = [n for n in scores if not any(tag in n for tag in NOT_LANDMARK_ONLY)]
    best, score = _winners(scores, list(scores))
    best_lm, score_lm = _winners(scores, landmark)
    return best, score, best_lm, score_lm


def readme_rows() -> dict[str, list[str]]:
    """The README table's rows by their first cell (without its parenthesis)."""
    lines = (REPO / "README.md").read_text().splitlines()
    rows = {}
    for line in lines[lines.index(HEADER) + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].split(" (")[0]] = cells
    return rows


def mismatches(reports: Path) -> list[str]:
    """What the README's table says that ``reports`` does not."""
    rows = readme_rows()
    if set(rows) != set(ROWS):
        return [f"README rows {sorted(rows)} vs the rows this test knows {sorted(ROWS)}"]
    out = []
    for key, (report, section, metric) in ROWS.items():
        _, shown_metric, model, score, model_lm, score_lm = rows[key]
        best, value, best_lm, value_lm = expected(reports, report, section, metric)
        if shown_metric != METRIC_NAMES[metric]:
            out.append(f"{key}: metric {shown_metric!r}, the report's is {METRIC_NAMES[metric]!r}")
        if model.split(" (")[0] not in best or score != f"{value:.3f}":
            out.append(f"{key}: README {model} {score}, {report}: {sorted(best)} {value:.3f}")
        if model_lm not in best_lm or score_lm != f"{value_lm:.3f}":
            out.append(f"{key}: README {model_lm} {score_lm}, {report}: {sorted(best_lm)} {value_lm:.3f}")
    return out


def test_every_row_is_recomputed_from_its_report() -> None:
    assert not mismatches(REPORTS)


def test_a_changed_report_is_caught(tmp_path: Path) -> None:
    """The check can fail: a report whose leader scores differently no longer matches the README."""
    for report, _, _ in ROWS.values():
        (tmp_path / report).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / report).write_bytes((REPORTS / report).read_bytes())
    data = json.loads((tmp_path / "weizmann_full.json").read_text())
    leader = max(data, key=lambda n: data[n]["clip_accuracy"])
    data[leader]["clip_accuracy"] = 0.5 * data[leader]["clip_accuracy"]
    (tmp_path / "weizmann_full.json").write_text(json.dumps(data))
    assert any(m.startswith("Weizmann, 3 held-out actors") for m in mismatches(tmp_path))


def test_the_prose_figures_are_the_reports() -> None:
    """The sentences under the table: the sequence networks', the ConvLSTM's and the open-set figures."""
    readme = " ".join((REPO / "README.md").read_text().split())  # line breaks are spaces
    ucf = json.loads((REPORTS / "ucf101_full.json").read_text())
    weiz = json.loads((REPORTS / "weizmann_full.json").read_text())
    assert f"UCF101: LSTM {ucf['lstm']['clip_accuracy']:.3f}, TCN {ucf['tcn']['clip_accuracy']:.3f}" in readme
    assert f"TCN {weiz['tcn']['clip_accuracy']:.3f}, LSTM {weiz['lstm']['clip_accuracy']:.3f}" in readme
    assert f"reaches {ucf['convlstm']['clip_accuracy']:.3f} on UCF101-8 split 1" in readme
    rf = json.loads((REPORTS / "ucf101_full_openset/openset.json").read_text())["models"]["pooled-rf"]
    said = f"{100 * rf['out_of_set_unknown']:.1f} % of the out-of-set clips"
    assert said in readme and f"pooled-rf at a {100 * rf['drop']:.1f}-point in-set drop" in readme
