"""A body that draws from `env.rng` between points (tests/test_access_bitmaps.py): with or
without perturbation the same seed must give it the same draws, which is what a replay (run
unperturbed) of a perturbed run relies on."""

import testbed
from testbed import Grade, Outcome


class Draws(testbed.Scenario):
    """The body draws from env.rng between points: a replay (no perturbation) must see the
    same draws as the perturbed run it replays."""

    name = "draws"
    variants = {"only": "draw four numbers"}
    outcomes = (Outcome("ok", "drew", {"only": Grade.ACCEPTABLE}, failure=False),)
    points = ("p",)

    def actors(self, config):
        return [("a", {})]

    def regions(self, config):
        return {"drawn": 4}

    def run_actor(self, env, actor):
        w = env.words("drawn")
        for _ in env.rounds():
            for k in range(4):
                env.point("p")
                w[k] = env.rng.randrange(2**32)
            env.record("ok")

    def result_extra(self, shared, config):
        return {"drawn": list(shared.words("drawn"))}


SCENARIO = Draws()
