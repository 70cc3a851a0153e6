"""The session's working-tree check (tests/conftest.py): a session whose tests write into the
checkout fails and names the path, with or without xdist workers; one that does not passes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PROBE = """
from tests.conftest import REPO

def test_probe():
    if {write}:
        (REPO / "written.txt").write_text("x")
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["serial", "xdist"])
@pytest.mark.parametrize("write", [True, False])
def test_a_session_that_writes_into_the_checkout_fails(tmp_path: Path, write: bool, xdist: list[str]) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "tests").mkdir(parents=True)
    shutil.copy2(REPO / "tests" / "conftest.py", checkout / "tests" / "conftest.py")
    (checkout / "tests" / "__init__.py").touch()
    (checkout / "tests" / "test_probe.py").write_text(PROBE.format(write=write))
    subprocess.run(["git", "init", "-q"], cwd=checkout, check=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *xdist, "tests"],
        cwd=checkout,
        capture_output=True,
        text=True,
    )
    assert (proc.returncode == 1) is write, proc.stdout[-2000:]
    assert ("tests wrote into the checkout" in proc.stdout and "written.txt: absent ->" in proc.stdout) is write
