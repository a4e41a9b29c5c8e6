"""The SCTBench ports (scenarios/sctbench/): explore at K=2, access points, finds each bad
variant's bug (its declared outcome, or a deadlock) and completes each good one with nothing
found. The schedule counts are those of the default, bounded DPOR (docs/results.md); a
change shows here."""

from __future__ import annotations

import pytest

import testbed
from testbed.scenarios.sctbench import PROGRAMS

# (schedules run to their end, repeats of an earlier round's schedules counted apart); with
# sleep sets (before 2026-12-06's default change) they were (schedules, sleep-blocked):
# account (4, 6), lazy-init (36, 54), reorder (552, 754), twostage (9, 20), wronglock (4, 6),
# stack (16, 27), queue (4, 8), circular-buffer (12, 24), lock-order (4, 12), carter
# (36, 114), bluetooth (14, 27): fewer schedules, as many runs or more, but not sound under
# a bound (docs/explore.md)
PROOFS = {"sct-account": (4, 6), "sct-lazy-init": (42, 42), "sct-reorder": (864, 528),
          "sct-twostage": (12, 9), "sct-wronglock": (4, 6), "sct-stack": (16, 10),
          "sct-queue": (4, 6), "sct-circular-buffer": (23, 11), "sct-lock-order": (6, 8),
          "sct-carter": (74, 60), "sct-bluetooth": (14, 10)}  # fmt: skip


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_bad_is_found_and_good_is_proved(program, tmp_path):
    kw = {"points": "access", "preemptions": 2, "seed": 1, "max_schedules": 3000,
          "trace_dir": str(tmp_path)}  # fmt: skip
    bad = testbed.explore(program.name, variant="bad", **kw).document
    assert bad["exit_code"] == 1 and bad["failures"][0]["outcome"] == program.bug
    good = testbed.explore(program.name, variant="good", **kw).document
    assert (good["exit_code"], good["complete"]) == (0, True)
    assert (good["schedules"], good["repeated"]) == PROOFS[program.name]
