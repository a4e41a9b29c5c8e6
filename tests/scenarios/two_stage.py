"""SCTBench's twostage, iterating: a writer sets data1 under lock m1, then data2 = data1 + 1
under lock m2; a reader reads data1 under m1, then data2 under m2. The two stages are each
atomic, their pair is not: the reader can see data1 = 1 and data2 = 0. `param-gap` widens the
writer's window between the stages by that many schedule points."""

from testbed import Grade, Outcome, Scenario


class TwoStage(Scenario):
    name = "two-stage"
    variants = {"racy": "two locks, one after the other", "fixed": "m1 held across both stages"}
    outcomes = (
        Outcome(
            "consistent",
            "data2 = data1 + 1 or neither set",
            {"racy": Grade.ACCEPTABLE, "fixed": Grade.ACCEPTABLE},
            failure=False,
        ),
        Outcome(
            "torn",
            "the reader saw data1 set and data2 not yet",
            {"racy": Grade.FORBIDDEN, "fixed": Grade.FORBIDDEN},
        ),
    )
    points = ("gap",)
    iterate = True

    def actors(self, config):
        return [("writer", {}), ("reader", {})]

    def locks(self, config):
        return ["m1", "m2"]

    def regions(self, config):
        return {"data": 2, "seen": 2}

    def run_actor(self, env, actor):
        data, seen = env.words("data"), env.words("seen")
        m1, m2 = env.lock("m1"), env.lock("m2")
        fixed = env.config["variant"] == "fixed"
        if actor.name == "writer":
            m1.acquire()
            data[0] = 1
            if not fixed:
                m1.release()
            for _ in range(3):
                env.point("gap")
            with m2:
                data[1] = data[0] + 1
            if fixed:
                m1.release()
        else:
            with m1:
                seen[0] = data[0]
            with m2:
                seen[1] = data[1]

    def arbiter(self, env):
        d1, d2 = env.words("seen")
        env.record("torn" if d1 == 1 and d2 != 2 else "consistent")


SCENARIO = TwoStage()
