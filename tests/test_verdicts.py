"""Every verdict earned (issue 19): a `complete` that says what it covers and runs the
schedules that preempt at a lock, replay commands verified before they are offered, a
deadlock reported as one, one meaning for each exit code, and no PASS for a run that
recorded nothing. The scenarios are real files under tests/scenarios/, copied to a user's
directory outside the repository and loaded by path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import explore, run_cli

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    d = tmp_path / "user"
    d.mkdir()
    for f in SCENARIOS.glob("*.py"):
        shutil.copy(f, d / f.name)
    return d


# -- 1. lock operations are schedule points at every level --------------------------------


def test_lock_order_bug_found_at_named_points(user_dir):
    """The writer sets data1 under lock1, then data2 = data1 + 1 under lock2; the checker
    reads both the same way. No named point lies between the stages: before lock
    operations were points, a named-level search ran 1 schedule and said `complete`."""
    code, doc = explore(user_dir, "lock_order.py", "--variant", "racy", "--points", "named")
    assert code == 1, doc
    assert doc["verdict"] == "fail" and not doc["complete"]
    assert [f["outcome"] for f in doc["failures"]] == ["torn"]
    assert doc["failures"][0]["preemptions"] >= 1
    # the schedule found replays, from another directory, at the same level
    trace = Path(doc["failures"][0]["trace_file"])
    code, rdoc, err = run_cli(user_dir, "replay", str(trace), "--json", "-")
    assert code == 0 and rdoc["replay"]["reproduced"], err


def test_complete_says_what_it_covers(user_dir):
    code, doc = explore(user_dir, "lock_order.py", "--variant", "fixed", "--points", "named")
    assert code == 0 and doc["complete"], doc
    assert doc["schedules"] > 1  # the locks' points were switched at
    assert "every schedule with at most 2 preemptions" in doc["covers"]
    assert "lock acquire and release" in doc["covers"]
    assert "--points access" in doc["covers"]  # what it does not cover, and how to
