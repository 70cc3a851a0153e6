"""Live recognizer on the demo clips with real MediaPipe and the trained frame model.

The bundle is faked in a temp folder: its manifest points at the best trained frame model
under models/classical (by reports/metrics.json) and at a tiny untrained LSTM (the sequence
path is checked for mechanics, not accuracy).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from actionrec.core.manifests import (
    BundleManifest,
    LiveSettings,
    ManifestError,
    ModelManifest,
    Selection,
    model_key,
    read_model,
    write_bundle,
)
from actionrec.media.video import count_frames, iter_frames
from actionrec.models.predictors import Predictor
from actionrec.serving import live
from actionrec.serving.capture import FrameSource
from actionrec.serving.offline import predict_video
from actionrec.serving.recognizer import UNCERTAIN, Prediction

pytestmark = pytest.mark.slow

# Measured: 11/12 test-split demo clips (31/32 of all clips) right with classical-rf, the
# clip's label being the arg-max of its mean smoothed probabilities. The bar leaves room for
# retrained models; chance is 25%.
MIN_CLIP_ACCURACY = 0.75
WINDOW = 8  # the tiny LSTM's window


def _frame_models(root: Path) -> dict[str, Path]:
    """Key -> manifest of every trained frame model under ``root/models``."""
    models = {}
    for path in (root / "models").glob("*/*.json"):
        try:
            manifest = read_model(path)
            key = str(model_key(path, manifest))
        except ManifestError:  # a run record or a bundle manifest
            continue
        if manifest.kind == "frame":
            models[key] = path
    return models


def _best_frame_manifest(root: Path) -> Path:
    """The frame model ranked best by clip macro-F1 in reports/metrics.json."""
    metrics = json.loads((root / "reports/metrics.json").read_text())
    frame_models = [
        (-metrics[key]["clip_macro_f1"], str(path)) for key, path in _frame_models(root).items() if key in metrics
    ]
    assert frame_models, f"no evaluated frame model under {root / 'models'}"
    return Path(min(frame_models)[1])


@pytest.fixture(scope="module")
def demo_clips(trained_demo: Path) -> list[tuple[Path, str]]:
    """(video, label) of the test split's demo clips, else of every demo clip."""
    clips = sorted((p, p.parent.name) for p in (trained_demo / "data/raw/videos").glob("*/*.avi"))
    assert clips, f"no demo clips under {trained_demo}"
    with (trained_demo / "data/processed/split.csv").open() as fh:
        test = {r["session_id"] for r in csv.DictReader(fh) if r["subset"] == "test"}
    return [(p, label) for p, label in clips if p.stem in test] or clips


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory, trained_demo: Path) -> Path:
    """A bundle dir: the trained frame model and a tiny untrained LSTM (window 8)."""
    import torch

    from actionrec.models.lstm import LandmarkLSTM
    from actionrec.models.torch_io import model_spec, save_checkpoint

    root = tmp_path_factory.mktemp("bundle")
    frame = _best_frame_manifest(trained_demo)
    manifest = read_model(frame)
    torch.manual_seed(0)
    lstm = LandmarkLSTM(manifest.features.n_features, len(manifest.labels), hidden=8, layers=1)
    tiny = ModelManifest(
        kind="sequence",
        name="tiny-lstm",
        labels=manifest.labels,
        features=manifest.features,
        window=WINDOW,
        stride=4,
        model_file="model.pt",
        **model_spec(lstm),
    )
    save_checkpoint(lstm, root / "sequence/model.pt", tiny)
    write_bundle(
        root / "manifest.json",
        BundleManifest(
            labels=manifest.labels,
            features=manifest.features,
            window=WINDOW,
            live=LiveSettings(default_model="frame", smoothing=5, threshold=0.5),
            models={"frame": str(frame), "sequence": "sequence/model.json"},
            model_details={},
            selection=Selection(metric="clip_macro_f1", quality_gate=0.0, candidates={}),
            registered_model="test",
            data={},
            vendored=[],
        ),
    )
    return root


def _clip_label(preds: list[Prediction]) -> str:
    labels = list(preds[0].probabilities)
    mean = np.mean([[p.probabilities[name] for name in labels] for p in preds], axis=0)
    return labels[int(np.argmax(mean))]


def test_frame_model_recognises_demo_clips(bundle: Path, demo_clips: list) -> None:
    clips = demo_clips
    right = []
    for path, label in clips:
        preds = predict_video(path, bundle)
        assert len(preds) == count_frames(path), f"{path}: a person in every demo frame"
        assert [p.frame for p in preds] == sorted(p.frame for p in preds)
        right.append(_clip_label(preds) == label)
    accuracy = float(np.mean(right))
    assert accuracy >= MIN_CLIP_ACCURACY, f"{sum(right)}/{len(right)} clips right ({accuracy:.0%})"


