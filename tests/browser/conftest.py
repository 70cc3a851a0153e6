"""Where the browser tier's screenshots go: a temporary folder, or ``$ACTIONREC_SCREENSHOT_DIR``
(set by ``make screenshots``, which refreshes the README's images in reports/screenshots/)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the screenshots are saved in."""
    if env := os.environ.get("ACTIONREC_SCREENSHOT_DIR"):
        folder = Path(env).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp("screenshots")
