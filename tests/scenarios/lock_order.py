"""A two-stage lock-order atomicity bug, as a user writes it (issue 19 item 1): a writer sets
data1 under lock1, then data2 = data1 + 1 under lock2; a checker reads both the same way.
Each stage is atomic, the pair is not. It declares no schedule point of its own: the only
places a schedule can turn are the locks' acquires and releases (and, at --points access,
the word accesses)."""

from testbed import Grade, Outcome, Scenario


class LockOrder(Scenario):
    name = "lock-order"
    variants = {"racy": "two locks, one after the other", "fixed": "lock1 held across both"}
    outcomes = (
        Outcome(
            "consistent",
            "data2 = data1 + 1, or neither set",
            {"racy": Grade.ACCEPTABLE, "fixed": Grade.ACCEPTABLE},
            failure=False,
        ),
        Outcome(
            "torn",
            "the checker saw data1 set and data2 not yet",
            {"racy": Grade.FORBIDDEN, "fixed": Grade.FORBIDDEN},
        ),
    )
    iterate = True

    def actors(self, config):
        return [("writer", {}), ("checker", {})]

    def locks(self, config):
        return ["lock1", "lock2"]

    def regions(self, config):
        return {"data": 2, "seen": 2}

    def run_actor(self, env, actor):
        data, seen = env.words("data"), env.words("seen")
        lock1, lock2 = env.lock("lock1"), env.lock("lock2")
        fixed = env.config["variant"] == "fixed"
        if actor.name == "writer":
            lock1.acquire()
            data[0] = 1
            if not fixed:
                lock1.release()
            with lock2:
                data[1] = data[0] + 1
            if fixed:
                lock1.release()
        else:
            with lock1:
                seen[0] = data[0]
            with lock2:
                seen[1] = data[1]

    def arbiter(self, env):
        d1, d2 = env.words("seen")
        env.record("torn" if d1 == 1 and d2 != 2 else "consistent")


SCENARIO = LockOrder()
