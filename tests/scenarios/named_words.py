"""Two actors, each reads a word at a named point `read` and writes it back +1 at `write`:
its own word (`own`) or word 0 (`same`). At named points the accesses are not points, but
explore notes them, so a step's reads are known as at access level."""

from testbed import Grade, Outcome, Scenario

ACC = Grade.ACCEPTABLE


class NamedWords(Scenario):
    name = "named-words"
    description = "read then write a word, at named points"
    variants = {"own": "each actor its own word", "same": "both on word 0"}
    outcomes = (Outcome("ok", "done", {"own": ACC, "same": ACC}, failure=False),)
    points = ("read", "write")

    def actors(self, config):
        return [("t0", {}), ("t1", {})]

    def regions(self, config):
        return {"words": 2}

    def run_actor(self, env, actor):
        w = env.words("words")
        i = actor.index if env.config["variant"] == "own" else 0
        env.point("read")
        x = w[i]
        env.point("write")
        w[i] = x + 1
        env.record("ok")


SCENARIO = NamedWords()
