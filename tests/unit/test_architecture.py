"""The layout keeps its promises: the layer contract, module sizes, and the map in docs/."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_MODULE_LINES = 400
MAX_STAGE_LINES = 50  # the docstring, imports and `if __name__` included


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
    )


def test_import_contracts_hold() -> None:
    out = lint_imports(REPO)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "actionrec", tmp_path / "actionrec", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("module", "imported", "broken"),
    [
        ("core.schema", "actionrec.lineage.tracking", "layers"),  # a lower layer importing a higher one
        ("media.video", "actionrec.config.params", "layers"),  # independent siblings
        ("serving.live", "pandas", "served code"),  # a heavy library in the live bundle
    ],
)
def test_contracts_catch_a_violation(package_copy: Path, module: str, imported: str, broken: str) -> None:
    path = package_copy / "actionrec" / (module.replace(".", "/") + ".py")
    probe = f"\n\ndef _probe() -> None:\n    import {imported}  # noqa\n"  # a function-level import counts too
    path.write_text(path.read_text() + probe)
    out = lint_imports(package_copy)
    assert out.returncode != 0
    assert re.search(rf"^{re.escape(broken)}.* BROKEN", out.stdout, re.M), out.stdout
    assert f"actionrec.{module} -> {imported} (l." in out.stdout, out.stdout


def test_library_modules_and_stages_stay_small() -> None:
    big = [
        f"{p.relative_to(REPO)}: {n} lines"
        for p in sorted((REPO / "actionrec").rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    fat = [
        f"{p.relative_to(REPO)}: {n} lines"
        for p in sorted((REPO / "stages").glob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_STAGE_LINES
    ]
    assert not big, f"library modules over {MAX_MODULE_LINES} lines (split them by job): {big}"
    assert not fat, f"stage scripts over {MAX_STAGE_LINES} lines (move the logic into actionrec/): {fat}"


def test_architecture_doc_names_every_package() -> None:
    doc = (REPO / "docs" / "architecture.md").read_text()
    packages = sorted(p.parent.relative_to(REPO).as_posix() for p in (REPO / "actionrec").glob("*/__init__.py"))
    missing = [p for p in packages if f"`{p}/`" not in doc]
    assert not missing, f"docs/architecture.md does not describe {missing}"
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    table = doc.replace("\\|", "|")  # a | inside a markdown table cell is written \|
    for layer in layers:
        assert f"`{layer}`" in table, f"docs/architecture.md's layer list lacks {layer} (pyproject.toml's contract)"
