"""A continuous run's failures replay however late they come: the runner drains the rings
into the run's history as it goes (trace/history.py) and writes each trace from it; a
history it could not keep whole is said, and no replay is offered for it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli, user_files


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    return user_files(tmp_path / "user", "late_claim.py")


def test_a_failure_after_20_s_replays(user_dir, tmp_path):
    """Rounds of 10 ms, locked for the first 2,000: the first failure comes after 20 s, with
    rings of 4,096 events wrapped several times over; its trace holds the whole run."""
    code, doc, err = run_cli(
        user_dir, "stress", "late_claim.py", "--variant", "racy", "--late-round", "2000",
        "--pace-ms", "10", "--duration", "120", "--max-failures", "1", "--ring-events", "4096",
        "--pin", "same", "--perturb", "yield:0.5", "--seed", "3", "--json", "-",
    )  # fmt: skip
    assert code == 1 and doc is not None, err
    assert doc["first_failure_s"] >= 20
    (trace,) = doc["traces"]
    assert trace["replayable"] and trace["why"] is None, trace["why"]
    events = json.loads((user_dir / trace["file"]).read_text())["events"]
    assert len(events) > 2 * 4096 and events[0]["ticket"] == 0
    other = tmp_path / "elsewhere"
    other.mkdir()
    shutil.copy(user_dir / trace["file"], other / "t.json")
    code, rdoc, err = run_cli(other, "replay", "--trust-source", "t.json", "--json", "-")
    assert code == 0 and rdoc["replay"]["reproduced"], err


def test_a_history_not_kept_whole_offers_no_replay(user_dir):
    """Rounds as fast as they go, rings of 1,024 events: a ring takes more than it holds
    between two drains, and the trace of the failure that follows says so."""
    code, doc, err = run_cli(
        user_dir, "stress", "late_claim.py", "--variant", "racy", "--late-round", "30000",
        "--duration", "60", "--max-failures", "1", "--ring-events", "1024",
        "--perturb", "yield:0.5", "--seed", "3", "--json", "-",
    )  # fmt: skip
    assert code == 1 and doc is not None, err
    (trace,) = doc["traces"]
    assert not trace["replayable"] and "--ring-events" in trace["why"]
    assert json.loads((user_dir / trace["file"]).read_text())["complete"] is False
    # the summary (on stderr beside --json -) offers no replay command for it
    assert "not replayable" in err and "replay: testbed replay" not in err
