"""Two actors claim one slot in C: read it, then write it (claim.py beside it, its body in C
from claim_c.c), for tests/test_native_actors.py. `--body` picks the C function an actor
calls; `PROBE` is the same scenario over a core that echoes, whose body writes what the
harness handed C (identity, params, regions, core's reply) for the test to read."""

from testbed import Grade, Outcome, Scenario

A, F = Grade.ACCEPTABLE, Grade.FORBIDDEN


class Claim(Scenario):
    name = "claim-c"
    description = "two native actors claim one slot: check, then act"
    variants = {
        "racy": "check and claim without the lock",
        "locked": "under the slot lock",
        "apart": "bump: each actor its own word",
        "shared": "bump: one word, no lock",
    }
    outcomes = (
        Outcome("claimed", "claimed it", dict.fromkeys(variants, A), failure=False),
        Outcome("busy", "taken", dict.fromkeys(variants, A), failure=False),
        Outcome("stolen", "another actor claimed it too", dict.fromkeys(variants, F)),
    )
    points = ("claim.check", "claim.set")
    native = "claim_c.c"

    def add_arguments(self, parser):
        parser.add_argument("--body", default="claim", help="the C function an actor calls")

    def configure(self, args):
        body = "bump" if args.variant in ("apart", "shared") else args.body
        return {
            "locked": args.variant == "locked",
            "apart": args.variant == "apart",
            "body": body,
            "weight": 3,
        }

    def actors(self, config):
        return [(f"a{i}", {"weight": 10 + i}) for i in range(2)]

    def locks(self, config):
        return ["slot"]

    def regions(self, config):
        return {"slot": 4, "probe": 24}

    def run_actor(self, env, actor):
        for _ in env.rounds():
            env.native(env.config["body"])


class Echo:
    def serve(self, op, pd, a0, a1, a2):
        return 7, op * 1000 + a0 + a1 + a2


class Probe(Claim):
    name = "probe-c"

    def core(self, shared, config):
        return Echo()

    def result_extra(self, shared, config):
        return {"probe": list(shared.words("probe"))}


SCENARIO = Claim()
PROBE = Probe()