def test_sequence_model_predicts_once_the_window_is_full(bundle: Path, demo_clips: list) -> None:
    path, _ = demo_clips[0]
    labels = set(json.loads((bundle / "manifest.json").read_text())["labels"]) | {UNCERTAIN}
    preds = predict_video(path, bundle, model="sequence")
    assert [p.frame for p in preds] == list(range(WINDOW - 1, count_frames(path)))
    assert {p.label for p in preds} <= labels
    assert all(abs(sum(p.probabilities.values()) - 1) < 1e-3 for p in preds)
    short = predict_video(path, bundle, model="sequence", stride=10)  # 4 frames < window
    assert len(short) == 1 and short[0].frame == 30, "one prediction from the padded window"
    # the window is re-scored every `stride` (4) frames, as training windows were spaced
    scored = {p.frame: p.probabilities for p in preds if (p.frame - (WINDOW - 1)) % 4 == 0}
    assert all(p.probabilities == scored[p.frame - (p.frame - (WINDOW - 1)) % 4] for p in preds)


def test_headless_cli_prints_json_lines_and_writes_video(bundle: Path, tmp_path: Path, demo_clips: list) -> None:
    path, _ = demo_clips[0]
    out = tmp_path / "annotated.webm"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "actionrec",
            "live",
            "--source",
            str(path),
            "--bundle",
            str(bundle),
            "--headless",
            "--output",
            str(out),
            "--smoothing",
            "3",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    labels = set(json.loads((bundle / "manifest.json").read_text())["labels"])
    assert len(rows) == count_frames(path)
    for row in rows:
        assert set(row) == {"time", "frame", "label", "probability", "probabilities"}
        assert row["label"] in labels | {UNCERTAIN} and set(row["probabilities"]) == labels
    assert "summary" in proc.stderr and "INFO" in proc.stderr, "our own log lines are kept"
    assert "Feedback manager" not in proc.stderr and "XNNPACK" not in proc.stderr, "native noise filtered"
    assert count_frames(out) == count_frames(path)
    assert [p.name for p in tmp_path.iterdir()] == [out.name], "no temp files left"
    _assert_overlay(out, path)


def _assert_overlay(out: Path, source: Path) -> None:
    """``out`` is VP8 (what browsers play) and carries the overlay: on every frame, black strips
    across the top and bottom with light text in them, where the source frame has none."""
    import cv2

    cap = cv2.VideoCapture(str(out))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    cap.release()
    assert fourcc.upper() == "VP80", fourcc
    for (_, annotated), (_, original) in zip(iter_frames(out), iter_frames(source), strict=True):
        for strip in (annotated[:12], annotated[-12:]):
            dark = float(np.mean(strip.max(axis=2) < 40))
            assert dark > 0.6 and strip.max() > 150, "a black strip with text"
        assert float(np.abs(annotated[:12].astype(int) - original[:12]).mean()) > 10


def test_missing_bundle_says_run_dvc_repro(tmp_path: Path, capsys: pytest.CaptureFixture, demo_clips: list) -> None:
    path, _ = demo_clips[0]
    code = live.main(["--source", str(path), "--bundle", str(tmp_path / "package"), "--headless"])
    assert code == 2 and "dvc repro" in capsys.readouterr().err


def test_slow_inference_drops_frames_instead_of_lagging(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, demo_clips: list
) -> None:
    """Real-time playback (25 fps) with a classifier slowed to 100 ms per frame."""
    slow_proba = Predictor.predict_proba

    def sleepy(self: Predictor, inputs: object) -> np.ndarray:
        time.sleep(0.1)
        return slow_proba(self, inputs)

    monkeypatch.setattr(Predictor, "predict_proba", sleepy)
    path, _ = demo_clips[0]
    summary = live.run(path, bundle, headless=True, realtime=True)
    assert summary["captured"] == count_frames(path)
    assert summary["dropped"] > 0
    assert summary["frames"] + summary["dropped"] == summary["captured"]
    assert summary["max_lag_frames"] <= 2, "the frame processed is at most 2 periods old"


def test_file_source_is_lossless_by_default(demo_clips: list) -> None:
    path, _ = demo_clips[0]
    with FrameSource(path) as src:
        indices = []
        while (frame := src.read()) is not None:
            time.sleep(0.005)  # a consumer slower than decoding
            indices.append(frame.index)
    assert indices == list(range(count_frames(path))) and src.dropped == 0


def test_live_modules_import_no_heavy_dependencies() -> None:
    heavy = ["pandas", "mlflow", "dvc", "great_expectations", "matplotlib", "tqdm"]
    code = (
        "import sys, actionrec.serving.live, actionrec.serving.record, actionrec.serving.offline, "
        "actionrec.media.holistic; "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_window_mode_shows_frames_until_q(bundle: Path, monkeypatch: pytest.MonkeyPatch, demo_clips: list) -> None:
    import cv2

    keys = iter([-1] * 4 + [ord("q")])
    shown: list[np.ndarray] = []
    monkeypatch.setattr(live, "require_display", lambda: None)
    monkeypatch.setattr(cv2, "imshow", lambda _title, image: shown.append(image.copy()))
    monkeypatch.setattr(cv2, "waitKey", lambda _ms: next(keys))
    monkeypatch.setattr(cv2, "destroyAllWindows", lambda: None)
    path, _ = demo_clips[0]
    summary = live.run(path, bundle)
    assert summary["frames"] == len(shown) == 5
    first = next(iter_frames(path))[1]
    assert not np.array_equal(shown[0], cv2.cvtColor(first, cv2.COLOR_RGB2BGR)), "overlay drawn"
