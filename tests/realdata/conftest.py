"""Real public data from ../shared/data; every test here skips where it is absent.

Leaderboards and metrics of the runs go to a temporary folder, or to ``$ACTIONREC_REALDATA_RESULTS``
(set by ``make realdata-reports`` and ``make realdata-full``, which refresh reports/realdata/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import output_dir
from tests.pipeline.shared_runs import TEST_PARAMS

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
# The landmark pipelines' training budgets: make test's smaller ones; make realdata-reports and
# realdata-full (which keep the leaderboards in reports/realdata/) train with the repository's params.
BUDGET = {} if os.environ.get("ACTIONREC_REALDATA") else TEST_PARAMS


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason=f"real data not available at {SHARED_DATA}")
    for item in items:
        if "realdata" in item.keywords and not SHARED_DATA.is_dir():
            item.add_marker(skip)


@pytest.fixture(scope="session")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder the real-data leaderboards are kept in."""
    return output_dir("ACTIONREC_REALDATA_RESULTS", tmp_path_factory, "realdata-results")
