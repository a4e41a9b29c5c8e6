"""A deadlock with a bystander, shaped like SCTBench's carter01 ("light switch"): `a` takes
lock1 then lock2, `b` takes lock2 then lock1, each once the other holds its first lock (they
meet through shared words), so they deadlock every time; `c` then waits for lock1, which `a`
holds: it waits on the deadlock without being in its cycle. `done` is recorded by whoever
gets through (nobody, in `racy`); `ordered` takes the locks in one order."""

import time

from testbed import Grade, Outcome, Scenario


class LightSwitch(Scenario):
    name = "light-switch"
    variants = {"racy": "a and b take the locks in opposite orders", "ordered": "one order"}
    outcomes = (
        Outcome("done", "the actor got both locks", dict.fromkeys(variants, Grade.ACCEPTABLE),
                failure=False),
    )  # fmt: skip

    def actors(self, config):
        return [("a", {}), ("b", {}), ("c", {})]

    def locks(self, config):
        return ["lock1", "lock2"]

    def regions(self, config):
        return {"holding": 2}

    def run_actor(self, env, actor):
        holding = env.words("holding")
        lock1, lock2 = env.lock("lock1"), env.lock("lock2")
        if actor.name == "c":
            while holding[0] + holding[1] < 2:  # both a and b hold their first lock
                time.sleep(0.001)
            with lock1:
                env.record("done")
            return
        if actor.name == "a" or env.config["variant"] == "ordered":
            first, second = lock1, lock2
        else:
            first, second = lock2, lock1
        with first:
            holding[0 if actor.name == "a" else 1] = 1
            deadline = time.monotonic() + 0.5
            while holding[0] + holding[1] < 2 and time.monotonic() < deadline:
                time.sleep(0.001)
            with second:
                env.record("done")


SCENARIO = LightSwitch()
