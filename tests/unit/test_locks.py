"""The locks install from public indexes: no local-version pins, a CPU lock without CUDA packages
that names the PyTorch CPU index, a CUDA lock with PyPI's build, and `make setup` picks one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from actionrec.packaging.pins import CPU_INDEX_LINE, canonical, cuda_only

REPO = Path(__file__).resolve().parents[2]
LOCKS = sorted((REPO / "requirements").glob("lock*.txt"))


def pins(path: Path) -> dict[str, Requirement]:
    reqs = [Requirement(line) for line in path.read_text().splitlines() if line and line[0] not in "#-"]
    return {canonical(r.name): r for r in reqs}


@pytest.mark.parametrize("lock", LOCKS, ids=[p.name for p in LOCKS])
def test_no_local_versions_and_exact_pins(lock: Path) -> None:
    for req in pins(lock).values():
        versions = [s.version for s in req.specifier if s.operator == "=="]
        assert len(versions) == 1, f"{lock.name}: {req} is not an exact pin"
        assert "+" not in versions[0], f"{lock.name}: {req} pins a local build that PyPI never serves"


def test_one_lock_per_torch_target() -> None:
    assert [p.name for p in LOCKS] == ["lock-cpu.txt", "lock-cuda.txt"]
    cpu, cuda = pins(LOCKS[0]), pins(LOCKS[1])
    assert CPU_INDEX_LINE in LOCKS[0].read_text().splitlines()
    assert "download.pytorch.org" not in LOCKS[1].read_text()
    assert not [n for n in cpu if cuda_only(n)], "the CPU lock holds CUDA packages"
    assert {n for n in cuda if cuda_only(n)} >= {"triton", "nvidia-cudnn-cu13"}
    assert set(cpu) == {n for n in cuda if not cuda_only(n)}
    assert [n for n in cpu if n != "torch" and cpu[n].specifier != cuda[n].specifier] == [], "the locks disagree"
    # the CUDA lock pins PyPI's build; `make setup TORCH=cuda` installs it from PyPI alone, where
    # no local X+cpu build (a wheel folder, the CPU index) can match ==X
    assert str(cuda["torch"].specifier) == "==2.13.0"
    assert cpu["torch"].specifier.contains("2.13.0+cpu")


@pytest.mark.parametrize("torch, lock", [("cpu", "lock-cpu.txt"), ("cuda", "lock-cuda.txt")])
def test_make_setup_installs_the_lock_of_its_target(torch: str, lock: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        ["make", "-n", "-B", "setup", f"TORCH={torch}", f"VENV={tmp_path / 'venv'}", f"PYTHON={sys.executable}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    install = next(line for line in proc.stdout.splitlines() if f"-r requirements/{lock}" in line)
    pypi_only = install.startswith("env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null ")
    assert pypi_only == (torch == "cuda"), install


def test_make_refuses_an_unknown_target(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["make", "-n", "setup", "TORCH=rocm", f"VENV={tmp_path / 'venv'}"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode != 0 and "TORCH=rocm: use TORCH=cpu or TORCH=cuda" in proc.stderr
