"""Runs after every other test of the session: the tests wrote only to temporary directories."""

from __future__ import annotations

import pytest

from tests.conftest import REPO, worktree_state

pytestmark = pytest.mark.last


def test_the_tests_left_the_working_tree_as_they_found_it(worktree_at_start: dict[str, str]) -> None:
    """``git status`` (ignored paths included) is what it was when the session started: no test
    modified, added or removed a file of the checkout (a developer's own edits stay as they were)."""
    now = worktree_state(REPO)
    changed = {
        p: (worktree_at_start.get(p, "absent"), now.get(p, "absent"))
        for p in sorted(worktree_at_start.keys() | now.keys())
        if worktree_at_start.get(p) != now.get(p)
    }
    assert not changed, "tests wrote into the checkout (path: before -> after):\n" + "\n".join(
        f"  {p}: {a} -> {b}" for p, (a, b) in changed.items()
    )
