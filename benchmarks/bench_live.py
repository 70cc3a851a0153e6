"""Live pipeline overhead: MediaPipe Holistic alone vs the full live pipeline, same frames.

Per frame, (a) Holistic alone (``process`` on the RGB frame) and (b) what ``actionrec live``
does (BGR->RGB, Holistic, landmarks, features, classifier, smoothing, overlay drawing) run
back to back on the same frame, in alternating order, each with its own Holistic fed the same
frame sequence, so machine noise hits both sides alike. Target (issue 14): (b) costs <= 3% more
than (a), median per frame.
Also prints the model load time (constructing a ``Recognizer`` without creating a Holistic).

    python benchmarks/bench_live.py [--clip VIDEO] [--bundle models/package] [--model frame]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from actionrec.media.holistic import make_holistic
from actionrec.media.video import iter_frames
from actionrec.serving.bundle import BundleError
from actionrec.serving.overlay import draw_overlay
from actionrec.serving.recognizer import Recognizer

REPO = Path(__file__).resolve().parents[1]
UCF101 = REPO.parent / "shared" / "data" / "ucf101"
DEMO = REPO / "data" / "raw" / "videos"


def default_clip() -> Path:
    """The first UCF101 clip under ../shared/data/ucf101, else the first demo clip."""
    for root in (UCF101, DEMO):
        clips = sorted(p for p in root.glob("*/*") if p.suffix in {".avi", ".mp4"})
        if clips:
            return clips[0]
    raise SystemExit(f"no clip under {UCF101} or {DEMO}; pass --clip")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def stats(seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1000
    return f"median {np.median(ms):6.1f} ms  p95 {np.percentile(ms, 95):6.1f} ms  {1000 / ms.mean():5.1f} fps"


def _ms(seconds: list[float]) -> str:
    return f"median {np.median(seconds) * 1000:.2f} ms  p95 {np.percentile(seconds, 95) * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=None, help="video (default: first UCF101 clip)")
    parser.add_argument(
        "--bundle",
        type=Path,
        default=REPO / "models/package",
        help="bundle dir or model manifest such as models/classical/rf.json (default: models/package)",
    )
    parser.add_argument("--model", choices=("frame", "sequence"), default=None)
    parser.add_argument("--max-frames", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the frames")
    args = parser.parse_args()
    clip, bundle = args.clip or default_clip(), args.bundle
    frames = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for _, f in iter_frames(clip, max_frames=args.max_frames)]
    h, w = frames[0].shape[:2]
    print(f"clip {clip} ({len(frames)} frames, {w}x{h}) x {args.rounds} rounds; CPUs={os.cpu_count()}")

    baseline = make_holistic()
    pipeline_holistic = make_holistic()
    start = time.perf_counter()
    try:
        Recognizer(bundle, args.model, holistic=pipeline_holistic)
    except BundleError as exc:
        raise SystemExit(str(exc)) from None
    cold = time.perf_counter() - start
    start = time.perf_counter()
    rec = Recognizer(bundle, args.model, holistic=pipeline_holistic)
    warm = time.perf_counter() - start
    print(
        f"model {rec.name} from {bundle}: load {cold * 1000:.0f} ms cold (imports included), "
        f"{warm * 1000:.0f} ms warm (Recognizer without Holistic)"
    )

    rgb_frames = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB) for f in frames]
    alone: list[float] = []
    full: list[float] = []
    detect: list[float] = []
    rest: list[float] = []
    classify: list[float] = []
    predict_proba = rec.predictor.predict_proba

    def timed_proba(inputs: object) -> np.ndarray:
        start = time.perf_counter()
        out = predict_proba(inputs)
        classify.append(time.perf_counter() - start)
        return out

    rec.predictor.predict_proba = timed_proba  # type: ignore[method-assign]

    def live_step(i: int) -> None:
        start = time.perf_counter()
        landmarks = rec.detect(cv2.cvtColor(frames[i], cv2.COLOR_BGR2RGB))
        mid = time.perf_counter()
        pred = rec.update(landmarks, i, i / 25)
        draw_overlay(frames[i].copy(), landmarks, pred, 25.0, 20.0, banner=rec.status())
        end = time.perf_counter()
        detect.append(mid - start)
        rest.append(end - mid)

    for r in range(args.rounds):
        baseline.reset()
        rec.reset()
        for i in range(len(frames)):
            steps = [lambda i=i: baseline.process(rgb_frames[i]), lambda i=i: live_step(i)]
            order = (0, 1) if (i + r) % 2 == 0 else (1, 0)
            for k in order:
                (alone if k == 0 else full).append(timed(steps[k]))

    print(f"(a) Holistic alone        {stats(alone)}")
    print(f"(b) full live pipeline    {stats(full)}")
    print(f"    of which BGR->RGB + Holistic + landmarks: {stats(detect)}")
    print(f"    features + classifier + smoothing + overlay: {_ms(rest)}")
    print(f"    of which the classifier's predict_proba ({rec.predictor.name}): {_ms(classify)}")
    ratio = np.median(full) / np.median(alone)
    paired = np.median(np.asarray(full) - np.asarray(alone)) * 1000
    verdict = "meets" if ratio <= 1.03 else "misses"
    print(
        f"ratio (b)/(a) of medians: {ratio:.3f} (overhead {100 * (ratio - 1):+.1f}%; paired median "
        f"{paired:+.2f} ms/frame): {verdict} the <= 3% target"
    )
    baseline.close()
    pipeline_holistic.close()


if __name__ == "__main__":
    main()
