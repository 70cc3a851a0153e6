"""The command line speaks to users: `actionrec --version`, and no subcommand's --help shows reST."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

import actionrec
from actionrec.cli import build_parser, main, version

REST_MARKERS = ("``", ":func:", ":mod:", ":class:", ":data:", "::")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_version_is_the_installed_distributions() -> None:
    proc = subprocess.run([sys.executable, "-m", "actionrec", "--version"], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == f"actionrec {version()}"
    assert version() == actionrec.__version__, "pyproject.toml and actionrec.__version__ disagree"


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_help_has_no_rest_markup(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([name, "--help"])  # live and record: their own parsers, reached through the delegation
    text = capsys.readouterr().out
    assert done.value.code == 0 and name in text
    assert not [m for m in REST_MARKERS if m in text], text


def test_top_level_help_has_no_rest_markup() -> None:
    text = build_parser().format_help()
    assert not [m for m in REST_MARKERS if m in text], text
