"""Leak-free, deterministic splits; the leaky opt-in warns; UCF101 official lists; samples."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actionrec.config.params import SplitParams
from actionrec.core.features import FeatureSpec
from actionrec.core.recording import Recording
from actionrec.data.corpus import frame_samples, window_samples
from actionrec.data.landmarks import DataError
from actionrec.data.split import (
    COLUMNS,
    LeakySplitWarning,
    check_no_leak,
    group_draw,
    make_split,
    read_official_split,
    split_summary,
)

CLASSES = ("Nod", "Shake", "Tilt")


def make_rec(session_id: str, label: str, n: int = 60, subject: str | None = None, seed: int = 0) -> Recording:
    rng = np.random.default_rng(seed)
    coords = rng.uniform(0.2, 0.8, (n, 33, 4)).astype(np.float32)
    coords[:, 0, 0] = np.arange(n)  # frame index marker, to check which frames a sample took
    return Recording(
        session_id=session_id,
        label=label,
        coords=coords,
        frames=np.arange(n),
        timestamps=np.arange(n) / 30.0,
        source=f"data/{session_id}.csv",
        subject_id=subject,
    )


def subject_corpus(n_subjects: int = 6, sessions: int = 2, classes=CLASSES) -> list[Recording]:
    """Every subject records ``sessions`` sessions of every class."""
    return [
        make_rec(f"s{s}-{c.lower()}-{k}", c, n=40 + 3 * k + s, subject=f"s{s}", seed=s * 100 + k)
        for s in range(n_subjects)
        for c in classes
        for k in range(sessions)
    ]


def frame_owners(split: pd.DataFrame) -> pd.Series:
    """How many segments cover each (session, frame)."""
    rows = [(r.session_id, f) for r in split.itertuples() for f in range(r.start, r.stop)]
    return pd.Series(rows).value_counts()


PARAMS = SplitParams(test_size=0.3, val_size=0.2, purge_frames=5)


# --------------------------------------------------------------------------- group splits


def test_group_split_no_subject_on_both_sides() -> None:
    recs = subject_corpus()
    split = make_split(recs, PARAMS, seed=0)
    assert list(split.columns) == COLUMNS
    check_no_leak(split)
    train = set(split.loc[split["subset"].isin(["train", "val"]), "group"])
    test = set(split.loc[split["subset"] == "test", "group"])
    assert train and test and not (train & test)
    assert set(split["method"]) == {"group"}
    assert set(split["subset"]) == {"train", "val", "test"}
    # every class is both trained on and tested
    for subset in ("train", "test"):
        assert set(split.loc[split["subset"] == subset, "label"]) == set(CLASSES)


def test_every_recording_assigned_and_no_frame_twice() -> None:
    recs = subject_corpus()
    split = make_split(recs, PARAMS, seed=3)
    assert set(split["session_id"]) == {r.session_id for r in recs}
    assert frame_owners(split).max() == 1
    by_id = {r.session_id: r for r in recs}
    assert all(0 <= r.start < r.stop <= len(by_id[r.session_id]) for r in split.itertuples())
    # group splits keep whole recordings
    assert (split["stop"] - split["start"]).sum() == sum(len(r) for r in recs)


@pytest.mark.parametrize("per_class", [2, 5])
def test_sessions_are_groups_without_subjects(per_class: int) -> None:
    recs = [make_rec(f"{c}-{k}", c) for c in CLASSES for k in range(per_class)]
    split = make_split(recs, PARAMS, seed=0)
    check_no_leak(split)
    assert set(split["group"]) == {r.session_id for r in recs}
    test = set(split.loc[split["subset"] == "test", "session_id"])
    fit = set(split.loc[split["subset"] != "test", "session_id"])
    assert test and not test & fit  # val may be cut in time from a class's only train session


def test_deterministic_for_a_seed() -> None:
    recs = subject_corpus(n_subjects=8)
    first = make_split(recs, PARAMS, seed=7)
    second = make_split(list(recs), PARAMS, seed=7)
    pd.testing.assert_frame_equal(first, second)


def test_different_seeds_can_differ() -> None:
    recs = subject_corpus(n_subjects=10, sessions=1)
    tests = {frozenset(make_split(recs, PARAMS, seed=s).query("subset == 'test'")["group"]) for s in range(6)}
    assert len(tests) > 1


def test_test_share_roughly_as_asked() -> None:
    """Each group is drawn on its own (a seeded hash): the share is as asked over many groups."""
    recs = subject_corpus(n_subjects=200, sessions=1)
    split = make_split(recs, PARAMS, seed=0)
    share = split.query("subset == 'test'")["group"].nunique() / 200
    assert 0.24 <= share <= 0.36


def _subsets(split: pd.DataFrame) -> dict[tuple[str, int], str]:
    return {(r.session_id, r.start): r.subset for r in split.itertuples()}


@pytest.mark.parametrize("new_subject", ["s-new", "s3"])
def test_adding_a_recording_keeps_every_old_subset(new_subject: str) -> None:
    """A new session (of a new subject, or of one already in the data) lands somewhere; every
    recording that was there keeps its subset, so metrics before and after compare like with like."""
    recs = subject_corpus(n_subjects=8)
    before = _subsets(make_split(recs, PARAMS, seed=42))
    after = _subsets(make_split([*recs, make_rec("added", "Nod", subject=new_subject, seed=999)], PARAMS, seed=42))
    assert {k: after[k] for k in before} == before
    assert ("added", 0) in after
    if new_subject == "s3":  # the subject's other recordings decide where it goes: no leak
        assert after[("added", 0)] == before[("s3-nod-0", 0)]


@pytest.mark.parametrize("seed", range(4))
def test_adding_sessions_moves_only_a_class_s_lent_test_group(seed: int) -> None:
    """Sessions as groups (no subjects), rounds of new data. A recording moves only when its class
    had no group drawn into test (or val) and lent its lowest-drawn one, and a new group now takes
    that place (stratification); every other old recording keeps its subset."""
    recs = [make_rec(f"{c}-{k}", c, seed=k) for c in CLASSES for k in range(6)]
    split = make_split(recs, PARAMS, seed=seed)
    for round_ in range(3):
        recs = recs + [make_rec(f"{c}-new{round_}", c, seed=50 + round_) for c in CLASSES]
        grown = make_split(recs, PARAMS, seed=seed)
        old, new = _subsets(split), _subsets(grown)
        moved = {sid for (sid, _), subset in old.items() if new[(sid, 0)] != subset}
        lent = {
            g
            for purpose, share in (("test", PARAMS.test_size), ("val", PARAMS.val_size))
            for g in split.loc[split["subset"] == purpose, "group"]
            if group_draw(g, seed, purpose) >= share
        }
        assert moved <= lent, f"round {round_}: {sorted(moved - lent)} moved"
        for label in CLASSES:  # every class is still trained on and tested
            assert {"train", "test"} <= set(grown.loc[grown["label"] == label, "subset"])
        split = grown


# --------------------------------------------------------------------------- temporal fallback


def test_single_group_class_falls_back_to_temporal() -> None:
    recs = subject_corpus(n_subjects=5, sessions=1) + [make_rec("solo", "Wave", n=100, subject="only")]
    params = SplitParams(test_size=0.3, val_size=0.2, purge_frames=10)
    split = make_split(recs, params, seed=0)
    solo = split[split["session_id"] == "solo"].set_index("subset")
    assert set(solo["method"]) == {"temporal"}
    assert set(solo.index) == {"train", "val", "test"}
    train, val, test = solo.loc["train"], solo.loc["val"], solo.loc["test"]
    assert train["start"] == 0 and test["stop"] == 100
    assert train["stop"] <= test["start"] - params.purge_frames
    assert val["start"] - train["stop"] >= params.purge_frames
    assert test["start"] - val["stop"] >= params.purge_frames
    assert min(train["stop"] - train["start"], val["stop"] - val["start"], test["stop"] - test["start"]) >= 1
    assert frame_owners(split).max() == 1
    # the other classes still split by group, without leaks
    others = split[split["session_id"] != "solo"]
    assert set(others["method"]) == {"group"}
    check_no_leak(split)


def test_temporal_split_of_two_sessions_by_one_subject() -> None:
    recs = [make_rec(f"a{k}", "Nod", n=80, subject="alice") for k in range(2)]
    split = make_split(recs, PARAMS, seed=0)
    assert set(split["method"]) == {"temporal"}
    for _, rows in split.groupby("session_id"):
        rows = rows.set_index("subset")
        assert rows.loc["train", "stop"] + PARAMS.purge_frames <= rows.loc["test", "start"]


def test_too_short_recording_for_temporal_split_is_named() -> None:
    recs = [make_rec("tiny-session", "Wave", n=12, subject="x")]
    with pytest.raises(DataError, match=r"tiny-session.*12 frames.*purge_frames=10"):
        make_split(recs, SplitParams(purge_frames=10), seed=0)


# --------------------------------------------------------------------------- leaky opt-in


def test_random_frames_warns_and_is_leaky() -> None:
    recs = subject_corpus(n_subjects=3, sessions=1)
    with pytest.warns(LeakySplitWarning, match="inflated"):
        split = make_split(recs, SplitParams(strategy="random_frames"), seed=0)
    assert set(split["method"]) == {"random_frames"}
    assert frame_owners(split).max() == 1
    assert split.groupby("session_id")["subset"].nunique().max() == 3  # sessions on all sides


def test_group_split_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", LeakySplitWarning)
        make_split(subject_corpus(n_subjects=4, sessions=1), PARAMS, seed=0)


# --------------------------------------------------------------------------- official lists


def ucf_corpus() -> tuple[list[Recording], dict[str, str]]:
    recs, official = [], {}
    for c in ("Archery", "Basketball"):
        for g in range(1, 11):
            for clip in (1, 2):
                sid = f"v_{c}_g{g:02d}_c{clip:02d}"
                recs.append(make_rec(sid, c, n=30, subject=f"g{g:02d}"))
                official[sid] = "test" if g <= 3 else "train"
    return recs, official


def test_official_split_respected() -> None:
    recs, official = ucf_corpus()
    split = make_split(recs, PARAMS, seed=0, official=official)
    assert set(split["method"]) == {"official"}
    test_ids = set(split.loc[split["subset"] == "test", "session_id"])
    assert test_ids == {k for k, v in official.items() if v == "test"}
    train_ids = set(split.loc[split["subset"].isin(["train", "val"]), "session_id"])
    assert train_ids == {k for k, v in official.items() if v == "train"}
    assert "val" in set(split["subset"])
    check_no_leak(split)


def test_official_split_with_unlisted_clips_grouped() -> None:
    recs, official = ucf_corpus()
    extra = [make_rec(f"v_Extra_g{g:02d}_c01", "Extra", n=30, subject=f"x{g}") for g in range(6)]
    split = make_split(recs + extra, PARAMS, seed=0, official=official)
    assert set(split.loc[split["label"] == "Extra", "method"]) == {"group"}
    assert set(split.loc[split["label"] != "Extra", "method"]) == {"official"}
    check_no_leak(split)


# --------------------------------------------------------------------------- check_no_leak


def test_check_no_leak_raises_on_leaky_manifest() -> None:
    rows = [
        ["a1", "Nod", "alice", "a1.csv", "train", 0, 50, "group"],
        ["b1", "Nod", "bob", "b1.csv", "test", 0, 50, "group"],
        ["a2", "Shake", "alice", "a2.csv", "test", 0, 50, "group"],
    ]
    leaky = pd.DataFrame(rows, columns=COLUMNS)
    with pytest.raises(AssertionError, match="alice"):
        check_no_leak(leaky)
    leaky.loc[0, "subset"] = "val"  # validation counts as training side
    with pytest.raises(AssertionError, match="alice"):
        check_no_leak(leaky)
    check_no_leak(leaky[leaky["session_id"] != "a2"])


def test_split_summary_counts() -> None:
    recs = subject_corpus(n_subjects=5, sessions=1)
    split = make_split(recs, PARAMS, seed=0)
    summary = split_summary(split)
    assert summary["frames"].sum() == sum(len(r) for r in recs)
    assert set(summary["subset"]) <= {"train", "val", "test"}


# --------------------------------------------------------------------------- read_official_split


def test_read_official_split_parses_ucf_lists(tmp_path: Path) -> None:
    (tmp_path / "trainlist01.txt").write_bytes(
        b"ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1\r\nArchery/v_Archery_g09_c02.avi 3\r\n\r\n"
    )
    (tmp_path / "testlist01.txt").write_bytes(
        b"ApplyEyeMakeup/v_ApplyEyeMakeup_g01_c01.avi\r\nArchery/v_Archery_g02_c01.avi\r\n"
    )
    (tmp_path / "testlist02.txt").write_bytes(b"Archery/v_Archery_g09_c02.avi\r\n")
    split = read_official_split(tmp_path, 1)
    assert split == {
        "v_ApplyEyeMakeup_g08_c01": "train",
        "v_Archery_g09_c02": "train",
        "v_ApplyEyeMakeup_g01_c01": "test",
        "v_Archery_g02_c01": "test",
    }
    assert read_official_split(tmp_path, 2) == {"v_Archery_g09_c02": "test"}
    assert read_official_split(tmp_path, 3) == {}


@pytest.mark.realdata
def test_read_real_official_split(shared_data: Path) -> None:
    split = read_official_split(shared_data / "ucf101_splits", 1)
    assert split["v_ApplyEyeMakeup_g08_c01"] == "train"
    assert split["v_ApplyEyeMakeup_g01_c01"] == "test"
    assert all(not k.endswith((".avi", "\r")) for k in split)


# --------------------------------------------------------------------------- samples of a split


def test_frame_samples_follow_the_segments() -> None:
    recs = [make_rec("solo", "Wave", n=100, subject="only")]
    split = make_split(recs, SplitParams(purge_frames=10), seed=0)
    by_id = {r.session_id: r for r in recs}
    spec = FeatureSpec(kind="none")
    seen = []
    for subset in ("train", "val", "test"):
        x, labels, ids = frame_samples(split, subset, by_id, spec)
        row = split[split["subset"] == subset].iloc[0]
        assert x.shape == (row["stop"] - row["start"], spec.n_features)
        np.testing.assert_array_equal(x[:, 0], np.arange(row["start"], row["stop"]))
        assert labels == ["Wave"] * len(x) and ids == ["solo"] * len(x)
        seen += list(x[:, 0])
    assert len(seen) == len(set(seen))
    x, labels, ids = frame_samples(split.iloc[0:0], "test", by_id, spec)
    assert x.shape == (0, spec.n_features) and labels == [] and ids == []


def test_window_samples_windows_and_short_segments() -> None:
    recs = [make_rec("long", "Nod", n=50), make_rec("short", "Shake", n=8)]
    split = pd.DataFrame(
        [
            ["long", "Nod", "long", "x", "train", 10, 50, "group"],
            ["short", "Shake", "short", "x", "train", 0, 8, "group"],
        ],
        columns=COLUMNS,
    )
    by_id = {r.session_id: r for r in recs}
    seqs, labels, ids = window_samples(split, "train", by_id, FeatureSpec(kind="none"), window=20, stride=10)
    # 40 frames, window 20, stride 10 -> starts 0, 10, 20; then one short window of 8
    assert [len(s) for s in seqs] == [20, 20, 20, 8]
    assert [s[0, 0] for s in seqs] == [10, 20, 30, 0]
    assert labels == ["Nod"] * 3 + ["Shake"] and ids == ["long"] * 3 + ["short"]
