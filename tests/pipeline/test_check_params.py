"""A wrong params.yaml stops `dvc repro` at check_params, naming the key, before any stage has
removed or rewritten an output (real DVC on a copy with the demo data)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipeline.conftest import copy_repo, run, tree_digest

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]


@pytest.fixture(scope="module")
def clips_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy with the demo videos whose extract_clips stage has run."""
    repo = copy_repo(tmp_path_factory.mktemp("check-params"))
    run([sys.executable, "-m", "actionrec", "demo-data"], repo)
    run(["dvc", "add", "-q", "data/raw/landmarks", "data/raw/videos"], repo)
    run(["dvc", "repro", "extract_clips"], repo)
    return repo


@pytest.fixture
def params_restored(clips_repo: Path) -> Iterator[Path]:
    path = clips_repo / "params.yaml"
    text = path.read_text()
    yield path
    path.write_text(text)


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("    C: 1.0 ", "    C: abc ", "classical.lr.C"),  # ill-typed: was caught only after DVC removed models/
        ("\nseed: 42", "\nsed: 1\nseed: 42", "sed"),  # a misspelled key no stage reads: was "up to date"
        ("\n  trajectory: false", "", "features.trajectory"),  # a key left out: was a code default
    ],
)
def test_bad_params_stop_the_pipeline_and_keep_outputs(
    clips_repo: Path, params_restored: Path, old: str, new: str, named: str
) -> None:
    clips, lock = tree_digest(clips_repo / "data" / "interim" / "clips"), (clips_repo / "dvc.lock").read_text()
    text = params_restored.read_text()
    assert text.count(old) == 1
    params_restored.write_text(text.replace(old, new))
    # extract_clips reads none of these keys: without check_params it would be "up to date" or run
    proc = run(["dvc", "repro", "extract_clips"], clips_repo, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "[check_params] FAILED: params.yaml" in output
    assert re.search(rf"\b{re.escape(named)}\b", output), output
    assert "Running stage 'extract_clips'" not in output
    assert tree_digest(clips_repo / "data" / "interim" / "clips") == clips
    assert (clips_repo / "dvc.lock").read_text() == lock
