"""DVC stage train_tcn: a temporal convolution network on windows of per-frame landmark features."""

from __future__ import annotations

from actionrec.config.params import Params
from actionrec.config.stage import run_stage
from actionrec.models.tcn import LandmarkTCN
from actionrec.training.sequences import train_sequence_stage


@run_stage("train_tcn")
def main(params: Params) -> str:
    p = params.tcn
    return train_sequence_stage(
        params,
        "tcn",
        lambda n_features, n_classes: LandmarkTCN(n_features, n_classes, p.channels, p.levels, p.kernel, p.dropout),
    )


if __name__ == "__main__":
    main()
