"""A lost update, SCTBench-shaped: two actors increment a shared counter, the arbiter checks."""

from testbed import Grade, Outcome, Scenario


class LostUpdate(Scenario):
    name = "lost-update"
    variants = {"racy": "read, then write back +1", "atomic": "fetch_add"}
    outcomes = (
        Outcome(
            "two",
            "both increments landed",
            {"racy": Grade.ACCEPTABLE, "atomic": Grade.ACCEPTABLE},
            failure=False,
        ),
        Outcome(
            "one", "an increment was lost", {"racy": Grade.FORBIDDEN, "atomic": Grade.FORBIDDEN}
        ),
    )
    points = ("read", "write")
    iterate = True

    def actors(self, config):
        return [("a", {}), ("b", {})]

    def regions(self, config):
        return {"x": 1}

    def run_actor(self, env, actor):
        x = env.words("x")
        if env.config["variant"] == "atomic":
            env.atomic("x").fetch_add(1)
            return
        env.point("read")
        v = x[0]
        env.point("write")
        x[0] = v + 1

    def arbiter(self, env):
        env.record("two" if env.words("x")[0] == 2 else "one")


SCENARIO = LostUpdate()
