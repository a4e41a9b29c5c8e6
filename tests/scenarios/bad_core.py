"""A scenario whose core service does not build: the run must abort naming core's error,
with no traceback on the user's terminal."""

from testbed import Grade, Outcome, Scenario


class BadCore(Scenario):
    name = "bad-core"
    variants = {"v": "core's service raises while it is built"}
    outcomes = (Outcome("ok", "the body ran", {"v": Grade.ACCEPTABLE}, failure=False),)

    def actors(self, config):
        return [("a", {})]

    def core(self, shared, config):
        raise ValueError("no such table")

    def run_actor(self, env, actor):
        env.record("ok")


SCENARIO = BadCore()
