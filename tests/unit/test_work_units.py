"""make test's xdist work units (tests/conftest.py): a file stays on one worker, and every file
using the shared pipeline runs shares one unit, so that each run is made once."""

from __future__ import annotations

from tests.conftest import work_unit

SHARED_RUN_USERS = [
    "tests/pipeline/test_determinism.py::test_second_run_really_started_from_scratch",  # run_a, run_b
    "tests/docs/test_readme.py::test_readme_block_runs[03]",  # shared_runs.run_a() in a fixture
    "tests/slow/test_live.py::test_frame_model_recognises_demo_clips",  # the trained_demo fixture
    "tests/browser/test_web.py::test_page",
]


def test_shared_run_users_are_one_unit_and_other_files_their_own() -> None:
    assert len({work_unit(nodeid) for nodeid in SHARED_RUN_USERS}) == 1
    assert work_unit("tests/unit/test_kernels.py::test_comparison_rules") == "tests/unit/test_kernels.py"
    assert work_unit("tests/pipeline/test_pipeline.py::test_a[x]") == "tests/pipeline/test_pipeline.py"
    assert work_unit("tests/unit/test_kernels.py::a") != work_unit(SHARED_RUN_USERS[0])
