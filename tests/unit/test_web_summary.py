"""The web app's clip label: the model's open-set "unknown" (as live decides it per prediction)
wins when most predictions say it; else the best mean probability, or "uncertain" below the threshold."""

from __future__ import annotations

from pathlib import Path

import pytest

from actionrec.core.manifests import LiveSettings
from actionrec.models.openset import UNKNOWN
from actionrec.serving.recognizer import UNCERTAIN, Prediction
from actionrec.serving.web.app import BundleInfo, summarise

LABELS = ["Lean", "Nod"]


def preds(labels: list[str], p_lean: float) -> list[Prediction]:
    probs = {"Lean": p_lean, "Nod": 1 - p_lean}
    return [Prediction(i / 10, i, lab, max(probs.values()), probs) for i, lab in enumerate(labels)]


@pytest.mark.parametrize(
    ("labels", "p_lean", "expected"),
    [
        (["Lean"] * 4, 0.9, "Lean"),
        ([UNKNOWN] * 3 + ["Lean"], 0.9, UNKNOWN),  # most predictions unknown: the clip is unknown
        ([UNKNOWN] * 2 + ["Lean"] * 2, 0.9, "Lean"),  # half is not most
        (["Lean"] * 4, 0.55, UNCERTAIN),  # below the bundle's threshold
    ],
)
def test_clip_label(labels: list[str], p_lean: float, expected: str) -> None:
    info = BundleInfo(Path("b"), LABELS, {"sequence": "s"}, LiveSettings(threshold=0.6))
    result = summarise(preds(labels, p_lean), info, duration=1.0)
    assert result["label"] == expected and result["best_guess"] == "Lean"
    assert info.colour(UNKNOWN) != info.colour(UNCERTAIN) != info.colour("Lean")
