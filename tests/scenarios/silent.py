"""A scenario whose actors forget to record: `forgot` records nothing at all, `one_forgot`
has `loud` record each round and `quiet` none. Nothing (or not everything) was checked:
neither run may pass."""

from testbed import Grade, Outcome, Scenario


class Silent(Scenario):
    name = "silent"
    variants = {"forgot": "no actor records", "one_forgot": "quiet records nothing"}
    outcomes = (Outcome("ok", "a round ran", dict.fromkeys(variants, Grade.ACCEPTABLE),
                        failure=False),)  # fmt: skip
    points = ("step",)

    def actors(self, config):
        return [("loud", {}), ("quiet", {})]

    def regions(self, config):
        return {"x": 1}

    def run_actor(self, env, actor):
        x = env.words("x")
        for _ in env.rounds():
            env.point("step")
            x[0] += 1
            if actor.name == "loud" and env.config["variant"] == "one_forgot":
                env.record("ok")


SCENARIO = Silent()
