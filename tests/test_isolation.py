"""Issue 20, item 2: a PD cannot act as another. Each actor maps only its own mailbox page,
core's bitmaps are core's own memory, the mailbox segment's and reply semaphores' names are
gone once every process opened them, and a stray pending bit never replays a request."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from testbed.harness.loader import load
from testbed.harness.run import RunOptions, prepare

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    shutil.copy(SCENARIOS / "other_pd.py", tmp_path / "other_pd.py")
    return tmp_path


def test_pd0_writing_into_pd1s_mailbox_and_cores_bitmaps_changes_nothing_of_pd1(user_dir):
    code, doc, err = run_cli(
        user_dir, "stress", "other_pd.py", "--variant", "python", "--rounds", "1",
        "--lock-timeout", "10", "--json", "-",
    )  # fmt: skip
    assert code == 0, err
    assert doc["outcomes"] == {"no_access": 5, "breached": 0, "intact": 1, "harmed": 0}


def test_core_regions_are_in_no_shared_segment(user_dir):
    sc = load(str(user_dir / "other_pd.py"))
    spec = prepare(RunOptions(sc, "python", {}))
    assert "pd0.pages" in spec.layout.private and "pd0.pages" not in spec.layout.regions
    assert "mailboxes" not in spec.layout.regions
