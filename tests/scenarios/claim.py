"""Two actors claim one slot: read it, then write it (tests/test_user_scenarios.py, a user's
scenario through every door). Unlocked, a schedule point sits inside the check-then-act
window, so `--pin same --perturb yield:1` exposes it; under the slot lock it never fails."""

from testbed import Grade, Outcome, Scenario

A = Grade.ACCEPTABLE


class Claim(Scenario):
    name = "claim"
    description = "two actors claim one slot: check, then act"
    variants = {
        "racy": "check and claim without the lock",
        "locked": "check and claim under the slot lock",
    }
    outcomes = (
        Outcome(
            "claimed", "claimed the free slot and kept it", {"racy": A, "locked": A}, failure=False
        ),
        Outcome("busy", "the slot was taken", {"racy": A, "locked": A}, failure=False),
        Outcome(
            "stolen",
            "another actor claimed it too",
            {"racy": Grade.FORBIDDEN, "locked": Grade.FORBIDDEN},
        ),
    )
    points = ("claim.check", "claim.set")

    def actors(self, config):
        return [(f"a{i}", {}) for i in range(2)]

    def locks(self, config):
        return ["slot"]

    def regions(self, config):
        assert config["variant"] in self.variants  # the variant is known from the start
        return {"slot": 1}

    def run_actor(self, env, actor):
        slot, me, lock = env.words("slot"), actor.index + 1, env.lock("slot")
        locked = env.config["variant"] == "locked"
        for _ in env.rounds():
            if locked:
                lock.acquire()
            free = slot[0] == 0
            env.point("claim.check")
            if free:
                slot[0] = me
            if locked:
                lock.release()
            if not free:
                env.record("busy")
                continue
            env.point("claim.set")
            if slot[0] != me:
                env.record("stolen", at="claim.set")
                continue
            env.record("claimed")
            with lock:
                if slot[0] == me:
                    slot[0] = 0


SCENARIO = Claim()
