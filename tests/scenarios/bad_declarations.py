"""A scenario whose declarations are wrong in the ways issue 20 (item 6) found slipping
through: each variant one mistake, each to be exit 2 naming the value and the range before
any process starts. A user's file, run from a temp dir by tests/test_untrusted.py."""

from __future__ import annotations

from testbed import Grade, Outcome, Scenario

VARIANTS = {
    "negative_region": "a region of -1 words",
    "huge_region": "a region of 2**61 words",
    "control_region": "a region named control (the harness's own)",
    "twin_actors": "two actors named alike",
    "too_many_actors": "100,000 actors",
    "fine": "nothing wrong (the control)",
}


class BadDeclarations(Scenario):
    name = "bad-declarations"
    description = "declarations the harness must refuse before it starts anything"
    variants = VARIANTS
    outcomes = (Outcome("ran", "the body ran", {v: Grade.ACCEPTABLE for v in VARIANTS}),)

    def actors(self, config):
        variant = config["variant"]
        if variant == "twin_actors":
            return [("a", {}), ("a", {})]
        if variant == "too_many_actors":
            return [(f"a{k}", {}) for k in range(100_000)]
        return [("a", {})]

    def regions(self, config):
        return {
            "negative_region": {"r": -1},
            "huge_region": {"r": 1 << 61},
            "control_region": {"control": 1},
        }.get(config["variant"], {"r": 1})

    def run_actor(self, env, actor):
        env.record("ran")


SCENARIO = BadDeclarations()
