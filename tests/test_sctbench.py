"""The SCTBench ports (scenarios/sctbench/): explore at K=2, access points, finds each bad
variant's bug (its declared outcome, or a deadlock) and completes each good one with nothing
found. The schedule counts are those of 2026-12-06 (docs/results.md), a change shows here."""

from __future__ import annotations

import pytest

import testbed
from testbed.scenarios.sctbench import PROGRAMS

PROOFS = {"sct-account": 10, "sct-lazy-init": 90, "sct-reorder": 1306, "sct-twostage": 29,
          "sct-wronglock": 10, "sct-stack": 43, "sct-queue": 12, "sct-circular-buffer": 36,
          "sct-lock-order": 16, "sct-carter": 150, "sct-bluetooth": 41}  # fmt: skip


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.name)
def test_bad_is_found_and_good_is_proved(program, tmp_path):
    kw = {"points": "access", "preemptions": 2, "seed": 1, "max_schedules": 3000,
          "trace_dir": str(tmp_path)}  # fmt: skip
    bad = testbed.explore(program.name, variant="bad", **kw).document
    assert bad["exit_code"] == 1 and bad["failures"][0]["outcome"] == program.bug
    good = testbed.explore(program.name, variant="good", **kw).document
    assert (good["exit_code"], good["complete"]) == (0, True)
    assert good["schedules"] == PROOFS[program.name]
