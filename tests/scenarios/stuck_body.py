"""Iterating actors where one breaks the iteration's contract, by variant: `spin` never
returns from its body in iteration 3; `holds` returns still holding its lock."""

from testbed import Grade, Outcome, Scenario


class StuckBody(Scenario):
    name = "stuck-body"
    variants = {"spin": "b loops forever in iteration 3", "holds": "b keeps lock L in iteration 2"}
    outcomes = (
        Outcome(
            "ok",
            "the iteration ended",
            {"spin": Grade.ACCEPTABLE, "holds": Grade.ACCEPTABLE},
            failure=False,
        ),
    )
    points = ("p",)
    iterate = True

    def actors(self, config):
        return [("a", {}), ("b", {})]

    def locks(self, config):
        return ["L"]

    def run_actor(self, env, actor):
        env.point("p")
        if actor.name == "b" and env.iteration == 3 and env.config["variant"] == "spin":
            while True:
                pass
        if actor.name == "b" and env.iteration == 2 and env.config["variant"] == "holds":
            env.lock("L").acquire()

    def arbiter(self, env):
        env.record("ok")


SCENARIO = StuckBody()
