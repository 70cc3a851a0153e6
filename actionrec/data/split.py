"""Leak-free, deterministic train/val/test splits of recordings into frame segments.

A split is a table of *segments*: rows ``[start, stop)`` of one recording assigned to one
subset. Methods, in order of preference:

* ``official``: the UCF101 split lists (train/test) when present for a clip;
* ``group``: whole recordings, grouped by subject (UCF101 ``gNN``, Weizmann actor,
  ``subject_id``) or by session; no group is on both sides. Each group's subset follows from a
  seeded hash of its id (:func:`group_draw`), so adding recordings never moves the old ones
  (``dvc metrics diff`` then compares like with like), stratified where possible (every class
  and kind of source with two groups or more gets a test and a train group);
* ``temporal``: for a class with fewer than two groups, each recording is cut in time
  (train first, then val, then test) with ``purge_frames`` dropped at each cut;
* ``random_frames``: the leaky frame-level split, only as an explicit opt-in (warns).
"""
from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from actionrec.config import paths
from actionrec.config.params import SplitParams
from actionrec.core.recording import Recording
from actionrec.data.landmarks import DataError

log = logging.getLogger(__name__)

COLUMNS = ["session_id", "label", "group", "source", "subset", "start", "stop", "method"]
SUBSETS = ("train", "val", "test")


LEAK_WARNING = (
    "split.strategy=random_frames puts near-duplicate frames of one session on both sides: "
    "test scores are inflated and say nothing about new sessions"
)


class LeakySplitWarning(UserWarning):
    """A frame-level random split was requested: its test scores are inflated."""


def leak_warning(methods: set[str]) -> str | None:
    """The leak warning when a split used the ``random_frames`` method, else None."""
    return LEAK_WARNING if "random_frames" in methods else None


def _row(rec: Recording, subset: str, start: int, stop: int, method: str) -> dict:
    return {
        "session_id": rec.session_id,
        "label": rec.label,
        "group": rec.group,
        "source": rec.source,
        "subset": subset,
        "start": start,
        "stop": stop,
        "method": method,
    }


