"""The SMP breaches, forced at schedule points with real CPU processes and a real core.

Two CPUs, four tasks (t0, t2 on cpu0; t1, t3 on cpu1), one READ_ONLY share a task, one
round. In a slice a task reads and writes through its share and probes the three other
stacks (a read and a write each): 8 accesses, 32 in all. The script runs the slices one
at a time, so every count below is exact.
"""

from __future__ import annotations

import pytest

from testbed.harness.run import RunOptions, run
from testbed.scenarios.rtems_isolation import SCENARIO
from testbed.trace.step import FINISH, Step

CONFIG = {"cpus": 2, "tasks": 4, "stack_size": 16 * 1024, "shares": 1}
SLICE, BOTH = "task.slice", "switch.unmap"


def go(variant: str, script: list[Step]) -> dict:
    doc = run(RunOptions(SCENARIO, variant, CONFIG, rounds=1, script=script, lock_timeout_s=20))
    assert doc["attempts"] == 32, doc
    assert doc["outcomes"]["shared_access_ok"] == 4 and doc["outcomes"]["shared_write_denied"] == 4
    return doc


# t1 probes t0 while t0 runs (cpu1 caches its translation), t0 goes dormant, then t3 on
# cpu1 probes t0 again
STALE = [
    Step("cpu0", BOTH),  # both CPUs have mapped their first task
    Step("cpu1", BOTH),
    Step("cpu0", SLICE),  # t0 runs
    Step("cpu1", SLICE),
    Step("cpu1", SLICE),  # t1's slice, then cpu1 switches to t3
    Step("cpu0", SLICE),  # t0's slice, then cpu0 switches to t2: t0 is dormant
    Step("cpu1", FINISH),  # t3's slice
    Step("cpu0", FINISH),  # t2's slice
]


def breaches(doc: dict) -> tuple[int, int, int, int]:
    o = doc["outcomes"]
    return (
        o["dormant_access_faulted"],
        o["running_foreign_access"],
        o["stale_tlb_access"],
        o["dormant_access_succeeded"],
    )


def test_smp_tlb_a_stale_entry_reaches_a_dormant_stack(no_leftovers):
    doc = go("smp-tlb", STALE)
    assert breaches(doc) == (14, 8, 2, 0)
    assert doc["verdict"] == "pass"  # INTERESTING in its own variant


def test_smp_global_the_same_schedule_faults_without_a_tlb(no_leftovers):
    assert breaches(go("smp-global", STALE)) == (16, 8, 0, 0)


def test_smp_percpu_the_same_schedule_has_no_breach(no_leftovers):
    doc = go("smp-percpu", STALE)
    assert breaches(doc) == (24, 0, 0, 0) and doc["exit_code"] == 0


@pytest.mark.parametrize("variant,expected", [("smp-global", (12, 12)), ("smp-percpu", (24, 0))])
def test_the_switch_window_leaves_the_outgoing_stack_reachable(variant, expected, no_leftovers):
    """cpu0 stops between mapping t2 and unmapping t0; t1 on cpu1 probes both."""
    script = [
        Step("cpu0", BOTH),
        Step("cpu1", BOTH),
        Step("cpu0", SLICE),
        Step("cpu0", BOTH),  # t0's slice done, t2 mapped, t0 not yet unmapped
        Step("cpu1", SLICE),
        Step("cpu1", BOTH),  # t1's slice: t0 and t2 both reachable in the global table
        Step("cpu0", FINISH),
        Step("cpu1", FINISH),
    ]
    assert breaches(go(variant, script))[:2] == expected


def test_the_schedule_not_luck_decides(no_leftovers):
    for _ in range(2):
        assert breaches(go("smp-tlb", STALE)) == (14, 8, 2, 0)
