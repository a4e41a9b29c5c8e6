"""The stack-growth scenario with real processes: Genode's limits, and what they prevent."""

from __future__ import annotations

import pytest
from conftest import cli


def outcomes(variant: str, step: str, rounds: int = 2) -> dict:
    r = cli("stress", "stack-growth", "--variant", variant, "--step", step,
            "--rounds", str(rounds))  # fmt: skip
    assert r.code == 0, r.err
    assert r.doc["faults"]["unresolvable"] == 0
    return r.doc["outcomes"]


def test_genode_grows_three_steps_then_a_fifth_mapping_is_too_large():
    # 2 threads x 2 rounds: the first dataspace and 3 growth steps are the 4 mappings
    assert outcomes("genode", "64K") == {
        "grown": 12, "stack_too_large": 4, "past_slot": 0, "region_conflict": 0, "fault": 0
    }  # fmt: skip


def test_genode_refuses_growth_below_the_slot():
    # 20K + 512K fits the 1 MiB slot; another 512K would reach below it
    assert outcomes("genode", "512K") == {
        "grown": 4, "stack_too_large": 4, "past_slot": 0, "region_conflict": 0, "fault": 0
    }  # fmt: skip


def test_unlimited_growth_runs_into_the_slot_below():
    # thread0 (slot 1) grows into the empty slot 0; thread1 collides with thread0's stack
    assert outcomes("unlimited", "512K") == {
        "grown": 4, "stack_too_large": 0, "past_slot": 2, "region_conflict": 2, "fault": 0
    }  # fmt: skip


@pytest.mark.parametrize(
    "args,message",
    [
        (["--step", "1000"], "--step 1000: 1000 bytes, expected 4096..1048576 bytes"),
        (["--step", "6K"], "--step 6K: 6144 bytes, expected a multiple of 4096"),
        (["--stack-size", "2M"], "--stack-size 2M: 2097152 bytes, expected 1..1040128 bytes"),
        (["--frame-size", "0"], "--frame-size 0: 0 bytes, expected 16..65536 bytes"),
        (["--threads", "0"], "--threads 0: expected 1..8"),
    ],
)
def test_bad_input_exits_2_naming_the_value_and_range(args, message):
    r = cli("stress", "stack-growth", "--variant", "genode", *args)
    assert r.code == 2 and message in r.err, r.err
