"""`testbed stress rtems-isolation`: result documents, grades, exit codes, bad input."""

from __future__ import annotations

import json

import pytest
from conftest import cli

KEYS = {
    "scenario", "variant", "config", "seed", "attempts", "outcomes", "grades",
    "first_failure_s", "elapsed_s", "accesses_per_s", "ctx_switches", "verdict", "exit_code",
}  # fmt: skip


def stress(*args: str):
    return cli("stress", "rtems-isolation", *args)


def test_scenarios_lists_rtems_isolation_with_its_grades():
    r = cli("scenarios", "--json")
    (sc,) = [d for d in json.loads(r.out) if d["name"] == "rtems-isolation"]
    assert list(sc["variants"]) == ["unprotected", "strict", "smp-global", "smp-tlb", "smp-percpu"]
    grades = {o["name"]: o["grades"] for o in sc["outcomes"]}
    assert grades["dormant_access_succeeded"]["strict"] == "FORBIDDEN"
    assert grades["dormant_access_succeeded"]["smp-percpu"] == "FORBIDDEN"
    assert grades["running_foreign_access"]["smp-global"] == "INTERESTING"
    assert grades["stale_tlb_access"]["smp-tlb"] == "INTERESTING"
    assert grades["stale_tlb_access"]["smp-percpu"] == "FORBIDDEN"
    assert grades["running_foreign_access"]["smp-percpu"] == "FORBIDDEN"


def test_strict_on_one_cpu_faults_every_dormant_access_exactly():
    r = stress("--variant", "strict", "--tasks", "3", "--shares", "2", "--rounds", "5")
    assert r.code == 0, r.err
    assert KEYS <= set(r.doc)
    # 15 slices: 2 shares (READ_ONLY, READ_WRITE): 3 ok, 1 denied; 2 other stacks, 4 probes
    assert r.doc["outcomes"] == {
        "dormant_access_faulted": 60, "dormant_access_succeeded": 0, "shared_access_ok": 45,
        "shared_write_denied": 15, "running_foreign_access": 0, "stale_tlb_access": 0,
    }  # fmt: skip
    assert r.doc["config"]["cpus"] == 1 and r.doc["config"]["stack_size"] == 16384


def test_unprotected_is_the_baseline_every_access_goes_through():
    r = stress("--variant", "unprotected", "--cpus", "1", "--tasks", "2", "--rounds", "3")
    assert r.code == 0, r.err
    o = r.doc["outcomes"]
    # 6 slices: 2 probes of the other stack, and the write through the READ_ONLY share
    assert o["dormant_access_succeeded"] == 6 * 3 and o["dormant_access_faulted"] == 0
    assert o["shared_write_denied"] == 0 and o["shared_access_ok"] == 6 * 3


def test_smp_global_under_real_preemption_reaches_running_stacks():
    r = stress(
        "--variant", "smp-global", "--duration", "20", "--max-failures", "1",
        "--require", "running_foreign_access", "--seed", "3",
    )  # fmt: skip
    assert r.code == 0, r.err
    assert r.doc["outcomes"]["running_foreign_access"] >= 1
    assert r.doc["first_failure_s"] is not None


def test_smp_percpu_passes_and_cannot_meet_a_breach_requirement():
    r = stress("--variant", "smp-percpu", "--cpus", "2", "--tasks", "6", "--rounds", "200",
               "--require", "stale_tlb_access")  # fmt: skip
    assert r.code == 1, r.err
    o = r.doc["outcomes"]
    assert o["stale_tlb_access"] == o["running_foreign_access"] == 0
    assert o["dormant_access_succeeded"] == 0 and o["dormant_access_faulted"] > 0
    assert r.doc["reasons"] == ["required outcome stale_tlb_access never seen"]


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--shares", "9"],
            "--shares 9: expected 0..8 (a ninth share is refused with RTEMS_TOO_MANY)",
        ),
        (["--shares", "-1"], "--shares -1: expected 0..8"),
        (["--shares", "2", "--tasks", "2"], "--shares 2: expected 0..0: a share is one page"),
        (["--stack-size", "0"], "--stack-size 0: 0 bytes, expected 1..1048576 bytes"),
        (
            ["--stack-size", "5000"],
            "--stack-size 5000: 5000 bytes is not page-aligned, expected a multiple of 4096",
        ),
        (["--stack-size", "2M"], "--stack-size 2M: 2097152 bytes, expected 1..1048576 bytes"),
        (
            ["--stack-size", "1M", "--tasks", "9"],
            "--tasks 9: expected 2..8 (2 CPUs, 8 stacks of 1048576 bytes fit)",
        ),
        (["--tasks", "65"], "--tasks 65: expected 2..64"),
        (["--tasks", "1"], "--tasks 1: expected 2..64"),
        (["--cpus", "9"], "--cpus 9: expected 2..8 for --variant smp-global"),
        (["--cpus", "1"], "--cpus 1: expected 2..8 for --variant smp-global"),
    ],
)
def test_bad_input_exits_2_naming_the_value_and_range(args, message):
    r = stress("--variant", "smp-global", *args)
    assert r.code == 2, r.err
    assert message in r.err
    assert r.doc is None


def test_strict_takes_one_cpu_only():
    r = stress("--variant", "strict", "--cpus", "2")
    assert r.code == 2 and "--cpus 2: expected 1..1 for --variant strict" in r.err


def test_every_task_probes_every_other_stack_where_no_share_lies():
    # two-page stacks: each task's two shares cover page 0 of both other stacks;
    # the probes go to page 1: 2 rounds x 3 tasks x 2 other stacks x (read, write)
    r = stress("--variant", "strict", "--tasks", "3", "--stack-size", "8K", "--shares", "2",
               "--rounds", "2")  # fmt: skip
    assert r.code == 0, r.err
    assert r.doc["outcomes"]["dormant_access_faulted"] == 2 * 3 * 2 * 2


@pytest.mark.parametrize(
    "args, why",
    [
        (("--tasks", "3", "--stack-size", "4K", "--shares", "2"), "shares cover every page"),
        (("--tasks", "2", "--stack-size", "4K", "--shares", "1"), "shares cover every page"),
        (("--tasks", "1", "--shares", "0"), "--tasks 1: expected 2.."),
    ],
)
def test_a_configuration_that_leaves_nothing_to_probe_is_refused(args, why):
    r = stress("--variant", "strict", *args, "--rounds", "1")
    assert r.code == 2 and why in r.err, r.err
