"""A check-then-act with no named point at all (tests/test_access_points.py): each actor
claims one word if it reads it free. Only access-level points (every read and write through
`env.words`, every lock operation) can reach the window; `locked` closes it."""

import testbed
from testbed import Grade, Outcome


class ClaimWord(testbed.Scenario):
    """Each actor claims one word if it reads it free: a check-then-act, no named point."""

    name = "claim-word"
    variants = {"racy": "read, then write, no lock", "locked": "the same under a lock"}
    outcomes = (
        Outcome(
            "claimed",
            "the actor claimed the word",
            {"racy": Grade.ACCEPTABLE, "locked": Grade.ACCEPTABLE},
            failure=False,
        ),
        Outcome(
            "taken",
            "the word was someone else's",
            {"racy": Grade.ACCEPTABLE, "locked": Grade.ACCEPTABLE},
            failure=False,
        ),
        Outcome(
            "lost",
            "claimed, and then the word was someone else's",
            {"racy": Grade.FORBIDDEN, "locked": Grade.FORBIDDEN},
        ),
    )

    def actors(self, config):
        return [("a", {}), ("b", {})]

    def regions(self, config):
        return {"slot": 1}

    def locks(self, config):
        return ["slot"]

    def run_actor(self, env, actor):
        me = actor.index + 1
        w = env.words("slot")
        for _ in env.rounds():
            lock = env.lock("slot") if env.config["variant"] == "locked" else None
            if lock:
                lock.acquire()
            claimed = w[0] == 0
            if claimed:
                w[0] = me
            if lock:
                lock.release()
            if not claimed:
                env.record("taken")
            elif w[0] != me:
                env.record("lost")
            else:
                env.record("claimed")
                w[0] = 0  # given back


SCENARIO = ClaimWord()
