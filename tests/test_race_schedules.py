"""The race and the gap, forced at named schedule points with real processes and real locks.

Two creators of one PD ("main" and "thread1") create one thread each. For every schedule
point P on main's path, main is stopped at P; thread1 runs its creation, either to its end
(it destroys its thread too) or until it holds its stack (before destroying it), blocking
for real if a lock stops it; then main finishes. These are all the schedules with one
preemption of main: racy and quickfix must conflict in some, fixed and bitalloc in none.
"""

from __future__ import annotations

import pytest

from kernel_model.genode.context_allocator import POINTS
from testbed.harness.replay import replay
from testbed.trace.step import FINISH
from testbed.trace.trace import Event, Trace

CONFIG = {"pds": 1, "creators": 2, "children": 1, "stack_size": 16 * 1024}
A, B = "pd0.main", "pd0.thread1"


def preempt_main_at(variant: str, point: str, thread1_until: str = FINISH) -> dict:
    """A hand-written trace: main stops at `point`, thread1 runs (it may block or end
    first), then main finishes first, then thread1."""
    trace = Trace(
        "genode-race", variant, CONFIG, seed=1, actors=[A, B], outcome="region_conflict",
        detected_by=A, rounds=1, order="stop",
        events=[Event(0, A, "point", point), Event(1, B, "point", thread1_until, optional=True)],
    )  # fmt: skip
    return replay(trace, lock_timeout_s=20)


def explore(variant: str) -> dict[tuple[str, str], dict]:
    results = {}
    for point in POINTS:
        for until in (FINISH, "core.detach"):
            doc = preempt_main_at(variant, point, until)
            if doc["verdict"] == "aborted":
                assert "finished before it reached" in doc["reasons"][0], doc["reasons"]
                break  # main never passes this point in this variant
            assert doc["attempts"] == 2, doc
            results[point, until] = doc["outcomes"]
    return results


def conflicting_points(results: dict) -> set[str]:
    return {point for (point, _), o in results.items() if o["region_conflict"]}


def test_racy_conflicts_when_main_is_preempted_between_insert_and_assignment(no_leftovers):
    # from the release of _threads_lock to the assignment, main's slot looks free
    assert conflicting_points(explore("racy")) == {
        "core.ram_alloc",
        "core.reply",
        "core.attach_at",
        "context.assign",
    }


def test_quickfix_conflicts_only_in_the_gap_after_alloc_lock(no_leftovers):
    # inside alloc_lock thread1 waits; only the instructions after its release remain
    assert conflicting_points(explore("quickfix")) == {"context.assign"}


@pytest.mark.parametrize("variant", ["fixed", "bitalloc"])
def test_fixed_and_bitalloc_never_conflict(variant, no_leftovers):
    results = explore(variant)
    assert len(results) >= 10  # main's path was really explored
    for schedule, outcomes in results.items():
        assert outcomes == {
            "ok": 2,
            "region_conflict": 0,
            "out_of_stack_space": 0,
            "stack_too_large": 0,
        }, schedule


def test_the_interleaving_is_the_forced_one(no_leftovers):
    """The same script twice gives the same outcome: the schedule, not luck, decides."""
    for _ in range(3):
        doc = preempt_main_at("quickfix", "context.assign")
        assert doc["outcomes"]["region_conflict"] == 1 and doc["outcomes"]["ok"] == 1
        assert doc["verdict"] == "pass"
    doc = preempt_main_at("fixed", "context.assign")
    assert doc["outcomes"]["region_conflict"] == 0
