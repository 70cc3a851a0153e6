"""Command lines of live and record: a bad option value is one argparse line, help shows defaults.

No MediaPipe runs here: the parsers fail before any source or model is opened.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actionrec.core.features import FeatureSpec
from actionrec.core.manifests import BundleManifest, Selection
from actionrec.serving import live, record
from actionrec.serving.bundle import BundleError, resolve_model


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--threshold", "2"], "argument --threshold: must be a number in [0, 1], got 2"),
        (["--threshold", "high"], "argument --threshold: must be a number in [0, 1], got high"),
        (["--threshold", "nan"], "argument --threshold: must be a number in [0, 1], got nan"),
        (["--smoothing", "0"], "argument --smoothing: must be an integer >= 1, got 0"),
        (["--smoothing", "1.5"], "argument --smoothing: must be an integer >= 1, got 1.5"),
        (["--max-frames", "-3"], "argument --max-frames: must be an integer >= 1, got -3"),
    ],
)
def test_bad_live_option_is_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_:
        live.main(["--headless", *args], prog="actionrec live")
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert err.splitlines()[-1] == f"actionrec live: error: {message}"
    assert "validation error" not in err


def test_bad_record_option_is_one_line(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        record.main(["--label", "waving", "--max-frames", "0"], prog="actionrec record")
    assert capsys.readouterr().err.splitlines()[-1] == (
        "actionrec record: error: argument --max-frames: must be an integer >= 1, got 0"
    )


def test_good_live_options_parse() -> None:
    args = live.build_parser().parse_args(["--threshold", "0.7", "--smoothing", "3", "--source", "1"])
    assert (args.threshold, args.smoothing, args.source) == (0.7, 3, 1)


@pytest.mark.parametrize("parser", [live.build_parser(), record.build_parser()])
def test_help_shows_defaults_without_markup(parser) -> None:
    text = parser.format_help()
    assert "(default: 0)" in text and "``" not in text and "`" not in text


def test_bad_live_setting_in_a_bundle_is_one_line(tmp_path: Path) -> None:
    manifest = BundleManifest(
        labels=["a", "b"],
        features=FeatureSpec(),
        models={"frame": "frame.json"},
        model_details={},
        selection=Selection(metric="clip_accuracy", quality_gate=0.5, candidates={}),
        registered_model="test",
        data={},
        vendored=[],
    ).model_dump(mode="json")
    manifest["live"]["smoothing"] = 0
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError) as err:
        resolve_model(tmp_path)
    assert "\n" not in str(err.value) and "live.smoothing" in str(err.value)
