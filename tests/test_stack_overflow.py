"""The stack-overflow scenario with real processes: flat overflows silently over its
neighbour, managed faults at the first page below the stack; fault reports; bad input."""

from __future__ import annotations

import json

import pytest
from conftest import cli

from kernel_model.genode import layout

STACK = 16 << 10
# the top thread of two is in slot 2; the first page below its 16 KiB (+ Context) dataspace
FIRST_PAGE_BELOW = layout.AREA_BASE + layout.stack_offset(2, STACK) - layout.PAGE_SIZE


def test_flat_overflow_is_silent_and_corrupts_the_neighbour():
    r = cli("stress", "stack-overflow", "--variant", "flat", "--rounds", "3",
            "--require", "neighbour_corrupted", "--require", "overflow_silent")  # fmt: skip
    assert r.code == 0, r.err
    # no schedule points, no order to force: no trace is offered that would not replay
    assert r.doc["trace_files"] == [] and "testbed replay" not in r.out + r.err
    assert r.doc["outcomes"] == {
        "ok": 0, "overflow_detected": 0, "overflow_silent": 3, "neighbour_corrupted": 3
    }  # fmt: skip
    assert r.doc["grades"]["overflow_silent"] == "INTERESTING"
    assert r.doc["faults"]["unresolvable"] == 0 and r.doc["faults"]["resolved"] > 256


def test_managed_overflow_faults_at_the_first_page_below_the_stack(tmp_path):
    log = tmp_path / "core.jsonl"
    r = cli("stress", "stack-overflow", "--variant", "managed", "--rounds", "3", "--pds", "2",
            "--core-log", str(log))  # fmt: skip
    assert r.code == 0, r.err
    assert r.doc["outcomes"] == {
        "ok": 6, "overflow_detected": 6, "overflow_silent": 0, "neighbour_corrupted": 0
    }  # fmt: skip
    faults = r.doc["faults"]
    assert faults["unresolvable"] == 6 and len(faults["reports"]) == 6
    assert {json.dumps(x, sort_keys=True) for x in faults["reports"]} == {
        json.dumps({"pd": pd, "thread": 1, "thread_name": f"pd{pd}.thread1",
                    "address": FIRST_PAGE_BELOW, "access": "write", "region_map": "stack_area",
                    "slot": 2}, sort_keys=True)
        for pd in (0, 1)
    }  # fmt: skip
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    bad = [x for x in lines if x["op"] == "fault" and x["status"] == "unresolvable_fault"]
    assert len(bad) == 6 and all(x["address"] == FIRST_PAGE_BELOW for x in bad)
    assert {"pd", "thread", "access", "region_map", "slot"} <= set(bad[0])
    assert sum(x["op"] == "fault" and x["status"] == "ok" for x in lines) == faults["resolved"]


def test_a_workload_within_its_stack_is_ok_in_both_designs():
    for variant in ("flat", "managed"):
        r = cli("stress", "stack-overflow", "--variant", variant, "--rounds", "2",
                "--threads", "3", "--depth", "3")  # fmt: skip
        assert r.code == 0, r.err
        assert r.doc["outcomes"]["ok"] == 6 and r.doc["attempts"] == 6


def test_flat_overflow_that_stays_in_its_slot_is_silent_but_harms_nobody():
    r = cli("stress", "stack-overflow", "--variant", "flat", "--rounds", "2", "--depth", "100")
    assert r.code == 0, r.err
    assert r.doc["outcomes"]["overflow_silent"] == 2 and r.doc["outcomes"]["ok"] == 2


@pytest.mark.parametrize(
    "args,message",
    [
        (["--depth", "0"], "--depth 0: expected 1..767"),
        (["--depth", "600", "--threads", "1"], "--depth 600: expected 1..511"),
        (["--frame-size", "8"], "--frame-size 8: 8 bytes, expected 16..65536 bytes"),
        (["--frame-size", "100"], "--frame-size 100: 100 bytes, expected a multiple of 16"),
        (["--frame-size", "128K"], "--frame-size 128K: 131072 bytes, expected 16..65536"),
        (["--stack-size", "1M"], "--stack-size 1M: 1048576 bytes, expected 1..1040128 bytes"),
        (["--stack-size", "0"], "--stack-size 0: 0 bytes, expected 1..1040128 bytes"),
        (["--threads", "9"], "--threads 9: expected 1..8"),
        (["--pds", "0"], "--pds 0: expected 1..4"),
    ],
)
def test_bad_input_exits_2_naming_the_value_and_range(args, message):
    r = cli("stress", "stack-overflow", "--variant", "managed", *args)
    assert r.code == 2 and message in r.err, r.err


def test_scenarios_lists_the_grades():
    r = cli("scenarios", "--json")
    (so,) = [d for d in json.loads(r.out) if d["name"] == "stack-overflow"]
    grades = {o["name"]: o["grades"] for o in so["outcomes"]}
    assert grades["overflow_silent"] == {"flat": "INTERESTING", "managed": "FORBIDDEN"}
    assert grades["neighbour_corrupted"] == {"flat": "INTERESTING", "managed": "FORBIDDEN"}
    assert grades["overflow_detected"] == {"flat": "ACCEPTABLE", "managed": "ACCEPTABLE"}


def test_page_fault_calibration_resolves_every_fault():
    r = cli("stress", "page-fault", "--variant", "lazy", "--rounds", "3", "--calls", "50")
    assert r.code == 0, r.err
    assert r.doc["outcomes"] == {"resolved": 150, "unresolvable": 0}
    assert r.doc["faults"]["resolved"] == 150 and "faults_per_s" in r.doc


def test_a_trace_without_schedule_points_is_refused_by_replay(tmp_path):
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps({
        "format": "testbed-trace", "version": 1, "scenario": "stack-overflow",
        "variant": "flat", "seed": 1, "actors": ["pd0.thread0", "pd0.thread1"],
        "config": {"pds": 1, "threads": 2, "stack_size": 16384, "frame_size": 4096,
                   "depth": 300},
        "outcome": "overflow_silent", "rounds": 1,
        "events": [{"ticket": 0, "actor": "pd0.thread1", "kind": "outcome",
                    "point": "overflow_silent"}],
    }))  # fmt: skip
    r = cli("replay", str(trace))
    assert r.code == 2 and "no schedule point to force" in r.err, r.out + r.err
