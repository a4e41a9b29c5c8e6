"""SCTBench's reorder, as a scenario: N setters write `a = 1`, then `b = -1`; one checker
reads `a`, then `b`, and sees a torn pair when it reads between a setter's two writes.
The checker is the last actor, so a depth-first order that varies the last choices first
reaches its window late (`--setters 9`: reorder_10)."""

from testbed import ConfigError, Grade, Outcome, Scenario

ACC, FORB = Grade.ACCEPTABLE, Grade.FORBIDDEN


class Reorder(Scenario):
    name = "reorder"
    description = "setters write a then b; a checker must never see a without b"
    variants = {"bad": "the setters write unlocked", "good": "each pair under one lock"}
    outcomes = (
        Outcome("consistent", "a and b agree", {"bad": ACC, "good": ACC}, failure=False),
        Outcome("torn", "the checker saw a = 1 and b = 0", {"bad": FORB, "good": FORB}),
    )
    points = ("set_a", "set_b", "read_a", "read_b")

    def add_arguments(self, parser):
        parser.add_argument("--setters", type=int, default=9, help="setters (1..30; default 9)")

    def configure(self, args):
        if not 1 <= args.setters <= 30:
            raise ConfigError(f"--setters {args.setters}: expected 1..30")
        return {"setters": args.setters}

    quiet_actors = tuple(f"s{i}" for i in range(30))  # the setters: the checker records

    def actors(self, config):
        n = config["setters"]
        return [(f"s{i}", {}) for i in range(n)] + [("checker", {})]

    def locks(self, config):
        return ["pair"]

    def regions(self, config):
        return {"ab": 2}

    def run_actor(self, env, actor):
        ab, good = env.words("ab"), env.config["variant"] == "good"
        if actor.name != "checker":
            lock = env.lock("pair") if good else None
            if lock:
                lock.acquire()
            env.point("set_a")
            ab[0] = 1
            env.point("set_b")
            ab[1] = 1
            if lock:
                lock.release()
            return
        lock = env.lock("pair") if good else None
        if lock:
            lock.acquire()
        env.point("read_a")
        a = ab[0]
        env.point("read_b")
        b = ab[1]
        if lock:
            lock.release()
        env.record("torn" if a == 1 and b == 0 else "consistent")


SCENARIO = Reorder()
