"""Honest selection of the pooled models' feature options, on training groups only.

Each candidate of a small grid is scored by group folds of the TRAINING groups it is given
(at most ``MAX_INNER_FOLDS`` folds: a group's fold is its rank modulo the fold count, so up to
that many groups this is leave-one-group-out); the candidate with the best pooled window
accuracy over those folds wins (ties: the earlier, simpler one). The grid (``candidates``) is the
params' own ``features`` and, each on top of them (``kind: body_centred``, ``trajectory: true``):

* ``clip``: ``pooling`` clip_norm, velocity, spectrum 4 (one body frame per window, velocity
  statistics, the first 4 temporal frequencies);
* ``clip+accel``: ``clip`` plus acceleration statistics;
* ``clip+shape``: ``clip+accel`` plus pose joint-pair distances;

each with the params' ``parts`` and with pose only (``/pose``): at most 8 candidates.

``actionrec crossval --nested`` picks per outer fold on the other groups (so the reported
figure never saw its own choice), ``actionrec crossval --select`` once on the split's train and
val groups (never its test groups) and prints the ``dvc exp run -S`` options of the pick. A
temporal split (one recording per class, cut in time) has no groups to hold out: there the two
folds are its train and val blocks (fit on one, score the other).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from actionrec.core.features import FeatureSpec
from actionrec.core.schema import Part

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from actionrec.config.params import Params

MAX_INNER_FOLDS = 8
_CLIP = {"clip_norm": True, "velocity": True, "spectrum": 4, "acceleration": False, "distances": False}
LADDER: tuple[tuple[str, dict[str, Any]], ...] = (
    ("clip", _CLIP),
    ("clip+accel", _CLIP | {"acceleration": True}),
    ("clip+shape", _CLIP | {"acceleration": True, "distances": True}),
)
# group -> (pooled features, encoded labels) of that group's windows
GroupData = dict[str, tuple[np.ndarray, np.ndarray]]


def candidates(features: FeatureSpec) -> dict[str, FeatureSpec]:
    """The grid (module doc): name -> feature spec, duplicates left out, in grid order."""
    out: dict[str, FeatureSpec] = {}
    variants = [("", features.parts)] + ([("/pose", [Part.POSE])] if features.parts != [Part.POSE] else [])
    for suffix, parts in variants:
        base = features.model_dump() | {"parts": parts}
        specs = [("params", base)] + [
            (name, base | {"kind": "body_centred", "trajectory": True, "pooling": pooling}) for name, pooling in LADDER
        ]
        for name, spec in specs:
            built = FeatureSpec.model_validate(spec)
            if built not in out.values():
                out[name + suffix] = built
    return out


def group_data(params: Params, split: pd.DataFrame, by_id: dict, spec: FeatureSpec, by: str = "group") -> GroupData:
    """The training windows of each value of column ``by`` (a group; ``subset`` for a temporal
    split's blocks) under ``spec``, pooled as the pooled models pool them."""
    from actionrec.core.labels import LabelMap
    from actionrec.data.corpus import training_inputs
    from actionrec.models.classical import TemporalPooling

    labels = LabelMap(params.data.labels)
    under = params.model_copy(update={"features": spec})
    pooler = TemporalPooling(params.classical.pooled_window, spec.model_dump_json())
    out: GroupData = {}
    for group, rows in split.groupby(by, sort=True):
        x, names = training_inputs("sequence", rows.assign(subset="train"), by_id, under)
        if names:
            out[str(group)] = (pooler.transform(x), labels.encode(names))
    return out


def inner_accuracy(estimator: Pipeline, data: GroupData) -> float:
    """Pooled window accuracy of ``estimator`` (the model after pooling) over group folds of ``data``."""
    from sklearn.base import clone

    from actionrec.models.openset_fit import fold_ids

    groups = sorted(data)
    folds = fold_ids(np.array(groups), MAX_INNER_FOLDS)
    right = total = 0
    for f in np.unique(folds):
        held = [g for g, k in zip(groups, folds, strict=True) if k == f]
        fit = [g for g in groups if g not in held]
        model = clone(estimator).fit(
            np.concatenate([data[g][0] for g in fit]), np.concatenate([data[g][1] for g in fit])
        )
        for g in held:
            right += int((model.predict(data[g][0]) == data[g][1]).sum())
            total += len(data[g][1])
    return right / max(total, 1)


def pick(estimator: Pipeline, data: dict[str, GroupData]) -> tuple[str, dict[str, float]]:
    """The best candidate of ``data`` (candidate -> the training groups' data; nothing else is
    seen) and every candidate's inner accuracy."""
    if any(len(d) < 2 for d in data.values()):
        raise ValueError("selection needs two or more training groups")
    scores = {name: round(inner_accuracy(estimator, d), 4) for name, d in data.items()}
    return max(scores, key=lambda n: scores[n]), scores  # max keeps the first of equals


def overrides(spec: FeatureSpec) -> list[str]:
    """``dvc exp run -S`` options that set params' ``features`` to ``spec``."""
    p = spec.pooling
    parts = "[" + ",".join(part.value for part in spec.parts) + "]"
    return [
        f"features.kind={spec.kind}",
        f"features.parts={parts}",
        f"features.trajectory={str(spec.trajectory).lower()}",
        f"features.pooling.clip_norm={str(p.clip_norm).lower()}",
        f"features.pooling.velocity={str(p.velocity).lower()}",
        f"features.pooling.spectrum={p.spectrum}",
        f"features.pooling.acceleration={str(p.acceleration).lower()}",
        f"features.pooling.distances={str(p.distances).lower()}",
    ]


def restrict(data: dict[str, GroupData], groups: list[str]) -> dict[str, GroupData]:
    """Each candidate's data of ``groups`` only."""
    return {name: {g: d[g] for g in groups if g in d} for name, d in data.items()}
