"""A continuous check-then-act (two actors claim one slot) whose window opens late: rounds
before `--late-round` claim under the slot's lock, later ones without it. `--pace-ms` spaces
each actor's rounds in time (round k starts no earlier than k * pace after the actor's
start), so a failure comes after a known time, its whole history before it."""

import time

from testbed import Grade, Outcome, Scenario, in_range

A, F = Grade.ACCEPTABLE, Grade.FORBIDDEN


class LateClaim(Scenario):
    name = "late-claim"
    variants = {"racy": "the lock is dropped from --late-round on"}
    outcomes = (
        Outcome("claimed", "claimed the free slot and kept it", {"racy": A}, failure=False),
        Outcome("busy", "the slot was taken", {"racy": A}, failure=False),
        Outcome("stolen", "another actor claimed it too", {"racy": F}),
    )
    points = ("check", "claim", "verify")

    def add_arguments(self, p):
        p.add_argument("--late-round", type=int, default=0, help="first unlocked round")
        p.add_argument("--pace-ms", type=int, default=0, help="milliseconds a round")

    def configure(self, args):
        return {
            "late_round": in_range("--late-round", args.late_round, 0, 10**6),
            "pace_ms": in_range("--pace-ms", args.pace_ms, 0, 1000),
        }

    def actors(self, config):
        return [("a", {}), ("b", {})]

    def locks(self, config):
        return ["slot"]

    def regions(self, config):
        return {"slot": 1}

    def run_actor(self, env, actor):
        slot, lock = env.words("slot"), env.lock("slot")
        me, pace = actor.index + 1, env.config["pace_ms"] / 1000
        t0 = time.monotonic()
        for r in env.rounds():
            if pace:
                time.sleep(max(0.0, t0 + r * pace - time.monotonic()))
            locked = r < env.config["late_round"]
            if locked:
                lock.acquire()
            env.point("check")
            if slot[0] == 0:
                env.point("claim")
                slot[0] = me
                env.point("verify")
                if slot[0] == me:
                    env.record("claimed")
                    slot[0] = 0
                else:
                    env.record("stolen", at="verify")
            else:
                env.record("busy")
            if locked:
                lock.release()


SCENARIO = LateClaim()
