"""Where the browser tier's screenshots go: a temporary folder, or ``$ACTIONREC_SCREENSHOT_DIR``
(set by ``make screenshots``, which refreshes the README's images in reports/screenshots/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import output_dir

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver (`make browser`)",
    ),
]
"""The browser tier's marks: skipped cleanly where Debian's Chromium and its driver are missing."""


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the screenshots are saved in."""
    return output_dir("ACTIONREC_SCREENSHOT_DIR", tmp_path_factory, "screenshots")
