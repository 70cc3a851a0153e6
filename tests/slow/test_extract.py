"""Extraction runner: cache, invalidation, removal, per-clip errors, atomicity, workers.

Tests marked ``slow`` run real MediaPipe Holistic on small generated demo clips.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from actionrec.config.extraction import ClipParams, ExtractParams
from actionrec.core.schema import Part, part_slice
from actionrec.data.clips import ClipRef, ucf_group
from actionrec.data.demo.videos import render_clip
from actionrec.data.extracted import recording_from_npz
from actionrec.extraction import outputs
from actionrec.extraction.cache import cache_key, save_npz
from actionrec.extraction.compute import extract_video_landmarks
from actionrec.extraction.run import run_extraction
from actionrec.media.holistic import make_holistic
from actionrec.media.video import write_video

N_FRAMES = 10


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ClipRef]:
    """Two demo clips with a person, a corrupt file and a person-less (uniform grey) clip."""
    root = tmp_path_factory.mktemp("videos")
    refs = {}
    for label, seed in (("Nod", 1), ("Shake", 2)):
        path = root / label / f"v_{label}_g0{seed}_c01.avi"
        write_video(path, render_clip(label, np.random.default_rng(seed), N_FRAMES, (160, 120)), fps=25)
        refs[label] = ClipRef(path, label, f"g0{seed}")
    corrupt = root / "Nod" / "v_Nod_g03_c01.avi"
    corrupt.write_bytes(np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    grey = write_video(
        root / "Shake" / "v_Shake_g04_c01.avi",
        [np.full((120, 160, 3), 128, np.uint8)] * N_FRAMES,
        25,
    )
    refs["corrupt"] = ClipRef(corrupt, "Nod", "g03")
    refs["grey"] = ClipRef(grey, "Shake", "g04")
    return refs


def _npz_bytes(out_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out_dir)): p.read_bytes() for p in sorted(out_dir.rglob("*.npz"))}


def _params(**kw: object) -> ExtractParams:
    return ExtractParams(**{"max_frames": N_FRAMES, **kw})


@pytest.mark.slow
def test_landmarks_cache_errors_and_removal(videos: dict[str, ClipRef], tmp_path: Path) -> None:
    clips = list(videos.values())
    out, cache = tmp_path / "out", tmp_path / "cache"

    first = run_extraction(clips, out, cache, _params(workers=2), "landmarks")
    by_clip = first.set_index("clip")
    assert first["status"].tolist() == ["ok", "ok", "decode_error", "no_person"]
    assert not first["cached"].any()
    for name, clip in (("corrupt", videos["corrupt"]), ("grey", videos["grey"])):
        assert clip.path.name in by_clip.loc[clip.path.stem, "message"], name
    assert (first.loc[first["status"] == "ok", "pose_rate"] >= 0.9).all()
    assert set(_npz_bytes(out)) == {"Nod/v_Nod_g01_c01.npz", "Shake/v_Shake_g02_c01.npz"}
    assert pd.read_csv(out / "index.csv")["status"].tolist() == first["status"].tolist()

    with np.load(out / "Nod/v_Nod_g01_c01.npz") as data:
        assert sorted(data.files) == ["coords", "fps", "frame_index"]
        assert data["coords"].shape == (N_FRAMES, 543, 4) and data["coords"].dtype == np.float32
        assert data["frame_index"].tolist() == list(range(N_FRAMES)) and float(data["fps"]) == 25.0
    rec = recording_from_npz(out / "Nod/v_Nod_g01_c01.npz", "Nod", "g01")
    assert rec.session_id == "v_Nod_g01_c01" and rec.group == "g01" and len(rec) == N_FRAMES
    assert rec.timestamps[1] == pytest.approx(1 / 25)

    index_bytes, npz = (out / "index.csv").read_bytes(), _npz_bytes(out)
    second = run_extraction(clips, out, cache, _params(workers=2), "landmarks")
    assert second["cached"].all(), "errors and results are served from the cache"
    assert (out / "index.csv").read_bytes() == index_bytes and _npz_bytes(out) == npz

    changed = run_extraction(clips, out, cache, _params(workers=2, max_frames=N_FRAMES // 2), "landmarks")
    assert not changed["cached"].any()
    assert changed.loc[changed["status"] == "ok", "n_frames"].tolist() == [N_FRAMES // 2] * 2

    only_nod = run_extraction([videos["Nod"]], out, cache, _params(workers=2), "landmarks")
    assert only_nod["cached"].all() and len(only_nod) == 1
    assert set(_npz_bytes(out)) == {"Nod/v_Nod_g01_c01.npz"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out"], "no staging dirs left"


@pytest.mark.slow
def test_one_worker_equals_two_workers(videos: dict[str, ClipRef], tmp_path: Path) -> None:
    clips = [videos["Nod"], videos["Shake"]]
    one = run_extraction(clips, tmp_path / "one", tmp_path / "c1", _params(workers=1), "landmarks")
    two = run_extraction(clips, tmp_path / "two", tmp_path / "c2", _params(workers=2), "landmarks")
    pd.testing.assert_frame_equal(one, two)
    assert _npz_bytes(tmp_path / "one") == _npz_bytes(tmp_path / "two")


@pytest.mark.slow
def test_reused_holistic_equals_fresh_one(videos: dict[str, ClipRef]) -> None:
    params = _params()
    reused = make_holistic(params)
    for clip in (videos["Shake"], videos["Nod"]):
        with make_holistic(params) as fresh:
            expected, _ = extract_video_landmarks(clip.path, params, fresh)
        got, _ = extract_video_landmarks(clip.path, params, reused)
        np.testing.assert_array_equal(got, expected)
    reused.close()


@pytest.mark.slow
def test_uniform_sampling_spreads_frames_over_the_whole_clip(videos: dict[str, ClipRef]) -> None:
    params = _params(sampling="uniform", max_frames=4, stride=7)  # stride is unused
    with make_holistic(params) as holistic:
        coords, index = extract_video_landmarks(videos["Nod"].path, params, holistic)
    assert index.tolist() == [1, 3, 6, 8]  # segment centres of 10 frames, up to the last one
    assert coords.shape == (4, 543, 4) and not np.isnan(coords[:, part_slice(Part.POSE)]).any()


@pytest.mark.slow
def test_landmarks_from_results_layout(videos: dict[str, ClipRef]) -> None:
    params = _params()
    with make_holistic(params) as holistic:
        coords, _ = extract_video_landmarks(videos["Nod"].path, params, holistic)
    pose, face = coords[:, part_slice(Part.POSE)], coords[:, part_slice(Part.FACE)]
    assert not np.isnan(pose).any() and np.all((pose[..., 3] >= 0) & (pose[..., 3] <= 1))
    assert np.all(face[..., 3] == 1.0)


def test_clips_kind_samples_resizes_and_reports_errors(videos: dict[str, ClipRef], tmp_path: Path) -> None:
    clips = [videos["Nod"], videos["corrupt"], ClipRef(tmp_path / "gone.avi", "Nod", "g09")]
    index = run_extraction(clips, tmp_path / "out", tmp_path / "cache", ClipParams(n_frames=4, size=32), "clips")
    assert index["status"].tolist() == ["ok", "decode_error", "decode_error"]
    assert "gone.avi" in index["message"].iloc[2] and "v_Nod_g03_c01.avi" in index["message"].iloc[1]
    with np.load(tmp_path / "out/Nod/v_Nod_g01_c01.npz") as data:
        assert data["frames"].shape == (4, 32, 32, 3) and data["frames"].dtype == np.uint8
        assert data["frame_index"].tolist() == [1, 3, 6, 8]


def test_crash_keeps_previous_output_and_leaves_no_partial_files(
    videos: dict[str, ClipRef], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, cache, params = (
        tmp_path / "out",
        tmp_path / "cache",
        ClipParams(n_frames=2, size=16, workers=1),
    )
    run_extraction([videos["Nod"]], out, cache, params, "clips")
    before = _npz_bytes(out)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs, "swap_dir", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_extraction([videos["Shake"]], out, cache, params, "clips")
    assert _npz_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out"]

    monkeypatch.setattr(np.lib.format, "write_array", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_npz(tmp_path / "cache" / "x.npz", {"a": np.zeros(3)})
    assert not list(cache.glob("x*")) and not list(cache.glob(".x*"))


def test_save_npz_is_byte_deterministic(tmp_path: Path) -> None:
    arrays = {"b": np.arange(5, dtype=np.int32), "a": np.full((2, 3), np.nan, np.float32)}
    save_npz(tmp_path / "one.npz", arrays)
    save_npz(tmp_path / "two.npz", dict(reversed(arrays.items())))
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    with np.load(tmp_path / "one.npz") as data:
        np.testing.assert_array_equal(data["a"], arrays["a"])


def test_cache_key_ignores_workers_only() -> None:
    key = cache_key("ab" * 32, ExtractParams(workers=1), "landmarks")
    assert key == cache_key("ab" * 32, ExtractParams(workers=4), "landmarks")
    assert key != cache_key("ab" * 32, ExtractParams(stride=2), "landmarks")
    assert key != cache_key("cd" * 32, ExtractParams(), "landmarks")
    with pytest.raises(ValueError, match="strde"):
        ExtractParams.model_validate({"strde": 2})


@pytest.mark.parametrize(
    ("stem", "group"),
    [
        ("v_ApplyEyeMakeup_g08_c01", "g08"),
        ("v_Nod_g01_c01", "g01"),
        ("daria_bend", "daria"),
        ("lena_run1", "lena"),
        ("shahar_jump", "shahar"),
        ("random-name", None),
    ],
)
def test_ucf_group(stem: str, group: str | None) -> None:
    assert ucf_group(stem) == group
