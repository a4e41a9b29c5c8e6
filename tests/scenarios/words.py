"""Actors that read a word then write it back plus one, no named point at all
(tests/test_explore.py): at access level each read and write is a step, so the counts of the
sleep sets and of DPOR follow from which words the steps read and write."""

from testbed import Grade, Outcome, Scenario

ACC = Grade.ACCEPTABLE


class Words(Scenario):
    name = "words"
    description = "reads and writes of words, at access level"
    variants = {
        "own": "two actors, each its own word",
        "same": "two actors, both on word 0",
        "three": "three actors, each its own word",
        "twice": "two actors, two increments of word 0 each, then a done counter",
    }
    outcomes = (
        Outcome("ok", "done", {v: ACC for v in variants}, failure=False),
        Outcome("lost_update", "one increment lost", {v: ACC for v in variants}),
        Outcome("v2", "twice: word 0 ends at 2", {v: ACC for v in variants}),
        Outcome("v3", "twice: word 0 ends at 3", {v: ACC for v in variants}),
    )

    def actors(self, config):
        return [(f"t{i}", {}) for i in range(3 if config["variant"] == "three" else 2)]

    def regions(self, config):
        return {"words": 3}

    def run_actor(self, env, actor):
        w, variant = env.words("words"), env.config["variant"]
        i = 0 if variant in ("same", "twice") else actor.index
        for _ in range(2 if variant == "twice" else 1):
            x = w[i]
            w[i] = x + 1
        if variant != "twice":
            env.record("ok")
            return
        done = w[2]
        w[2] = done + 1
        if done == 1:  # the second to finish, unless both read 0 (nobody records)
            env.record({2: "v2", 3: "v3"}.get(w[0], "ok"))


SCENARIO = Words()
