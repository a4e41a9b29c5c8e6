"""The mutant catalogue: its declarations, the deadlock outcome (named from the actors'
side, never a timeout), and the correct allocators beside the mutants."""

from __future__ import annotations

from conftest import cli, user_files

from kernel_model.genode import mutants
from scenarios.genode_mutants import SCENARIO


def test_every_mutant_names_its_window_and_its_bug_is_forbidden():
    assert len(mutants.MUTANTS) >= 12
    for name, cls in mutants.MUTANTS.items():
        assert cls.__doc__.startswith("Window:"), name
        assert SCENARIO.grades(name)["region_conflict"].value == "FORBIDDEN"
        assert SCENARIO.grades(name)["deadlock"].value == "FORBIDDEN"
    assert set(mutants.CORRECT) <= set(SCENARIO.variants)


def test_the_lock_inversion_ends_as_a_named_deadlock_and_leaves_nothing_behind():
    r = cli(
        "stress", "genode-mutants", "--variant", "lock_inversion", "--duration", "60",
        "--max-failures", "1", "--lock-timeout", "30", "--seed", "5", "--no-record",
    )  # fmt: skip
    assert r.code == 1, r.err
    assert r.doc["verdict"] == "fail" and r.doc["outcomes"]["deadlock"] == 1
    d = r.doc["deadlock"]
    assert sorted(d["actors"]) == ["pd0.main", "pd0.thread1"]
    assert sorted(d["locks"]) == ["pd0.alloc", "pd0.threads"]
    assert d["reported_by"] in d["actors"]


def test_a_deadlock_without_a_deadlock_outcome_aborts_naming_the_cycle(tmp_path):
    path = user_files(tmp_path, "inversion.py") / "inversion.py"
    r = cli(
        "stress", str(path), "--variant", "v", "--duration", "60", "--lock-timeout", "30",
        "--no-record",
    )  # fmt: skip
    assert r.code == 3, r.err
    reason = r.doc["reasons"][0]  # the root cause first (both actors may report the cycle)
    assert "Deadlock: deadlock:" in reason
    assert "a waits for" in reason and "b waits for" in reason


def test_the_correct_allocators_pass_beside_the_mutants():
    for variant in mutants.CORRECT:
        r = cli(
            "stress", "genode-mutants", "--variant", variant, "--rounds", "30",
            "--points", "access", "--perturb", "auto", "--seed", "2",
        )  # fmt: skip
        assert r.code == 0 and r.doc["outcomes"]["region_conflict"] == 0, r.err
