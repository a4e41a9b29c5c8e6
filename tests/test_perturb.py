"""Perturbation strategies and CPU hogs: parsed strictly, applied in real runs."""

from __future__ import annotations

import pytest
from conftest import cli

from testbed.harness.perturb import Perturb, parse


@pytest.mark.parametrize(
    "text,expected",
    [
        ("none", Perturb()),
        ("yield:0.25", Perturb("yield", p=0.25)),
        ("delay:50", Perturb("delay", p=1.0, delay_us=50)),
        ("delay:50:0.1", Perturb("delay", p=0.1, delay_us=50)),
        ("pct:3", Perturb("pct", depth=3)),
    ],
)
def test_strategies_parse(text, expected):
    assert parse(text) == expected
    assert parse(str(expected)) == expected


@pytest.mark.parametrize(
    "text,message",
    [
        ("chaos", "expected none | yield:P | delay:US[:P] | pct:D"),
        ("yield:2", "probability 2 outside 0..1"),
        ("yield:x", "probability 'x' is not a number"),
        ("delay:-5", "microseconds -5 outside 0..100000"),
        ("delay:10:0.5:1", "expected none"),
        ("pct:0", "depth 0 outside 1..64"),
        ("pct:2.5", "depth 2.5 is not a whole number"),
    ],
)
def test_bad_strategies_exit_2_naming_the_parameter(text, message):
    r = cli("stress", "genode-race", "--variant", "racy", "--perturb", text)
    assert r.code == 2 and message in r.err


@pytest.mark.parametrize("strategy", ["yield:0.5", "delay:20:0.2", "pct:3"])
def test_each_strategy_runs_and_is_in_the_result(strategy):
    r = cli("stress", "genode-race", "--variant", "fixed", "--rounds", "40", "--perturb", strategy,
            "--seed", "5", "--no-record")  # fmt: skip
    assert r.code == 0, r.err
    assert r.doc["perturb"] == strategy and r.doc["config"]["perturb"] == strategy
    assert r.doc["outcomes"]["ok"] == 2 * 40 * 4 and r.doc["outcomes"]["region_conflict"] == 0


def test_hogs_run_beside_the_actors_and_go_with_the_run(no_leftovers):
    import multiprocess

    from scenarios.genode_race import SCENARIO
    from testbed.harness.run import RunOptions, run

    config = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16384}
    doc = run(RunOptions(SCENARIO, "bitalloc", config, rounds=30, hogs=2, pin="same"))
    assert doc["verdict"] == "pass" and doc["config"]["hogs"] == 2
    assert doc["ctx_switches"]["involuntary"] > 0  # the hogs share the actors' CPU
    assert multiprocess.active_children() == []  # core, actors and hogs are all gone


@pytest.mark.parametrize("args,message", [(["--hogs", "65"], "--hogs 65: expected 0..64"),
                                          (["--ring-events", "1000"], "--ring-events 1000: expected a power of two"),
                                          (["--max-traces", "-1"], "--max-traces -1: expected 0..1000")])  # fmt: skip
def test_bad_recording_options_exit_2(args, message):
    r = cli("stress", "genode-race", "--variant", "racy", *args)
    assert r.code == 2 and message in r.err


def test_auto_is_seeded_same_seed_same_strategy_sequence():
    import itertools
    import random

    from testbed.harness.perturb import auto as portfolio

    def sequence(seed: int) -> list[tuple[int, int]]:
        auto = portfolio.Auto(random.Random(seed), 100)  # as an actor's env builds it
        return list(itertools.islice(auto.schedule, 50))

    a, b, c = sequence(7), sequence(7), sequence(8)
    assert a == b and a != c
    assert len({k for k, _ in a}) == len(portfolio.CATALOGUE)  # it varies the strategy
    lo, hi = portfolio.PHASE_POINTS
    assert all(lo <= n <= hi for _, n in a)


def test_auto_names_the_strategy_active_at_the_first_failure():
    from conftest import cli

    from testbed.harness.perturb import auto as portfolio

    r = cli(
        "stress", "genode-race", "--variant", "racy", "--perturb", "auto", "--seed", "4",
        "--duration", "30", "--max-failures", "1", "--no-record",
    )  # fmt: skip
    assert r.code == 0 and r.doc["outcomes"]["region_conflict"] >= 1, r.err
    assert r.doc["auto_at_first_failure"] in portfolio.CATALOGUE
    assert r.doc["config"]["perturb"] == "auto"


def test_a_failure_under_pct_is_not_taken_for_auto():
    r = cli(
        "stress", "genode-race", "--variant", "racy", "--perturb", "pct:3", "--seed", "4",
        "--duration", "30", "--max-failures", "1", "--no-record",
    )  # fmt: skip
    assert r.code == 0 and r.doc["outcomes"]["region_conflict"] >= 1, r.err
    assert "auto_at_first_failure" not in r.doc
