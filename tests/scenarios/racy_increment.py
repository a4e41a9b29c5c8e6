"""Two actors increment one word without a lock, a named point between the read and the write:
the failing scenario of the explore page that `make check-pages` (tests/pages/check_pages.py)
makes and opens in a browser."""

from testbed import Grade, Outcome, Scenario


class RacyIncrement(Scenario):
    name = "racy-increment"
    description = "read, then write, one shared word"
    variants = {"unlocked": "no lock between the read and the write"}
    outcomes = (
        Outcome("ok", "both increments landed", {"unlocked": Grade.ACCEPTABLE}, failure=False),
        Outcome("lost_update", "one increment lost", {"unlocked": Grade.FORBIDDEN}),
    )
    points = ("read", "write")

    def actors(self, config):
        return [("t0", {}), ("t1", {})]

    def regions(self, config):
        return {"words": 2}

    def run_actor(self, env, actor):
        w = env.words("words")
        env.point("read")
        x = w[0]
        env.point("write")
        w[0] = x + 1
        w[1] += 1
        if w[1] == 2:
            env.record("lost_update" if w[0] != 2 else "ok")


SCENARIO = RacyIncrement()
