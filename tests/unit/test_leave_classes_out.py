"""The leave-classes-out protocol (`actionrec crossval --leave-classes-out K`) on a tiny generated
corpus: every held-out set, every in-set test clip and every held-out class's clip is counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actionrec.config.params import load_params
from actionrec.core.recording import Recording
from actionrec.data.importers.common import write_session_csv
from actionrec.evaluation.leave_classes_out import held_out_sets, leave_classes_out, report_markdown
from tests.unit.test_classical import SMALL
from tests.unit.test_openset import HEAD, JOINTS

CLASSES = {"wave_left": JOINTS[0], "wave_right": JOINTS[1], "kick": JOINTS[2], "nod": HEAD}
ACTORS = {"a0": "train", "a1": "train", "a2": "val", "a3": "test"}
FRAMES = 16


def corpus(tmp_path: Path, random_landmarks) -> pd.DataFrame:
    rows = []
    for c, (label, joints) in enumerate(CLASSES.items()):
        for a, (actor, subset) in enumerate(ACTORS.items()):
            for n in range(2):
                coords = random_landmarks(FRAMES, 33, seed=0)
                rng = np.random.default_rng(100 * c + 10 * a + n)
                coords[:, :, :2] = coords[0, :, :2] + rng.normal(0, 0.003, coords[:, :, :2].shape)
                phase = np.sin(np.linspace(0, 4 * np.pi, FRAMES) + rng.uniform(0, np.pi))
                coords[:, list(joints), 1] += (0.2 * phase).astype(np.float32)[:, None]
                sid = f"{actor}_{label}_{n}"
                path = tmp_path / "landmarks" / f"{sid}.csv"
                path.parent.mkdir(exist_ok=True)
                frames = np.arange(FRAMES)
                write_session_csv(path, Recording(sid, label, coords, frames, frames / 25.0, str(path), actor))
                rows.append((sid, label, actor, str(path), subset, 0, FRAMES, "group"))
    columns = ["session_id", "label", "group", "source", "subset", "start", "stop", "method"]
    return pd.DataFrame(rows, columns=columns)


def test_counts_every_held_out_set_and_clip(tmp_path: Path, random_landmarks, monkeypatch, repo: Path) -> None:
    split = corpus(tmp_path, random_landmarks)
    monkeypatch.chdir(tmp_path)  # no extracted clips here
    base = load_params(repo / "params.yaml")
    classical = SMALL.model_copy(update={"pooled_window": FRAMES, "pooled_stride": FRAMES})
    data = base.data.model_copy(update={"labels": list(CLASSES), "landmarks_dir": tmp_path / "landmarks"})
    params = base.model_copy(update={"data": data, "classical": classical})
    result = leave_classes_out(params, ["pooled-rf", "rf"], split, k=1, n_subsets=9)
    assert sorted(map(tuple, result["held_out"])) == [(c,) for c in sorted(CLASSES)]  # 4 sets: all there are
    assert result["score"] == "max_prob" and list(result["models"]) == ["pooled-rf"]  # pooled models only
    m = result["models"]["pooled-rf"]
    assert m["in_set_clips"] == 4 * 3 * 2  # per set: 3 in-set classes x 2 test clips (actor a3)
    assert m["out_of_set_clips"] == 4 * 4 * 2  # per set: the held-out class's clips of all 4 actors
    assert 0 <= m["in_set_accuracy_with_unknown"] <= m["in_set_accuracy"] <= 1
    assert m["drop"] == pytest.approx(m["in_set_accuracy"] - m["in_set_accuracy_with_unknown"], abs=1e-4)
    assert 0 <= m["out_of_set_unknown"] <= 1
    assert f"| pooled-rf | 24 | {m['in_set_accuracy']:.3f} |" in report_markdown(result)


def test_held_out_sets_are_seeded_distinct_and_keep_two_classes() -> None:
    labels = list("abcdef")
    sets = held_out_sets(labels, 2, 5, seed=3)
    assert sets == held_out_sets(labels, 2, 5, seed=3) and len({tuple(s) for s in sets}) == 5
    assert all(len(s) == 2 and s == sorted(s) for s in sets)
    with pytest.raises(ValueError, match="keep at least 2 of the 6 classes"):
        held_out_sets(labels, 5, 1, seed=0)
