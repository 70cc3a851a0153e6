"""Deterministic demo clips in which MediaPipe finds a real person.

A photo (``skimage.data.astronaut()``) is cropped around the person, placed on a noisy
background and animated with one of four class-specific motions:

* ``Nod``: small vertical bob plus a slight pitch (perspective squeeze of the top edge);
* ``Shake``: horizontal oscillation;
* ``Tilt``: in-plane rotation oscillating about the figure's centre;
* ``Lean``: one slow lean to a random side and back, rotating about the bottom centre.

Each clip draws its own speed, phase, amplitude, scale, position, brightness, background and
camera jitter from ``SeedSequence([seed, class, clip])``, so classes are separable from the
landmark trajectories but not trivially, and adding clips never changes existing ones.
Files are UCF101-style ``<Class>/v_<Class>_gNN_c01.avi`` (one clip per group ``gNN``). The
bytes are identical across runs with the same seed (OpenCV's MPEG-4 encoder is
deterministic), which lets DVC track them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from actionrec.media.video import write_video

__all__ = ["CLASSES", "FPS", "generate_demo_videos", "render_clip"]

log = logging.getLogger(__name__)

CLASSES = ("Nod", "Shake", "Tilt", "Lean")
FPS = 25.0
# The person in astronaut() (512 x 512): head to lower torso, x in [0, 380).
_CROP = (slice(0, 512), slice(0, 380))
# Motion amplitude range per class: fraction of the figure size (Nod, Shake) or degrees.
_AMPLITUDE = {"Nod": (0.04, 0.08), "Shake": (0.08, 0.16), "Tilt": (6.0, 12.0), "Lean": (10.0, 18.0)}


@cache
def _figure() -> np.ndarray:
    """The cropped RGB photo of the person (loaded once per process)."""
    from skimage import data  # deferred: only demo generation needs scikit-image

    return np.ascontiguousarray(data.astronaut()[_CROP])


@dataclass(frozen=True)
class _ClipStyle:
    """Random per-clip appearance and motion parameters."""

    cycles: float  # oscillations per clip
    phase: float
    amplitude: float  # motion-specific unit: fraction of figure size or degrees
    scale: float  # figure height / frame height
    centre: tuple[float, float]  # figure centre as a fraction of the frame
    brightness: float
    background: np.ndarray  # (H, W, 3) float32
    jitter: np.ndarray  # (n_frames, 2) camera shake in pixels

    @classmethod
    def draw(
        cls, rng: np.random.Generator, label: str, n_frames: int, size: tuple[int, int]
    ) -> _ClipStyle:
        width, height = size
        amplitude = rng.uniform(*_AMPLITUDE[label])
        if label == "Lean":
            amplitude *= rng.choice([-1.0, 1.0])  # lean left or right
        colour = rng.uniform(30, 220, size=3)
        texture = cv2.GaussianBlur(
            rng.normal(0, 25, (height, width, 3)).astype(np.float32), (0, 0), 3
        )
        return cls(
            cycles=rng.uniform(1.5, 3.0),
            phase=rng.uniform(0, 2 * np.pi),
            amplitude=float(amplitude),
            scale=rng.uniform(0.8, 0.95),
            centre=(rng.uniform(0.4, 0.6), rng.uniform(0.5, 0.56)),
            brightness=rng.uniform(0.75, 1.2),
            background=(colour + texture).astype(np.float32),
            jitter=rng.normal(0, 0.6, (n_frames, 2)),
        )


def _rotation(deg: float, pivot: tuple[float, float]) -> np.ndarray:
    return np.vstack([cv2.getRotationMatrix2D(pivot, deg, 1.0), [0, 0, 1]])


def _translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], np.float64)


def _motion(label: str, style: _ClipStyle, t: float, fig_w: float, fig_h: float) -> np.ndarray:
    """Homography in figure pixel coordinates for normalised time ``t`` in [0, 1]."""
    osc = np.sin(2 * np.pi * style.cycles * t + style.phase)
    a = style.amplitude
    if label == "Nod":
        squeeze = 0.5 * a * fig_w * osc  # top corners move in (pitch away) or out (towards)
        src = np.array([[0, 0], [fig_w, 0], [fig_w, fig_h], [0, fig_h]], dtype=np.float32)
        dst = np.array([[squeeze, 0], [fig_w - squeeze, 0], [fig_w, fig_h], [0, fig_h]], dtype=np.float32)
        return _translation(0, a * fig_h * osc) @ cv2.getPerspectiveTransform(src, dst)
    if label == "Shake":
        return _translation(a * fig_w * osc, 0)
    if label == "Tilt":
        return _rotation(a * osc, (fig_w / 2, fig_h / 2))
    return _rotation(a * np.sin(np.pi * t), (fig_w / 2, fig_h))  # Lean: one slow lean and back


def render_clip(
    label: str, rng: np.random.Generator, n_frames: int, size: tuple[int, int]
) -> list[np.ndarray]:
    """RGB frames of one clip of class ``label`` at ``size`` ``(width, height)``."""
    if label not in CLASSES:
        raise ValueError(f"unknown demo class {label!r}; expected one of {CLASSES}")
    width, height = size
    style = _ClipStyle.draw(rng, label, n_frames, size)
    figure = _figure().astype(np.float32) * style.brightness
    fig_h, fig_w = figure.shape[:2]
    s = style.scale * height / fig_h
    place = _translation(
        style.centre[0] * width - s * fig_w / 2, style.centre[1] * height - s * fig_h / 2
    )
    place = place @ np.diag([s, s, 1.0])
    mask = np.ones((fig_h, fig_w), np.float32)
    frames = []
    for i in range(n_frames):
        h = (
            _translation(*style.jitter[i])
            @ place
            @ _motion(label, style, i / max(n_frames - 1, 1), fig_w, fig_h)
        )
        warped = cv2.warpPerspective(figure, h, size, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpPerspective(mask, h, size, flags=cv2.INTER_LINEAR)[..., None]
        frame = alpha * warped + (1 - alpha) * style.background
        frame += rng.normal(0, 2.0, frame.shape).astype(np.float32)  # sensor noise
        frames.append(np.clip(frame, 0, 255).round().astype(np.uint8))
    return frames


def generate_demo_videos(
    out_dir: Path,
    seed: int = 0,
    clips_per_class: int = 8,
    n_frames: int = 40,
    size: tuple[int, int] = (240, 180),
) -> list[Path]:
    """Write ``clips_per_class`` clips per class to ``out_dir/<Class>/v_<Class>_gNN_c01.avi``.

    ``size`` is ``(width, height)``. Returns the written paths (classes in order, then groups).
    """
    if clips_per_class < 1 or n_frames < 1:
        raise ValueError(
            f"need clips_per_class >= 1 and n_frames >= 1, got {clips_per_class}, {n_frames}"
        )
    paths = []
    for c, label in enumerate(CLASSES):
        for g in range(clips_per_class):
            rng = np.random.default_rng(np.random.SeedSequence([seed, c, g]))
            path = Path(out_dir) / label / f"v_{label}_g{g + 1:02d}_c01.avi"
            paths.append(write_video(path, render_clip(label, rng, n_frames, size), FPS))
    log.info("demo videos: %d clips (%d frames, %dx%d) in %s", len(paths), n_frames, *size, out_dir)
    return paths
