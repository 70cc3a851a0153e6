"""DVC stage train_lstm: an LSTM on windows of per-frame landmark features."""

from __future__ import annotations

from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.models.lstm import LandmarkLSTM
from actionrec.training.sequences import train_sequence_stage


@run_stage("train_lstm")
def main(params: Params) -> str:
    p = params.lstm
    return train_sequence_stage(
        params, "lstm", lambda n_features, n_classes: LandmarkLSTM(n_features, n_classes, p.hidden, p.layers, p.dropout)
    )


if __name__ == "__main__":
    main()
