"""The SCTBench ports (scenarios/sctbench/): explore at K=2, access points, finds each bad
variant's bug (its declared outcome, or a deadlock) and completes each good one with nothing
found. The schedule counts are those of 2026-12-06 (docs/results.md), a change shows here."""

from __future__ import annotations

import pytest

import testbed
from testbed.scenarios.sctbench import PROGRAMS

# (schedules run to their end, sleep-blocked ones counted apart): their sum is the count of
# the search before sleep-blocked schedules were counted apart
PROOFS = {"sct-account": (4, 6), "sct-lazy-init": (36, 54), "sct-reorder": (552, 754),
          "sct-twostage": (9, 20), "sct-wronglock": (4, 6), "sct-stack": (16, 27),
          "sct-queue": (4, 8), "sct-circular-buffer": (12, 24), "sct-lock-order": (4, 12),
          "sct-carter": (36, 114), "sct-bluetooth": (14, 27)}  # fmt: skip


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_bad_is_found_and_good_is_proved(program, tmp_path):
    kw = {"points": "access", "preemptions": 2, "seed": 1, "max_schedules": 3000,
          "trace_dir": str(tmp_path)}  # fmt: skip
    bad = testbed.explore(program.name, variant="bad", **kw).document
    assert bad["exit_code"] == 1 and bad["failures"][0]["outcome"] == program.bug
    good = testbed.explore(program.name, variant="good", **kw).document
    assert (good["exit_code"], good["complete"]) == (0, True)
    assert (good["schedules"], good["sleep_blocked"]) == PROOFS[program.name]
