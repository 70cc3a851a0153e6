"""dvc.yaml lists every project module each stage runs; the extraction cache key follows its code."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from actionrec.core.imports import import_closure, source_digest
from actionrec.lineage.codedeps import diff, expected_deps, rewrite_deps


def test_every_stage_lists_the_modules_it_imports(repo: Path) -> None:
    """The import closure of each stage's module (and of the bundle's vendored modules for
    `package`) is in its deps, and no code dep is stale; remedy: python -m actionrec.lineage.codedeps."""
    assert diff(repo) == []


def test_dvc_yaml_is_what_the_generator_writes(repo: Path) -> None:
    text = (repo / "dvc.yaml").read_text()
    assert rewrite_deps(text, expected_deps(repo)) == text


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_closure_follows_function_level_relative_and_package_imports(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "stages/__init__.py": "",
            "stages/train.py": "import numpy\nfrom actionrec.models import net\n",
            "actionrec/__init__.py": "",
            "actionrec/models/__init__.py": "",
            "actionrec/models/net.py": "def f():\n    from . import layers\n    from ..util import x\n",
            "actionrec/models/layers.py": "",
            "actionrec/util.py": "x = 1\n",
            "actionrec/unused.py": "",
        },
    )
    assert [p.as_posix() for p in import_closure(root, root / "stages/train.py")] == [
        "actionrec/__init__.py",
        "actionrec/models/__init__.py",
        "actionrec/models/layers.py",
        "actionrec/models/net.py",
        "actionrec/util.py",
        "stages/__init__.py",
        "stages/train.py",
    ]


DVC_YAML = """\
stages:
  train:
    cmd: python -m stages.train
    deps:
      - data/raw
      - stages/train.py
    params:
      - seed
    outs:
      - models
"""


def test_missing_and_stale_deps_are_named_and_rewritten(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "stages/__init__.py": "",
            "stages/train.py": "from actionrec import util\n",
            "actionrec/__init__.py": "",
            "actionrec/util.py": "",
            "dvc.yaml": DVC_YAML.replace(
                "      - stages/train.py\n", "      - stages/train.py\n      - actionrec/old.py\n"
            ),
        },
    )
    problems = diff(root)
    assert any("stage train" in p and "actionrec/util.py" in p and "stages/__init__.py" in p for p in problems)
    assert any("stage train" in p and "actionrec/old.py" in p for p in problems)
    (root / "dvc.yaml").write_text(rewrite_deps((root / "dvc.yaml").read_text(), expected_deps(root)))
    assert diff(root) == []
    assert (root / "dvc.yaml").read_text() == DVC_YAML.replace(
        "      - stages/train.py\n",
        (
            "      - actionrec/__init__.py\n      - actionrec/util.py\n      - stages/__init__.py\n"
            "      - stages/train.py\n"
        ),
    )


# --------------------------------------------------------------------------- extraction cache key


@pytest.fixture
def package_copy(tmp_path: Path, repo: Path) -> Path:
    shutil.copytree(repo / "actionrec", tmp_path / "actionrec", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_code_digest_changes_with_code_not_comments(package_copy: Path) -> None:
    extract = package_copy / "actionrec" / "extraction" / "compute.py"
    video = package_copy / "actionrec" / "media" / "video.py"  # imported by the extractor
    before = source_digest(package_copy, extract)
    video.write_text(video.read_text() + "\n# a comment\n")
    assert source_digest(package_copy, extract) == before
    video.write_text(video.read_text() + "RESIZE = 'area'\n")
    assert source_digest(package_copy, extract) != before


def cache_key_of(root: Path) -> str:
    """extraction.cache.cache_key of one clip, computed by the package under ``root`` (no MediaPipe run)."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import actionrec.extraction.cache as e; "
        "from actionrec.config.extraction import ExtractParams; "
        "assert e.__file__.startswith(sys.argv[1]), e.__file__; "
        "print(json.dumps(e.cache_key('ab' * 32, ExtractParams(), 'landmarks')))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_cache_key_changes_when_extraction_code_changes(package_copy: Path) -> None:
    before = cache_key_of(package_copy)
    holistic = package_copy / "actionrec" / "media" / "holistic.py"  # the MediaPipe wrapper, not the extractor itself
    holistic.write_text(holistic.read_text() + "\nMODEL_COMPLEXITY = 1\n")
    assert cache_key_of(package_copy) != before
