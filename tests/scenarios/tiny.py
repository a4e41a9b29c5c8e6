"""Two actors, two points each, from a user's own file (it imports only testbed): small
enough that tests/test_explore.py counts its schedules by hand (`shared` loses an update when
both read before either writes; `abba` deadlocks; `stateful` remembers its last iteration in
the process). tests/test_report.py reports its failures."""

from testbed import Grade, Outcome, Scenario

ACC, FORB = Grade.ACCEPTABLE, Grade.FORBIDDEN


ITERATIONS = [0]  # kept by the process from one iteration to the next


class Tiny(Scenario):
    name = "tiny"
    description = "two actors, two steps each"
    variants = {
        "apart": "each actor increments its own word",
        "shared": "both increment one word: read at a, write at b, no lock",
        "abba": "two locks taken in opposite orders",
        "stateful": "an actor that remembers its last iteration",
    }
    outcomes = (
        Outcome("ok", "the count is right", {v: ACC for v in variants}, failure=False),
        Outcome(
            "lost_update",
            "one increment lost",
            {"apart": ACC, "shared": FORB, "abba": ACC, "stateful": ACC},
        ),
    )
    points = ("a", "b")

    def actors(self, config):
        return [("t0", {}), ("t1", {})]

    def locks(self, config):
        return ["l0", "l1"]

    def regions(self, config):
        return {"words": 4}

    def run_actor(self, env, actor):
        w, variant = env.words("words"), env.config["variant"]
        if variant == "stateful":
            ITERATIONS[0] += 1
            env.point("a")
            if ITERATIONS[0] == 1:
                env.point("b")
            env.record("ok")
            return
        if variant == "abba":
            first, second = (env.lock("l0"), env.lock("l1"))[:: 1 - 2 * actor.index]
            env.point("a")
            first.acquire()
            env.point("b")
            second.acquire()
            second.release()
            first.release()
            env.record("ok")
            return
        word = actor.index if variant == "apart" else 0
        env.point("a")
        x = w[word]
        env.point("b")
        w[word] = x + 1
        w[2] += 1
        if w[2] == 2:
            env.record("lost_update" if variant == "shared" and w[0] != 2 else "ok")


SCENARIO = Tiny()
