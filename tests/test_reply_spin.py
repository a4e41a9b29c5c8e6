"""Who spins for core's reply: nobody on one CPU, and not an actor pinned beside core."""

from __future__ import annotations

from testbed.harness.run import beside_core
from testbed.scenario import Actor

ACTORS = [Actor(i, f"a{i}", {}) for i in range(3)]


def test_an_actor_pinned_to_core_s_one_cpu_does_not_spin():
    spread = {"core": [0], "a0": [1], "a1": [0], "a2": [1]}  # --pin spread on two CPUs
    assert beside_core(spread, ACTORS) == [1]
    assert beside_core({"core": [0], "a0": [1], "a1": [2], "a2": [3]}, ACTORS) == []
    assert beside_core({"core": None, "a0": None, "a1": None, "a2": None}, ACTORS) == []
    assert beside_core({"core": [0, 1], "a0": [0, 1], "a1": [0], "a2": [1]}, ACTORS) == []
