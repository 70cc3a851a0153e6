"""Where the pipeline keeps its data, models and reports, relative to the repository root.

raw (DVC-added inputs) -> interim (extraction) -> processed (split: the usable corpus and the
manifest) -> models -> reports; the live bundle is ``models/package``. ``params.yaml: data`` may
point the raw inputs elsewhere.
"""

from __future__ import annotations

from pathlib import Path

RAW_LANDMARKS = Path("data/raw/landmarks")
RAW_VIDEOS = Path("data/raw/videos")

INTERIM = Path("data/interim")
INTERIM_LANDMARKS = INTERIM / "landmarks"
INTERIM_CLIPS = INTERIM / "clips"

PROCESSED = Path("data/processed")
SPLIT = PROCESSED / "split.csv"
PARAMS_CHECKED = PROCESSED / "params.checked"
CORPUS = PROCESSED / "corpus"  # the usable extracted clips (what training and evaluation read)
CORPUS_LANDMARKS = CORPUS / "landmarks"
CORPUS_CLIPS = CORPUS / "clips"

MODELS = Path("models")
CLASSICAL_MODELS = MODELS / "classical"
LSTM_MODELS = MODELS / "lstm"
CONVLSTM_MODELS = MODELS / "convlstm"
PACKAGE = MODELS / "package"

REPORTS = Path("reports")
METRICS = REPORTS / "metrics.json"
SUMMARY = REPORTS / "summary.json"
LEADERBOARD = REPORTS / "leaderboard.md"
PREDICTIONS = REPORTS / "predictions"
CONFUSION = REPORTS / "confusion"
PER_CLASS = REPORTS / "per_class"
CURVES = REPORTS / "curves"
SPLIT_REPORT = REPORTS / "split.json"
VALIDATION_REPORTS = REPORTS / "validation"
CROSSVAL_REPORTS = REPORTS / "crossval"
