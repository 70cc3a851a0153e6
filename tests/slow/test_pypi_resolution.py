"""Every lock and the live bundle's requirements resolve against PyPI alone (pip isolated from this
machine's configuration: no wheel folder, extra indexes or constraints), to exactly what they pin.

The PyTorch CPU index is used when this machine reaches it; where it does not (a sandbox), the
CPU files are resolved against PyPI, which then serves torch's CUDA build: only torch's CUDA
packages may then come in extra. ~1 min per lock (package metadata only, no wheels)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest
from packaging.requirements import Requirement

from actionrec.packaging.bundle import vendored_modules
from actionrec.packaging.pins import CPU_INDEX, CPU_INDEX_LINE, canonical, cuda_only, public_version, pypi_only_env
from actionrec.packaging.requirements import direct_requirements, requirement_closure, requirements_txt

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _reachable(url: str) -> bool:
    try:
        socket.create_connection((urlparse(url).hostname, 443), timeout=5).close()
    except OSError:
        return False
    return True


def _bundle_requirements(formats: set[str]) -> str:
    """The requirements.txt the package stage writes for a bundle of models in these formats."""
    direct = direct_requirements([REPO / rel for rel in vendored_modules(formats, REPO)])
    return requirements_txt(requirement_closure(direct), direct)


FILES = {
    "lock-cpu.txt": lambda: (REPO / "requirements/lock-cpu.txt").read_text(),
    "lock-cuda.txt": lambda: (REPO / "requirements/lock-cuda.txt").read_text(),
    "bundle (scikit-learn models)": lambda: _bundle_requirements({"skops"}),
    "bundle (scikit-learn + torch models)": lambda: _bundle_requirements({"skops", "torch"}),
}


@pytest.mark.parametrize("label", FILES)
def test_resolves_on_pypi_to_exactly_its_pins(label: str, tmp_path: Path) -> None:
    text = FILES[label]()
    lines = text.splitlines()
    pins = {canonical(r.name): r for r in (Requirement(line) for line in lines if line and line[0] not in "#-")}
    assert not [str(r) for r in pins.values() if any(s.operator == "==" and "+" in s.version for s in r.specifier)], (
        "local versions"
    )
    cpu = CPU_INDEX_LINE in lines
    online = cpu and _reachable(CPU_INDEX)
    req = tmp_path / "requirements.txt"
    req.write_text(text if online or not cpu else "\n".join(line for line in lines if line != CPU_INDEX_LINE) + "\n")
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "-q",
            "--report",
            str(report),
            "-r",
            str(req),
        ],
        env=pypi_only_env(str(tmp_path)),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"{label} does not install from PyPI alone:\n{proc.stderr[-3000:]}"
    got = {canonical(i["metadata"]["name"]): i for i in json.loads(report.read_text())["install"]}

    assert not sorted(set(pins) - set(got)), "pinned but not installed"
    wrong = {
        n: got[n]["metadata"]["version"]
        for n, r in pins.items()
        if not r.specifier.contains(got[n]["metadata"]["version"])
    }
    assert not wrong, f"resolved to other versions than pinned: {wrong}"
    extra = sorted(set(got) - set(pins))
    # only where the CPU index is unreachable and PyPI served torch's CUDA build instead
    allowed = [n for n in extra if cuda_only(n)] if cpu and not online else []
    assert extra == allowed, f"installed but not pinned: {sorted(set(extra) - set(allowed))}"
    if "torch" in pins:
        torch = got["torch"]
        assert public_version(torch["metadata"]["version"]) == "2.13.0"
        if online:
            assert (
                torch["metadata"]["version"] == "2.13.0+cpu" and "download.pytorch.org" in torch["download_info"]["url"]
            )
    if label == "bundle (scikit-learn models)":
        assert not {"torch", "tqdm", "pandas", "mlflow", "dvc"} & set(got), "a scikit-learn bundle needs no torch"