def group_draw(group: str, seed: int, purpose: str) -> float:
    """A uniform number in [0, 1) fixed by the group id, the seed and ``purpose`` ("test"/"val"):
    a group's subset never depends on which other groups exist."""
    digest = hashlib.sha256(f"{seed}:{purpose}:{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _held_groups(recs: Sequence[Recording], fraction: float, seed: int, purpose: str) -> set[str]:
    """Groups held out for ``purpose``: those whose :func:`group_draw` is below ``fraction``.

    Stratified where the draws alone miss, per class and kind of source (webcam sessions, video
    clips: models of one input kind see only one of them): a stratum with no held-out group lends
    its group with the lowest draw, and a stratum with every group held out keeps its group with
    the highest draw. Only then can a new group move an old one (its stratum's lender or keeper
    changes)."""
    classes: dict[tuple[str, str], set[str]] = {}
    for r in recs:
        classes.setdefault((r.label, Path(r.source).suffix), set()).add(r.group)
    draw = {g: group_draw(g, seed, purpose) for gs in classes.values() for g in gs}
    held = {g for g, u in draw.items() if u < fraction}
    for label in sorted(classes):
        groups = sorted(classes[label], key=lambda g: (draw[g], g))
        if len(groups) >= 2 and not held & set(groups):
            held.add(groups[0])
    for label in sorted(classes):
        groups = sorted(classes[label], key=lambda g: (draw[g], g))
        if len(groups) >= 2 and set(groups) <= held:
            held.discard(groups[-1])
    return held


def _temporal_rows(rec: Recording, params: SplitParams, with_val: bool) -> list[dict]:
    """Cut one recording in time: train | purge | val | purge | test."""
    n, gap = len(rec), params.purge_frames
    n_cuts = 2 if with_val else 1
    usable = n - n_cuts * gap
    n_test = int(round(usable * params.test_size))
    n_val = int(round((usable - n_test) * params.val_size)) if with_val else 0
    n_train = usable - n_test - n_val
    if min(n_train, n_test) < 1 or (with_val and n_val < 1):
        raise DataError(
            f"{rec.source}: recording {rec.session_id} (class {rec.label}) has {n} frames: too "
            f"few for a temporal split with purge_frames={gap}; record more or lower purge_frames"
        )
    rows = [_row(rec, "train", 0, n_train, "temporal")]
    pos = n_train + gap
    if with_val:
        rows.append(_row(rec, "val", pos, pos + n_val, "temporal"))
        pos += n_val + gap
    rows.append(_row(rec, "test", n - n_test, n, "temporal"))
    return rows


def _random_frame_rows(recs: Sequence[Recording], params: SplitParams, seed: int) -> list[dict]:
    warnings.warn(LEAK_WARNING, LeakySplitWarning, stacklevel=3)
    rng = np.random.default_rng(seed)
    rows = []
    for rec in recs:
        u = rng.random(len(rec))
        subset = np.where(
            u < params.test_size, "test", np.where(u < params.test_size + params.val_size, "val", "train")
        )
        rows += [_row(rec, str(s), i, i + 1, "random_frames") for i, s in enumerate(subset)]
    return rows


def _whole(recs: Sequence[Recording], test_groups: set[str], val_groups: set[str]) -> list[dict]:
    rows = []
    for rec in recs:
        subset = "test" if rec.group in test_groups else "val" if rec.group in val_groups else "train"
        rows.append(_row(rec, subset, 0, len(rec), "group"))
    return rows


def _val_rows(train: list[Recording], params: SplitParams, seed: int, method: str) -> list[dict]:
    """Validation from the training recordings: by group when every class has two, else in time."""
    per_class: dict[str, set[str]] = {}
    for r in train:
        per_class.setdefault(r.label, set()).add(r.group)
    if len({r.group for r in train}) >= 3 and min(map(len, per_class.values())) >= 2:
        val_groups = _held_groups(train, params.val_size, seed, "val")
        rows = _whole(train, set(), val_groups)
    else:
        rows = []
        for rec in train:
            n_val = max(1, int(round(len(rec) * params.val_size)))
            cut = len(rec) - n_val
            if cut - params.purge_frames < 1:
                rows.append(_row(rec, "train", 0, len(rec), method))
                continue
            rows += [
                _row(rec, "train", 0, cut - params.purge_frames, method),
                _row(rec, "val", cut, len(rec), method),
            ]
    for row in rows:
        row["method"] = method
    return rows


def make_split(
    recordings: Sequence[Recording],
    params: SplitParams,
    seed: int,
    official: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Assign every recording (or part of one) to train/val/test; see the module docstring."""
    if params.strategy == "random_frames":
        return pd.DataFrame(_random_frame_rows(recordings, params, seed), columns=COLUMNS)
    official = official or {}
    listed = [r for r in recordings if r.session_id in official]
    rest = [r for r in recordings if r.session_id not in official]
    rows: list[dict] = []
    if listed:
        rows += [_row(r, "test", 0, len(r), "official") for r in listed if official[r.session_id] == "test"]
        train = [r for r in listed if official[r.session_id] == "train"]
        rows += _val_rows(train, params, seed, "official")

    by_class: dict[str, set[str]] = {}
    for r in rest:
        by_class.setdefault(r.label, set()).add(r.group)
    grouped = [r for r in rest if len(by_class[r.label]) >= 2]
    temporal = [r for r in rest if len(by_class[r.label]) < 2]
    if grouped:
        test_groups = _held_groups(grouped, params.test_size, seed, "test")
        rows += [row for row in _whole(grouped, test_groups, set()) if row["subset"] == "test"]
        train = [r for r in grouped if r.group not in test_groups]
        rows += _val_rows(train, params, seed, "group")
    for rec in temporal:
        rows += _temporal_rows(rec, params, with_val=True)
    split = pd.DataFrame(rows, columns=COLUMNS)
    return split.sort_values(["session_id", "start"], kind="stable").reset_index(drop=True)


def check_no_leak(split: pd.DataFrame) -> None:
    """Raise when a group of a group/official split has recordings on both train and test."""
    whole = split[split["method"].isin(["group", "official"])]
    train = set(whole.loc[whole["subset"].isin(["train", "val"]), "group"])
    test = set(whole.loc[whole["subset"] == "test", "group"])
    leaked = sorted(train & test)
    if leaked:
        raise AssertionError(f"groups on both sides of the split: {leaked[:10]}")


def split_summary(split: pd.DataFrame) -> pd.DataFrame:
    """Per class and subset: recordings, frames and methods used."""
    frames = split.assign(frames=split["stop"] - split["start"])
    return (
        frames.groupby(["label", "subset"])
        .agg(recordings=("session_id", "nunique"), frames=("frames", "sum"),
             method=("method", lambda m: ",".join(sorted(set(m)))))
        .reset_index()
    )


def read_official_split(directory: Path, index: int) -> dict[str, str]:
    """Clip stem -> 'train'/'test' from UCF101 ``trainlist0N.txt``/``testlist0N.txt`` if present."""
    out: dict[str, str] = {}
    for subset in ("train", "test"):
        path = directory / f"{subset}list{index:02d}.txt"
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            entry = line.strip().split(" ")[0]
            if entry:
                out[Path(entry).stem] = subset
    return out


def official_assignments(recordings: Sequence[Recording], directory: Path, index: int | None) -> dict[str, str]:
    """:func:`read_official_split` of split list ``index`` (none: no official split), warning about
    listed clips that are not among ``recordings`` (missing or excluded)."""
    if index is None:
        return {}
    official = read_official_split(directory, index)
    missing = sorted(set(official) - {r.session_id for r in recordings})
    if missing:
        log.warning("%d clips listed in %s split %d are missing or were excluded: %s",
                    len(missing), directory, index, ", ".join(missing[:10]))
    return official


def split_report(split: pd.DataFrame, strategy: str) -> dict:
    """reports/split.json: the strategy, the methods used, the leak warning (None unless the split
    is a frame split), the classes split in time, per-class counts."""
    return {
        "strategy": strategy,
        "methods": sorted(set(split["method"])),
        "leak_warning": leak_warning(set(split["method"])),
        "temporal_classes": sorted(set(split.loc[split["method"] == "temporal", "label"])),
        "per_class": split_summary(split).to_dict(orient="records"),
    }


def split_tags(path: Path = paths.SPLIT) -> dict[str, str]:
    """MLflow tags of the split a run trains on: ``split.methods``, and ``split.leak_warning``
    when it is a frame split (the run itself then says its scores are inflated)."""
    methods = set(read_split(path)["method"])
    tags = {"split.methods": ",".join(sorted(methods))}
    if warning := leak_warning(methods):
        tags["split.leak_warning"] = warning
    return tags


def read_split(path: Path = paths.SPLIT) -> pd.DataFrame:
    """The split manifest the split stage wrote (ids, groups and labels as strings)."""
    return pd.read_csv(path, dtype={"session_id": str, "group": str, "label": str})
