"""A lock-order inversion with no `deadlock` outcome declared (tests/test_genode_mutants.py):
a takes x then y, b takes y then x; the run must abort naming the cycle, never hang."""

import testbed
from testbed import Grade, Outcome


class Inversion(testbed.Scenario):
    name = "inversion"
    variants = {"v": "a takes x then y, b takes y then x"}
    outcomes = (Outcome("ok", "both locks taken", {"v": Grade.ACCEPTABLE}, failure=False),)

    def actors(self, config):
        return [("a", {"order": ("x", "y")}), ("b", {"order": ("y", "x")})]

    def locks(self, config):
        return ["x", "y"]

    def run_actor(self, env, actor):
        first, second = (env.lock(n) for n in actor.params["order"])
        for _ in env.rounds():
            with first:
                with second:
                    env.record("ok")


SCENARIO = Inversion()
