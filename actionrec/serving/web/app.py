"""The web app: upload a video (or give its URL) -> the predicted action, class probabilities and
a timeline of predictions, from the packaged live bundle (``models/package``).

``actionrec serve [--bundle models/package] [--host 127.0.0.1] [--port 8000] [--max-upload-mb 50]``

Inference is :func:`actionrec.serving.offline.predict_video`, the very code the live recognizer runs (same
feature transform, same smoothing and threshold), one video at a time. Every upload or download
goes into its own temporary folder, removed when the request ends, whatever happens. Limits: the
size (413, also for URLs), the type (a video suffix, and OpenCV must decode a frame: 400) and a
video without a person (422). Bound to 127.0.0.1 unless told otherwise. The page is
``templates/index.html``.
"""

from __future__ import annotations

import logging
import mimetypes
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import make_server

from actionrec.core.manifests import LiveKind, LiveSettings
from actionrec.data.clips import VIDEO_SUFFIXES
from actionrec.media.video import VideoError, count_frames, iter_frames, video_fps
from actionrec.serving.bundle import resolve_model
from actionrec.serving.offline import predict_video
from actionrec.serving.recognizer import UNCERTAIN, Prediction

log = logging.getLogger(__name__)

LIVE_KINDS = ("frame", "sequence")
URL_TIMEOUT_S = 30
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
UNCERTAIN_COLOUR = "#9e9e9e"


class WebError(Exception):
    """A request the app refuses: an HTTP status and a message for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
            return UNCERTAIN_COLOUR
        return PALETTE[self.labels.index(label) % len(PALETTE)]


# ---------------------------------------------------------------- inputs


def _video_suffix(name: str, what: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise WebError(400, f"{what} is not a video file: expected one of {', '.join(sorted(VIDEO_SUFFIXES))}.")
    return suffix


def _too_large(limit: int) -> str:
    return f"The video is larger than the limit of {limit / 2**20:.3g} MB."


def fetch_url(url: str, folder: Path, limit: int) -> Path:
    """Download ``url`` (http or https) into ``folder``, refusing more than ``limit`` bytes."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebError(400, "Only http:// and https:// URLs of video files are supported.")
    req = urllib.request.Request(url, headers={"User-Agent": "actionrec-web"})
    try:
        with urllib.request.urlopen(req, timeout=URL_TIMEOUT_S) as resp:
            ctype = resp.headers.get_content_type()
            if Path(parts.path).suffix.lower() in VIDEO_SUFFIXES or not ctype.startswith("video/"):
                suffix = _video_suffix(parts.path, "The URL")
            else:
                suffix = mimetypes.guess_extension(ctype) or ".mp4"
            length = resp.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise WebError(413, _too_large(limit))
            path = folder / f"download{suffix}"
            total = 0
            with path.open("wb") as fh:
                while chunk := resp.read(1 << 16):
                    total += len(chunk)
                    if total > limit:
                        raise WebError(413, _too_large(limit))
                    fh.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise WebError(400, f"Could not fetch the URL: {reason}.") from None
    return path


# ---------------------------------------------------------------- results


def summarise(preds: list[Prediction], info: BundleInfo, duration: float) -> dict[str, Any]:
    """Overall label and probabilities (mean over the predictions) and the timeline."""
    labels = info.labels
    probs = np.mean([[p.probabilities.get(name, 0.0) for name in labels] for p in preds], axis=0)
    best = int(np.argmax(probs))
    label = labels[best] if probs[best] >= info.settings.threshold else UNCERTAIN
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


def create_app(bundle: Path | str = Path("models/package"), max_upload_mb: float = 50.0) -> Flask:
    """The Flask app for ``bundle``; raises :class:`actionrec.serving.bundle.BundleError` when it is unusable."""
    info = BundleInfo.load(Path(bundle))
    limit = int(max_upload_mb * 2**20)
    busy = threading.Lock()  # MediaPipe already uses ~1.3 cores: one video at a time
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = limit

    def page(status: int, **ctx: Any) -> tuple[str, int]:
        html = render_template(
            "index.html",
            info=info,
            max_mb=f"{max_upload_mb:g}",
            palette=info.colour,
            uncertain=UNCERTAIN,
            suffixes=sorted(VIDEO_SUFFIXES),
            **ctx,
        )
        return html, status

    def analyse(video: Path, name: str, model: LiveKind | None) -> dict[str, Any]:
        try:
            next(iter_frames(video, max_frames=1))
            n_frames = count_frames(video)
        except VideoError as exc:
            raise WebError(400, f"{name} is not a readable video: {exc.problem}.") from None
        fps = video_fps(video)
        start = time.perf_counter()
        with busy:
            preds = predict_video(video, info.path, model=model)
        seconds = time.perf_counter() - start
        if not preds:
            raise WebError(422, f"No person was detected in {name}, so there is no prediction.")
        duration = n_frames / fps if np.isfinite(fps) else 0.0
        kind = model or info.settings.default_model
        return {
            **summarise(preds, info, duration),
            "name": name,
            "model": kind,
            "model_description": info.models.get(kind, kind),
            "frames": n_frames,
            "seconds": round(seconds, 2),
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
                path = Path(tmp) / f"upload{_video_suffix(upload.filename, upload.filename)}"
                upload.save(path)
                if path.stat().st_size == 0:
                    raise WebError(400, f"{upload.filename} is empty.")
                name = upload.filename
            elif url:
                path, name = fetch_url(url, Path(tmp), limit), url
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
    def too_large(_err: RequestEntityTooLarge) -> Any:
        message = _too_large(limit)
        if request.path.startswith("/api/"):
            return jsonify({"error": message}), 413
        return page(413, error=message)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "bundle": str(info.path), "models": info.models})

    return app


def serve(
    bundle: Path | str = Path("models/package"), host: str = "127.0.0.1", port: int = 8000, max_upload_mb: float = 50.0
) -> int:
    """Serve the app until Ctrl-C (``port`` 0 picks a free port; the URL is printed)."""
    app = create_app(bundle, max_upload_mb)
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as exc:
        print(f"actionrec serve: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(
        f"actionrec web app on http://{host}:{server.server_port}/ (bundle {bundle}, "
        f"uploads up to {max_upload_mb:g} MB; Ctrl-C stops)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
