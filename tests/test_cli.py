"""The real `testbed` command, briefly: result documents, exit codes, bad input."""

from __future__ import annotations

import json

import pytest
from conftest import cli

KEYS = {
    "scenario", "variant", "config", "seed", "attempts", "outcomes", "grades",
    "first_failure_s", "elapsed_s", "creations_per_s", "ctx_switches", "verdict",
}  # fmt: skip


def test_scenarios_lists_genode_race_with_grades_and_points():
    r = cli("scenarios", "--json")
    assert r.code == 0
    (race,) = [d for d in json.loads(r.out) if d["name"] == "genode-race"]
    assert set(race["variants"]) == {"racy", "quickfix", "fixed", "bitalloc"}
    grades = {o["name"]: o["grades"] for o in race["outcomes"]}
    assert grades["region_conflict"] == {
        "racy": "INTERESTING", "quickfix": "INTERESTING", "fixed": "FORBIDDEN", "bitalloc": "FORBIDDEN"
    }  # fmt: skip
    assert grades["out_of_stack_space"]["fixed"] == "ACCEPTABLE"
    assert "context.assign" in race["points"]


def test_racy_shows_region_conflict_under_real_preemption():
    r = cli(
        "stress", "genode-race", "--variant", "racy", "--duration", "60",
        "--max-failures", "1", "--require", "region_conflict", "--seed", "7",
    )  # fmt: skip
    assert r.code == 0, r.err
    doc = r.doc
    assert KEYS <= set(doc)
    assert doc["outcomes"]["region_conflict"] >= 1
    assert doc["first_failure_s"] is not None and doc["first_failure_s"] <= doc["elapsed_s"]
    assert doc["verdict"] == "pass" and doc["seed"] == 7
    assert doc["attempts"] == sum(doc["outcomes"].values())


@pytest.mark.parametrize("variant", ["fixed", "bitalloc"])
def test_fixed_variants_pass_and_fail_a_requirement_they_cannot_meet(variant, tmp_path):
    log = tmp_path / "core.jsonl"
    r = cli(
        "stress", "genode-race", "--variant", variant, "--rounds", "30", "--pds", "2",
        "--creators", "3", "--require", "region_conflict", "--core-log", str(log),
    )  # fmt: skip
    assert r.code == 1, r.err  # the requirement is unmet, nothing FORBIDDEN happened
    assert r.doc["outcomes"]["region_conflict"] == 0
    assert r.doc["outcomes"]["ok"] == 2 * 3 * 30 * 4
    assert r.doc["verdict"] == "fail" and "never seen" in r.doc["reasons"][0]
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(lines) == 4 * r.doc["outcomes"]["ok"]  # ram_alloc, attach_at, detach, ram_free
    attach = next(x for x in lines if x["op"] == "attach_at")
    assert {"pd", "client", "slot", "offset", "address", "size", "status"} <= set(attach)
    assert attach["address"] == 0x40000000 + attach["offset"] and attach["status"] == "ok"


def test_more_children_than_slots_shows_exhaustion():
    r = cli("stress", "genode-race", "--variant", "bitalloc", "--creators", "1",
            "--children", "300", "--rounds", "1")  # fmt: skip
    assert r.code == 0, r.err
    assert r.doc["outcomes"] == {
        "ok": 255, "region_conflict": 0, "out_of_stack_space": 45, "stack_too_large": 0
    }  # fmt: skip


def test_a_stack_that_cannot_fit_its_slot_is_an_outcome():
    r = cli("stress", "genode-race", "--variant", "fixed", "--stack-size", "1M", "--rounds", "2")
    assert r.code == 0, r.err
    assert r.doc["outcomes"]["stack_too_large"] == 2 * 2 * 4 and r.doc["outcomes"]["ok"] == 0


@pytest.mark.parametrize(
    "args,message",
    [
        (["--pds", "0"], "--pds 0: expected 1..16"),
        (["--creators", "33"], "--creators 33: expected 1..32"),
        (["--children", "0"], "--children 0: expected 1..1024"),
        (["--stack-size", "2M"], "--stack-size 2M: 2097152 bytes, expected 1..1048576 bytes"),
        (["--stack-size", "lots"], "--stack-size 'lots': expected a size like 16K"),
        (["--pin", "left"], "--pin 'left': expected one of same, spread, none"),
        (["--duration", "0"], "--duration 0: expected 0 < seconds <= 86400"),
        (["--rounds", "0"], "--rounds 0: expected 1..1000000000"),
        (["--seed", "-1"], "--seed -1: expected 0..4294967295"),
        (["--require", "crash"], "--require 'crash': expected one of ok, region_conflict"),
        (["--max-failures", "-2"], "--max-failures -2: expected 0 or more"),
    ],
)
def test_bad_input_exits_2_naming_the_value_and_range(args, message):
    r = cli("stress", "genode-race", "--variant", "racy", *args)
    assert r.code == 2
    assert message in r.err


def test_unknown_variant_and_scenario_exit_2():
    r = cli("stress", "genode-race", "--variant", "lazy")
    assert (
        r.code == 2 and "--variant 'lazy': expected one of racy, quickfix, fixed, bitalloc" in r.err
    )
    r = cli("stress", "rtems-magic", "--variant", "x")
    assert r.code == 2 and "rtems-magic" in r.err


def test_rounds_and_duration_are_exclusive():
    r = cli("stress", "genode-race", "--variant", "racy", "--rounds", "1", "--duration", "1")
    assert r.code == 2 and "not allowed with argument" in r.err


def test_help_has_examples():
    r = cli("stress", "genode-race", "--help")
    assert r.code == 0 and "examples:" in r.out and "--require region_conflict" in r.out
