"""A ring of flags (SCTBench's token_ring shape): N actors, two tokens to start with (at
actors 0 and 1); each actor that holds a token passes it on: its flag down, the next one
up. `bad` reads both flags at `take` and writes them at `pass`, so a pass that lands
between a neighbour's read and write is lost, or a token doubles; `good` does the same
under one lock. The arbiter counts the tokens."""

from testbed import ConfigError, Grade, Outcome, Scenario

ACC, FORB = Grade.ACCEPTABLE, Grade.FORBIDDEN
TOKENS = 2


class TokenRing(Scenario):
    name = "token-ring"
    description = "actors pass tokens around a ring of flags; none may be lost or doubled"
    variants = {"bad": "read, then write the two flags", "good": "the same under a lock"}
    outcomes = (
        Outcome("kept", "the tokens are all there", {"bad": ACC, "good": ACC}, failure=False),
        Outcome("miscounted", "a token was lost or doubled", {"bad": FORB, "good": FORB}),
    )
    points = ("take", "pass")
    iterate = True

    def add_arguments(self, parser):
        parser.add_argument("--actors", type=int, default=3, help="actors (2..8; default 3)")

    def configure(self, args):
        if not 2 <= args.actors <= 8:
            raise ConfigError(f"--actors {args.actors}: expected 2..8")
        return {"actors": args.actors}

    def actors(self, config):
        return [(f"t{i}", {}) for i in range(config["actors"])]

    def locks(self, config):
        return ["ring"]

    def regions(self, config):
        return {"flags": config["actors"]}

    def init_shared(self, shared, config):
        flags = shared.words("flags")
        for i in range(TOKENS):
            flags[i] = 1

    def run_actor(self, env, actor):
        flags, n = env.words("flags"), env.config["actors"]
        me, nxt = actor.index, (actor.index + 1) % n
        lock = env.lock("ring") if env.config["variant"] == "good" else None
        if lock:
            lock.acquire()
        env.point("take")
        mine, theirs = flags[me], flags[nxt]
        env.point("pass")
        if mine:
            flags[me] = mine - 1
            flags[nxt] = theirs + 1
        if lock:
            lock.release()

    def arbiter(self, env):
        env.record("kept" if sum(env.words("flags")) == TOKENS else "miscounted")


SCENARIO = TokenRing()
