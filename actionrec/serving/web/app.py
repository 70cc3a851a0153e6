"""The web app: upload a video (or give its URL) -> the predicted action, class probabilities and
a timeline of predictions, from the packaged live bundle (``models/package``).

``actionrec serve [--bundle models/package] [--host 127.0.0.1] [--port 8000] [--max-upload-mb 50]
[--url-deadline-s 30] [--allow-private-urls] [--workers 2] [--max-queue 8]``

Inference is the live :class:`~actionrec.serving.recognizer.Recognizer` (same feature transform,
smoothing and threshold), kept warm in :mod:`actionrec.serving.web.engine` (``workers`` requests
in parallel, the rest wait in line; a full line gets 503). Every upload or download goes into its
own temporary folder, removed when the request ends, whatever happens. Limits: the size (413,
also for URLs), the type (a video suffix, and OpenCV must decode a frame: 400), a clip without a
person or shorter than the model's window (422, with the reason), URLs fetched within one total
deadline (504) and never from loopback/private/link-local addresses unless allowed (403; see
:mod:`actionrec.serving.web.fetch`). Bound to 127.0.0.1 unless told otherwise. The page is
``templates/index.html``.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import make_server

from actionrec.core.manifests import LiveKind, LiveSettings
from actionrec.data.clips import VIDEO_SUFFIXES
from actionrec.media.quiet import quiet_native_stderr
from actionrec.media.video import VideoError
from actionrec.models.openset import UNKNOWN
from actionrec.serving.bundle import resolve_model
from actionrec.serving.recognizer import UNCERTAIN, Prediction
from actionrec.serving.web.engine import Busy, Engine, Run
from actionrec.serving.web.fetch import FetchPolicy, WebError, fetch_url, too_large, video_suffix

log = logging.getLogger(__name__)

LIVE_KINDS = ("frame", "sequence")
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
UNCERTAIN_COLOUR = "#9e9e9e"
UNKNOWN_COLOUR = "#424242"


@dataclass(frozen=True)
class BundleInfo:
    """What the pages show about the bundle: labels, the models one can pick, live settings."""

    path: Path
    labels: list[str]
    models: dict[str, str]  # kind -> description, e.g. "classical-gb, clip_accuracy 0.950"
    settings: LiveSettings

    @classmethod
    def load(cls, bundle: Path) -> BundleInfo:
        """Read a bundle (or a single model manifest); BundleError when it is unusable."""
        resolved = resolve_model(bundle)
        if resolved.bundle is None:  # a single model manifest
            model = resolved.manifest
            return cls(bundle, model.labels, {str(model.kind): model.name}, resolved.settings)
        manifest = resolved.bundle
        metric = manifest.selection.metric
        models: dict[str, str] = {}
        for kind in LIVE_KINDS:
            if kind in manifest.models:
                details = manifest.model_details.get(kind)
                score = details.metrics.get(metric) if details is not None else None
                key = details.key if details is not None else kind
                models[kind] = key + (f", {metric} {score:.3f}" if score is not None else "")
        return cls(bundle, manifest.labels, models, resolved.settings)

    def colour(self, label: str) -> str:
        if label not in self.labels:
            return UNKNOWN_COLOUR if label == UNKNOWN else UNCERTAIN_COLOUR
        return PALETTE[self.labels.index(label) % len(PALETTE)]


# ---------------------------------------------------------------- results


def clip_label(preds: list[Prediction], labels: list[str], probs: np.ndarray, threshold: float) -> str:
    """The clip's label: ``unknown`` when most predictions are (the model's open-set decision, as
    live makes it per prediction), else the best mean probability, or ``uncertain`` below ``threshold``."""
    if 2 * sum(p.label == UNKNOWN for p in preds) > len(preds):
        return UNKNOWN
    best = int(np.argmax(probs))
    return labels[best] if probs[best] >= threshold else UNCERTAIN


def summarise(preds: list[Prediction], info: BundleInfo, duration: float) -> dict[str, Any]:
    """Overall label (:func:`clip_label`) and probabilities (mean over the predictions), and the timeline."""
    labels = info.labels
    probs = np.mean([[p.probabilities.get(name, 0.0) for name in labels] for p in preds], axis=0)
    best = int(np.argmax(probs))
    label = clip_label(preds, labels, probs, info.settings.threshold)
    step = float(np.median(np.diff([p.time for p in preds]))) if len(preds) > 1 else 0.0
    duration = max(duration, preds[-1].time + step, 1e-6)
    cells: list[dict[str, Any]] = []
    segments: list[dict[str, Any]] = []
    for i, p in enumerate(preds):
        end = preds[i + 1].time if i + 1 < len(preds) else min(duration, p.time + step)
        end = min(end, p.time + 3 * step) if step else end  # a gap (no person) stays empty
        cells.append({"start": p.time, "end": end, "label": p.label, "probability": p.probability, "frame": p.frame})
        if segments and segments[-1]["label"] == p.label and abs(segments[-1]["end"] - p.time) < 1e-6:
            seg = segments[-1]
            seg["end"], seg["n"], seg["sum"] = end, seg["n"] + 1, seg["sum"] + p.probability
        else:
            segments.append({"start": p.time, "end": end, "label": p.label, "n": 1, "sum": p.probability})
    for seg in segments:
        seg["probability"] = round(seg.pop("sum") / seg["n"], 4)
    return {
        "label": label,
        "best_guess": labels[best],
        "probability": round(float(probs[best]), 4),
        "probabilities": {name: round(float(v), 4) for name, v in zip(labels, probs, strict=True)},
        "duration": round(duration, 3),
        "n_predictions": len(preds),
        "timeline": segments,
        "predictions": cells,
    }


# ---------------------------------------------------------------- the app


@dataclass(frozen=True)
class ServeOptions:
    """How the app serves: upload limit, URL policy and the inference workers (see ``actionrec serve -h``)."""

    max_upload_mb: float = 50.0
    url_deadline_s: float = 30.0
    allow_private_urls: bool = False
    workers: int = 2
    max_queue: int = 8


def no_prediction(run: Run, name: str, kind: str) -> str:
    """Why ``run`` gave no answer (HTTP 422), or "" when it has predictions from a full window."""
    if run.person_frames == 0:
        return f"No person was detected in {name} ({run.frames} frames), so there is no prediction."
    if run.frames < run.window:
        return (
            f"{name} is too short for the {kind} model: {run.frames} decodable frames, and it needs a window of "
            f"{run.window} ({run.window / run.fps:.1f} s at {run.fps:g} fps). Upload a longer clip"
            + (", or choose the frame model." if kind != "frame" else ".")
        )
    if not run.predictions:
        return (
            f"No prediction for {name}: a person in {run.person_frames} of {run.frames} frames, but none "
            f"once the {kind} model's {run.window}-frame window was full."
        )
    return ""


def create_app(bundle: Path | str = Path("models/package"), options: ServeOptions = ServeOptions()) -> Flask:
    """The Flask app for ``bundle``, its models and MediaPipe loaded and run once (warm) before it
    returns; raises :class:`actionrec.serving.bundle.BundleError` when the bundle is unusable."""
    info = BundleInfo.load(Path(bundle))
    limit = int(options.max_upload_mb * 2**20)
    policy = FetchPolicy(options.url_deadline_s, limit, options.allow_private_urls)
    engine = Engine(info.path, cast("list[LiveKind]", list(info.models)), options.workers, options.max_queue)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = limit
    app.extensions["actionrec_engine"] = engine

    def page(status: int, **ctx: Any) -> tuple[str, int]:
        html = render_template(
            "index.html",
            info=info,
            max_mb=f"{options.max_upload_mb:g}",
            palette=info.colour,
            uncertain=UNCERTAIN,
            unknown=UNKNOWN,
            suffixes=sorted(VIDEO_SUFFIXES),
            **ctx,
        )
        return html, status

    def analyse(video: Path, name: str, model: LiveKind | None) -> dict[str, Any]:
        kind = model or info.settings.default_model
        try:
            run = engine.predict(video, kind)
        except VideoError as exc:
            raise WebError(400, f"{name} is not a readable video: {exc.problem}.") from None
        except Busy as exc:
            raise WebError(503, f"The server is busy ({exc}): try again in a minute.") from None
        if reason := no_prediction(run, name, kind):
            raise WebError(422, reason)
        return {
            **summarise(run.predictions, info, run.frames / run.fps),
            "name": name,
            "model": kind,
            "model_description": info.models.get(kind, kind),
            "frames": run.frames,
            "seconds": round(run.seconds + run.waited, 2),
            "queued_s": round(run.waited, 2),
        }

    def handle() -> dict[str, Any]:
        choice = request.form.get("model") or None  # parsing the form enforces the size limit
        if choice is not None and choice not in info.models:
            raise WebError(400, f"Unknown model {choice!r}: choose one of {', '.join(info.models)}.")
        model = cast("LiveKind | None", choice)
        upload = request.files.get("video")
        url = (request.form.get("url") or "").strip()
        with tempfile.TemporaryDirectory(prefix="actionrec-web-") as tmp:
            if upload is not None and upload.filename:
                path = Path(tmp) / f"upload{video_suffix(upload.filename, upload.filename)}"
                upload.save(path)
                if path.stat().st_size == 0:
                    raise WebError(400, f"{upload.filename} is empty.")
                name = upload.filename
            elif url:
                path, name = fetch_url(url, Path(tmp), policy), url
            else:
                raise WebError(400, "Choose a video file to upload, or give the URL of one.")
            return analyse(path, name, model)

    @app.get("/")
    def index() -> tuple[str, int]:
        return page(200)

    @app.post("/predict")
    def predict() -> tuple[str, int]:
        try:
            return page(200, result=handle())
        except WebError as err:
            return page(err.status, error=err.message)

    @app.post("/api/predict")
    def api_predict() -> tuple[Response, int]:
        try:
            return jsonify(handle()), 200
        except WebError as err:
            return jsonify({"error": err.message}), err.status

    @app.errorhandler(RequestEntityTooLarge)
    def too_large_upload(_err: RequestEntityTooLarge) -> Any:
        message = too_large(limit)
        if request.path.startswith("/api/"):
            return jsonify({"error": message}), 413
        return page(413, error=message)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "bundle": str(info.path), "models": info.models, **engine.status()})

    return app


def serve(
    bundle: Path | str = Path("models/package"),
    host: str = "127.0.0.1",
    port: int = 8000,
    options: ServeOptions = ServeOptions(),
) -> int:
    """Serve the app until Ctrl-C (``port`` 0 picks a free port; the URL is printed once it is warm),
    MediaPipe's native start-up warnings filtered off stderr."""
    with quiet_native_stderr():
        return _serve(bundle, host, port, options)


def _serve(bundle: Path | str, host: str, port: int, options: ServeOptions) -> int:
    start = time.perf_counter()
    app = create_app(bundle, options)
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as exc:
        app.extensions["actionrec_engine"].close()
        print(f"actionrec serve: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    private = ", private URLs allowed" if options.allow_private_urls else ""
    print(
        f"actionrec web app on http://{host}:{server.server_port}/ (bundle {bundle}, "
        f"uploads up to {options.max_upload_mb:g} MB, {options.workers} workers warm in "
        f"{time.perf_counter() - start:.1f} s{private}; Ctrl-C stops)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        app.extensions["actionrec_engine"].close()
    return 0
