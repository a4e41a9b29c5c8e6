"""Each PD's own region starts every iteration as `init_shared` left it, although no actor maps
the other PD's (core puts both back); the arbiter reads shared regions only; each PD's table
(core's state, `read_only`) is read-only to actors. Not a scenario of the tree: a user's
file, run from a temp dir by tests/test_isolation.py.

Each actor of PD p finds its PD's word at 100 + p (`fresh`) or not (`stale`, FORBIDDEN),
then leaves it changed, as does a body with state of its own; the arbiter counts the bodies
in the shared word. Variant `peek`: the arbiter reads PD 0's own region, which it may not;
`scribble` and `scribble_c`: PD 1's actor writes its table from Python, and by its address.
"""

from __future__ import annotations

import ctypes

from testbed import Grade, Outcome, Scenario

VARIANTS = {
    "plain": "each PD counts in its own region",
    "peek": "the arbiter reads pd0.count",
    "scribble": "PD 1 writes its read-only table",
    "scribble_c": "PD 1 writes its read-only table by its address",
}
PDS = 2


class Served:
    def serve(self, op, pd, a0, a1, a2):
        return 0, 0


class PdFresh(Scenario):
    name = "pd-fresh"
    description = "a PD's own region is fresh every iteration; the arbiter reads shared ones"
    variants = VARIANTS
    outcomes = (
        Outcome("fresh", "the PD's region was as init_shared left it", {v: Grade.ACCEPTABLE for v in VARIANTS}),
        Outcome("stale", "the PD's region kept the last iteration's", {v: Grade.FORBIDDEN for v in VARIANTS}),
        Outcome("counted", "the arbiter saw every body", {v: Grade.ACCEPTABLE for v in VARIANTS}),
        Outcome("miscounted", "the arbiter missed a body", {v: Grade.FORBIDDEN for v in VARIANTS}),
    )  # fmt: skip
    points = ("counted",)
    iterate = True

    def actors(self, config):
        return [(f"pd{pd}.main", {"pd": pd}) for pd in range(PDS)]

    def regions(self, config):
        counts = {f"pd{pd}.count": 1 for pd in range(PDS)}
        return {"bodies": 1, **counts, **{f"pd{pd}.table": 2 for pd in range(PDS)}}

    def pd_owned(self, config):
        return {f"pd{pd}.{what}": pd for pd in range(PDS) for what in ("count", "table")}

    def read_only(self, config):
        return [f"pd{pd}.table" for pd in range(PDS)]

    def init_shared(self, seg, config):
        for pd in range(PDS):
            seg.words(f"pd{pd}.count")[0] = 100 + pd
            seg.words(f"pd{pd}.table")[0] = 200 + pd

    def core(self, seg, config):
        return Served()

    def run_actor(self, env, actor):
        mine, table = env.words(f"pd{actor.pd}.count"), env.words(f"pd{actor.pd}.table")
        if actor.pd == 1 and env.config["variant"] == "scribble":
            table[0] = 0
        if actor.pd == 1 and env.config["variant"] == "scribble_c":
            ctypes.c_uint64.from_address(env.address("pd1.table")).value = 0
        fresh = mine[0] == 100 + actor.pd and table[0] == 200 + actor.pd
        env.record("fresh" if fresh else "stale")
        mine[0] += 7
        env.point("counted")
        env.atomic("bodies").fetch_add(1)

    def arbiter(self, env):
        if env.config["variant"] == "peek":
            env.words("pd0.count")
        env.record("counted" if env.words("bodies")[0] == PDS else "miscounted")


SCENARIO = PdFresh()
