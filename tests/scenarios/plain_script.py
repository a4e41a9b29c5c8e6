"""A user's plain script: its scenario and a call of testbed.run at the top level, with no
`if __name__ == "__main__":` guard (tests/test_packaging.py runs it with python from a tmp dir).
The children import it again only up to its testbed.run call: one verdict, no traceback."""

import json
import sys

import testbed
from testbed import Grade, Outcome, Scenario


class LostUpdate(Scenario):
    name = "plain-lost-update"
    variants = {"racy": "read, then write back +1", "atomic": "fetch_add"}
    outcomes = (
        Outcome(
            "two",
            "both increments landed",
            {"racy": Grade.ACCEPTABLE, "atomic": Grade.ACCEPTABLE},
            failure=False,
        ),  # fmt: skip
        Outcome(
            "one", "an increment was lost", {"racy": Grade.FORBIDDEN, "atomic": Grade.FORBIDDEN}
        ),  # fmt: skip
    )
    points = ("read", "write")
    iterate = True

    def actors(self, config):
        return [("a", {}), ("b", {})]

    def regions(self, config):
        return {"x": 1}

    def run_actor(self, env, actor):
        if env.config["variant"] == "atomic":
            env.atomic("x").fetch_add(1)
            return
        x = env.words("x")
        env.point("read")
        v = x[0]
        env.point("write")
        x[0] = v + 1

    def arbiter(self, env):
        env.record("two" if env.words("x")[0] == 2 else "one")


SCENARIO = LostUpdate()
print("STARTED", flush=True)
result = testbed.run(SCENARIO, variant=sys.argv[1], rounds=50, seed=1, record=False)
print(json.dumps({"verdict": result.verdict, "exit_code": result.exit_code}), flush=True)
