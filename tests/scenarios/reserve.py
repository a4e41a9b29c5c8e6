"""Bitmaps and atomic words reached by address (tests/test_access_bitmaps.py): each actor
reserves the first clear bit with two C calls, `first_clear` then `set_range`, and no named
point between them; the race is visible only at access points. `undeclared` asks for a
bitmap of a region it did not declare (a config error naming it)."""

import testbed
from testbed import Grade, Outcome


class Reserve(testbed.Scenario):
    """Each actor reserves the first clear bit: `first_clear`, then `set_range`, two C calls
    with no named point between them (racy) or under a lock (locked)."""

    name = "reserve"
    variants = {
        "racy": "find, then set, no lock",
        "locked": "the same under a lock",
        "undeclared": "asks for a bitmap of a region it did not declare",
    }
    outcomes = (
        Outcome(
            "reserved",
            "the actor owns its bit",
            {v: Grade.ACCEPTABLE for v in variants},
            failure=False,
        ),
        Outcome("double", "two actors reserved one bit", {v: Grade.FORBIDDEN for v in variants}),
    )
    points = ("reserve",)

    def actors(self, config):
        return [("a", {}), ("b", {})]

    def regions(self, config):
        return {"bits": 1, "owners": 64}

    def locks(self, config):
        return ["bits"]

    def run_actor(self, env, actor):
        variant = env.config["variant"]
        bits = env.bitmap("bits" if variant != "undeclared" else "bitz", 64)
        lock = env.lock("bits") if variant == "locked" else None
        for _ in env.rounds():
            env.point("reserve")
            if lock:
                lock.acquire()
            slot = bits.first_clear(0, 64)
            bits.set_range(slot, 1)
            if lock:
                lock.release()
            if env.atomic("owners", slot).fetch_add(1):
                env.record("double")
            else:
                env.record("reserved")


SCENARIO = Reserve()
