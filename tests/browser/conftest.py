"""Where the browser tier's screenshots go: a temporary folder, or ``$ACTIONREC_SCREENSHOT_DIR``
(set by ``make screenshots``, which refreshes the README's images in reports/screenshots/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import output_dir


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the screenshots are saved in."""
    return output_dir("ACTIONREC_SCREENSHOT_DIR", tmp_path_factory, "screenshots")
