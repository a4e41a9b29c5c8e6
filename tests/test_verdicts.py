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
    code, rdoc, err = run_cli(user_dir, "replay", "--trust-source", str(trace), "--json", "-")
    assert code == 0 and rdoc["replay"]["reproduced"], err


def test_complete_says_what_it_covers(user_dir):
    code, doc = explore(user_dir, "lock_order.py", "--variant", "fixed", "--points", "named")
    assert code == 0 and doc["complete"], doc
    assert doc["schedules"] > 1  # the locks' points were switched at
    assert "every schedule with at most 2 preemptions" in doc["covers"]
    assert "lock acquire and release" in doc["covers"]
    assert "--points access" in doc["covers"]  # what it does not cover, and how to


# -- 2. a replay command is offered only once it replayed ----------------------------------


def _stress(cwd: Path, *args: str) -> tuple[int, dict, str]:
    code, doc, err = run_cli(cwd, "stress", *args, "--seed", "7", "--json", "-")
    assert doc is not None, err
    return code, doc, err


def test_a_named_trace_through_a_shared_word_wait_is_labelled_not_offered(user_dir):
    """`ping` and `pong` wait for each other's word with no named point in the wait: at
    named level the replay cannot force it (a waiting actor never parks), so the trace is
    verified, found not to reproduce, and labelled instead of offered."""
    code, doc, _ = _stress(
        user_dir, "handshake.py", "--variant", "spin", "--rounds", "3", "--max-failures", "1",
        "--lock-timeout", "2",
    )  # fmt: skip
    assert code == 0, doc["reasons"]  # an INTERESTING outcome: the run passes
    v = doc["verified"]
    assert (v["replays"], v["reproduced"], v["verdict"]) == (1, 0, "not-reproduced"), v
    assert "not reproducible at named points" in v["label"]
    assert "rerun with --points access" in v["label"]
    assert doc["trace_files"] == []  # no replay command is offered for it
    (t,) = doc["traces"]
    assert t["file"] == v["trace"] and not t["replayable"] and t["why"] == v["label"]


def test_the_same_wait_at_access_points_is_verified_and_offered(user_dir):
    """At access level every read of the wait is a point, so the trace can be forced; its
    order is each access's ticket, taken in the access's own C call, which the OS can still
    preempt between the ticket and the access (rarely; more often on a loaded machine). So:
    a trace verified is offered, one that did not reproduce is labelled and withheld, and
    of a few seeded runs at least one trace is verified and replays again from the CLI."""
    offered = []
    for seed in ("7", "8", "9", "10", "11"):
        code, doc, err = run_cli(
            user_dir, "stress", "handshake.py", "--variant", "spin", "--rounds", "3",
            "--max-failures", "1", "--points", "access", "--lock-timeout", "5",
            "--ring-events", "1048576", "--seed", seed, "--json", "-",
        )  # fmt: skip
        assert doc is not None and code == 0, err
        v = doc["verified"]
        if v["verdict"] == "reproduced":
            assert (v["replays"], v["reproduced"]) == (1, 1) and doc["trace_files"] == [v["trace"]]
            offered.append(v["trace"])
            break
        assert v["trace"] not in doc["trace_files"] and v["label"], v  # labelled, withheld
    assert offered, "no access-level trace of five runs was verified"
    code, rdoc, err = run_cli(user_dir, "replay", "--trust-source", offered[0], "--json", "-")
    assert code == 0 and rdoc["replay"]["reproduced"] and rdoc["verdict"] == "reproduced", err


def test_verify_zero_offers_the_trace_unverified(user_dir):
    code, doc, _ = _stress(
        user_dir, "handshake.py", "--variant", "spin", "--rounds", "3", "--max-failures", "1",
        "--verify", "0",
    )  # fmt: skip
    assert "verified" not in doc and len(doc["trace_files"]) == 1


# -- 3. a deadlock with a bystander --------------------------------------------------------


def test_a_deadlock_with_a_bystander_is_a_failure_naming_cycle_and_waiter(user_dir):
    """a and b deadlock on lock1/lock2; c waits for lock1, which a holds. Before: c ran
    into --lock-timeout and the run was `aborted` (exit 3) without the deadlock."""
    code, doc, _ = _stress(user_dir, "light_switch.py", "--variant", "racy", "--lock-timeout", "30")
    assert code == 1 and doc["verdict"] == "fail", doc["reasons"]
    d = doc["deadlock"]
    assert sorted(d["actors"]) == ["a", "b"] and sorted(d["locks"]) == ["lock1", "lock2"]
    assert "c waits for lock1, held by a" in d["waiting"]
    assert doc["reasons"][0].startswith("deadlock: ")
    assert "a waits for lock2, held by b" in doc["reasons"][0]
    assert "c waits for lock1, held by a, who is in the deadlock" in doc["reasons"]
    assert doc["elapsed_s"] < 5  # named as soon as it is sure, not after --lock-timeout 30


