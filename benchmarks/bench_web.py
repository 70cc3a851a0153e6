"""Web app answer time vs MediaPipe alone on the same frames, and two requests in parallel.

(a) MediaPipe Holistic alone on every frame of the clip (a warm Holistic, frames decoded
beforehand); (b) the app's answer to an upload of that clip (Flask test client, warm app:
decoding, Holistic, features, model, summary); (c) two uploads at once vs one. Targets (issue 14):
(b)/(a) <= 1.3; (c) two in parallel take < 2x one.

    python benchmarks/bench_web.py --bundle models/package [--clip VIDEO] [--model sequence] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

import numpy as np

from actionrec.media.holistic import make_holistic
from actionrec.media.video import iter_frames
from actionrec.serving.web.app import ServeOptions, create_app

REPO = Path(__file__).resolve().parents[1]


def _post(app: object, clip: Path, model: str | None) -> float:
    client = app.test_client()  # type: ignore[attr-defined]
    data: dict = {"video": (clip.open("rb"), clip.name)}
    if model:
        data["model"] = model
    start = time.perf_counter()
    reply = client.post("/api/predict", data=data)
    seconds = time.perf_counter() - start
    if reply.status_code != 200:
        raise SystemExit(f"{clip}: HTTP {reply.status_code} {reply.get_json()}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=REPO / "models/package")
    parser.add_argument("--clip", type=Path, default=None, help="default: the first demo clip")
    parser.add_argument("--model", choices=("frame", "sequence"), default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    clip = args.clip or sorted((REPO / "data/raw/videos").glob("*/*.avi"))[0]
    frames = [rgb for _, rgb in iter_frames(clip)]
    start = time.perf_counter()
    app = create_app(args.bundle, ServeOptions(workers=2))
    warm = time.perf_counter() - start
    holistic = make_holistic()
    holistic.process(frames[0])
    alone, answer = [], []
    for _ in range(args.repeats):
        holistic.reset()
        start = time.perf_counter()
        for rgb in frames:
            holistic.process(rgb)
        alone.append(time.perf_counter() - start)
        answer.append(_post(app, clip, args.model))
    holistic.close()
    pair: list[float] = []
    for _ in range(args.repeats):
        threads = [threading.Thread(target=_post, args=(app, clip, args.model)) for _ in range(2)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pair.append(time.perf_counter() - start)
    a, b, c = (float(np.median(x)) for x in (alone, answer, pair))
    print(f"clip {clip} ({len(frames)} frames), bundle {args.bundle}, CPUs={os.cpu_count()}, app warm in {warm:.1f} s")
    print(f"(a) MediaPipe alone on the frames   median {a:.2f} s")
    print(f"(b) the app's answer (one request)  median {b:.2f} s")
    print(f"(c) two requests in parallel        median {c:.2f} s (both answered)")
    print(f"ratio web answer / MediaPipe alone: {b / a:.3f}: {'meets' if b / a <= 1.3 else 'misses'} the <= 1.3 target")
    print(f"ratio two parallel / one: {c / b:.3f}: {'meets' if c / b < 2 else 'misses'} the < 2 target")


if __name__ == "__main__":
    main()
