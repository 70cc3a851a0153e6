"""Decoding, counting, sampling, resizing and writing videos (OpenCV, no MediaPipe)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from actionrec.media.video import (
    VideoError,
    count_frames,
    iter_frames,
    iter_indexed_frames,
    read_clip,
    sample_indices,
    video_fps,
    write_video,
)

W, H, N = 64, 48, 10


def _frame(i: int) -> np.ndarray:
    """A frame whose brightness encodes its index (robust to lossy coding) with an RGB marker."""
    frame = np.full((H, W, 3), 20 * i + 10, np.uint8)
    frame[:8, :8] = (255, 0, 0)  # red top-left corner: catches BGR/RGB mix-ups
    return frame


def _index_of(frame: np.ndarray) -> int:
    return round((float(frame[H // 2 :, W // 2 :].mean()) - 10) / 20)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.avi", (_frame(i) for i in range(N)), fps=25)


def test_iter_frames_yields_all_rgb_frames(clip: Path) -> None:
    frames = list(iter_frames(clip))
    assert [i for i, _ in frames] == list(range(N))
    assert [_index_of(f) for _, f in frames] == list(range(N))
    first = frames[0][1]
    assert first.dtype == np.uint8 and first.shape == (H, W, 3)
    red = first[2:6, 2:6].reshape(-1, 3).mean(axis=0)
    assert red[0] > 180 and red[2] < 80, f"not RGB: {red}"


def test_iter_frames_stride_and_max_frames(clip: Path) -> None:
    assert [i for i, _ in iter_frames(clip, stride=3)] == [0, 3, 6, 9]
    assert [i for i, _ in iter_frames(clip, stride=2, max_frames=3)] == [0, 2, 4]
    with pytest.raises(ValueError, match="stride"):
        next(iter_frames(clip, stride=0))


def test_count_frames_and_fps(clip: Path) -> None:
    assert count_frames(clip) == N
    assert video_fps(clip) == pytest.approx(25.0)


def test_sample_indices_uniform_and_repeating() -> None:
    assert sample_indices(10, 5).tolist() == [1, 3, 5, 7, 9]
    assert sample_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]
    assert sample_indices(1, 3).tolist() == [0, 0, 0]
    with pytest.raises(ValueError):
        sample_indices(0, 3)


def test_read_clip_samples_over_whole_clip_and_resizes(clip: Path) -> None:
    out = read_clip(clip, 5, (32, 24))
    assert out.shape == (5, 24, 32, 3) and out.dtype == np.uint8
    brightness = out[:, 12:, 16:].mean(axis=(1, 2, 3))
    assert np.allclose(brightness, 20 * sample_indices(N, 5) + 10, atol=4)


def test_read_clip_shorter_than_requested_repeats_frames(clip: Path) -> None:
    out = read_clip(clip, 2 * N, (16, 16))
    assert out.shape == (2 * N, 16, 16, 3)
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[-2], out[-1])


def test_one_frame_clip(tmp_path: Path) -> None:
    path = write_video(tmp_path / "one.avi", [_frame(3)], fps=10)
    assert count_frames(path) == 1
    assert [i for i, _ in iter_frames(path)] == [0]
    out = read_clip(path, 4, (8, 8))
    assert out.shape == (4, 8, 8, 3) and all(np.array_equal(out[0], f) for f in out)


@pytest.mark.parametrize("kind", ["corrupt", "empty", "missing"])
def test_bad_files_raise_video_error_naming_the_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}_clip.avi"
    if kind == "corrupt":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif kind == "empty":
        path.write_bytes(b"")
    for call in (count_frames, lambda p: list(iter_frames(p)), lambda p: read_clip(p, 4, (8, 8))):
        with pytest.raises(VideoError, match=f"{kind}_clip.avi") as info:
            call(path)
        assert info.value.path == str(path) and info.value.problem


def test_write_video_is_atomic_and_deterministic(tmp_path: Path) -> None:
    a = write_video(tmp_path / "a.avi", [_frame(i) for i in range(N)], fps=25)
    b = write_video(tmp_path / "b.avi", [_frame(i) for i in range(N)], fps=25)
    assert a.read_bytes() == b.read_bytes()
    with pytest.raises(ValueError, match="frame 1"):
        write_video(tmp_path / "c.avi", [_frame(0), np.zeros((H, W), np.uint8)], fps=25)
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "d.avi", [], fps=25)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.avi", "b.avi"]


def test_iter_indexed_frames_reads_only_the_wanted_frames(clip: Path) -> None:
    got = list(iter_indexed_frames(clip, [7, 2, 2, 0]))
    assert [i for i, _ in got] == [0, 2, 7]  # sorted, each once
    assert [_index_of(f) for _, f in got] == [0, 2, 7]
    assert list(iter_indexed_frames(clip, [])) == []
    with pytest.raises(VideoError, match="ended at frame 10"):
        list(iter_indexed_frames(clip, [3, 12]))