def test_the_same_actors_in_one_lock_order_pass(user_dir):
    code, doc, _ = _stress(user_dir, "light_switch.py", "--variant", "ordered")
    assert code == 0 and doc["verdict"] == "pass" and doc["outcomes"]["done"] == 3, doc


# -- 4. one meaning for each exit code -----------------------------------------------------


def test_explore_exits_0_when_the_required_outcome_is_found(user_dir):
    """--require names an outcome the user wants to see: finding it is a pass, as in stress
    (it exited 1 before); its schedule is still written and offered."""
    code, doc = explore(user_dir, "lost_update.py", "--variant", "racy", "--require", "two")
    assert code == 0 and doc["verdict"] == "pass", doc
    assert doc["failures"][0]["outcome"] == "two" and doc["trace_files"]
    assert doc["verified"]["verdict"] == "reproduced"
    # with every failing schedule kept, the FORBIDDEN `one` of racy fails it all the same
    code, doc = explore(
        user_dir, "lost_update.py", "--variant", "racy", "--require", "two", "--max-failures", "0"
    )
    assert code == 1 and doc["verdict"] == "fail", doc["reasons"]


def test_explore_exits_1_when_a_complete_search_never_sees_the_required_outcome(user_dir):
    code, doc = explore(user_dir, "lost_update.py", "--variant", "atomic", "--require", "one")
    assert code == 1 and doc["complete"], doc
    assert doc["reasons"] == ["required outcome one never seen in any schedule"]


def test_the_python_replay_answers_the_commands_exit_code(user_dir, monkeypatch):
    import testbed

    code, doc, _ = _stress(
        user_dir, "lost_update.py", "--variant", "racy", "--duration", "30", "--max-failures",
        "1", "--pin", "same", "--perturb", "yield:0.5",
    )  # fmt: skip
    assert code == 1 and doc["trace_files"], doc["reasons"]
    monkeypatch.chdir(user_dir)
    result = testbed.replay(doc["trace_files"][0])
    assert (result.verdict, result.exit_code) == ("reproduced", 0)
    assert result.document["run_verdict"] == "fail"
    rcode, rdoc, _ = run_cli(
        user_dir, "replay", "--trust-source", doc["trace_files"][0], "--json", "-"
    )
    assert (rcode, rdoc["exit_code"], rdoc["verdict"]) == (0, 0, "reproduced")


# -- 9. a run with no evidence never passes -------------------------------------------------


def test_a_run_that_records_nothing_is_not_a_pass(user_dir):
    """`forgot` never calls env.record: before, `attempts 0 ... PASS`, exit 0."""
    code, doc, _ = _stress(user_dir, "silent.py", "--variant", "forgot", "--rounds", "50")
    assert code == 3 and doc["verdict"] == "no-evidence", doc
    assert doc["attempts"] == 0
    assert doc["reasons"][0].startswith("no evidence: no outcome was recorded")


def test_a_run_where_one_actor_records_nothing_names_it(user_dir):
    code, doc, _ = _stress(user_dir, "silent.py", "--variant", "one_forgot", "--rounds", "50")
    assert code == 3 and doc["verdict"] == "no-evidence", doc
    assert doc["attempts"] == 50
    assert doc["reasons"] == [
        "no evidence from quiet: recorded no outcome (does its body call env.record?)"
    ]


def test_an_arbiter_records_for_every_actor(user_dir):
    """An iterating scenario's arbiter records the outcome of each iteration: its actors
    record nothing themselves, and that is not silence."""
    code, doc, _ = _stress(user_dir, "lost_update.py", "--variant", "atomic", "--rounds", "50")
    assert code == 0 and doc["verdict"] == "pass", doc["reasons"]


def test_explore_of_a_run_that_records_nothing_is_not_a_pass(user_dir):
    code, doc = explore(user_dir, "silent.py", "--variant", "forgot")
    assert code == 3 and doc["verdict"] == "no-evidence", doc
    assert doc["reasons"][0].startswith("no evidence: no schedule recorded an outcome")
    code, doc = explore(user_dir, "silent.py", "--variant", "one_forgot")
    assert code == 3 and doc["reasons"] == [
        "no evidence from quiet: recorded no outcome in any schedule (does its body call "
        "env.record?)"
    ]
