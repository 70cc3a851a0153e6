"""Demo clips: byte-identical across runs, UCF101 layout, and real MediaPipe finds the person."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from actionrec.config.extraction import ExtractParams
from actionrec.data.clips import discover_clips
from actionrec.data.demo.videos import CLASSES, generate_demo_videos
from actionrec.extraction.run import run_extraction
from actionrec.media.video import count_frames


def _digests(paths: list[Path], root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("demo")
    return root, generate_demo_videos(root, seed=0)


def test_same_seed_same_bytes_other_seed_other_bytes(demo: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, paths = demo
    again = generate_demo_videos(tmp_path / "again", seed=0)
    assert _digests(paths, root) == _digests(again, tmp_path / "again")
    other = generate_demo_videos(tmp_path / "other", seed=1, clips_per_class=1)
    assert set(_digests(other, tmp_path / "other").values()).isdisjoint(_digests(paths, root).values())


def test_layout_is_ucf101_style(demo: tuple[Path, list[Path]]) -> None:
    root, paths = demo
    assert len(paths) == 4 * 8
    assert {p.parent.name for p in paths} == set(CLASSES)
    assert {p.name for p in paths if p.parent.name == "Nod"} == {f"v_Nod_g{g:02d}_c01.avi" for g in range(1, 9)}
    assert count_frames(paths[0]) == 40
    assert sorted(c.group for c in discover_clips(root) if c.label == "Tilt") == [f"g{g:02d}" for g in range(1, 9)]


@pytest.mark.slow
def test_mediapipe_detects_the_person_in_every_clip(demo: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, _ = demo
    params = ExtractParams(max_frames=None, workers=2)
    index = run_extraction(discover_clips(root), tmp_path / "out", tmp_path / "cache", params, "landmarks")
    assert (index["status"] == "ok").all(), index.loc[index["status"] != "ok", "message"].tolist()
    assert (index["n_frames"] == 40).all()
    low = index.loc[index["pose_rate"] < 0.9, ["clip", "pose_rate"]]
    assert low.empty, f"pose found in < 90% of frames:\n{low}"
